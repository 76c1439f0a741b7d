"""``nasbench-graph-<dataset>``: NAS-Bench-Graph (PyPI ``nas-bench-graph``), 9 datasets.

The package ships one pickle per dataset (``light/<dataset>.bench``): a dict from the
package's architecture hash to ``valid_perf``, ``perf`` (test), ``latency`` (s) and ``para``
(parameters, millions). Those pickles hold only dicts and numpy scalars; we load them with a
restricted unpickler that allows nothing else. Rows follow the space's index (rank of hash).
"""

from __future__ import annotations

import importlib.util
import os
import pickle

import numpy as np

from harness.benchmarks.base import TabularBenchmark
from harness.errors import DataError
from harness.spaces import get_space

DATASETS = ("cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv", "proteins")
COLUMNS = {"valid_perf": "valid_accuracy", "perf": "test_accuracy", "latency": "latency", "para": "parameters"}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module.startswith("numpy") or module in ("builtins", "copyreg", "collections"):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from nas-bench-graph data")


def load(dataset: str = "cora", data: str | None = None) -> TabularBenchmark:
    """The embedded benchmark of one dataset (``data`` is not used)."""
    spec = importlib.util.find_spec("nas_bench_graph")
    if spec is None or spec.origin is None:
        raise DataError("the package nas-bench-graph is not installed: pip install nas-bench-graph")
    path = os.path.join(os.path.dirname(spec.origin), "light", f"{dataset}.bench")
    try:
        with open(path, "rb") as f:
            bench = _Unpickler(f).load()
    except (OSError, pickle.UnpicklingError, EOFError) as e:
        raise DataError(f"cannot read {path}: {e}; reinstall nas-bench-graph") from e
    space = get_space("nasbench-graph-proteins" if dataset == "proteins" else "nasbench-graph")
    cols = {name: np.full(space.size, np.nan) for name in COLUMNS.values()}
    members = space._tables[0]
    missing = 0
    for i, arch in enumerate(members):
        rec = bench.get(space.hash(arch))
        if rec is None:
            missing += 1
            continue
        for src, dst in COLUMNS.items():
            cols[dst][i] = float(rec[src])
    if missing:
        raise DataError(f"{path}: {missing} of {space.size} architectures missing; reinstall nas-bench-graph")
    for m in ("valid_accuracy", "test_accuracy"):
        cols[m] *= 100.0  # percent, like every other benchmark here
    return TabularBenchmark(
        name=f"nasbench-graph-{dataset}",
        version=f"nasbench-graph-{dataset}-v1",
        space=space,
        columns=cols,
        default_search="valid_accuracy",
        default_report="test_accuracy",
        higher_is_better={"latency": False, "parameters": False},
        dataset=dataset,
        notes=f"NAS-Bench-Graph {dataset}: {space.size} GNN architectures (accuracy %, latency s, params M)",
    )
