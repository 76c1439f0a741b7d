"""The budgeted oracle: the only door from a search algorithm to the benchmark's numbers.

The benchmark counts, not the algorithm (COCO's observer, Gymnasium's TimeLimit):

* ``query(arch) -> float`` returns the protocol's *search* metric (e.g. validation accuracy);
  ``query_batch(archs) -> np.ndarray`` does the same for many.
* Counting rule ``unique``: the first query of an architecture is counted, a repeat is free
  and returns the cached value. Rule ``all``: every query is counted.
* When ``budget`` counted queries are spent, any further query raises :class:`BudgetExhausted`
  (the runner catches it). Nothing past the budget is ever recorded. As a guard against an
  algorithm that only repeats cached queries forever, more than ``100 * budget + 10_000`` free
  repeats also end the run (the record is then marked ``stalled``), on every kind of benchmark.
* Noise ``mean``: the value averaged over the benchmark's training repeats; ``sample``: one
  repeat drawn per counted query with the run's ``noise`` stream (then cached under ``unique``).
  Missing repeats (NaN, e.g. NB201 cells with fewer seeds) are never drawn: a NaN draw is
  redrawn among the present repeats, which keeps the draw uniform over them.
* The *report* metric (e.g. test accuracy, always the mean over repeats) is recorded but never
  returned. The trajectory keeps, per counted query: space index (-1 for infinite spaces), key,
  search value, report value, the incumbent (best search value so far; ties keep the earlier;
  a NaN value never becomes the incumbent)
  with its index and report value, and the elapsed seconds since the oracle was created.
* Learned policies that train on the benchmark (Ape-X) query through ``oracle.training()``, a
  second ledger that is counted and reported separately and never enters the trajectory.
  Training actors in other processes use ``training().detached()`` (a picklable value source
  that counts its own lookups) and their counts are added back with ``training().charge(n)``.
* Episodic algorithms call ``record_episode`` for the improvement histograms.
* Diagnostics: ``log_diagnostic(name, value, step)`` notes one point of a curve of the
  algorithm's own (a training loss, a surrogate's fit, ...). The points travel in the run's
  record (:attr:`harness.record.RunRecord.diagnostics`) and the launcher logs them to MLflow as
  metric ``diag/<name>`` at that step; an algorithm never touches the store itself. They are
  never an input to the search and not part of the trajectory.
* ``stop_at_optimum`` (a protocol's ``until_optimum``): on a tabular benchmark, the first
  counted query of an architecture whose mean search value is the global optimum is recorded
  and then ends the run (:class:`BudgetExhausted`; ``found_optimum`` becomes True). With
  ``"index"`` only the benchmark's optimum architecture (``optimum(metric)[1]``) ends it, not
  another cell that ties with it (NB201 CIFAR-10 has two).
* Simulated wall-clock budget (``time_budget``, tabular benchmarks): each counted query is
  charged ``time_scale * mean(time_metric)`` of its cell (plus, with ``charge_compute``, the
  algorithm's measured compute time since the previous counted query) on a
  :class:`harness.simclock.SimClock` of ``sim_workers`` asynchronous workers. A counted query
  whose simulated finish time would exceed the time budget raises :class:`BudgetExhausted`
  and is **not recorded** (NB201's rule; the crossing query does not count); so does every
  later counted query. Both limits apply: the query budget and the time budget. The
  trajectory gains ``sim_time``: the simulated time (s) at which each result was available.
* Cost metrics (``cost_metrics``, e.g. ``("latency", "parameters")``): report-only columns
  recorded per counted query as trajectory columns ``cost_<metric>`` (the training-repeat
  mean), never returned to the algorithm.
"""

from __future__ import annotations

import re
import time
from typing import Any, Sequence

import numpy as np

from harness.errors import BudgetExhausted, ConfigError, InvalidArchitecture
from harness.record import best_positions

COUNTING_RULES = ("unique", "all")
_DIAG_NAME = re.compile(r"[A-Za-z0-9_\-./ ]{1,200}")
NOISE_MODES = ("mean", "sample")


