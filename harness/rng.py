"""Seeding: one root seed per run, independent streams spawned with ``SeedSequence``.

Library code never touches global RNGs. A run's root seed spawns named child streams
(``algorithm``, ``noise``, ``starts``); the same root seed always yields the same streams,
whatever executor runs the job. Torch gets its generator from the algorithm's stream
(:func:`torch_generator`).
"""

from __future__ import annotations

import numpy as np

STREAMS = ("algorithm", "noise", "starts")


def spawn_streams(seed: int, names: tuple[str, ...] = STREAMS) -> dict[str, np.random.Generator]:
    """Independent ``numpy.random.Generator`` per name, derived from ``seed``.

    Stream ``i`` of ``names`` is child ``i`` of ``SeedSequence(seed)``: adding a name at the
    end never changes the earlier streams.
    """
    children = np.random.SeedSequence(int(seed)).spawn(len(names))
    return {name: np.random.default_rng(child) for name, child in zip(names, children)}


def torch_generator(rng: np.random.Generator):
    """A ``torch.Generator`` seeded from ``rng`` (torch imported lazily)."""
    import torch

    g = torch.Generator()
    g.manual_seed(int(rng.integers(0, 2**63 - 1)))
    return g

