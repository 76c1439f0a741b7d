"""Sweeps: every (algorithm, seed) job of a protocol, resumable, on a process pool or Ray.

The launching process is the single writer. For each finished job it first writes the raw
record (``results/runs/<protocol id>/<run key>.json``), then logs it to MLflow. Hence:

* **Resumable and idempotent**: a job whose run key (protocol id, algorithm, full
  hyperparameters, seed, code version) already has a finished raw record is not run again,
  and a record already in the tracking store (tag ``run_key``, status FINISHED) is not logged
  again.
* **Failures are data**: an exception inside one run gives a record with status ``failed`` and
  the traceback (an MLflow run in state FAILED with tag ``error``); the sweep goes on.
* **Ctrl-C** stops scheduling, cancels pending jobs and keeps everything finished.
* **Tracking server down**: records stay on disk; ``nas-harness sync`` logs them later.

Executors: ``local`` (a process pool of ``workers``, forked on Linux when safe, else spawned:
:func:`harness.runner.start_method`; 1 worker runs in-process) or ``ray``
(``ray.init(address=...)``: Ray tasks on a cluster or on this machine). The records do not
depend on the executor: a job is a pure function of its key.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from harness.record import RunRecord
from harness.runner import Job, _execute_caught, job_pool

EXECUTORS = ("local", "ray")


@dataclass
class SweepResult:
    """What a sweep did: records of this protocol's jobs (new and reused) and counts."""

    records: list[RunRecord] = field(default_factory=list)
    ran: int = 0
    skipped: int = 0
    failed: int = 0
    logged: int = 0
    log_error: str = ""
    interrupted: bool = False


def record_path(job_or_record, protocol_id: str | None = None) -> Path:
    from harness.paths import runs_dir

    if isinstance(job_or_record, Job):
        return runs_dir(job_or_record.protocol.id) / f"{job_or_record.key()}.json"
    return runs_dir(protocol_id or job_or_record.meta["protocol_id"]) / f"{job_or_record.run_key}.json"


def finished_record(job: Job) -> RunRecord | None:
    """The finished raw record of ``job`` if one exists (a corrupt file counts as absent)."""
    p = record_path(job)
    if not p.exists():
        return None
    try:
        rec = RunRecord.read(str(p))
    except (ValueError, KeyError, OSError):
        return None
    return rec if rec.meta.get("status") == "finished" else None


def read_records(protocol_id: str) -> list[RunRecord]:
    """Every raw record of a protocol (finished and failed)."""
    from harness.paths import runs_dir

    out = []
    for p in sorted(runs_dir(protocol_id).glob("*.json")):
        try:
            out.append(RunRecord.read(str(p)))
        except (ValueError, KeyError, OSError):
            print(f"nas-harness: warning: skipping unreadable record {p}", file=sys.stderr)
    return out


def _execute_encoded(job: Job) -> tuple[RunRecord, str]:
    """Run ``job`` in a (Ray) worker and also encode its record there, in parallel, so that the
    single writer only writes the text (encoding is ~20 ms for a 10,000-query record)."""
    rec = _execute_caught(job)
    return rec, rec.encode()


def _execute_staged(job: Job, path: str) -> tuple[RunRecord, str]:
    """Run ``job`` in a local pool worker, encode its record and stage the text in a temporary
    file beside its final place; the single writer then commits it with one rename (the
    record's bytes never cross the pipe and the writer stays off the workers' cores)."""
    rec = _execute_caught(job)
    staged = f"{path}.part{os.getpid()}"  # the writer made the folder (record_path)
    with open(staged, "w") as f:
        f.write(rec.encode())
    return rec, staged


def _commit(rec: RunRecord, text: str | None = None, staged: str | None = None) -> None:
    """Write the raw record (the single writer's job): rename a staged file, or write the text."""
    path = str(record_path(rec))
    if staged is not None:
        try:
            os.replace(staged, path)
            return
        except OSError:  # staged file gone (cleaned up?): write the record afresh
            pass
    rec.write(path, text)


def _execute_ray(jobs: list[Job], workers: int, address: str | None) -> Iterator[tuple[RunRecord, str | None, None]]:
    try:
        import ray
    except ImportError:
        from harness.errors import ConfigError

        raise ConfigError("--executor ray needs Ray: pip install 'nas-harness[ray]'") from None
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False, ignore_reinit_error=True)
        else:  # a runtime of our own: loopback only, no dashboard (harness.ray_local)
            from harness.ray_local import init_local

            init_local(num_cpus=workers, log_to_driver=False, ignore_reinit_error=True)
    remote = ray.remote(num_cpus=1)(_execute_encoded)
    pending = [remote.remote(j) for j in jobs]
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            rec, text = ray.get(done[0])
            yield rec, text, None
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)


