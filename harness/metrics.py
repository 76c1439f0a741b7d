"""Statistics over run records: the numbers of the papers' tables and figures.

Pure, vectorized functions over :class:`harness.record.RunRecord` lists or plain arrays; every
resampling function takes an explicit ``numpy.random.Generator``. Confidence intervals are
percentile-bootstrap intervals (95%, 5,000 resamples by default, as in Ape-X NAS §4.1.2 /
Fig. 10). See ``docs/metrics.md`` for the definitions with examples and ``docs/references.md``
for the papers.

* **Samples to optimum** (BONAS Table 2, LaNAS Fig. 5): counted queries until the global optimum
  is first queried. A run that ends before is *censored*. Reported: success rate, mean and
  median over the successful runs, and the expected running time as COCO defines it,
  ``ERT = (counted queries of all runs, each up to its success or its end) / successes``.
* **Best so far** at every query count (LaNAS Fig. 5 top, Ape-X Figs. 10/14/15): mean, median
  and interquartile range, across runs, of the report value of the incumbent (the best
  architecture so far by the *search* metric) and of its regret to the report optimum.
* **Checkpoints** (Ape-X Tables 1-2): the value at given query counts, mean +- std and 95% CI,
  with ``#Q`` = the query at which the value was found (the last improvement at or before the
  checkpoint; the table shows the latest over the runs).
* **Simulated time** (time-budgeted protocols, :mod:`harness.simclock`): the incumbent's value
  at simulated-time checkpoints and on a time grid, from the results available by then
  (sorted by ``sim_time``), with the same bootstrap CIs.
* **Costs and Pareto fronts**: the final incumbent's report-only costs (``cost_<m>``); per run
  the Pareto front of (search value maximized, cost minimized) and its normalized 2-D
  hypervolume within the space's box (:func:`pareto_reference`).
* **Improvement histograms** (Ape-X §4.1.2, §4.2.2, Figs. 7-8): per episode, final minus initial
  report value; median; intervals around the median holding 50/80/95% of the episodes (equal
  mass on each side: the 50% interval is the 25th-75th percentile); skew;
  ``scipy.stats.normaltest``.
* **Comparison**: rank per checkpoint and pairwise two-sided Mann-Whitney U tests with Holm's
  correction, for the leaderboard's significance marks.

Vectorized bootstrap: the resamples are one ``(B, n)`` integer index array. Means use the
resample counts ``(B, n)`` times the data (a matrix product). Quantiles (median, quartiles, IQR)
use order statistics: the q-quantile of a resample is a fixed function of its *sorted* resampled
ranks, so one sorted index array gives the resampled quantile of every column (every query
count) at once; for each column this is the same bootstrap distribution as resampling its
values directly. Curves are first reduced to their distinct columns (a best-so-far curve only
changes when some run improves) and processed in chunks that bound memory.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

DEFAULT_RESAMPLES = 5000
DEFAULT_LEVEL = 0.95
INTERVAL_LEVELS = (0.5, 0.8, 0.95)
_CHUNK_ELEMENTS = 1 << 22  # ~32 MB of float64 per bootstrap chunk


# =============================================================================================
# bootstrap machinery
# =============================================================================================
def resample_indices(n: int, rng: np.random.Generator, resamples: int = DEFAULT_RESAMPLES) -> np.ndarray:
    """``(resamples, n)`` integer array: row ``b`` is a bootstrap resample of ``range(n)``."""
    if n <= 0:
        raise ValueError("cannot resample an empty sample")
    return rng.integers(0, n, size=(int(resamples), int(n)))


def resample_counts(idx: np.ndarray) -> np.ndarray:
    """``(B, n)`` float array: how often each item appears in each resample of ``idx``."""
    B, n = idx.shape
    flat = (idx + n * np.arange(B)[:, None]).ravel()
    return np.bincount(flat, minlength=B * n).reshape(B, n).astype(float)


def _percentile_positions(B: int, level: float) -> tuple[tuple[int, int, float], tuple[int, int, float]]:
    """Linear-interpolation positions (as ``numpy.percentile``) of the two interval ends."""
    out = []
    for a in ((1 - level) / 2, (1 + level) / 2):
        h = (B - 1) * a
        j = int(np.floor(h))
        out.append((j, min(j + 1, B - 1), h - j))
    return out[0], out[1]


def _interp(lo_v, hi_v, g):
    """``lo + g (hi - lo)`` that keeps infinities (``inf - inf`` would give NaN)."""
    with np.errstate(invalid="ignore"):
        out = lo_v + g * (hi_v - lo_v)
    return np.where(lo_v == hi_v, lo_v, out) if g else lo_v


def percentile_interval(boot: np.ndarray, level: float = DEFAULT_LEVEL, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of bootstrap replicates along ``axis`` (NaN replicates dropped).

    Same values as ``numpy.percentile(boot, [2.5, 97.5], axis)`` for ``level=0.95`` and no
    NaN, but by partial sorting (``numpy.partition``), and ``inf`` replicates are kept as
    ``inf``. Returns ``(lo, hi)`` with ``boot``'s shape minus ``axis``.
    """
    boot = np.moveaxis(np.asarray(boot, dtype=float), axis, 0)
    if np.isnan(boot).any():
        if boot.ndim == 1:
            boot = boot[~np.isnan(boot)]
            if not len(boot):
                return np.float64(np.nan), np.float64(np.nan)
        else:
            flat = boot.reshape(boot.shape[0], -1)
            res = [percentile_interval(flat[:, k], level) for k in range(flat.shape[1])]
            lo = np.array([r[0] for r in res]).reshape(boot.shape[1:])
            hi = np.array([r[1] for r in res]).reshape(boot.shape[1:])
            return lo, hi
    B = boot.shape[0]
    (a0, a1, ga), (b0, b1, gb) = _percentile_positions(B, level)
    kth = sorted({a0, a1, b0, b1})
    part = np.partition(boot, kth, axis=0)
    return _interp(part[a0], part[a1], ga), _interp(part[b0], part[b1], gb)