class Oracle:
    """Budgeted access to one benchmark's search metric.

    Args:
        benchmark: a tabular benchmark (``space.finite`` and ``columns``) or a surrogate with
            ``predict(archs, metric) -> np.ndarray``.
        budget: number of counted queries allowed (> 0).
        search_metric / report_metric: metric names (default: the benchmark's defaults).
        counting: ``"unique"`` or ``"all"``.
        noise: ``"mean"`` or ``"sample"`` (needs per-repeat columns).
        rng: generator for noise sampling (required when ``noise="sample"``).
        start_states: fixed initial architectures for episodic algorithms, or ``None``.
        stop_at_optimum: end the run at the first counted query of a global optimum (tabular
            only): True for any architecture with the optimal value, ``"index"`` for the
            benchmark's optimum architecture alone.
        time_budget: simulated seconds of training allowed (``None``: no time budget); needs
            a tabular benchmark with the column ``time_metric`` (default ``training_time``).
        time_scale: factor on ``time_metric`` per counted query (e.g. 12/200).
        sim_workers: simulated asynchronous workers (see :mod:`harness.simclock`).
        charge_compute: also charge the algorithm's measured compute time between counted
            queries (breaks the exact reproducibility of the simulated clock).
        cost_metrics: report-only metrics recorded per counted query (``cost_<m>`` columns).
    """

    def __init__(
        self,
        benchmark,
        budget: int,
        search_metric: str | None = None,
        report_metric: str | None = None,
        counting: str = "unique",
        noise: str = "mean",
        rng: np.random.Generator | None = None,
        start_states: Sequence[Any] | None = None,
        stop_at_optimum: bool | str = False,
        time_budget: float | None = None,
        time_metric: str | None = None,
        time_scale: float = 1.0,
        sim_workers: int = 1,
        charge_compute: bool = False,
        cost_metrics: Sequence[str] = (),
    ):
        if int(budget) <= 0:
            raise ConfigError(f"budget must be a positive number of queries, got {budget}")
        if counting not in COUNTING_RULES:
            raise ConfigError(f"unknown counting rule {counting!r}; choose one of: {', '.join(COUNTING_RULES)}")
        if noise not in NOISE_MODES:
            raise ConfigError(f"unknown noise mode {noise!r}; choose one of: {', '.join(NOISE_MODES)}")
        self.benchmark = benchmark
        self.space = benchmark.space
        self.budget = int(budget)
        self.search_metric = benchmark.check_metric(search_metric or benchmark.default_search)
        self.report_metric = benchmark.check_metric(report_metric or benchmark.default_report)
        self.counting = counting
        self.noise = noise
        self.maximize = benchmark.maximize(self.search_metric)
        self.start_states = list(start_states) if start_states is not None else None
        self._rng = rng
        self._unique = counting == "unique"
        self._tabular = getattr(benchmark, "kind", "") == "tabular"
        if self._tabular:
            self._index_of = self.space.index_of if hasattr(self.space, "index_of") else self.space._tables[1]
            self._search_list = benchmark.mean(self.search_metric).tolist()
            self._report_col = benchmark.mean(self.report_metric)
            self._repeats = benchmark.repeats(self.search_metric) if noise == "sample" else None
        if noise == "sample":
            if rng is None:
                raise ConfigError("noise='sample' needs an rng for drawing training repeats")
            if self._tabular and self._repeats is None:
                raise ConfigError(
                    f"benchmark {benchmark.name} keeps no training repeats of {self.search_metric}; use noise='mean'"
                )
        self._stop_set = None
        self.found_optimum = False
        if stop_at_optimum:
            if not self._tabular or not hasattr(benchmark, "optimum"):
                raise ConfigError(f"until_optimum needs a tabular benchmark with a known optimum; {benchmark.name} has none")
            best, best_index = benchmark.optimum(self.search_metric)
            if stop_at_optimum == "index":
                self._stop_set = frozenset([int(best_index)])
            else:
                means = benchmark.mean(self.search_metric)
                self._stop_set = frozenset(np.flatnonzero(means == best).tolist())
        self._setup_costs(time_budget, time_metric, time_scale, sim_workers, charge_compute, cost_metrics)
        self._cache: dict = {}
        self._used = 0
        self._free = 0
        self._free_limit = 100 * self.budget + 10_000
        self.stalled = False
        self._t_ref: list = []  # index (tabular) or key (surrogate) per counted query
        self._t_search: list[float] = []
        self._t_report: list[float] = []  # surrogate only
        self._t_time: list[float] = []
        self._episodes: list[dict] = []
        self._diag: dict[str, tuple[list[int], list[float]]] = {}
        self._training_used = 0
        self._t0 = time.perf_counter()

    # --- the algorithm's side -------------------------------------------------------------
    @property
    def used(self) -> int:
        """Counted queries so far."""
        return self._used

    @property
    def remaining(self) -> int:
        return self.budget - self._used

    def _stop(self):
        raise BudgetExhausted(f"budget of {self.budget} queries spent")

    def _setup_costs(self, time_budget, time_metric, time_scale, sim_workers, charge_compute, cost_metrics):
        """The simulated clock and the report-only cost columns (tabular benchmarks only)."""
        from harness.simclock import SimClock

        self.cost_metrics = tuple(cost_metrics or ())
        self.time_budget = None if time_budget is None else float(time_budget)
        self.time_scale = float(time_scale)
        self.charge_compute = bool(charge_compute)
        self.time_metric = None
        self._clock = None
        if self.time_budget is None and not self.cost_metrics:
            return
        if not self._tabular:
            raise ConfigError(f"time budgets and cost metrics need a tabular benchmark; {self.benchmark.name} is not")
        self._cost_cols = {m: self.benchmark.mean(self.benchmark.check_metric(m)) for m in self.cost_metrics}
        if self.time_budget is not None:
            if self.time_budget <= 0 or self.time_scale <= 0:
                raise ConfigError(f"time_budget and time_scale must be positive, got {time_budget} and {time_scale}")
            self.time_metric = self.benchmark.check_metric(time_metric or "training_time")
            self._time_list = (self.time_scale * self.benchmark.mean(self.time_metric)).tolist()
            self._clock = SimClock(self.time_budget, sim_workers)
            self._last_return = None  # perf_counter when the previous counted query returned

    def _tick(self, idx: int) -> None:
        """Charge counted query ``idx`` to the simulated clock, or end the run (not recorded)."""
        compute = 0.0
        if self.charge_compute:
            now = time.perf_counter()
            compute = now - (self._t0 if self._last_return is None else self._last_return)
        cost = self._time_list[idx]
        if cost != cost:
            raise ConfigError(f"architecture {idx} has no {self.time_metric}; this benchmark cannot be time-budgeted")
        if self._clock.charge(cost, compute) is None:
            raise BudgetExhausted(f"simulated time budget of {self.time_budget:g} s spent")

    @property
    def expected_queries(self) -> float:
        """About how many counted queries a run can make: the query budget, or, under a simulated
        time budget, the number of uniformly random cells whose mean cost fits in it
        (``time_budget x sim_workers / mean cost``; random search's mean to within a query on
        the NB201 time protocols), whichever is smaller. The warm-up cap is taken of this."""
        if self._clock is None:
            return float(self.budget)
        costs = np.asarray(self._time_list, dtype=float)
        costs = costs[np.isfinite(costs)]
        if not costs.size or not costs.mean() > 0:
            return float(self.budget)
        return min(float(self.budget), self.time_budget * self._clock.workers / float(costs.mean()))

    @property
    def sim_time(self) -> float:
        """Simulated seconds used so far (latest finish time; 0 without a time budget)."""
        return self._clock.now if self._clock is not None else 0.0

    @property
    def time_exhausted(self) -> bool:
        """Whether the run ended on its simulated time budget."""
        return self._clock is not None and self._clock.exhausted

    def query(self, arch) -> float:
        """Search-metric value of ``arch`` (counted by the protocol's rule)."""
        if not self._tabular:
            return float(self.query_batch([arch])[0])
        try:
            idx = self._index_of[arch]
        except (KeyError, TypeError):
            raise InvalidArchitecture(f"{arch!r} is not an architecture of search space {self.space.id}") from None
        if self._used >= self.budget:
            self._stop()
        if self._clock is not None and self._clock.exhausted:
            raise BudgetExhausted(f"simulated time budget of {self.time_budget:g} s spent")
        if self._unique:
            v = self._cache.get(idx)
            if v is not None:
                self._free += 1
                if self._free > self._free_limit:
                    self.stalled = True
                    self._stop()
                return v
        if self._clock is not None:
            self._tick(idx)
        self._used += 1
        if self._repeats is None:
            v = self._search_list[idx]
        else:
            row = self._repeats[idx]
            v = float(row[self._rng.integers(row.shape[0])])
            if v != v:  # a missing repeat (NaN): draw again among the present ones (still uniform)
                present = row[~np.isnan(row)]
                v = float(present[self._rng.integers(present.shape[0])]) if present.size else v
        self._t_ref.append(idx)
        self._t_search.append(v)
        self._t_time.append(time.perf_counter())
        if self._unique:
            self._cache[idx] = v
        if self._stop_set is not None and idx in self._stop_set:
            self.found_optimum = True
            raise BudgetExhausted("global optimum found (until_optimum)")
        if self._clock is not None and self.charge_compute:
            self._last_return = time.perf_counter()
        return v

    def query_batch(self, archs: Sequence[Any]) -> np.ndarray:
        """Search values of several architectures, shape ``(len(archs),)``.

        Counted in order; if the budget runs out part way, the counted ones are recorded and
        :class:`BudgetExhausted` is raised.
        """
        if self._tabular:
            return np.array([self.query(a) for a in archs], dtype=float)
        return self._surrogate_batch(archs)

    def is_cached(self, arch) -> bool:
        """Whether a query of ``arch`` would be free (only under the ``unique`` rule)."""
        if not self._unique:
            return False
        ref = self._index_of.get(arch) if self._tabular else self.space.key(arch)
        return ref in self._cache

    def view(self) -> OracleView:
        """The narrow view an algorithm is given (:class:`OracleView`)."""
        return OracleView(self)

    def training(self) -> "TrainingOracle":
        """A view for training a learned policy: counted in its own ledger, never recorded."""
        return TrainingOracle(self)

    def record_episode(self, start, end, steps: int, start_value: float | None = None, end_value: float | None = None, **extra):
        """Note one episode of an episodic algorithm (start/end architecture, steps taken)."""
        self.space.validate(start)
        self.space.validate(end)
        self._episodes.append(
            {"start": start, "end": end, "steps": int(steps), "start_search": start_value, "end_search": end_value,
             "queries_at_end": self._used, **extra}
        )

    def log_diagnostic(self, name: str, value: float, step: int) -> None:
        """Note one point ``(step, value)`` of the algorithm's diagnostic curve ``name`` (e.g.
        ``"train/loss"``); it goes into the run's record and into MLflow as ``diag/<name>``.

        ``name``: 1-200 characters among letters, digits, ``_ - . /`` and space (MLflow's
        metric names); ``value``: a real number (NaN and inf are kept); ``step``: an integer
        (e.g. the update number). Points are kept in the order they are logged."""
        if not isinstance(name, str) or not _DIAG_NAME.fullmatch(name):
            raise ConfigError(f"log_diagnostic: name {name!r} must be 1-200 characters among letters, digits, "
                              "'_', '-', '.', '/' and space")
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)):
            raise ConfigError(f"log_diagnostic({name!r}): step must be an integer, got {type(step).__name__}")
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"log_diagnostic({name!r}): value must be a real number, got {value!r}") from None
        steps, values = self._diag.setdefault(name, ([], []))
        steps.append(int(step))
        values.append(v)

    def diagnostics(self) -> dict[str, dict[str, np.ndarray]]:
        """The logged diagnostics: ``{name: {"step": int64 array, "value": float64 array}}``."""
        return {n: {"step": np.asarray(s, dtype=np.int64), "value": np.asarray(v, dtype=np.float64)}
                for n, (s, v) in self._diag.items()}

    # --- surrogate path ---------------------------------------------------------------------
    def _surrogate_batch(self, archs) -> np.ndarray:
        out = np.empty(len(archs), dtype=float)
        keys = []
        for a in archs:
            self.space.validate(a)
            keys.append(self.space.key(a))
        todo = [i for i, k in enumerate(keys) if not (self._unique and k in self._cache)]
        pred = {}
        if todo:
            uniq = list(dict.fromkeys(keys[i] for i in todo))
            first = {k: archs[keys.index(k)] for k in uniq}
            batch = [first[k] for k in uniq]
            s = self.benchmark.predict(batch, self.search_metric, rng=self._rng if self.noise == "sample" else None)
            r = s if self.report_metric == self.search_metric and self.noise == "mean" else self.benchmark.predict(batch, self.report_metric)
            pred = {k: (float(sv), float(rv)) for k, sv, rv in zip(uniq, s, r)}
        for i, k in enumerate(keys):
            if self._used >= self.budget:
                self._stop()
            if self._unique and k in self._cache:
                out[i] = self._cache[k][0]
                self._free += 1
                if self._free > self._free_limit:  # the same guard as the tabular path
                    self.stalled = True
                    self._stop()
                continue
            sv, rv = pred[k]
            self._used += 1
            self._t_ref.append(k)
            self._t_search.append(sv)
            self._t_report.append(rv)
            self._t_time.append(time.perf_counter())
            if self._unique:
                self._cache[k] = (sv, rv)
            out[i] = sv
        return out

    # --- the harness's side -----------------------------------------------------------------
    def report_value(self, arch) -> float:
        """Report-metric value of ``arch`` (for the harness only; never give it to the algorithm)."""
        if self._tabular:
            return float(self._report_col[self.space.index(arch)])
        return float(self.benchmark.predict([arch], self.report_metric)[0])

    def trajectory(self) -> dict[str, np.ndarray]:
        """Per counted query: index, key, search, report, incumbent_*, time (seconds), and with
        a time budget ``sim_time`` (simulated s at which the result was available), with cost
        metrics ``cost_<metric>``."""
        n = self._used
        search = np.asarray(self._t_search, dtype=float)
        if self._tabular:
            index = np.asarray(self._t_ref, dtype=np.int64)
            report = self._report_col[index] if n else np.empty(0)
            keys = self.space.keys_at(index)
        else:
            index = np.full(n, -1, dtype=np.int64)
            report = np.asarray(self._t_report, dtype=float)
            keys = np.asarray(self._t_ref, dtype=object)
        inc_pos = best_positions(search, self.maximize)
        extra = {}
        if self._clock is not None:
            extra["sim_time"] = np.asarray(self._clock.finishes[:n], dtype=float)
        for m in self.cost_metrics:
            extra[f"cost_{m}"] = self._cost_cols[m][index] if n else np.empty(0)
        return {
            "index": index,
            "key": keys,
            "search": search,
            "report": np.asarray(report, dtype=float),
            "incumbent_search": search[inc_pos],
            "incumbent_report": np.asarray(report, dtype=float)[inc_pos],
            "incumbent_index": index[inc_pos],
            "incumbent_key": keys[inc_pos],
            "time": np.asarray(self._t_time, dtype=float) - self._t0,
            **extra,
        }

    def episodes(self) -> list[dict]:
        """Recorded episodes with the report values of start and end added."""
        out = []
        for ep in self._episodes:
            e = dict(ep)
            e["start_report"] = self.report_value(ep["start"])
            e["end_report"] = self.report_value(ep["end"])
            e["start"] = self.space.key(ep["start"])
            e["end"] = self.space.key(ep["end"])
            out.append(e)
        return out

    @property
    def training_queries(self) -> int:
        return self._training_used


