"""The Python API: run, load and look at experiments from a script or a notebook.

The same doors as the command line, as functions that return data instead of printing:

* :func:`run` runs algorithms under a protocol (a shipped name, a file, a
  :class:`~harness.protocol.Protocol`, or a benchmark name for an ad-hoc protocol) through
  :func:`harness.sweep.run_sweep`: resumable (finished run keys are reused), parallel, logged to
  MLflow unless ``log=False``, raw records under ``results/``;
* :func:`load_results` gives the stored runs of a protocol (the records a report would use:
  :func:`harness.identity.select_current`);
* both return :class:`Results`: ``.runs`` (one row per run), ``.curves()`` (tidy incumbent
  curves), ``.summary()`` (the protocol's statistics, :func:`harness.metrics.summarize`, as a
  DataFrame) and ``.plot(kind)`` (a matplotlib Figure, Agg canvas);
* :func:`benchmark` looks values up in a benchmark's table (for users, not for algorithms:
  algorithms only see the budgeted oracle).

Algorithms are given by name (``"random"``), ``"module:Class"`` or as the class itself (it must
be importable by ``module:Class``). See ``docs/api.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np

from harness.errors import ConfigError

PLOT_KINDS = ("best_so_far", "best_so_far_time", "samples_to_optimum", "improvement_histograms",
              "initial_vs_improvement", "pareto_fronts")


def _protocol(protocol_or_benchmark, budget=None, seeds=None, data=None, dataset=None):
    """The Protocol asked for: a Protocol, a benchmark name (ad-hoc protocol), a shipped
    protocol name or id, or a protocol file path; ``budget``/``seeds``/``data`` override."""
    from harness.benchmarks import list_benchmarks
    from harness.protocol import Protocol, load_protocol

    x = protocol_or_benchmark
    if isinstance(x, Protocol):
        p = x
    elif isinstance(x, str) and x in list_benchmarks():
        from harness.commands.run import DEFAULTS

        return Protocol.adhoc(x, int(budget or DEFAULTS["budget"]), seeds if seeds is not None else DEFAULTS["seeds"],
                              dataset=dataset, data=data)
    elif isinstance(x, str) or hasattr(x, "__fspath__"):
        p = load_protocol(x)
    else:
        raise ConfigError(f"expected a protocol name, a protocol file, a Protocol or a benchmark name, got {x!r}"[:300])
    if budget:
        p = p.with_budget(int(budget))
    if seeds is not None:
        p = replace(p, seeds=tuple(range(seeds)) if isinstance(seeds, int) else tuple(int(s) for s in seeds))
    if data:
        p = replace(p, data=data)
    return p


def run(protocol_or_benchmark, algorithms: Sequence = (), seeds=None, budget: int | None = None,
        workers: int = 1, tracking_uri: str | None = None, log: bool = True, data: str | None = None,
        dataset: str | None = None, hyperparameters: dict[str, Any] | None = None, rerun: bool = False) -> "Results":
    """Run ``algorithms`` for every seed of a protocol and return the :class:`Results`.

    Args:
        protocol_or_benchmark: a shipped protocol name (``"nb201-cifar10"``), a ``.toml`` path, a
            :class:`~harness.protocol.Protocol`, or a benchmark name (``"nb201-analog"``), which
            makes an ad-hoc protocol as ``nas-harness run --benchmark`` does.
        algorithms: names, ``"module:Class"`` paths or Algorithm classes (default: the
            protocol's own list, else ``random``); a name may carry one setting as the
            leaderboards label rows, ``"bonas(sampler=rl)"`` (over ``hyperparameters``).
        seeds: a count (seeds ``0..n-1``) or a list of seeds (default: the protocol's).
        budget: counted queries per run (default: the protocol's).
        workers: processes running jobs in parallel.
        tracking_uri, log: where to log to MLflow, and whether to (``log=False``: raw records
            only; ``nas-harness sync`` logs them later).
        data: the benchmark's data file or folder (default: embedded or prepared data).
        hyperparameters: applied to every algorithm, over the protocol's overrides.
        rerun: run every job anew even when a finished record of its run key exists.
    """
    from algorithms.registry import algorithm_name
    from harness.paths import check_results_writable
    from harness.protocol import save_stored
    from harness.runner import Job
    from harness.sweep import run_sweep
    from harness.commands.run import check

    check_results_writable()
    p = _protocol(protocol_or_benchmark, budget, seeds, data, dataset)
    from harness.commands.run import check_distinct, specs_of

    specs = specs_of([a if isinstance(a, str) else algorithm_name(a) for a in (algorithms or list(p.algorithms) or ["random"])])
    hp = dict(hyperparameters or {})
    specs = [(n, {**hp, **given}) for n, given in specs]
    check(p, specs)  # bad names and values: one line, before any run
    check_distinct(p, specs)
    jobs = [Job(p, a, s, given) for a, given in specs for s in p.seeds]
    save_stored(p)
    res = run_sweep(jobs, workers=int(workers), tracking_uri=tracking_uri, log=log, rerun=rerun)
    from harness.commands.run import remember_last

    remember_last(p)
    return Results(p, list(res.records), sweep=res)


def load_results(protocol, data: str | None = None) -> "Results":
    """The stored runs of ``protocol`` (name, id, file or Protocol) that a report would use:
    the raw records under ``results/runs/<id>/`` of exactly this protocol's settings, data and
    the algorithms' current source (:func:`harness.identity.select_current`)."""
    from harness.benchmarks import get_benchmark
    from harness.identity import data_checksum, select_current
    from harness.sweep import read_records

    p = _protocol(protocol, data=data)
    records = read_records(p.id)
    checksum = data_checksum(get_benchmark(p.benchmark, p.dataset, p.data)) if p.data else None
    kept, notes = select_current(records, p, checksum)
    return Results(p, kept, notes=notes)


@dataclass
class Results:
    """The runs of one protocol, as tables. ``records`` are the :class:`~harness.record.RunRecord`
    objects themselves; ``notes`` say which stored records were left out and why."""

    protocol: Any
    records: list
    notes: list[str] = field(default_factory=list)
    sweep: Any = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"Results({self.protocol.id}: {len(self.records)} runs)"

    @property
    def runs(self):
        """One row per run: algorithm, variant, seed, status, final (incumbent) search and report
        values, queries (counted), queries to the best (the query that found the final
        incumbent), wall time (s) and run key."""
        import pandas as pd

        from harness.metrics import found_at, sort_by_seed

        rows = []
        for r in sort_by_seed(list(self.records)):
            t, m = r.trajectory, r.meta
            n = r.n_queries
            rows.append({
                "algorithm": m.get("algorithm"), "variant": m.get("variant"), "seed": int(m.get("seed", 0)),
                "status": m.get("status"),
                "final_search": float(t["incumbent_search"][-1]) if n else np.nan,
                "final_report": float(t["incumbent_report"][-1]) if n else np.nan,
                "queries": int(n), "queries_to_best": int(found_at([r])[0, -1]) if n else 0,
                "wall_time": float(m.get("wall_time", np.nan)), "run_key": r.run_key,
            })
        cols = ["algorithm", "variant", "seed", "status", "final_search", "final_report", "queries",
                "queries_to_best", "wall_time", "run_key"]
        return pd.DataFrame(rows, columns=cols)

    def curves(self):
        """Tidy incumbent curves: one row per run and counted query (1-based) with
        ``incumbent_search`` and ``incumbent_report``, and ``sim_time`` (simulated s at which the
        query's result was available) where the runs have a simulated clock."""
        import pandas as pd

        from harness.metrics import sort_by_seed

        parts = []
        for r in sort_by_seed(list(self.records)):
            t, n = r.trajectory, r.n_queries
            if not n:
                continue
            d = {"algorithm": r.meta.get("algorithm"), "variant": r.meta.get("variant"),
                 "seed": int(r.meta.get("seed", 0)), "query": np.arange(1, n + 1),
                 "incumbent_search": np.asarray(t["incumbent_search"], float),
                 "incumbent_report": np.asarray(t["incumbent_report"], float)}
            if len(t.get("sim_time", ())):
                d["sim_time"] = np.asarray(t["sim_time"], float)
            parts.append(pd.DataFrame(d))
        cols = ["algorithm", "variant", "seed", "query", "incumbent_search", "incumbent_report"]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)

    def statistics(self, seed: int = 0, resamples: int | None = None, alpha: float = 0.05):
        """The :class:`harness.metrics.Summary` of these runs, as ``nas-harness report`` computes
        it (same checkpoints, bootstrap seed 0 by default: the same CIs)."""
        from harness import metrics

        finished = [r for r in self.records if r.meta.get("status") == "finished"]
        if not finished:
            raise ConfigError(f"no finished runs of protocol {self.protocol.id}: nothing to summarize")
        kw = {"resamples": resamples} if resamples else {}
        return metrics.summarize(self.records, np.random.default_rng(seed), checkpoints=self.protocol.report_checkpoints,
                                 alpha=alpha, budget=self.protocol.budget,
                                 time_checkpoints=self.protocol.report_time_checkpoints or None, **kw)

    def summary(self, seed: int = 0, resamples: int | None = None, alpha: float = 0.05):
        """The protocol's statistics, one row per algorithm and checkpoint (see
        :func:`summary_frame`)."""
        return summary_frame(self.statistics(seed, resamples, alpha))

    def plot(self, kind: str = "best_so_far", title: str = "", seed: int = 0):
        """A matplotlib Figure (Agg canvas, no pyplot) of one plot of :mod:`harness.plots`:
        ``best_so_far``, ``best_so_far_time``, ``samples_to_optimum``,
        ``improvement_histograms``, ``initial_vs_improvement`` or ``pareto_fronts``."""
        from harness import plots

        if kind not in PLOT_KINDS:
            raise ConfigError(f"unknown plot kind {kind!r}; choose one of: {', '.join(PLOT_KINDS)}")
        return getattr(plots, f"plot_{kind}")(self.statistics(seed), None, title or self.protocol.id)


def summary_frame(summary):
    """A :class:`harness.metrics.Summary` as a tidy, numeric DataFrame: one row per algorithm
    and checkpoint (counted queries; ``unit`` says so) with ``n_runs``, ``failed``, ``mean``,
    ``std``, ``ci_low``, ``ci_high`` (bootstrap CI of the mean), ``median``, ``queries``
    (``#Q``), ``rank`` and ``tied_with_best`` (not significantly different from the best), then
    the same at the simulated-time checkpoints (``unit`` = ``s``)."""
    import pandas as pd

    rows = []
    for unit, cps, cmps, attr in (("queries", summary.checkpoints, summary.comparisons, "checkpoints"),
                                  ("s", summary.time_checkpoints, summary.time_comparisons, "time_checkpoints")):
        for i, c in enumerate(cps):
            cmp = cmps.get(c)
            for label, a in summary.algorithms.items():
                stats = getattr(a, attr)
                if i >= len(stats):
                    continue
                s = stats[i]
                rows.append({
                    "algorithm": label, "unit": unit, "checkpoint": float(c) if unit == "s" else int(c),
                    "n_runs": int(s.n_runs), "failed": int(a.failed), "mean": float(s.mean), "std": float(s.std),
                    "ci_low": float(s.ci[0]), "ci_high": float(s.ci[1]), "median": float(s.median),
                    "queries": int(s.q), "rank": float(cmp.ranks.get(label, np.nan)) if cmp else np.nan,
                    "tied_with_best": bool(cmp is not None and label in cmp.tied_with_best),
                })
    cols = ["algorithm", "unit", "checkpoint", "n_runs", "failed", "mean", "std", "ci_low", "ci_high", "median",
            "queries", "rank", "tied_with_best"]
    return pd.DataFrame(rows, columns=cols)


class Benchmark:
    """A benchmark's table, for looking values up (``harness.benchmark("nb201-analog")``).

    ``space`` is its search space (``space.sample(rng)``, ``space.neighbours(arch)``, ...),
    ``metrics`` the metric names; :meth:`query` reads the table (no budget, nothing counted:
    this is not the oracle algorithms get)."""

    def __init__(self, bench):
        self._bench = bench

    def __repr__(self) -> str:
        return f"Benchmark({self._bench.version}: {self.space.size if hasattr(self.space, 'size') else '?'} architectures)"

    @property
    def name(self) -> str:
        return self._bench.name

    @property
    def version(self) -> str:
        return self._bench.version

    @property
    def space(self):
        return self._bench.space

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(self._bench.metrics)

    @property
    def default_metric(self) -> str:
        return self._bench.default_search

    def query(self, arch, metric: str | None = None) -> float:
        """The value of ``metric`` (default: the benchmark's search metric) for ``arch``: the
        mean over repeats of a tabular benchmark, the prediction of a surrogate."""
        from harness.errors import InvalidArchitecture

        m = metric or self._bench.default_search
        if getattr(self._bench, "kind", "tabular") != "tabular":
            return float(self._bench.predict([arch], m)[0])
        try:
            i = self.space.index(arch)
        except (KeyError, TypeError, ValueError):
            raise InvalidArchitecture(f"{arch!r} is not an architecture of search space {self.space.id}") from None
        return float(self._bench.mean(m)[i])

    def optimum(self, metric: str | None = None) -> tuple[float, Any]:
        """``(best value, its architecture)`` of a tabular benchmark."""
        v, i = self._bench.optimum(metric or self._bench.default_search)
        return v, self.space.arch_at(i)


def benchmark(name: str, dataset: str | None = None, data: str | None = None) -> Benchmark:
    """The benchmark ``name`` (``nb201``, ``nb201-analog``, ...) for looking values up; see
    :class:`Benchmark`."""
    from harness.benchmarks import get_benchmark

    return Benchmark(get_benchmark(name, dataset, data))
