"""Search spaces by versioned id. See :mod:`harness.spaces.base` for the contract.

``get_space(name)`` accepts the versioned id (``nb201-v1``) or the bare family name
(``nb201``). Spaces are constructed lazily and cached: building one may enumerate it.
"""

from __future__ import annotations

import importlib
from functools import lru_cache

from harness.errors import ConfigError

# family name -> (versioned id, "module:Class")
SPACES = {
    "nb201": ("nb201-v1", "harness.spaces.nb201:NB201Space"),
    "nb101": ("nb101-v1", "harness.spaces.nb101:NB101Space"),
    "nasbench-graph": ("nasbench-graph-v1", "harness.spaces.graph:NASBenchGraphSpace"),
    "nasbench-graph-proteins": ("nasbench-graph-proteins-v1", "harness.spaces.graph:proteins_space"),
    "darts": ("darts-v1", "harness.spaces.darts:DartsSpace"),
}


def list_spaces() -> list[str]:
    return sorted(v[0] for v in SPACES.values())


@lru_cache(maxsize=None)
def get_space(name: str):
    """The (cached) space instance for a family name or versioned id."""
    for family, (vid, target) in SPACES.items():
        if name in (family, vid):
            mod, cls = target.split(":")
            return getattr(importlib.import_module(mod), cls)()
    raise ConfigError(f"unknown search space {name!r}; choose one of: {', '.join(list_spaces())}")