class OracleView:
    """What an algorithm gets of an :class:`Oracle`: the narrow, budgeted door.

    ``query``, ``query_batch``, ``is_cached``, ``space``, ``maximize``, ``budget``, ``used``,
    ``remaining``, ``start_states``, the simulated clock (``sim_time``, ``time_exhausted``), the
    episode hook ``record_episode``, the diagnostics channel ``log_diagnostic`` and the
    training ledger ``training()``. Nothing else: not
    the benchmark's table, not the report metric (``report_value``, ``episodes()``), not the
    trajectory. Reaching anything else raises ``AttributeError`` (the runner and
    :func:`harness.conformance.check_algorithm` give algorithms only this view)."""

    __slots__ = ("_oracle",)
    EXPOSED = ("query", "query_batch", "is_cached", "space", "maximize", "budget", "used", "remaining",
               "start_states", "sim_time", "time_exhausted", "record_episode", "log_diagnostic", "training")

    def __init__(self, oracle: "Oracle"):
        object.__setattr__(self, "_oracle", oracle)

    def __getattr__(self, name):
        if name in OracleView.EXPOSED:
            return getattr(object.__getattribute__(self, "_oracle"), name)
        raise AttributeError(f"an algorithm's oracle offers only {', '.join(OracleView.EXPOSED)}; "
                             f"{name!r} is not among them")

    def __setattr__(self, name, value):
        raise AttributeError("an algorithm's oracle is read-only")

    def __dir__(self):
        return list(OracleView.EXPOSED)

    def __repr__(self) -> str:
        o = object.__getattribute__(self, "_oracle")
        return f"OracleView({o.space.id}, budget {o.budget}, {o.used} used)"


