"""Executing runs: one (protocol, algorithm, hyperparameters, seed) job -> one RunRecord.

``execute(job)`` is a pure function of the job (same job, same record, on any executor): it
spawns the run's RNG streams from the seed, builds the benchmark and the oracle, runs the
algorithm until :class:`BudgetExhausted`, and returns the record. ``run_jobs`` runs many jobs
in a local process pool (workers return records; only the calling process writes).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

import numpy as np

import harness
from harness.errors import BudgetExhausted
from harness.protocol import Protocol
from harness.record import RunRecord
from harness.rng import spawn_streams


def code_version() -> str:
    return harness.__version__


@dataclass(frozen=True)
class Job:
    """One run to do. ``hyperparameters`` override the protocol's per-algorithm overrides.

    ``key()`` is the run key (:func:`harness.identity.run_key`): a content hash of the resolved
    protocol, the benchmark's numbers, the algorithm's identity and source, its resolved
    hyperparameters and the seed. Computing it loads the benchmark (cached per process)."""

    protocol: Protocol
    algorithm: str
    seed: int
    hyperparameters: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):  # an algorithm class is run under its module:Class name
        if not isinstance(self.algorithm, str):
            from algorithms.registry import algorithm_name

            object.__setattr__(self, "algorithm", algorithm_name(self.algorithm))

    def resolved_hyperparameters(self) -> dict[str, Any]:
        from algorithms.registry import make_algorithm

        hp = {**self.protocol.overrides(self.algorithm), **self.hyperparameters}
        return make_algorithm(self.algorithm, **hp).hyperparameters()

    def identity(self) -> dict[str, Any]:
        """Everything the run key hashes, and the hashes (memoized on the job)."""
        cached = self.__dict__.get("_identity")
        if cached is not None:
            return cached
        from algorithms.registry import get_algorithm_class
        from harness import identity
        from harness.benchmarks import get_benchmark

        p = self.protocol
        bench = get_benchmark(p.benchmark, p.dataset, p.data)
        prot = identity.protocol_identity(p)
        bid = identity.benchmark_identity(bench)
        aid = identity.algorithm_identity(get_algorithm_class(self.algorithm))
        hp = self.resolved_hyperparameters()
        ident = {
            "protocol_settings": prot, "protocol_hash": identity.protocol_hash(p), "benchmark": bid,
            "algorithm_identity": aid, "hyperparameters": hp,
            "experiment_key": identity.experiment_key(prot, bid),
            "run_key": identity.run_key(prot, bid, self.algorithm, aid, hp, self.seed),
            "variant": self.__dict__.get("_variant")
            or variant_label(self.algorithm, self.protocol.overrides(self.algorithm), self.hyperparameters),
        }
        object.__setattr__(self, "_identity", ident)  # frozen dataclass: memo only
        return ident

    def key(self) -> str:
        """The run key (16 hex digits); see :mod:`harness.identity`."""
        return self.identity()["run_key"]


def assign_variants(jobs: list["Job"]) -> None:
    """Label the settings of each algorithm among ``jobs`` by the hyperparameters that differ
    between them (``bonas(sampler=rl)``, as :func:`harness.metrics.group_records` labels them);
    an algorithm with one setting keeps :func:`variant_label`. A label is presentation (MLflow
    run names, tables), never part of the run key."""
    import json

    from harness.metrics import _variant_suffixes

    by: dict[str, dict[str, list]] = {}
    for j in jobs:
        hp = json.dumps(j.resolved_hyperparameters(), sort_keys=True, default=str)
        by.setdefault(j.algorithm, {}).setdefault(hp, []).append(j)
    for algo, settings in by.items():
        if len(settings) < 2:
            continue
        name = algo.rsplit(":", 1)[-1]
        for suffix, js in zip(_variant_suffixes(list(settings)), settings.values()):
            for j in js:
                if "_identity" in j.__dict__:
                    j.__dict__["_identity"]["variant"] = f"{name}{suffix}"
                object.__setattr__(j, "_variant", f"{name}{suffix}")


def variant_label(algorithm: str, overrides: dict, hyperparameters: dict) -> str:
    """Label of one setting of an algorithm: its name, plus ``(k=v, ...)`` for the
    hyperparameters given beyond the protocol's overrides that change them (e.g.
    ``bonas(sampler=rl)``); ``name#<hash>`` when that would be longer than 60 characters."""
    import json

    name = algorithm.rsplit(":", 1)[-1] if ":" in algorithm else algorithm
    diff = {k: v for k, v in sorted(hyperparameters.items()) if overrides.get(k, object()) != v}
    if not diff:
        return name
    label = f"{name}(" + ", ".join(f"{k}={v}" for k, v in diff.items()) + ")"
    if len(label) > 60:
        label = f"{name}#{hashlib.sha256(json.dumps(diff, sort_keys=True, default=str).encode()).hexdigest()[:6]}"
    return label


