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
    """One run to do. ``hyperparameters`` override the protocol's per-algorithm overrides."""

    protocol: Protocol
    algorithm: str
    seed: int
    hyperparameters: dict[str, Any] = field(default_factory=dict)

    def resolved_hyperparameters(self) -> dict[str, Any]:
        from algorithms.registry import make_algorithm

        hp = {**self.protocol.overrides(self.algorithm), **self.hyperparameters}
        return make_algorithm(self.algorithm, **hp).hyperparameters()

    def key(self) -> str:
        """Run key: hash of protocol id, algorithm, full hyperparameters, seed, code version."""
        payload = json.dumps(
            [self.protocol.id, self.algorithm, self.resolved_hyperparameters(), int(self.seed), code_version()],
            sort_keys=True,
            default=str,
        )
        return hashlib.sha1(payload.encode()).hexdigest()[:16]


def start_states(protocol: Protocol, space) -> list | None:
    """The protocol's fixed set of initial architectures (shared by every run), or None."""
    n = protocol.episodes.start_states
    if not n:
        return None
    rng = np.random.default_rng(np.random.SeedSequence(protocol.episodes.start_seed))
    return [space.sample(rng) for _ in range(n)]


def make_oracle(protocol: Protocol, noise_rng=None):
    from harness.benchmarks import get_benchmark
    from harness.oracle import Oracle

    bench = get_benchmark(protocol.benchmark, protocol.dataset, protocol.data)
    return Oracle(
        bench,
        budget=protocol.budget,
        search_metric=protocol.search_metric,
        report_metric=protocol.report_metric,
        counting=protocol.counting,
        noise=protocol.noise,
        rng=noise_rng,
        start_states=start_states(protocol, bench.space),
        stop_at_optimum=protocol.until_optimum,
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
    oracle = make_oracle(p, streams["noise"])
    bench = oracle.benchmark
    status, error = "finished", ""
    try:
        algo.run(oracle, streams["algorithm"])
    except BudgetExhausted:
        pass
    except (Exception, SystemExit):  # a user's run() exiting is a failed run too; Ctrl-C is not caught
        if not catch:
            raise
        status, error = "failed", traceback.format_exc()
    meta = {
        "protocol": p.name,
        "protocol_id": p.id,
        "algorithm": job.algorithm,
        "algorithm_class": f"{type(algo).__module__}:{type(algo).__qualname__}",
        "hyperparameters": algo.hyperparameters(),
        "seed": int(job.seed),
        "benchmark": bench.name,
        "benchmark_version": bench.version,
        "dataset": bench.dataset,
        "space": oracle.space.id,
        "search_metric": oracle.search_metric,
        "report_metric": oracle.report_metric,
        "maximize": oracle.maximize,
        "maximize_report": bool(bench.maximize(oracle.report_metric)) if hasattr(bench, "maximize") else oracle.maximize,
        "budget": p.budget,
        "counting": p.counting,
        "noise": p.noise,
        "code_version": code_version(),
        "run_key": job.key(),
        "status": status,
        "error": error,
        "stalled": oracle.stalled,
        "until_optimum": p.until_optimum,
        "found_optimum": oracle.found_optimum,
        "wall_time": time.perf_counter() - t0,
        "training_queries": oracle.training_queries,
    }
    if hasattr(bench, "optimum"):
        opt_s, opt_i = bench.optimum(oracle.search_metric)
        meta["optimum_search"] = opt_s
        meta["optimum_search_index"] = opt_i
        meta["optimum_report"] = bench.optimum(oracle.report_metric)[0]
    return RunRecord(meta=meta, trajectory=oracle.trajectory(), episodes=oracle.episodes())


_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _worker_init():
    """Pool initializer: one torch and one BLAS thread per worker (the pool is the parallelism).
    A spawned worker already starts with one BLAS thread (:func:`single_threaded_children`); a
    forked one inherits the parent's thread pools, so they are limited here."""
    import sys

    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # threadpoolctl is a dependency; without it BLAS keeps its threads
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