class TrainingOracle:
    """Query access for training a learned policy; counted in the parent's training ledger."""

    def __init__(self, parent: Oracle):
        self._p = parent
        self.space = parent.space
        self.maximize = parent.maximize
        self.search_metric = parent.search_metric

    def query(self, arch) -> float:
        return float(self.query_batch([arch])[0])

    def query_batch(self, archs) -> np.ndarray:
        p = self._p
        p._training_used += len(archs)
        if p._tabular:
            idx = [p.space.index(a) for a in archs]
            return np.asarray([p._search_list[i] for i in idx], dtype=float)
        for a in archs:
            p.space.validate(a)
        return np.asarray(p.benchmark.predict(list(archs), p.search_metric), dtype=float)

    @property
    def used(self) -> int:
        return self._p._training_used

    def detached(self) -> "DetachedTrainingValues":
        """A picklable value source with the same values, for actors in other processes.

        It counts its own lookups (``.used``); the process that owns the oracle adds them to
        the training ledger with :meth:`charge`.
        """
        return DetachedTrainingValues(self._p.benchmark, self.search_metric)

    def charge(self, n: int) -> None:
        """Add ``n`` training queries made elsewhere (e.g. by a :meth:`detached` source)."""
        if int(n) < 0:
            raise ValueError(f"cannot charge a negative number of training queries ({n})")
        self._p._training_used += int(n)


class DetachedTrainingValues:
    """Search-metric values (training-repeat mean) of one benchmark, without a ledger.

    Made by :meth:`TrainingOracle.detached` for training actors in other processes (picklable
    when the benchmark is). ``used`` counts lookups; charge them back to the training ledger.
    """

    def __init__(self, benchmark, search_metric: str):
        self.benchmark = benchmark
        self.space = benchmark.space
        self.search_metric = search_metric
        self.maximize = benchmark.maximize(search_metric)
        self.used = 0
        self._values = None

    def query(self, arch) -> float:
        return float(self.query_batch([arch])[0])

    def query_batch(self, archs) -> np.ndarray:
        self.used += len(archs)
        if getattr(self.benchmark, "kind", "") == "tabular":
            if self._values is None:
                self._values = self.benchmark.mean(self.search_metric)
            return self._values[[self.space.index(a) for a in archs]].astype(float)
        for a in archs:
            self.space.validate(a)
        return np.asarray(self.benchmark.predict(list(archs), self.search_metric), dtype=float)

    def __getstate__(self):
        d = dict(self.__dict__)
        d["_values"] = None  # rebuilt from the benchmark on first use
        return d