def start_states(protocol: Protocol, space, rng: np.random.Generator | None = None) -> list | None:
    """The run's initial architectures, or None when the protocol fixes none.

    Drawn from ``rng`` (the run's own ``starts`` stream, so each seed gets its own set and runs
    of a deterministic algorithm differ across seeds); with ``episodes.shared_starts`` (or when
    no ``rng`` is given) from ``episodes.start_seed``: one set shared by every run."""
    n = protocol.episodes.start_states
    if not n:
        return None
    if protocol.episodes.shared_starts or rng is None:
        rng = np.random.default_rng(np.random.SeedSequence(protocol.episodes.start_seed))
    return [space.sample(rng) for _ in range(n)]


def make_oracle(protocol: Protocol, noise_rng=None, starts_rng=None):
    from harness.benchmarks import get_benchmark
    from harness.oracle import Oracle

    bench = get_benchmark(protocol.benchmark, protocol.dataset, protocol.data)
    search_metric, report_metric = protocol.resolve_metrics(bench)  # report_fallback applied
    return Oracle(
        bench,
        budget=protocol.budget,
        search_metric=search_metric,
        report_metric=report_metric,
        counting=protocol.counting,
        noise=protocol.noise,
        rng=noise_rng,
        start_states=start_states(protocol, bench.space, starts_rng),
        stop_at_optimum=protocol.until_optimum,
        time_budget=protocol.time_budget,
        time_metric=protocol.time_metric,
        time_scale=protocol.time_scale,
        sim_workers=protocol.sim_workers,
        charge_compute=protocol.charge_compute,
        cost_metrics=protocol.cost_metrics,
    )


def execute(job: Job, catch: bool = False) -> RunRecord:
    """Run one job and return its record.

    With ``catch=True`` an exception inside the algorithm gives a record with
    ``status="failed"`` and the traceback in ``meta["error"]`` (trajectory up to the failure).
    """
    from algorithms.registry import make_algorithm

    p = job.protocol
    streams = spawn_streams(job.seed)
    t0 = time.perf_counter()
    hp = {**p.overrides(job.algorithm), **job.hyperparameters}
    algo = make_algorithm(job.algorithm, **hp)
    oracle = make_oracle(p, streams["noise"], streams["starts"])
    bench = oracle.benchmark
    bind = getattr(algo, "bind_run", None)  # algorithms with per-run files (trained agents: harness.agents)
    if callable(bind):
        ident = job.identity()
        bind({"seed": int(job.seed), "protocol_id": p.id, "benchmark": bench.name, "dataset": bench.dataset,
              "space": oracle.space.id, "data_checksum": ident["benchmark"]["data_checksum"],
              "search_metric": oracle.search_metric, "run_key": ident["run_key"]})
    status, error = "finished", ""
    try:
        algo.run(oracle.view(), streams["algorithm"])  # the narrow door only (harness.oracle.OracleView)
    except BudgetExhausted:
        pass
    except (Exception, SystemExit):  # a user's run() exiting is a failed run too; Ctrl-C is not caught
        if not catch:
            raise
        status, error = "failed", traceback.format_exc()
    from harness.identity import provenance
    from harness.record import SCHEMA_VERSION

    ident = job.identity()
    meta = {
        "schema_version": SCHEMA_VERSION,
        "run_key": ident["run_key"],
        "experiment_key": ident["experiment_key"],
        "protocol": p.name,
        "protocol_id": p.id,
        "protocol_hash": ident["protocol_hash"],
        "protocol_settings": ident["protocol_settings"],
        "algorithm": job.algorithm,
        "algorithm_class": ident["algorithm_identity"]["class"],
        "algorithm_version": ident["algorithm_identity"]["version"],
        "algorithm_source": ident["algorithm_identity"]["source"],
        "variant": ident["variant"],
        "hyperparameters": algo.hyperparameters(),
        "seed": int(job.seed),
        "benchmark": bench.name,
        "benchmark_version": bench.version,
        "dataset": bench.dataset,
        "space": oracle.space.id,
        "data_checksum": ident["benchmark"]["data_checksum"],
        "data": str(p.data) if p.data else None,
        "search_metric": oracle.search_metric,
        "report_metric": oracle.report_metric,
        "maximize": oracle.maximize,
        "maximize_report": bool(bench.maximize(oracle.report_metric)) if hasattr(bench, "maximize") else oracle.maximize,
        "budget": p.budget,
        "counting": p.counting,
        "noise": p.noise,
        "attempt": uuid.uuid4().hex,  # which execution this is (provenance, not identity)
        "status": status,
        "error": error,
        "stalled": oracle.stalled,
        "until_optimum": p.until_optimum,
        "found_optimum": oracle.found_optimum,
        "wall_time": time.perf_counter() - t0,
        "training_queries": oracle.training_queries,
        "provenance": provenance(),
    }
    if hasattr(bench, "optimum"):
        opt_s, opt_i = bench.optimum(oracle.search_metric)
        meta["optimum_search"] = opt_s
        meta["optimum_search_index"] = opt_i
        meta["optimum_report"] = bench.optimum(oracle.report_metric)[0]
    meta.update(_time_and_cost_meta(p, oracle))
    extra = getattr(algo, "run_meta", None)  # e.g. the source of a loaded agent, a saved agent's file
    if callable(extra):
        meta.update({k: v for k, v in extra().items() if k not in meta})
    return RunRecord(meta=meta, trajectory=oracle.trajectory(), episodes=oracle.episodes(),
                     diagnostics=oracle.diagnostics())