def _weighted_interval(values: np.ndarray, weights: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of replicates given as distinct values ``(P, m)`` with counts ``(P,)``.

    Equals :func:`percentile_interval` of the expanded replicates (each value repeated by its
    count), column by column.
    """
    B = int(weights.sum())
    order = np.argsort(values, axis=0, kind="stable")
    sv = np.take_along_axis(values, order, axis=0)
    cw = np.cumsum(weights[order], axis=0)  # (P, m)

    def at(k):  # expanded sorted position k -> value
        p = (cw > k).argmax(axis=0)
        return np.take_along_axis(sv, p[None, :], axis=0)[0]

    (a0, a1, ga), (b0, b1, gb) = _percentile_positions(B, level)
    return _interp(at(a0), at(a1), ga), _interp(at(b0), at(b1), gb)


STATISTICS: dict[str, Callable] = {
    "mean": lambda a, axis: np.mean(a, axis=axis),
    "median": lambda a, axis: np.median(a, axis=axis),
    "std": lambda a, axis: np.std(a, axis=axis, ddof=1) if a.shape[axis] > 1 else np.zeros(np.delete(a.shape, axis)),
}


def bootstrap_ci(
    x: Sequence[float],
    rng: np.random.Generator,
    statistic: str | Callable = "mean",
    resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
) -> tuple[float, float]:
    """Percentile-bootstrap interval of ``statistic`` of the 1-D sample ``x``.

    ``statistic`` is ``"mean"``, ``"median"``, ``"std"`` or a function ``f(array2d, axis)``
    reducing each row of a ``(B, n)`` array. Returns ``(lo, hi)``; NaN for an empty sample.
    """
    x = np.asarray(x, dtype=float)
    x = x[~np.isnan(x)]
    if not len(x):
        return float("nan"), float("nan")
    idx = resample_indices(len(x), rng, resamples)
    if statistic == "mean":
        boot = resample_counts(idx) @ x / len(x)
    else:
        f = STATISTICS[statistic] if isinstance(statistic, str) else statistic
        boot = f(x[idx], axis=1)
    lo, hi = percentile_interval(boot, level)
    return float(lo), float(hi)


def grouped_bootstrap_ci(
    groups: Sequence[Sequence[float]],
    rng: np.random.Generator,
    statistic: str | Callable = "median",
    resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
) -> tuple[float, float]:
    """Two-stage percentile-bootstrap interval of ``statistic`` of the pooled ``groups``.

    ``groups``: ``K`` equal-length samples (e.g. the episodes of ``K`` trained agents from the
    same start states). Each resample draws ``K`` groups with replacement, then, within each
    drawn group, its items with replacement, and pools them, so the interval holds the spread
    between groups (training seeds) as well as within them; one group is :func:`bootstrap_ci`.
    Returns ``(lo, hi)``; NaN when there is no item.
    """
    rows = [np.asarray(g, dtype=float).ravel() for g in groups]
    if len({len(r) for r in rows}) > 1:
        raise ValueError("grouped_bootstrap_ci needs groups of equal length")
    arr = np.asarray(rows) if rows else np.zeros((0, 0))
    K, n = arr.shape
    if not K or not n:
        return float("nan"), float("nan")
    f = STATISTICS[statistic] if isinstance(statistic, str) else statistic
    chunk = max(1, _CHUNK_ELEMENTS // (K * n))
    boot = []
    for start in range(0, int(resamples), chunk):
        b = min(chunk, int(resamples) - start)
        g = rng.integers(0, K, size=(b, K, 1))
        i = rng.integers(0, n, size=(b, K, n))
        boot.append(f(arr[g, i].reshape(b, K * n), axis=1))
    lo, hi = percentile_interval(np.concatenate(boot), level)
    return float(lo), float(hi)


# =============================================================================================
# best so far at every query count
# =============================================================================================
@dataclass
class CurveSummary:
    """Statistics across runs at every query count ``1..T`` (all arrays have shape ``(T,)``).

    ``mean_lo``/``mean_hi`` etc. are the ends of the percentile-bootstrap interval at
    ``level``. ``n_runs`` runs contributed (runs without any query are left out).
    """

    queries: np.ndarray
    mean: np.ndarray
    mean_lo: np.ndarray
    mean_hi: np.ndarray
    median: np.ndarray
    median_lo: np.ndarray
    median_hi: np.ndarray
    q25: np.ndarray
    q75: np.ndarray
    iqr: np.ndarray
    iqr_lo: np.ndarray
    iqr_hi: np.ndarray
    n_runs: int
    level: float = DEFAULT_LEVEL
    resamples: int = DEFAULT_RESAMPLES

    def regret(self, optimum: float, maximize: bool = True) -> "CurveSummary":
        """The same statistics for the regret ``optimum - value`` (``value - optimum`` when
        minimizing). Exact: the percentile bootstrap commutes with this monotone affine map."""
        s = -1.0 if maximize else 1.0
        o = -s * optimum
        tol = 1e-9 * max(1.0, abs(optimum))  # a mean of runs that all hold the optimum is not exact

        def f(a):
            r = o + s * np.asarray(a, dtype=float)
            return np.where(np.abs(r) <= tol, 0.0, r)

        lo_hi = (lambda lo, hi: (f(hi), f(lo))) if maximize else (lambda lo, hi: (f(lo), f(hi)))
        mlo, mhi = lo_hi(self.mean_lo, self.mean_hi)
        dlo, dhi = lo_hi(self.median_lo, self.median_hi)
        q25, q75 = lo_hi(self.q25, self.q75)
        return CurveSummary(self.queries, f(self.mean), mlo, mhi, f(self.median), dlo, dhi, q25, q75,
                            self.iqr.copy(), self.iqr_lo.copy(), self.iqr_hi.copy(), self.n_runs, self.level, self.resamples)

    def at(self, query: int) -> dict[str, float]:
        """All statistics at one query count (1-based)."""
        i = int(query) - 1
        return {k: float(getattr(self, k)[i]) for k in
                ("mean", "mean_lo", "mean_hi", "median", "median_lo", "median_hi", "q25", "q75", "iqr", "iqr_lo", "iqr_hi")}

    def frame(self):
        """As a pandas DataFrame, one row per query count."""
        import pandas as pd

        cols = {k: getattr(self, k) for k in
                ("mean", "mean_lo", "mean_hi", "median", "median_lo", "median_hi", "q25", "q75", "iqr", "iqr_lo", "iqr_hi")}
        return pd.DataFrame(cols, index=pd.Index(self.queries, name="query"))


def _quantile_spec(n: int, q: float) -> tuple[int, int, float]:
    h = (n - 1) * q
    j = int(np.floor(h))
    return j, min(j + 1, n - 1), h - j


def _distinct_columns(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(columns kept, map from every column to its kept column)`` of an ``(n, T)`` array."""
    T = values.shape[1]
    change = np.ones(T, dtype=bool)
    if T > 1:
        change[1:] = np.any(values[:, 1:] != values[:, :-1], axis=0)
    cols = np.flatnonzero(change)
    return cols, np.cumsum(change) - 1


def _order_stat_boot(sorted_vals: np.ndarray, S: np.ndarray, specs, combine, level):
    """Bootstrap interval of an L-statistic for every column of ``sorted_vals`` ``(n, m)``.

    ``S`` ``(B, n)`` are sorted resampled ranks; ``specs`` lists ``(j, j+1, g)`` quantile specs;
    ``combine(list of quantile arrays)`` gives the statistic. Distinct rank tuples are evaluated
    once, weighted by how many resamples share them.
    """
    pos = sorted({p for j0, j1, _ in specs for p in (j0, j1)})
    tuples, counts = np.unique(S[:, pos], axis=0, return_counts=True)  # (P, len(pos))
    col_of = {p: k for k, p in enumerate(pos)}
    m = sorted_vals.shape[1]
    chunk_cols = max(1, _CHUNK_ELEMENTS // (len(tuples) * len(specs) * 2))
    lo = np.empty(m)
    hi = np.empty(m)
    for a in range(0, m, chunk_cols):
        sv = sorted_vals[:, a:a + chunk_cols]
        qs = []
        for j0, j1, g in specs:
            v0 = sv[tuples[:, col_of[j0]]]
            v1 = sv[tuples[:, col_of[j1]]]
            qs.append(_interp(v0, v1, g))
        lo[a:a + chunk_cols], hi[a:a + chunk_cols] = _weighted_interval(combine(qs), counts.astype(float), level)
    return lo, hi


def curve_summary(
    values: np.ndarray,
    rng: np.random.Generator,
    resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
) -> CurveSummary:
    """Mean, median, quartiles and IQR across runs at every query count, with bootstrap CIs.

    Args:
        values: ``(n_runs, T)`` best-so-far values (see :func:`best_so_far`); rows that are all
            NaN (runs without a query) are dropped; NaN elsewhere is not allowed.
        rng: generator for the resamples; ``resamples`` and ``level`` as in :func:`bootstrap_ci`.
    """
    values = np.asarray(values, dtype=float)
    values = values[~np.all(np.isnan(values), axis=1)]
    n, T = values.shape
    if n == 0:
        nan = np.full(T, np.nan)
        return CurveSummary(np.arange(1, T + 1), *([nan] * 11), n_runs=0, level=level, resamples=resamples)
    if np.isnan(values).any():
        raise ValueError("best-so-far curves must not contain NaN after the first query")
    cols, col_of = _distinct_columns(values)
    return _column_summary(values[:, cols], col_of, rng, resamples, level)


def _column_summary(U: np.ndarray, col_of: np.ndarray, rng, resamples, level) -> CurveSummary:
    """:func:`curve_summary` of the distinct columns ``U`` ``(n, m)``; ``col_of`` ``(T,)`` maps
    every query count to its column."""
    n, m = U.shape
    T = len(col_of)
    idx = resample_indices(n, rng, resamples)
    B = idx.shape[0]
    chunk = max(1, _CHUNK_ELEMENTS // B)

    # mean: resample counts times values
    W = resample_counts(idx) / n
    mean = U.mean(axis=0)
    mean_lo = np.empty(m)
    mean_hi = np.empty(m)
    for a in range(0, m, chunk):
        mean_lo[a:a + chunk], mean_hi[a:a + chunk] = percentile_interval(W @ U[:, a:a + chunk], level)

    # quantiles through order statistics of the resampled ranks
    Us = np.sort(U, axis=0)
    S = np.sort(idx, axis=1)
    med, q1, q3 = _quantile_spec(n, 0.5), _quantile_spec(n, 0.25), _quantile_spec(n, 0.75)

    def quant(spec):
        j0, j1, g = spec
        return _interp(Us[j0], Us[j1], g)

    median, q25, q75 = quant(med), quant(q1), quant(q3)
    med_lo, med_hi = _order_stat_boot(Us, S, [med], lambda qs: qs[0], level)
    iqr_lo, iqr_hi = _order_stat_boot(Us, S, [q1, q3], lambda qs: qs[1] - qs[0], level)
    out = [mean, mean_lo, mean_hi, median, med_lo, med_hi, q25, q75, q75 - q25, iqr_lo, iqr_hi]
    return CurveSummary(np.arange(1, T + 1), *[a[col_of] for a in out], n_runs=n, level=level, resamples=resamples)


# =============================================================================================
# run records -> arrays
# =============================================================================================
def finished(records: Iterable) -> list:
    """The records of runs that finished (failed runs are left out of every statistic)."""
    return [r for r in records if r.meta.get("status", "finished") == "finished"]


def best_so_far(records: Sequence, metric: str = "report", length: int | None = None) -> np.ndarray:
    """``(n_runs, length)`` value of the incumbent after each counted query.

    ``metric="report"``: the report value of the incumbent (the best architecture so far by the
    search metric), as the papers' tables show; ``"search"``: its search value. ``length``
    defaults to the largest budget in the records. A run that ended early (optimum found,
    space exhausted) keeps its last value; a run without a query is a row of NaN.
    """
    key = {"report": "incumbent_report", "search": "incumbent_search"}[metric]
    if length is None:
        length = max([int(r.meta.get("budget") or 0) for r in records] + [max((r.n_queries for r in records), default=0)])
    out = np.full((len(records), int(length)), np.nan)
    for i, r in enumerate(records):
        v = np.asarray(r.trajectory.get(key, ()), dtype=float)[:length]
        if len(v):
            out[i, :len(v)] = v
            out[i, len(v):] = v[-1]
    return out


def step_columns(records: Sequence, metric: str = "report", length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The distinct columns of :func:`best_so_far` without the dense array.

    Returns ``(cols, U)``: the 0-based query positions where some run's curve changes, and the
    ``(n_runs, len(cols))`` values there (a run keeps its last value after its end; a run
    without a query is a row of NaN). Memory is O(runs x changes), not O(runs x budget): the
    dense array of a 423,624-query protocol would not fit.
    """
    key = {"report": "incumbent_report", "search": "incumbent_search"}[metric]
    if length is None:
        length = max([int(r.meta.get("budget") or 0) for r in records] + [max((r.n_queries for r in records), default=0)])
    curves = [np.asarray(r.trajectory.get(key, ()), dtype=float)[:length] for r in records]
    change = [np.flatnonzero(np.r_[True, v[1:] != v[:-1]]) if len(v) else np.zeros(0, np.int64) for v in curves]
    cols = np.unique(np.concatenate(change + [np.zeros(1, np.int64)])) if length else np.zeros(0, np.int64)
    U = np.full((len(records), len(cols)), np.nan)
    for i, v in enumerate(curves):
        if len(v):
            U[i] = v[np.minimum(cols, len(v) - 1)]
    return cols, U


def at_checkpoints(records: Sequence, checkpoints: Sequence[int], metric: str = "report") -> tuple[np.ndarray, np.ndarray]:
    """``(values, found)``, each ``(n_runs, len(checkpoints))``: the incumbent's ``metric`` value
    after ``c`` counted queries (the last value when a run ended earlier; NaN for a run without
    queries) and the query (1-based) at which that incumbent was found (0 without queries)."""
    key = {"report": "incumbent_report", "search": "incumbent_search"}[metric]
    cps = np.asarray(checkpoints, dtype=np.int64)
    values = np.full((len(records), len(cps)), np.nan)
    found = np.zeros((len(records), len(cps)), dtype=np.int64)
    for i, r in enumerate(records):
        v = np.asarray(r.trajectory.get(key, ()), dtype=float)
        s = np.asarray(r.trajectory.get("incumbent_search", ()), dtype=float)
        if not len(v):
            continue
        pos = np.minimum(cps, len(v)) - 1
        values[i] = v[pos]
        improved = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # the incumbent changed here
        found[i] = improved[np.searchsorted(improved, pos, side="right") - 1] + 1
    return values, found


def found_at(records: Sequence, length: int | None = None) -> np.ndarray:
    """``(n_runs, length)`` int: the counted query (1-based) at which the incumbent after each
    query was found, i.e. the last improvement at or before it (0 for a run without queries)."""
    s = best_so_far(records, "search", length)
    n, T = s.shape
    change = np.zeros((n, T), dtype=bool)
    change[:, 0] = ~np.isnan(s[:, 0])
    if T > 1:
        change[:, 1:] = s[:, 1:] != s[:, :-1]
        change[:, 1:] &= ~np.isnan(s[:, 1:])
    return np.maximum.accumulate(np.where(change, np.arange(1, T + 1), 0), axis=1)


def _meta(records, key, default=None):
    vals = {r.meta.get(key, default) for r in records}
    vals.discard(None)
    return vals.pop() if len(vals) == 1 else (default if not vals else sorted(vals, key=str)[0])


def report_optimum(records: Sequence) -> tuple[float | None, bool]:
    """``(optimum of the report metric, maximize)`` from the records' metadata (None if unknown)."""
    opt = _meta(records, "optimum_report")
    maximize = bool(_meta(records, "maximize_report", _meta(records, "maximize", True)))
    return (None if opt is None else float(opt)), maximize


# =============================================================================================
# samples to optimum
# =============================================================================================
def hitting_times(records: Sequence, metric: str = "search") -> tuple[np.ndarray, np.ndarray]:
    """Per run: ``(hit, queries)``.

    ``hit`` is the counted query (1-based, float) at which a global optimum of ``metric``
    (``"search"`` or ``"report"``) was first queried, NaN when the run never queried one
    (censored); ``queries`` is the run's number of counted queries. By value for the mean
    search values and for report values; by the optimum's index under ``noise="sample"``
    (a noisy value says nothing about the architecture) and for runs of a protocol with
    ``until_optimum = "index"`` (the benchmark's optimum architecture, not a tied one). NaN hits for all runs when the
    benchmark states no optimum (surrogates).
    """
    hits = np.full(len(records), np.nan)
    queries = np.array([r.n_queries for r in records], dtype=float)
    for i, r in enumerate(records):
        m, t = r.meta, r.trajectory
        if metric == "search":
            opt = m.get("optimum_search")
            if opt is None:
                continue
            by_index = m.get("noise", "mean") == "sample" or m.get("until_optimum") == "index"
            if by_index and m.get("optimum_search_index") is not None:
                hit = np.asarray(t.get("index", ())) == int(m["optimum_search_index"])
            else:
                hit = _reaches(np.asarray(t.get("search", ()), dtype=float), float(opt), bool(m.get("maximize", True)))
        elif metric == "report":
            opt = m.get("optimum_report")
            if opt is None:
                continue
            hit = _reaches(np.asarray(t.get("report", ()), dtype=float), float(opt),
                           bool(m.get("maximize_report", m.get("maximize", True))))
        else:
            raise ValueError(f"metric must be 'search' or 'report', got {metric!r}")
        if hit.any():
            hits[i] = float(np.argmax(hit) + 1)
    return hits, queries


def _reaches(v: np.ndarray, opt: float, maximize: bool) -> np.ndarray:
    tol = 1e-9 * max(1.0, abs(opt))
    return v >= opt - tol if maximize else v <= opt + tol


@dataclass
class SamplesToOptimum:
    """Samples-to-optimum statistics over ``n_runs`` runs (each ``*_ci`` is ``(lo, hi)``).

    ``mean``/``median`` are over the successful runs (NaN when none); ``ert`` is COCO's expected
    running time (``inf`` when no run succeeded).
    """

    n_runs: int
    successes: int
    success_rate: float
    success_rate_ci: tuple[float, float]
    mean: float
    mean_ci: tuple[float, float]
    median: float
    median_ci: tuple[float, float]
    ert: float
    ert_ci: tuple[float, float]
    hits: np.ndarray = field(repr=False)
    queries: np.ndarray = field(repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("n_runs", "successes", "success_rate", "success_rate_ci", "mean",
                                              "mean_ci", "median", "median_ci", "ert", "ert_ci")}


def ert(hits: np.ndarray, queries: np.ndarray) -> float:
    """COCO's expected running time: counted queries of all runs (up to success, or all of a
    censored run) divided by the number of successes; ``inf`` without a success."""
    hits = np.asarray(hits, dtype=float)
    ok = ~np.isnan(hits)
    k = int(ok.sum())
    if k == 0:
        return float("inf")
    return float(np.where(ok, hits, np.asarray(queries, dtype=float)).sum() / k)


def samples_to_optimum(
    hits: np.ndarray,
    queries: np.ndarray,
    rng: np.random.Generator,
    resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
) -> SamplesToOptimum:
    """Success rate, mean/median over successes and ERT, with percentile-bootstrap CIs.

    Args:
        hits: ``(n,)`` query of the first optimum per run, NaN for a censored run.
        queries: ``(n,)`` counted queries per run (a censored run's whole length counts to ERT).

    The resamples are of runs (successes and censored runs together). A resample without a
    success has no mean/median (left out of those intervals) and ERT ``inf``.
    """
    hits = np.asarray(hits, dtype=float)
    queries = np.asarray(queries, dtype=float)
    n = len(hits)
    ok = ~np.isnan(hits)
    k = int(ok.sum())
    evals = np.where(ok, hits, queries)
    nan2 = (float("nan"), float("nan"))
    if n == 0:
        return SamplesToOptimum(0, 0, float("nan"), nan2, float("nan"), nan2, float("nan"), nan2, float("nan"), nan2, hits, queries)
    idx = resample_indices(n, rng, resamples)
    W = resample_counts(idx)
    succ_b = W @ ok.astype(float)
    sum_hit_b = W @ np.where(ok, hits, 0.0)
    evals_b = W @ evals
    with np.errstate(divide="ignore", invalid="ignore"):
        rate_ci = percentile_interval(succ_b / n, level)
        mean_ci = percentile_interval(np.where(succ_b > 0, sum_hit_b / succ_b, np.nan), level)
        ert_ci = percentile_interval(np.where(succ_b > 0, evals_b / succ_b, np.inf), level)
    # median over the successes of each resample: ranks sorted by hit, censored runs last
    order = np.argsort(np.where(ok, hits, np.inf), kind="stable")
    hs = np.where(ok, hits, np.nan)[order]
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    S = np.sort(rank[idx], axis=1)
    kb = (S < k).sum(axis=1)
    a = np.clip((kb - 1) // 2, 0, n - 1)
    b = np.clip(kb // 2, 0, n - 1)
    rows = np.arange(len(S))
    med_b = np.where(kb > 0, (hs[S[rows, a]] + hs[S[rows, b]]) / 2, np.nan)
    med_ci = percentile_interval(med_b, level)
    f2 = lambda t: (float(t[0]), float(t[1]))  # noqa: E731
    return SamplesToOptimum(
        n_runs=n, successes=k, success_rate=k / n, success_rate_ci=f2(rate_ci),
        mean=float(hits[ok].mean()) if k else float("nan"), mean_ci=f2(mean_ci),
        median=float(np.median(hits[ok])) if k else float("nan"), median_ci=f2(med_ci),
        ert=ert(hits, queries), ert_ci=f2(ert_ci), hits=hits, queries=queries,
    )


# =============================================================================================
# checkpoints
# =============================================================================================
@dataclass
class CheckpointStats:
    """Values of the runs at one checkpoint (Ape-X Tables 1-2).

    ``q`` is ``#Q``: the latest, over the runs, of the query at which each run's value was
    found (the last improvement at or before the checkpoint); ``q_runs`` holds it per run.
    """

    checkpoint: int
    n_runs: int
    mean: float
    std: float
    ci: tuple[float, float]
    median: float
    q: int
    q_median: float
    values: np.ndarray = field(repr=False)
    q_runs: np.ndarray = field(repr=False)


def _checkpoint_stat(c, v: np.ndarray, q: np.ndarray, W: np.ndarray, level: float) -> "CheckpointStats":
    """The statistics of the values ``v`` (one per run, with found-at queries ``q``) at one
    checkpoint ``c`` (a query count or a simulated time); ``W``: bootstrap resample weights."""
    n = len(v)
    lo, hi = percentile_interval(W @ v, level)
    return CheckpointStats(
        checkpoint=c, n_runs=n, mean=float(v.mean()), std=float(v.std(ddof=1)) if n > 1 else 0.0,
        ci=(float(lo), float(hi)), median=float(np.median(v)), q=int(q.max()), q_median=float(np.median(q)),
        values=v, q_runs=q,
    )


def checkpoint_stats(
    values: np.ndarray,
    found: np.ndarray,
    checkpoints: Sequence[int],
    rng: np.random.Generator,
    resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
) -> list[CheckpointStats]:
    """Per checkpoint: mean +- std (sample std, ddof 1), bootstrap CI of the mean, median, #Q.

    Args:
        values, found: ``(n_runs, len(checkpoints))`` from :func:`at_checkpoints`, or the
            whole ``(n_runs, T)`` curves (:func:`best_so_far`, :func:`found_at`), from which the
            checkpoints' columns are taken.
        checkpoints: query counts (1-based).
    """
    values = np.asarray(values, dtype=float)
    found = np.asarray(found)
    if values.shape[1] != len(checkpoints):  # whole curves: take the checkpoints' columns
        if max(checkpoints) > values.shape[1] or min(checkpoints) < 1:
            raise ValueError(f"checkpoints {list(checkpoints)} outside 1..{values.shape[1]}")
        cols = np.asarray(checkpoints) - 1
        values, found = values[:, cols], found[:, cols]
    keep = ~np.all(np.isnan(values), axis=1)
    values, found = values[keep], found[keep]
    n = values.shape[0]
    out = []
    idx = resample_indices(n, rng, resamples) if n else None
    W = resample_counts(idx) / n if n else None
    for j, c in enumerate(checkpoints):
        v = values[:, j]
        q = found[:, j]
        if n == 0:
            out.append(CheckpointStats(c, 0, np.nan, np.nan, (np.nan, np.nan), np.nan, 0, np.nan, v, q))
            continue
        out.append(_checkpoint_stat(int(c), v, q, W, level))
    return out


# =============================================================================================
# improvement histograms (episodic algorithms)
# =============================================================================================
def episode_pairs(records: Sequence, metric: str = "report") -> tuple[np.ndarray, np.ndarray]:
    """``(initial, improvement)`` over all episodes of the records (Ape-X Fig. 7).

    ``improvement = final - initial`` value of ``metric`` (``"report"`` or ``"search"``) per
    episode; episodes lacking either value are skipped.
    """
    a, b = f"start_{metric}", f"end_{metric}"
    init, fin = [], []
    for r in records:
        for e in r.episodes:
            if e.get(a) is not None and e.get(b) is not None:
                init.append(float(e[a]))
                fin.append(float(e[b]))
    init = np.asarray(init, dtype=float)
    return init, np.asarray(fin, dtype=float) - init


@dataclass
class ImprovementStats:
    """Distribution of per-episode improvements (Ape-X §4.1.2, Fig. 8).

    ``intervals[p] = (lo, hi)`` holds the fraction ``p`` of episodes around the median, equal
    mass on each side (``p = 0.5``: 25th to 75th percentile). ``normaltest`` is
    ``(statistic, p-value)`` of ``scipy.stats.normaltest`` (NaN below 8 episodes).
    ``counts``/``edges`` are the histogram over ``hist_range``; ``outside`` counts the
    episodes beyond it (left out of the bins, as in Fig. 8).
    """

    n: int
    median: float
    mean: float
    intervals: dict[float, tuple[float, float]]
    skew: float
    normaltest: tuple[float, float]
    counts: np.ndarray = field(repr=False)
    edges: np.ndarray = field(repr=False)
    outside: int = 0


def improvement_stats(
    improvement: np.ndarray,
    levels: Sequence[float] = INTERVAL_LEVELS,
    hist_range: tuple[float, float] | str | None = "auto",
    bins: int = 50,
) -> ImprovementStats:
    """Median, intervals, skew (``scipy.stats.skew``, biased), normality test and histogram.

    ``hist_range``: ``(lo, hi)`` of the histogram (Ape-X Fig. 8 uses ``(-12.5, 12.5)`` for
    accuracies in %); ``"auto"``: symmetric around 0, wide enough for the widest interval
    plus 10%; ``None``: the data's range.
    """
    from scipy import stats

    x = np.asarray(improvement, dtype=float)
    x = x[~np.isnan(x)]
    n = len(x)
    if n == 0:
        r = hist_range if isinstance(hist_range, tuple) else (0.0, 1.0)
        return ImprovementStats(0, np.nan, np.nan, {p: (np.nan, np.nan) for p in levels}, np.nan, (np.nan, np.nan),
                                np.zeros(bins, dtype=np.int64), np.linspace(*r, bins + 1), 0)
    qs = np.quantile(x, [q for p in levels for q in ((1 - p) / 2, (1 + p) / 2)])
    intervals = {p: (float(qs[2 * i]), float(qs[2 * i + 1])) for i, p in enumerate(levels)}
    if n >= 8 and np.ptp(x) > 0:
        nt = stats.normaltest(x)
        normal = (float(nt.statistic), float(nt.pvalue))
    else:
        normal = (float("nan"), float("nan"))
    skew = float(stats.skew(x)) if np.ptp(x) > 0 else 0.0
    if isinstance(hist_range, str):
        r = 1.1 * max(max(abs(lo), abs(hi)) for lo, hi in intervals.values())
        rng_ = (-r, r) if r > 0 else (-1.0, 1.0)
    else:
        rng_ = hist_range or (float(x.min()), float(x.max()) if np.ptp(x) > 0 else float(x.min()) + 1.0)
    counts, edges = np.histogram(x, bins=bins, range=rng_)
    outside = int(((x < rng_[0]) | (x > rng_[1])).sum())
    return ImprovementStats(n, float(np.median(x)), float(x.mean()), intervals, skew, normal, counts, edges, outside)


# =============================================================================================
# simulated time (time-budgeted protocols, harness.simclock)
# =============================================================================================
def at_times(records: Sequence, times: Sequence[float], metric: str = "report") -> tuple[np.ndarray, np.ndarray]:
    """``(values, available)``, each ``(n_runs, len(times))``: the incumbent's ``metric`` value
    (``"report"`` or ``"search"``) at simulated times ``times`` (s), and how many results were
    available by then.

    A result counts from its ``sim_time`` (the simulated time its training finished); the
    incumbent at time ``t`` is the best by search value among the results available at ``t``
    (ties keep the one available first). NaN where no result was available yet, and for a run
    without ``sim_time`` (not a time-budgeted run).
    """
    times = np.asarray(times, dtype=float)
    values = np.full((len(records), len(times)), np.nan)
    avail = np.zeros((len(records), len(times)), dtype=np.int64)
    from harness.record import best_positions

    for i, r in enumerate(records):
        t = r.trajectory
        st = np.asarray(t.get("sim_time", ()), dtype=float)
        if not len(st):
            continue
        order = np.argsort(st, kind="stable")
        s = np.asarray(t["search"], dtype=float)[order]
        v = np.asarray(t[metric], dtype=float)[order]
        pos = best_positions(s, bool(r.meta.get("maximize", True)))
        k = np.searchsorted(st[order], times, side="right")
        avail[i] = k
        ok = k > 0
        values[i, ok] = v[pos[k[ok] - 1]]
    return values, avail


def time_checkpoint_stats(
    values: np.ndarray,
    available: np.ndarray,
    times: Sequence[float],
    rng: np.random.Generator,
    resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
) -> list["CheckpointStats"]:
    """:func:`checkpoint_stats` at simulated-time checkpoints (from :func:`at_times`).

    Per checkpoint: mean ± std over the runs that had a result by then (a run with none is left
    out of that checkpoint), bootstrap CI of the mean, median; ``q`` is the largest number of
    results available at that time over the runs (``q_runs`` per run).
    """
    values = np.asarray(values, dtype=float)
    available = np.asarray(available)
    out = []
    for j, c in enumerate(times):
        ok = ~np.isnan(values[:, j])
        v, q = values[ok, j], available[ok, j]
        n = len(v)
        if n == 0:
            out.append(CheckpointStats(float(c), 0, np.nan, np.nan, (np.nan, np.nan), np.nan, 0, np.nan, v, q))
            continue
        W = resample_counts(resample_indices(n, rng, resamples)) / n
        out.append(_checkpoint_stat(float(c), v, q, W, level))
    return out


@dataclass
class TimeCurve:
    """Best-so-far statistics across runs on a grid of simulated times.

    ``times`` ``(G,)`` are seconds; ``curve``'s arrays have shape ``(G,)`` too (its ``queries``
    field numbers the grid points 1..G). The grid starts at the first time at which every run
    had a result (earlier, some run has no incumbent yet).
    """

    times: np.ndarray
    curve: CurveSummary
    regret: CurveSummary | None = None


def time_grid(records: Sequence, points: int = 400) -> np.ndarray:
    """A grid of ``points`` simulated times from the latest first result over the runs to the
    end (the largest time budget, or the last result), plus every run's last result time."""
    firsts, ends = [], []
    for r in records:
        st = np.asarray(r.trajectory.get("sim_time", ()), dtype=float)
        if len(st):
            firsts.append(st.min())
            ends.append(max(float(r.meta.get("time_budget") or 0.0), st.max()))
    if not firsts:
        return np.zeros(0)
    lo, hi = max(firsts), max(ends)
    return np.unique(np.concatenate([np.linspace(lo, hi, points), [lo, hi]]))


def time_curve(records: Sequence, rng: np.random.Generator, times: Sequence[float] | None = None,
               resamples: int = DEFAULT_RESAMPLES, level: float = DEFAULT_LEVEL, metric: str = "report") -> TimeCurve:
    """Mean/median/IQR of the best-so-far ``metric`` against simulated time, with bootstrap CIs
    (:func:`curve_summary` on the values of :func:`at_times`). Grid points at which some run
    has no result yet are dropped; runs without results are left out."""
    recs = [r for r in records if len(r.trajectory.get("sim_time", ()))]
    grid = time_grid(recs) if times is None else np.asarray(times, dtype=float)
    vals, _ = at_times(recs, grid, metric)
    keep = ~np.isnan(vals).any(axis=0) if len(recs) else np.zeros(len(grid), dtype=bool)
    grid, vals = grid[keep], vals[:, keep]
    cs = curve_summary(vals if len(recs) else np.zeros((0, len(grid))), rng, resamples, level)
    opt, maximize = report_optimum(recs)
    reg = cs.regret(opt, maximize) if opt is not None and metric == "report" and cs.n_runs else None
    return TimeCurve(grid, cs, reg)


# =============================================================================================
# cost metrics and the multi-objective view
# =============================================================================================
def pareto_front(values: np.ndarray, costs: np.ndarray, maximize: bool = True) -> np.ndarray:
    """Indices of the non-dominated points of (``values`` maximized, ``costs`` minimized).

    A point is dominated when another is at least as good in both and better in one. Of
    identical points the first is kept. Returns the indices sorted by cost (ascending); along
    the front the value then strictly improves. NaN points are left out. With
    ``maximize=False`` the values are minimized.
    """
    v = np.asarray(values, dtype=float)
    c = np.asarray(costs, dtype=float)
    sv = v if maximize else -v
    ok = np.flatnonzero(~(np.isnan(sv) | np.isnan(c)))
    if not len(ok):
        return np.zeros(0, dtype=np.int64)
    order = ok[np.lexsort((ok, -sv[ok], c[ok]))]  # by cost, then best value, then first
    s = sv[order]
    prev_best = np.r_[-np.inf, np.maximum.accumulate(s)[:-1]]
    return order[s > prev_best]


def hypervolume_2d(values: np.ndarray, costs: np.ndarray, reference: Sequence[float],
                   ideal: Sequence[float] | None = None, maximize: bool = True) -> float:
    """Area dominated by the points and dominating ``reference = (value, cost)`` (the worst
    corner: lowest value, highest cost when maximizing values).

    Points beyond the reference contribute nothing; with ``ideal = (value, cost)`` (the best
    corner) points are clipped to the box and the area is divided by the box's, giving a
    normalized hypervolume in [0, 1]. Exact: a sum of rectangles along the front.
    """
    v = np.asarray(values, dtype=float)
    c = np.asarray(costs, dtype=float)
    rv, rc = float(reference[0]), float(reference[1])
    sign = 1.0 if maximize else -1.0
    sv, srv = sign * v, sign * rv
    if ideal is not None:
        iv, ic = sign * float(ideal[0]), float(ideal[1])
        sv, c = np.minimum(sv, iv), np.maximum(c, ic)
    inside = (sv > srv) & (c < rc)
    if not inside.any():
        return 0.0
    sv, c = sv[inside], c[inside]
    f = pareto_front(sv, c)
    fv, fc = sv[f], c[f]
    widths = np.diff(np.r_[fc, rc])
    area = float(np.sum(widths * (fv - srv)))
    if ideal is not None:
        box = (iv - srv) * (rc - ic)
        return area / box if box > 0 else 0.0
    return area


def pareto_reference(benchmark, search_metric: str, cost: str) -> dict[str, list[float]]:
    """The hypervolume box of a tabular benchmark: ``reference`` = (worst mean search value,
    highest mean cost) over the whole space, ``ideal`` = (best mean search value, lowest mean
    cost). Stored in each run's record (``meta["pareto"]``)."""
    v = benchmark.mean(search_metric)
    c = benchmark.mean(cost)
    maximize = benchmark.maximize(search_metric)
    worst, best = (np.nanmin(v), np.nanmax(v)) if maximize else (np.nanmax(v), np.nanmin(v))
    return {"reference": [float(worst), float(np.nanmax(c))], "ideal": [float(best), float(np.nanmin(c))]}


def run_pareto(record) -> tuple[np.ndarray, float]:
    """``(front positions in the trajectory, normalized hypervolume)`` of one run: the Pareto
    front of (search value, ``meta["pareto"]["cost"]``) over the run's evaluated cells (a cell
    counted twice under ``all`` counting enters twice, identical points count once), and its
    hypervolume within the box of :func:`pareto_reference`. ``(empty, NaN)`` without one."""
    p = record.meta.get("pareto")
    t = record.trajectory
    if not p or f"cost_{p['cost']}" not in t or not len(t.get("search", ())):
        return np.zeros(0, dtype=np.int64), float("nan")
    v = np.asarray(t["search"], dtype=float)
    c = np.asarray(t[f"cost_{p['cost']}"], dtype=float)
    maximize = bool(record.meta.get("maximize", True))
    hv = hypervolume_2d(v, c, p["reference"], p["ideal"], maximize)
    return pareto_front(v, c, maximize), hv


@dataclass
class ValueStats:
    """One number per run, summarized: mean ± std (ddof 1), bootstrap CI of the mean, median."""

    n_runs: int
    mean: float
    std: float
    ci: tuple[float, float]
    median: float
    values: np.ndarray = field(repr=False)


def value_stats(x: Sequence[float], rng: np.random.Generator, resamples: int = DEFAULT_RESAMPLES,
                level: float = DEFAULT_LEVEL) -> ValueStats:
    """:class:`ValueStats` of the per-run values ``x`` (NaN left out)."""
    x = np.asarray(x, dtype=float)
    x = x[~np.isnan(x)]
    if not len(x):
        return ValueStats(0, np.nan, np.nan, (np.nan, np.nan), np.nan, x)
    ci = bootstrap_ci(x, rng, "mean", resamples, level)
    return ValueStats(len(x), float(x.mean()), float(x.std(ddof=1)) if len(x) > 1 else 0.0, ci, float(np.median(x)), x)


def incumbent_costs(records: Sequence, metric: str) -> np.ndarray:
    """``(n_runs,)`` the cost ``metric`` (trajectory column ``cost_<metric>``) of each run's final
    incumbent (best by search value); NaN for a run without queries or without the column."""
    from harness.record import best_positions

    out = np.full(len(records), np.nan)
    for i, r in enumerate(records):
        c = r.trajectory.get(f"cost_{metric}")
        s = r.trajectory.get("search")
        if c is not None and s is not None and len(s):
            out[i] = float(np.asarray(c, dtype=float)[best_positions(s, bool(r.meta.get("maximize", True)))[-1]])
    return out


# =============================================================================================
# comparison across algorithms
# =============================================================================================
def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (same order as given; NaN stays NaN)."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = len(ok)
    if not m:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out[order] = adj
    return out


def ranks(means: Mapping[str, float], maximize: bool = True) -> dict[str, float]:
    """Rank of each algorithm by its mean (1 = best; ties share the average rank)."""
    from scipy.stats import rankdata

    names = list(means)
    v = np.array([means[k] for k in names], dtype=float)
    v = np.where(np.isnan(v), -np.inf if maximize else np.inf, v)
    r = rankdata(-v if maximize else v, method="average")
    return {k: float(x) for k, x in zip(names, r)}


@dataclass
class Comparison:
    """Ranks and pairwise tests at one checkpoint.

    ``pvalues[(a, b)]`` is the Holm-adjusted p-value of the two-sided Mann-Whitney U test of
    ``a`` vs ``b`` (all pairs form one family). ``best`` is the top-ranked algorithm;
    ``tied_with_best`` lists those whose difference from it is not significant at ``alpha``
    (the best included): the leaderboard marks these.
    """

    ranks: dict[str, float]
    pvalues: dict[tuple[str, str], float]
    best: str | None
    tied_with_best: list[str]
    alpha: float

    def significant(self, a: str, b: str) -> bool:
        p = self.pvalues.get((a, b), self.pvalues.get((b, a), np.nan))
        return bool(p < self.alpha)


def compare(samples: Mapping[str, Sequence[float]], maximize: bool = True, alpha: float = 0.05) -> Comparison:
    """Rank algorithms by mean and test every pair (Mann-Whitney U, Holm-corrected).

    Args:
        samples: algorithm -> per-run values (e.g. :attr:`CheckpointStats.values`).
    """
    from scipy.stats import mannwhitneyu

    names = [k for k in samples if len(np.asarray(samples[k])) > 0]
    arrays = {k: np.asarray(samples[k], dtype=float) for k in names}
    rk = ranks({k: float(np.mean(arrays[k])) for k in names}, maximize)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
    raw = []
    for a, b in pairs:
        x, y = arrays[a], arrays[b]
        if np.ptp(np.concatenate([x, y])) == 0:
            raw.append(1.0)  # identical constants: no difference
        else:
            raw.append(float(mannwhitneyu(x, y, alternative="two-sided").pvalue))
    adj = holm(raw)
    pv = {pair: float(p) for pair, p in zip(pairs, adj)}
    best = min(rk, key=lambda k: (rk[k], names.index(k))) if rk else None
    cmp = Comparison(rk, pv, best, [], alpha)
    cmp.tied_with_best = [k for k in names if k == best or not cmp.significant(k, best)]
    return cmp


# =============================================================================================
# everything for one protocol
# =============================================================================================
@dataclass
class AlgorithmSummary:
    """All statistics of one algorithm's runs under one protocol."""

    label: str
    n_runs: int
    failed: int
    curve: CurveSummary
    regret: CurveSummary | None
    checkpoints: list[CheckpointStats]
    samples_to_optimum: SamplesToOptimum | None
    improvements: ImprovementStats | None
    episode_pairs: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    time_checkpoints: list[CheckpointStats] = field(default_factory=list)  # at simulated times
    time_curve: TimeCurve | None = field(default=None, repr=False)
    costs: dict[str, ValueStats] = field(default_factory=dict)  # cost of the final incumbent
    hypervolume: ValueStats | None = None  # normalized, per run
    median_front: tuple[np.ndarray, np.ndarray, float] | None = field(default=None, repr=False)
    anytime: ValueStats | None = None  # per run: mean normalized regret over queries 1..budget


@dataclass
class Summary:
    """The statistics of every algorithm of one protocol, and their comparison per checkpoint."""

    algorithms: dict[str, AlgorithmSummary]
    comparisons: dict[int, Comparison]
    checkpoints: tuple[int, ...]
    search_metric: str | None
    report_metric: str | None
    optimum_report: float | None
    maximize: bool
    budget: int
    time_checkpoints: tuple[float, ...] = ()
    time_comparisons: dict[float, Comparison] = field(default_factory=dict)
    cost_metrics: tuple[str, ...] = ()
    pareto_cost: str | None = None
    time_budget: float | None = None
    report_range: tuple[float, float] | None = None  # (optimum, worst) of the report metric over the space
    anytime_comparison: Comparison | None = None  # ranks by the anytime regret (lower is better), or by the
    # anytime mean when report_range is None (in the metric's direction)


def group_records(records: Iterable) -> dict[str, list]:
    """Records by algorithm label (one duplicate run key kept once).

    The label is the algorithm name (a ``module:Class`` name is shortened to ``Class`` when
    that is unambiguous); when one name was run with several hyperparameter settings, each
    setting gets ``name#1``, ``name#2``, ... in order of first appearance. Labels are sorted
    (case-insensitively), so an algorithm keeps its colour across reports.
    """
    import json

    seen, by = set(), {}
    for r in records:
        key = r.run_key or id(r)
        if key in seen:
            continue
        seen.add(key)
        hp = json.dumps(r.meta.get("hyperparameters", {}), sort_keys=True, default=str)
        by.setdefault(r.meta.get("algorithm", "?"), {}).setdefault(hp, []).append(r)
    shorts = [n.rsplit(":", 1)[-1] for n in by]

    def label(n):
        s = n.rsplit(":", 1)[-1]
        return s if shorts.count(s) == 1 and (s == n or s not in by) else n

    for settings in by.values():
        for recs in settings.values():
            sort_by_seed(recs)
    out = {}
    for name, settings in sorted(by.items(), key=lambda kv: label(kv[0]).lower()):
        name = label(name)
        if len(settings) == 1:
            out[name] = next(iter(settings.values()))
        else:
            for suffix, recs in zip(_variant_suffixes(list(settings)), settings.values()):
                out[f"{name}{suffix}"] = recs
    return out


def sort_by_seed(records: list) -> list:
    """Sort ``records`` in place by seed (then run key) and return them: statistics computed on
    the same runs then give the same bootstrap CIs whatever order the runs finished or were
    read in (raw files, MLflow, a sweep's completion order)."""
    records.sort(key=lambda r: (int(r.meta.get("seed", 0)), r.run_key or ""))
    return records


def _variant_suffixes(settings: list[str]) -> list[str]:
    """``(key=value, ...)`` of the hyperparameters that differ between the settings (JSON
    texts) of one algorithm, e.g. ``(sampler=rl)``; ``#i`` when that is too long to read."""
    import json

    dicts = [json.loads(h) for h in settings]
    keys = sorted({k for d in dicts for k in d})
    differ = [k for k in keys if len({json.dumps(d.get(k), sort_keys=True) for d in dicts}) > 1]
    out = ["(" + ", ".join(f"{k}={d.get(k)}" for k in differ) + ")" for d in dicts]
    if len(set(out)) < len(out) or max(map(len, out)) > 40:
        return [f"#{i}" for i in range(1, len(dicts) + 1)]
    return out


def summarize(
    records: Iterable,
    rng: np.random.Generator,
    checkpoints: Sequence[int] | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
    alpha: float = 0.05,
    optimum_metric: str = "search",
    budget: int | None = None,
    time_checkpoints: Sequence[float] | None = None,
    report_range: tuple[float, float] | None = None,
    anytime_without_range: bool = False,
) -> Summary:
    """Every statistic of this module for the runs of one protocol, grouped by algorithm.

    Failed runs are counted but left out of the statistics. ``checkpoints`` default to the
    budget; ``optimum_metric`` says which optimum samples-to-optimum waits for. For runs of a
    time-budgeted protocol (records with ``sim_time``) also the values at ``time_checkpoints``
    (default: the records' ``meta["time_checkpoints"]``) and the curve against simulated time;
    for runs with cost metrics, the incumbent's costs and the Pareto hypervolume. With
    ``report_range`` (the report metric's optimum and worst over the space) the anytime regret
    of every run and the ranks by it; without it but with ``anytime_without_range`` (a surrogate,
    whose range is unknown), the anytime mean (:func:`anytime_mean`) and the ranks by it.
    """
    groups = group_records(records)
    all_ok = [r for recs in groups.values() for r in finished(recs)]
    if budget is None:
        budget = max([int(r.meta.get("budget") or 0) for r in all_ok] + [max((r.n_queries for r in all_ok), default=1)])
    cps = tuple(c for c in (checkpoints or (budget,)) if c <= budget) or (budget,)
    opt, maximize = report_optimum(all_ok)
    pooled = episode_pairs(all_ok)[1]  # one histogram range for every algorithm
    hist_range = (improvement_stats(pooled).edges[[0, -1]].tolist() if len(pooled) else None)
    algos = {}
    # one generator per row, from the caller's generator and the row's label: a row's bootstrap
    # CIs do not depend on which other rows the board has (adding a row once moved the others')
    base = int(rng.integers(2**63 - 1))
    row_rng = {label: np.random.default_rng([base, zlib.crc32(str(label).encode())]) for label in groups}
    steps = {}  # label -> (finished runs with queries, their report step columns), used again below
    for label, recs in groups.items():
        g = row_rng[label]
        ok = [r for r in finished(recs) if r.n_queries]
        cols, U = step_columns(ok, "report", budget)
        steps[label] = (ok, cols, U)
        if ok:
            curve = _column_summary(U, np.searchsorted(cols, np.arange(budget), side="right") - 1, g, resamples, level)
        else:
            curve = curve_summary(np.zeros((0, budget)), g, resamples, level)
        cp = checkpoint_stats(*at_checkpoints(ok, cps), cps, g, resamples, level)
        sto = None
        if ok and any(r.meta.get(f"optimum_{optimum_metric}") is not None for r in ok):
            sto = samples_to_optimum(*hitting_times(ok, optimum_metric), g, resamples, level)
        pairs = episode_pairs(ok)
        imp = improvement_stats(pairs[1], hist_range=tuple(hist_range)) if len(pairs[1]) else None
        algos[label] = AlgorithmSummary(
            label=label, n_runs=len(recs), failed=len(recs) - len(finished(recs)), curve=curve,
            regret=curve.regret(opt, maximize) if opt is not None else None, checkpoints=cp,
            samples_to_optimum=sto, improvements=imp, episode_pairs=pairs if len(pairs[1]) else None,
        )
    comparisons = {}
    for i, c in enumerate(cps):
        comparisons[c] = compare({k: a.checkpoints[i].values for k, a in algos.items()}, maximize, alpha)
    tcps, costs, pcost, tbudget = _time_and_cost_setting(all_ok, time_checkpoints)
    for label, (ok, _, _) in steps.items():
        _time_and_cost_stats(algos[label], ok, tcps, costs, pcost, row_rng[label], resamples, level)
    time_comparisons = {}
    for i, c in enumerate(tcps):
        time_comparisons[c] = compare({k: a.time_checkpoints[i].values for k, a in algos.items()}, maximize, alpha)
    anytime_cmp = None
    if report_range is not None or anytime_without_range:  # last, so that the other statistics' resamples are unchanged
        if report_range is not None:  # the anytime regret, lower is better
            score, better_high = (lambda cols, U: anytime_regret(cols, U, budget, *report_range, maximize)), False
        else:  # no value range: the raw area under the best-so-far curve, ranked as the metric
            score, better_high = (lambda cols, U: anytime_mean(cols, U, budget)), maximize
        for label, (ok, cols, U) in steps.items():
            if ok:
                algos[label].anytime = value_stats(score(cols, U), row_rng[label], resamples, level)
        anytime_cmp = compare({k: a.anytime.values for k, a in algos.items() if a.anytime is not None}, better_high, alpha)
    return Summary(algos, comparisons, cps, _meta(all_ok, "search_metric"), _meta(all_ok, "report_metric"), opt, maximize,
                   int(budget), tcps, time_comparisons, costs, pcost, tbudget,
                   tuple(report_range) if report_range is not None else None, anytime_cmp)


def _time_and_cost_setting(records, time_checkpoints):
    """``(time checkpoints, cost metrics, Pareto cost, time budget)`` of a protocol's records."""
    timed = [r for r in records if len(r.trajectory.get("sim_time", ())) or r.meta.get("time_budget") is not None]
    tbudget = max((float(r.meta["time_budget"]) for r in timed if r.meta.get("time_budget") is not None), default=None)
    if time_checkpoints is None:
        found = [tuple(r.meta["time_checkpoints"]) for r in timed if r.meta.get("time_checkpoints")]
        time_checkpoints = found[0] if found else ((tbudget,) if tbudget is not None else ())
    tcps = tuple(float(c) for c in time_checkpoints) if timed else ()
    costs: list[str] = []
    for r in records:
        for m in r.meta.get("cost_metrics", ()):
            if m not in costs:
                costs.append(m)
    pcost = next((r.meta["pareto"]["cost"] for r in records if r.meta.get("pareto")), None)
    return tcps, tuple(costs), pcost, tbudget


def _time_and_cost_stats(a: AlgorithmSummary, ok: list, tcps, costs, pcost, rng, resamples, level) -> None:
    """Fill the simulated-time and cost statistics of one algorithm's finished runs ``ok``."""
    if tcps:
        a.time_checkpoints = time_checkpoint_stats(*at_times(ok, tcps), tcps, rng, resamples, level)
        a.time_curve = time_curve(ok, rng, resamples=resamples, level=level) if ok else None
    a.costs = {m: value_stats(incumbent_costs(ok, m), rng, resamples, level) for m in costs}
    if pcost is not None:
        fronts = [run_pareto(r) for r in ok]
        hv = np.array([h for _, h in fronts], dtype=float)
        a.hypervolume = value_stats(hv, rng, resamples, level)
        good = np.flatnonzero(~np.isnan(hv))
        if len(good):  # the run whose hypervolume is the (lower) median
            i = good[np.argsort(hv[good], kind="stable")[(len(good) - 1) // 2]]
            t = ok[i].trajectory
            f = fronts[i][0]
            a.median_front = (np.asarray(t["search"], dtype=float)[f], np.asarray(t[f"cost_{pcost}"], dtype=float)[f],
                              float(hv[i]))


# =============================================================================================
# anytime performance, ECDF of (run, target) pairs, top-cell agreement (issue 16)
# =============================================================================================
ECDF_TARGETS = np.r_[np.logspace(-1, -3, 21), 0.0]  # normalized regret targets: 0.1 .. 1e-3, then the optimum


def value_range(benchmark, metric: str) -> tuple[float, float] | None:
    """``(optimum, worst)`` mean value of ``metric`` over a tabular benchmark's whole space
    (None for a benchmark without a table, e.g. a surrogate)."""
    try:
        v = benchmark.mean(metric)
        maximize = benchmark.maximize(metric)
    except Exception:  # noqa: BLE001 - surrogates have no value table
        return None
    v = np.asarray(v, dtype=float)
    if not len(v) or np.all(np.isnan(v)):
        return None
    return (float(np.nanmax(v)), float(np.nanmin(v))) if maximize else (float(np.nanmin(v)), float(np.nanmax(v)))


def normalized_regret(values: np.ndarray, optimum: float, worst: float, maximize: bool = True) -> np.ndarray:
    """``(optimum - value) / (optimum - worst)`` (sign-flipped when minimizing), elementwise:
    0 at the optimum, 1 at the worst cell of the space; clipped to ``[0, inf)`` (a report value
    above the report optimum cannot occur on a table, but a tolerance error can)."""
    span = (optimum - worst) if maximize else (worst - optimum)
    if not span > 0:
        raise ValueError(f"optimum {optimum} and worst value {worst} give an empty range")
    r = ((optimum - np.asarray(values, dtype=float)) if maximize else (np.asarray(values, dtype=float) - optimum)) / span
    tol = 1e-9 * max(1.0, abs(optimum)) / span
    return np.where(r <= tol, 0.0, r)


def anytime_regret(cols: np.ndarray, U: np.ndarray, budget: int, optimum: float, worst: float,
                   maximize: bool = True) -> np.ndarray:
    """Per run: the mean over queries ``1..budget`` of the normalized regret of the incumbent's
    report value, i.e. the area under the normalized best-so-far regret curve divided by the
    budget (0: the optimum from the first query on; 1: the worst cell throughout).

    ``(cols, U)`` are :func:`step_columns` (0-based positions where some curve changes and the
    values there); the value at ``cols[j]`` holds until ``cols[j+1]`` (or ``budget``). NaN for a
    run without queries.
    """
    U = np.asarray(U, dtype=float)
    return _area(cols, normalized_regret(U, optimum, worst, maximize) if U.size else U, budget)


def anytime_mean(cols: np.ndarray, U: np.ndarray, budget: int) -> np.ndarray:
    """Per run: the mean over queries ``1..budget`` of the incumbent's report value, i.e. the
    area under the best-so-far curve divided by the budget, in the metric's own units. The
    anytime measure of a benchmark whose optimum and worst value are unknown (a surrogate):
    it orders runs as :func:`anytime_regret` would for any fixed range. ``(cols, U)`` as there;
    NaN for a run without queries."""
    return _area(cols, U, budget)


def _area(cols, U, budget: int) -> np.ndarray:
    """Per row of the step values ``U`` at ``cols``: their mean over positions ``0..budget-1``."""
    U = np.asarray(U, dtype=float)
    if not U.size:
        return np.full(U.shape[0], np.nan)
    lengths = np.diff(np.r_[np.asarray(cols, dtype=np.int64), int(budget)]).astype(float)
    return U @ lengths / float(budget)


def ecdf_pairs(regret: np.ndarray, targets: Sequence[float] = ECDF_TARGETS) -> np.ndarray:
    """COCO's empirical run-length distribution: ``(T,)`` fraction of the (run, target) pairs
    whose normalized regret ``regret`` ``(n_runs, T)`` is at most the target after each query
    (a run without queries reaches nothing). Its mean over the queries is the ECDF area. With a
    held-out report metric the curve can fall: the incumbent is the best by *search* value."""
    r = np.asarray(regret, dtype=float)
    t = np.asarray(targets, dtype=float)
    if not r.size:
        return np.zeros(r.shape[1] if r.ndim == 2 else 0)
    reached = np.nan_to_num(r, nan=np.inf)[:, :, None] <= t[None, None, :]
    return reached.mean(axis=(0, 2))


def top_agreement(search: np.ndarray, report: np.ndarray, maximize: bool = True, fraction: float = 0.01) -> tuple[float, int]:
    """``(Spearman rho, cells)`` of the search vs the report values among the top ``fraction``
    of cells by search value (at least 3 cells): how well the search metric orders the cells
    that matter. NaN when fewer than 3 cells have both values."""
    from scipy.stats import spearmanr

    s = np.asarray(search, dtype=float)
    r = np.asarray(report, dtype=float)
    ok = ~(np.isnan(s) | np.isnan(r))
    s, r = s[ok], r[ok]
    k = max(3, int(np.ceil(fraction * len(s))))
    if len(s) < 3:
        return float("nan"), int(len(s))
    order = np.argsort(-s if maximize else s, kind="stable")[:k]
    if np.ptp(s[order]) == 0 or np.ptp(r[order]) == 0:
        return float("nan"), int(k)
    return float(spearmanr(s[order], r[order])[0]), int(k)

def collapse_duplicates(records: Iterable) -> tuple[list, list[str]]:
    """The records with copies counted once, and one note line per algorithm that had copies.

    Runs of one algorithm (name and hyperparameters) whose trajectories query the same index
    sequence (the key sequence on a surrogate, whose cells have no index) on different seeds are
    one run, not independent samples (a deterministic algorithm
    given the same start states, e.g. best-improvement local search under
    ``episodes.shared_starts``): the lowest seed is kept, the others are dropped, so means, CIs
    and rank tests never count a copy twice."""
    import hashlib
    import json

    records = list(records)
    seen: dict[tuple, int] = {}
    dropped: dict[str, list[int]] = {}
    kept = []
    for r in sorted(records, key=lambda r: (int(r.meta.get("seed", 0)), r.run_key or "")):
        idx = r.trajectory.get("index")
        if idx is None or not len(idx):
            kept.append(r)
            continue
        idx = np.asarray(idx, dtype=np.int64)
        if (idx < 0).any() and r.trajectory.get("key") is not None:  # a surrogate's cells have no index (-1): their keys
            digest = hashlib.sha256("\n".join(map(str, r.trajectory["key"])).encode()).hexdigest()
        else:
            digest = hashlib.sha256(np.ascontiguousarray(idx).tobytes()).hexdigest()
        hp = json.dumps(r.meta.get("hyperparameters", {}), sort_keys=True, default=str)
        k = (r.meta.get("algorithm", "?"), hp, r.meta.get("status"), digest)
        if k in seen and seen[k] != int(r.meta.get("seed", 0)):
            dropped.setdefault(str(r.meta.get("algorithm", "?")), []).append(int(r.meta.get("seed", 0)))
            continue
        seen.setdefault(k, int(r.meta.get("seed", 0)))
        kept.append(r)
    order = {id(r): i for i, r in enumerate(records)}
    kept.sort(key=lambda r: order[id(r)])
    notes = [f"{a}: {len(s)} seed(s) ({', '.join(map(str, s[:5]))}{', ...' if len(s) > 5 else ''}) repeat another "
             f"seed's trajectory exactly (same queried indices); each copy is counted once, not as an independent "
             f"sample" for a, s in sorted(dropped.items())]
    return kept, notes
