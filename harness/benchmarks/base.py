"""The benchmark contract: a search space plus where its numbers come from.

A :class:`TabularBenchmark` holds, for a finite space, one numpy column per metric indexed by
``space.index(arch)``: shape ``(size,)`` for a single value, or ``(size, R)`` when the ``R``
training-seed repeats are kept, so a protocol can ask for the mean or for one repeat sampled
per query (noisy search). A surrogate benchmark (NB301) instead offers a batched ``predict``.
Both state the global optimum of each metric and whether higher is better.

Every benchmark carries a versioned ``id``: any change that could alter a number bumps it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from harness.errors import ConfigError, DataError
from harness.spaces.base import SearchSpace

# the units a metric column may be in, and the values each admits (closed intervals)
UNITS: dict[str, tuple[float, float, str]] = {
    "%": (0.0, 100.0, "an accuracy in % must lie in [0, 100]"),
    "fraction": (0.0, 1.0, "an accuracy as a fraction must lie in [0, 1]"),
    "nonnegative": (0.0, np.inf, "a time, size or count cannot be negative"),
    "any": (-np.inf, np.inf, ""),
}


def unit_of(metric: str) -> str:
    """The default unit of a metric by its name: accuracies in %, times, sizes, latencies and
    costs non-negative, anything else only finite."""
    m = metric.lower()
    if "accuracy" in m or m.endswith("_perf") or m == "perf":
        return "%"
    if any(w in m for w in ("time", "latency", "param", "flops", "size", "runtime")):
        return "nonnegative"
    return "any"


def check_column(values, *, where: str, column: str, unit: str = "any", missing=None, row_name=None, how: str = "") -> None:
    """Raise a one-line :class:`DataError` at the first bad value of a metric column.

    Args:
        values: array of any shape (rows first).
        where: the file (or cache) the values come from, named in the error.
        column: the column's name in that file.
        unit: a key of :data:`UNITS` (``"%"``: [0, 100]; ``"fraction"``: [0, 1];
            ``"nonnegative"``: >= 0; ``"any"``: any finite number).
        missing: boolean mask of the same shape marking values a benchmark documents as
            absent (NaN there is accepted, e.g. NB201 cells with fewer training seeds);
            ``True`` accepts NaN anywhere. Infinite values are never accepted.
        row_name: ``row index -> str`` for the error (default ``"row <i+1>"``).
        how: what to do, appended to the error.
    """
    v = np.asarray(values, dtype=float)
    lo, hi, rule = UNITS[unit]
    nan = np.isnan(v)
    if missing is True:
        allowed_nan = nan
    elif missing is None or missing is False:
        allowed_nan = np.zeros_like(nan)
    else:
        allowed_nan = nan & np.asarray(missing, dtype=bool)
    with np.errstate(invalid="ignore"):
        bad = (nan & ~allowed_nan) | np.isinf(v) | (~nan & ((v < lo) | (v > hi)))
    if not bad.any():
        return
    pos = np.unravel_index(int(np.flatnonzero(bad.ravel())[0]), bad.shape)
    x = float(v[pos])
    row = row_name(int(pos[0])) if row_name else f"row {int(pos[0]) + 1}"
    if len(pos) > 1:
        row += f" (repeat {int(pos[1]) + 1})"
    if np.isnan(x):
        what = "is empty or NaN (a missing value this benchmark does not allow)"
    elif np.isinf(x):
        what = f"is {x} (not a finite number)"
    else:
        what = f"is {x:g}: {rule}"
    raise DataError(f"{where}: {row}, column {column!r} {what}" + (f"; {how}" if how else "; fix or re-obtain the file"))


@dataclass
class TabularBenchmark:
    """A finite space and its metric table.

    Attributes:
        name: registry name, e.g. ``"nb201-analog"``.
        version: versioned id of the numbers, e.g. ``"nb201-analog-v1"``.
        space: the (finite) search space; rows are ``space.index`` order.
        columns: metric name -> array of shape ``(space.size,)`` or ``(space.size, repeats)``.
        higher_is_better: metric name -> direction (missing means True).
        default_search: metric an algorithm optimizes unless the protocol says otherwise.
        default_report: metric reported (never shown to the algorithm).
        dataset: dataset name where the benchmark has several (else ``None``).
        notes: free text shown by ``nas-harness list benchmarks``.
        hints: metric name -> how to obtain it, for metrics this data lacks (shown when one
            is asked for, e.g. ``test_accuracy`` of the embedded NB201 numbers).
    """

    name: str
    version: str
    space: SearchSpace
    columns: dict[str, np.ndarray]
    default_search: str
    default_report: str
    higher_is_better: dict[str, bool] = field(default_factory=dict)
    dataset: str | None = None
    notes: str = ""
    hints: dict[str, str] = field(default_factory=dict)
    kind = "tabular"

    def __post_init__(self):
        for m, col in self.columns.items():
            if col.shape[0] != self.space.size:
                raise ValueError(f"column {m} has {col.shape[0]} rows, space has {self.space.size}")
        self._means: dict[str, np.ndarray] = {}

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(self.columns)

    @property
    def checksum(self) -> str:
        """sha256 of every metric column (name, dtype, shape, bytes): the content identity of
        these numbers, whatever file they came from (:mod:`harness.identity`). Memoized."""
        c = self.__dict__.get("_checksum")
        if c is None:
            from harness.identity import columns_checksum

            c = self.__dict__["_checksum"] = columns_checksum(self.columns)
        return c

    def check_metric(self, metric: str) -> str:
        if metric not in self.columns:
            if metric in self.hints:
                raise ConfigError(f"benchmark {self.name} ({self.version}) has no metric {metric!r}: {self.hints[metric]}")
            raise ConfigError(
                f"benchmark {self.name} has no metric {metric!r}; choose one of: "
                + ", ".join(self.metrics)
            )
        return metric

    def mean(self, metric: str) -> np.ndarray:
        """Per-architecture value averaged over repeats: shape ``(size,)``, float64."""
        if metric not in self._means:
            col = self.columns[self.check_metric(metric)]
            self._means[metric] = (np.nanmean(col, axis=1) if col.ndim == 2 else col).astype(float)
        return self._means[metric]

    def repeats(self, metric: str) -> np.ndarray | None:
        """Per-repeat values ``(size, R)``, or ``None`` when only one value is kept."""
        col = self.columns[self.check_metric(metric)]
        return col if col.ndim == 2 else None

    def maximize(self, metric: str) -> bool:
        return self.higher_is_better.get(metric, True)

    def optimum(self, metric: str) -> tuple[float, int]:
        """``(best mean value, index of the architecture that has it)``."""
        m = self.mean(metric)
        i = int(np.nanargmax(m) if self.maximize(metric) else np.nanargmin(m))
        return float(m[i]), i

    def describe(self) -> str:
        return self.notes