def _time_and_cost_meta(p: Protocol, oracle) -> dict[str, Any]:
    """Record metadata of a time-budgeted protocol and of its cost metrics (empty otherwise):
    the clock's settings, the simulated time used, and the Pareto reference of the space."""
    meta: dict[str, Any] = {}
    if p.time_budget is not None:
        meta.update(time_budget=p.time_budget, time_metric=oracle.time_metric, time_scale=p.time_scale,
                    sim_workers=p.sim_workers, charge_compute=p.charge_compute, sim_time=oracle.sim_time,
                    time_exhausted=oracle.time_exhausted, time_checkpoints=list(p.report_time_checkpoints))
    if p.cost_metrics:
        meta["cost_metrics"] = list(p.cost_metrics)
        cost = p.pareto_metric
        if cost is not None:
            from harness.metrics import pareto_reference

            meta["pareto"] = {"cost": cost, **pareto_reference(oracle.benchmark, oracle.search_metric, cost)}
    return meta


_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _worker_init():
    """Pool initializer: one torch and one BLAS thread per worker (the pool is the parallelism).
    A spawned worker already starts with one BLAS thread (:func:`single_threaded_children`); a
    forked one inherits the parent's thread pools, so they are limited here."""
    import sys

    _die_with_parent()
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # threadpoolctl is a dependency; without it BLAS keeps its threads
        pass


def _die_with_parent():
    """Linux: have the kernel kill this worker when the launcher dies (even by SIGKILL), so no
    orphaned worker goes on computing and staging records after its sweep is gone."""
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


# Libraries whose thread pools or runtimes are not safe to fork once imported (OpenMP in torch,
# XGBoost and LightGBM, CUDA, Ray's and TensorFlow's runtimes, MLflow's clients).
_FORK_UNSAFE = ("torch", "xgboost", "lightgbm", "ray", "tensorflow", "jax", "mlflow")
START_METHODS = ("auto", "spawn", "fork", "forkserver")


def start_method() -> str:
    """How local pool workers start: ``$NAS_HARNESS_START_METHOD`` (spawn, fork, forkserver)
    or ``auto`` (the default): ``fork`` on Linux when it is safe, i.e. the launching process
    runs one thread and has imported none of :data:`_FORK_UNSAFE`; ``spawn`` otherwise.

    Forked workers start in milliseconds with the parent's modules already imported; spawned
    ones pay a fresh interpreter and imports (~0.25 s each). Records do not depend on it: no
    library code uses a global RNG (tested)."""
    import sys
    import threading

    from harness.errors import ConfigError

    m = os.environ.get("NAS_HARNESS_START_METHOD", "auto") or "auto"
    if m not in START_METHODS:
        raise ConfigError(f"NAS_HARNESS_START_METHOD={m!r}; choose one of: {', '.join(START_METHODS)}")
    if m != "auto":
        return m
    if sys.platform != "linux" or threading.active_count() > 1 or any(x in sys.modules for x in _FORK_UNSAFE):
        return "spawn"
    return "fork"


class single_threaded_children:
    """Context: processes started inside it get one BLAS/OpenMP thread each.

    The variables must be in the environment *before* a worker imports numpy, i.e. when it is
    spawned; setting them in an initializer is too late. The pool provides the parallelism.
    """

    def __enter__(self):
        self._old = {k: os.environ.get(k) for k in _THREAD_VARS}
        for k in _THREAD_VARS:
            os.environ[k] = "1"
        return self

    def __exit__(self, *exc):
        for k, v in self._old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        return False


def _execute_caught(job: Job) -> RunRecord:
    return execute(job, catch=True)


def run_jobs(jobs: Iterable[Job], workers: int = 1, catch: bool = True) -> Iterator[RunRecord]:
    """Execute ``jobs``; yields records as they finish (in completion order when ``workers > 1``)."""
    jobs = list(jobs)
    fn: Callable[[Job], RunRecord] = _execute_caught if catch else execute
    if workers <= 1 or len(jobs) <= 1:
        for j in jobs:
            yield fn(j)
        return
    from concurrent.futures import as_completed

    with job_pool(workers) as pool:
        futures = [pool.submit(fn, j) for j in jobs]
        for f in as_completed(futures):
            yield f.result()


@contextlib.contextmanager
def job_pool(workers: int):
    """A process pool for jobs: workers started by :func:`start_method` with one thread each;
    on exit, jobs not started are cancelled and the running ones are waited for."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    # spawned workers read the thread settings from the environment they start with
    with single_threaded_children():
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context(start_method()),
                                   initializer=_worker_init)
        try:
            yield pool
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
