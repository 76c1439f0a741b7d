"""``nb201-analog``: AnalogNAS-Bench (PyPI ``analog-nasbench``), NB201 cells on CIFAR-10.

The package ships one pickle (``data.anb``) mapping a 6-tuple of op indices to an object with
baseline, PTQ, QAT, noisy and analog accuracies (%) and drift measurements. Its module imports
``pkg_resources``, which setuptools >= 82 no longer ships, so we never import it: a restricted
unpickler maps the package's two classes to plain attribute holders and refuses anything else.

Cell mapping (established against the official NB201 CIFAR-10 table, Spearman 0.991 between
the package's baseline accuracy and the official test accuracy; the next best mapping of edges
and ops gives 0.969 and a random one about 0):
* the package's op ``k`` is standard op ``PKG_OPS[k]``: skip_connect, none, nor_conv_3x3,
  nor_conv_1x1, avg_pool_3x3;
* the package's edge order is by source node, then target: (0->1), (0->2), (0->3), (1->2),
  (1->3), (2->3); ``PKG_EDGE_OF_STD[j]`` is the package position of standard edge ``j``.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np

from harness.benchmarks.base import TabularBenchmark, check_column
from harness.data import safe_pickle
from harness.errors import DataError
from harness.spaces import get_space

CACHE_NAME = "nb201-analog-v1"
PKG_OPS = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
PKG_EDGE_OF_STD = (0, 1, 3, 2, 4, 5)
METRICS = ("baseline_accuracy", "ptq_accuracy", "qat_accuracy", "noisy_accuracy", "analog_accuracy")
DRIFTS = tuple(
    f"{kind}_drift_{t}" for kind in ("baseline", "analog") for t in (60, 3600, 86400, 2592000)
)


class _Record:
    """Attribute holder standing in for the package's classes while unpickling."""

    def __setstate__(self, state):
        self.__dict__.update(state)


# every global the package's data.anb names (found by instrumenting the unpickler on it): its two
# classes, which become plain attribute holders; the containers and numbers are pickle opcodes
ALLOWED = {("analognasbench.data", "Architecture"): _Record, ("analognasbench.data", "DriftMeasurement"): _Record}


def data_path() -> str:
    spec = importlib.util.find_spec("analognasbench")
    if spec is None or spec.origin is None:
        raise DataError("the package analog-nasbench is not installed: pip install analog-nasbench")
    return os.path.join(os.path.dirname(spec.origin), "data.anb")


def _drift_value(d) -> float:
    if isinstance(d, (int, float)):
        return float(d)
    if isinstance(d, _Record):
        return float(d.__dict__.get("value", np.nan))
    if isinstance(d, str):
        try:
            return float(d.split("±")[0])
        except ValueError:
            return np.nan
    return np.nan


def std_cell(pkg_cell) -> tuple[int, ...]:
    """Standard NB201 cell (see :mod:`harness.spaces.nb201`) of the package's 6-tuple."""
    from harness.spaces.nb201 import OPS

    return tuple(OPS.index(PKG_OPS[pkg_cell[PKG_EDGE_OF_STD[j]]]) for j in range(6))


def _columns(path: str) -> tuple[dict[str, np.ndarray], dict]:
    """Read the package's pickle (restricted) into one array per metric, in NB201 index order."""
    space = get_space("nb201")
    try:
        with open(path, "rb") as f:
            data = safe_pickle.load(f, ALLOWED, f"analog-nasbench data {path}", "reinstall analog-nasbench")
    except OSError as e:
        raise DataError(f"cannot read analog-nasbench data {path}: {e}; reinstall analog-nasbench") from None
    if not isinstance(data, dict) or not all(isinstance(r, _Record) for r in data.values()):
        raise DataError(f"{path} is not a dict of analog-nasbench records; reinstall analog-nasbench")
    if len(data) != space.size:
        raise DataError(f"{path} has {len(data)} cells, expected {space.size}; reinstall analog-nasbench")
    cols = {m: np.full(space.size, np.nan) for m in METRICS + DRIFTS}
    for pkg_cell, rec in data.items():
        try:
            i = space.index(std_cell(pkg_cell))
        except (TypeError, ValueError, IndexError, KeyError):
            raise DataError(f"{path}: key {pkg_cell!r} is not an analog-nasbench cell; reinstall analog-nasbench") from None
        d = rec.__dict__
        for m in METRICS:
            try:
                cols[m][i] = float(d[m])
            except (KeyError, TypeError, ValueError):
                raise DataError(f"{path}: cell {pkg_cell} has no number {m}; reinstall analog-nasbench") from None
        for m in DRIFTS:
            cols[m][i] = _drift_value(d.get(m))
    cells = {space.index(std_cell(c)): c for c in data}
    for m, col in cols.items():  # every column is an accuracy in %, every cell has all of them
        check_column(col, where=path, column=m, unit="%", row_name=lambda i: f"cell {cells[i]}",
                     how="reinstall analog-nasbench")
    return cols, {"cells": space.size, "mapping": {"ops": PKG_OPS, "edges": PKG_EDGE_OF_STD}}


def load(dataset: str | None = None, data: str | None = None) -> TabularBenchmark:
    """The embedded benchmark (``dataset`` may only be cifar10; ``data`` is not used).

    The columns are converted once into the data cache (``nb201-analog.npz``, rebuilt when the
    package's file changes): a process then loads them in milliseconds instead of unpickling
    140,000 objects (about half a second), which every sweep worker would otherwise pay.
    """
    from harness.data import cache

    space = get_space("nb201")
    path = data_path()
    try:
        cols = cache.open_cache(CACHE_NAME, _columns, source=path, what="reinstall analog-nasbench").arrays
    except OSError:  # no writable cache folder: read the package's file directly
        cols = _columns(path)[0]
    cols = {m: cols[m] for m in METRICS + DRIFTS}
    return TabularBenchmark(
        name="nb201-analog",
        version="nb201-analog-v1",
        space=space,
        columns=cols,
        default_search="baseline_accuracy",
        default_report="analog_accuracy",
        dataset="cifar10",
        notes="AnalogNAS-Bench: 15,625 NB201 cells on CIFAR-10 (accuracies in %), from analog-nasbench",
    )