def _execute_local(jobs: list[Job], workers: int) -> Iterator[tuple[RunRecord, None, str | None]]:
    if workers <= 1 or len(jobs) <= 1:
        for j in jobs:
            yield _execute_caught(j), None, None
        return
    from concurrent.futures import FIRST_COMPLETED, wait

    futures: list = []
    committed: set = set()
    try:
        with job_pool(workers) as pool:
            futures = [pool.submit(_execute_staged, j, str(record_path(j))) for j in jobs]
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    rec, staged = f.result()
                    committed.add(f)
                    yield rec, None, staged
    finally:  # the pool is shut down here; after an interrupt, remove staged files nobody commits
        for f in futures:
            if f not in committed and f.done() and not f.cancelled() and f.exception() is None:
                try:
                    os.unlink(f.result()[1])
                except OSError:
                    pass


class _Logger:
    """Logs records to MLflow one by one; remembers the first failure and stops trying."""

    def __init__(self, uri: str, protocol: str):
        self.uri = uri
        self.protocol = protocol
        self.error = ""
        self._client = None
        self._known: set[str] | None = None

    def _setup(self):
        from harness import tracking

        self._client = tracking._client(self.uri)
        self._known = tracking.logged_run_keys(self.protocol, self.uri, self._client)

    def log(self, rec: RunRecord) -> bool:
        if self.error:
            return False
        from harness import tracking

        try:
            if self._client is None:
                self._setup()
            if rec.meta.get("status") == "finished" and rec.run_key in self._known:
                return False
            tracking.log_record(rec, self.uri, self._client)
            if rec.meta.get("status") == "finished":
                self._known.add(rec.run_key)
            return True
        except Exception as e:  # server down, bad URI, ...: the raw record is safe on disk
            self.error = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            return False


def run_sweep(
    jobs: Iterable[Job],
    workers: int = 1,
    executor: str = "local",
    address: str | None = None,
    tracking_uri: str | None = None,
    log: bool = True,
    progress: Callable[[int, int], None] | None = None,
    on_record: Callable[[RunRecord], None] | None = None,
) -> SweepResult:
    """Run the jobs not already finished, write raw records, log them; see the module docstring."""
    from harness import tracking

    jobs = list(jobs)
    res = SweepResult()
    todo = []
    for j in jobs:
        rec = finished_record(j)
        if rec is None:
            todo.append(j)
        else:
            res.records.append(rec)
            res.skipped += 1
    uri = tracking.resolve_uri(tracking_uri)
    loggers: dict[str, _Logger] = {}

    def logger_for(rec):
        name = rec.meta["protocol"]
        if name not in loggers:
            loggers[name] = _Logger(uri, name)
        return loggers[name]

    if log:  # reused records that never reached the store (e.g. the server was down)
        for rec in res.records:
            res.logged += logger_for(rec).log(rec)
    total = len(todo)
    if progress:
        progress(0, total)
    stream = _execute_ray(todo, workers, address) if executor == "ray" else _execute_local(todo, workers)
    try:
        for i, (rec, text, staged) in enumerate(stream, start=1):
            _commit(rec, text, staged)  # raw record first: never lost
            res.records.append(rec)
            res.ran += 1
            res.failed += rec.meta.get("status") != "finished"
            if log:
                res.logged += logger_for(rec).log(rec)
            if on_record:
                on_record(rec)
            if progress:
                progress(i, total)
    except KeyboardInterrupt:
        res.interrupted = True
    res.log_error = next((lg.error for lg in loggers.values() if lg.error), "")
    return res


def sync(protocol_id: str | None = None, tracking_uri: str | None = None) -> tuple[int, int]:
    """Log raw records that are not yet in the tracking store. Returns (logged, already there)."""
    from harness.paths import results_dir

    root = results_dir() / "runs"
    ids = [protocol_id] if protocol_id else sorted(p.name for p in root.glob("*") if p.is_dir())
    from harness import tracking

    uri = tracking.resolve_uri(tracking_uri)
    logged = present = 0
    for pid in ids:
        recs = read_records(pid)
        if not recs:
            continue
        lg = _Logger(uri, recs[0].meta["protocol"])
        for rec in recs:
            if lg.log(rec):
                logged += 1
            elif lg.error:
                from harness.errors import HarnessError

                raise HarnessError(f"cannot reach the tracking store {uri} ({lg.error}); records stay in {root}")
            else:
                present += 1
    return logged, present
