"""``nasbench-graph-<dataset>``: NAS-Bench-Graph (PyPI ``nas-bench-graph``), 9 datasets.

The package ships one pickle per dataset (``light/<dataset>.bench``): a dict from the
package's architecture hash to ``valid_perf``, ``perf`` (test), ``latency`` (s) and ``para``
(parameters, millions). Those pickles hold only dicts and numpy scalars; we load them once with
the exact allow-list of :mod:`harness.data.safe_pickle` into the checksummed npz cache. Rows follow the space's index (rank of hash).
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np

from harness.benchmarks.base import TabularBenchmark, check_column
from harness.data import safe_pickle
from harness.errors import ConfigError, DataError
from harness.spaces import get_space

DATASETS = ("cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv", "proteins")
COLUMNS = {"valid_perf": "valid_accuracy", "perf": "test_accuracy", "latency": "latency", "para": "parameters"}


# every global the package's light/*.bench files name (found by instrumenting the unpickler on
# all nine): numpy scalars; the dicts, strings and floats are pickle opcodes
ALLOWED = dict.fromkeys(safe_pickle.NUMPY_SCALARS)
# the package's units: accuracies as fractions, latency in s, parameters in millions
UNITS = {"valid_perf": "fraction", "perf": "fraction", "latency": "nonnegative", "para": "nonnegative"}
HOW = "reinstall nas-bench-graph"


def data_path(dataset: str) -> str:
    spec = importlib.util.find_spec("nas_bench_graph")
    if spec is None or spec.origin is None:
        raise DataError("the package nas-bench-graph is not installed: pip install nas-bench-graph")
    return os.path.join(os.path.dirname(spec.origin), "light", f"{dataset}.bench")


def _columns(path: str, dataset: str) -> tuple[dict[str, np.ndarray], dict]:
    """Read one package pickle (restricted, validated) into one array per metric, space order."""
    try:
        with open(path, "rb") as f:
            bench = safe_pickle.load(f, ALLOWED, f"nas-bench-graph data {path}", HOW)
    except OSError as e:
        raise DataError(f"cannot read {path}: {e}; {HOW}") from None
    if not isinstance(bench, dict):
        raise DataError(f"{path} holds a {type(bench).__name__}, not a dict of architectures; {HOW}")
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
            try:
                cols[dst][i] = float(rec[src])
            except (KeyError, TypeError, ValueError, IndexError):
                raise DataError(f"{path}: architecture {space.hash(arch)} has no number {src!r}; {HOW}") from None
    if missing:
        raise DataError(f"{path}: {missing} of {space.size} architectures missing; {HOW}")
    for src, dst in COLUMNS.items():
        check_column(cols[dst], where=path, column=src, unit=UNITS[src],
                     row_name=lambda i: f"architecture {space.hash(members[i])}", how=HOW)
    return cols, {"dataset": dataset, "architectures": space.size}


def load(dataset: str = "cora", data: str | None = None) -> TabularBenchmark:
    """The embedded benchmark of one dataset (``data`` is not used).

    The package's pickle is read once into the data cache (``nasbench-graph-<dataset>-v1``,
    rebuilt when the package's file changes); later loads read the checksummed npz.
    """
    from harness.data import cache

    if dataset not in DATASETS:
        raise ConfigError(f"nas-bench-graph has no dataset {dataset!r}; choose one of: {', '.join(DATASETS)}")
    path = data_path(dataset)
    if not os.path.exists(path):
        raise DataError(f"{path} does not exist; {HOW}")
    space = get_space("nasbench-graph-proteins" if dataset == "proteins" else "nasbench-graph")
    try:
        cols = cache.open_cache(f"nasbench-graph-{dataset}-v1", lambda p: _columns(p, dataset), source=path, what=HOW).arrays
    except OSError:  # no writable cache folder: read the package's file directly
        cols = _columns(path, dataset)[0]
    cols = {name: np.array(cols[name], dtype=float) for name in COLUMNS.values()}
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
