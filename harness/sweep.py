"""Sweeps: every (algorithm, seed) job of a protocol, resumable, on a process pool or Ray.

The launching process is the single writer of its runs. For each finished job it first writes
the raw record (``results/runs/<protocol id>/<run key>.npz``, :mod:`harness.record`; folders of
older versions hold ``<run key>.json`` records, which are read and reused alike), then logs it
to MLflow. Hence:

* **Identity**: a job's run key (:mod:`harness.identity`) hashes everything that can change
  its trajectory (resolved protocol, the content of the benchmark's numbers, the algorithm's
  identity and source, its hyperparameters, the seed). A job whose key already has a finished
  raw record is *reused*, not run again (``rerun=True`` runs it anew); any change of identity
  is a new run.
* **Claims**: before it runs (or logs) a job, the launcher claims its run key
  (:mod:`harness.locks`); two launchers on one results folder split the work instead of doing
  it twice, and wait for each other's runs. A killed launcher's claims are stale and taken
  over on resume.
* **Staged records**: pool workers stage a record beside its final place (``<key>.npz.part<pid>``)
  and the launcher commits it with a rename. On every start, staged files left by a killed
  sweep are validated and adopted (or removed when invalid or redundant); pool workers die
  with their launcher (Linux), so no staged file outlives a sweep.
* **MLflow**: one run per run key (:func:`harness.tracking.log_record`), logged under the key's
  claim; a record already there (same attempt) is not logged again, failed runs included.
  A parallel sweep logs the runs that finish within :data:`FLUSH_SECONDS` of each other in
  one transaction of the direct SQLite writer (their claims held until it commits; an
  interrupt logs what is queued, a kill leaves it to the next sweep, which logs every record
  the store lacks). The store is probed before any run: if it is unreachable the sweep runs on
  raw records only and says so once, with the exact ``nas-harness sync --tracking-uri URI`` to run later.
* **Failures are data**: an exception inside one run gives a record with status ``failed`` and
  the traceback (an MLflow run in state FAILED with tag ``error``); the sweep goes on. A
  failed run is run again on the next resume.
* **Ctrl-C** stops scheduling, cancels pending jobs and keeps everything finished.

Executors: ``local`` (a process pool of ``workers``, forked on Linux when safe, else spawned:
:func:`harness.runner.start_method`; 1 worker runs in-process) or ``ray``
(``ray.init(address=...)``: Ray tasks on a cluster or on this machine). The records do not
depend on the executor: a job is a pure function of its key.
"""

from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from harness import locks
from harness.errors import DataError, first_line
from harness.record import LEGACY_SUFFIX, SUFFIX, RunRecord
from harness.runner import Job, _execute_caught, assign_variants, job_pool

EXECUTORS = ("local", "ray")
RECORD_NAME = re.compile(r"^[0-9a-f]{16}\.(npz|json)$")  # .json: records of schema 2 and older
STAGED_NAME = re.compile(r"^([0-9a-f]{16})(\.npz|\.json)\.(part|tmp)\d+$")
WAIT_POLL = 0.25  # s between looks at runs another launcher is making


@dataclass
class SweepResult:
    """What a sweep did: records of this protocol's jobs (new and reused) and counts.

    ``ran``: runs made here; ``skipped``: finished records reused (made earlier, or by another
    launcher meanwhile: ``from_others`` of them); ``adopted``: staged records of a killed sweep
    committed on start; ``logged``: MLflow runs written; ``write_time`` / ``log_time``: seconds
    the launcher spent committing raw records / logging to MLflow (pool workers encode and
    stage records in parallel, outside these)."""

    records: list[RunRecord] = field(default_factory=list)
    ran: int = 0
    skipped: int = 0
    from_others: int = 0
    adopted: int = 0
    failed: int = 0
    logged: int = 0
    log_error: str = ""
    store_unreachable: bool = False
    interrupted: bool = False
    write_time: float = 0.0
    log_time: float = 0.0
    log_transactions: int = 0  # batched direct-writer transactions (each holds one or more runs)

    @property
    def reused(self) -> int:
        return self.skipped


def record_path(job_or_record, protocol_id: str | None = None) -> Path:
    from harness.paths import runs_dir

    if isinstance(job_or_record, Job):
        return runs_dir(job_or_record.protocol.id) / f"{job_or_record.key()}{SUFFIX}"
    return runs_dir(protocol_id or job_or_record.meta["protocol_id"]) / f"{job_or_record.run_key}{SUFFIX}"


def legacy_path(path: Path) -> Path:
    """Where a version before record schema 3 kept the record of ``path``'s run key."""
    return path.with_name(path.name[: -len(SUFFIX)] + LEGACY_SUFFIX)


def existing_record_path(path: Path) -> Path | None:
    """``path`` if that record file exists, else the legacy JSON record of its key if that one
    exists, else None."""
    if path.exists():
        return path
    old = legacy_path(path)
    return old if old.exists() else None


def _read(p: Path) -> RunRecord | None:
    try:
        return RunRecord.read(str(p))
    except (DataError, OSError):
        return None


def finished_record(job: Job) -> RunRecord | None:
    """The finished raw record of ``job`` if one exists (a corrupt file counts as absent)."""
    p = existing_record_path(record_path(job))
    if p is None:
        return None
    rec = _read(p)
    return rec if rec is not None and rec.meta.get("status") == "finished" and rec.run_key == job.key() else None


def read_records(protocol_id: str) -> list[RunRecord]:
    """Every raw record of a protocol (finished and failed), one file per run key (the
    ``.npz`` record where an older ``.json`` one of the same key is also there); unreadable
    files are skipped with one warning line each."""
    from harness.paths import runs_dir

    out = []
    files = sorted(p for p in runs_dir(protocol_id).glob("*") if RECORD_NAME.match(p.name))
    keys = {p.stem for p in files if p.suffix == SUFFIX}
    for p in files:
        if p.suffix == LEGACY_SUFFIX and p.stem in keys:
            continue
        try:
            out.append(RunRecord.read(str(p)))
        except (DataError, OSError) as e:
            print(f"nas-harness: warning: skipping unreadable record {p} ({first_line(e)})", file=sys.stderr)
    return out


def adopt_staged(folder: Path) -> tuple[int, int]:
    """Commit or remove what killed sweeps left in a runs folder: staged records
    (``<key>.npz.part<pid>``, ``.tmp<pid>``; ``.json.…`` of older versions), stale claims and the
    temporary files of claims whose writer was killed.
    A staged record that reads as a valid record of its key is renamed into place unless a
    finished record is already there;
    anything else is removed. Files of runs claimed by a live launcher are left alone.
    Returns ``(adopted, removed)``."""
    adopted = removed = 0
    if not folder.is_dir():
        return 0, 0
    for p in sorted(folder.iterdir()):
        m = STAGED_NAME.match(p.name)
        if m:
            final = folder / f"{m.group(1)}{m.group(2)}"
            if locks.claimed_by_other(final):
                continue
            rec = _read(p)
            good = rec is not None and rec.run_key == m.group(1)
            cur = _read(final) if final.exists() else None
            if good and not (cur is not None and cur.meta.get("status") == "finished"):
                try:
                    os.replace(p, final)
                    adopted += 1
                    continue
                except OSError:
                    pass
            p.unlink(missing_ok=True)
            removed += 1
        elif p.name.endswith(".claim"):
            info = locks.read_claim(p)
            if info is not None and not (info and locks.owner_alive(info)):
                p.unlink(missing_ok=True)
        elif locks.is_dead_claim_temp(p):  # a claim's temporary file, its writer killed mid-claim
            p.unlink(missing_ok=True)
    return adopted, removed


def _execute_encoded(job: Job) -> tuple[RunRecord, bytes]:
    """Run ``job`` in a (Ray) worker and also encode its record there, in parallel, so that the
    single writer only writes the bytes (encoding is ~30 ms for a 10,000-query record)."""
    rec = _execute_caught(job)
    return rec, rec.encode()


def _execute_staged(job: Job, path: str, artifact_dir: str | None = None) -> tuple[RunRecord, str, str | None]:
    """Run ``job`` in a local pool worker, encode its record and stage the text in a temporary
    file beside its final place; the single writer then commits it with one rename (the
    record's bytes never cross the pipe and the writer stays off the workers' cores).

    ``artifact_dir``: the local artifact folder of the protocol's MLflow experiment, where the
    worker also makes the run's artifact folder and hard-links the staged file into it
    (:func:`harness.mlflow_sqlite.preplace`: the rename keeps the link), so that the writer
    only inserts the run's rows. Returns ``(record, staged file, run id or None)``."""
    rec = _execute_caught(job)
    staged = f"{path}.part{os.getpid()}"  # the writer made the folder (record_path)
    with open(staged, "wb") as f:
        f.write(rec.encode())
    rid = None
    if artifact_dir is not None:
        from harness import mlflow_sqlite, tracking

        try:
            rid = mlflow_sqlite.preplace(artifact_dir, staged, tracking.RECORD_ARTIFACT)
        except OSError:  # the writer places it then
            rid = None
    return rec, staged, rid


def _commit(rec: RunRecord, data: bytes | None = None, staged: str | None = None, path: Path | None = None) -> None:
    """Write the raw record (the single writer's job) to ``path`` (default: its record path):
    rename a staged file, or write the bytes. A record of the same key written by an older
    version (``.json``) is superseded and removed (the caller holds the key's claim)."""
    path = record_path(rec) if path is None else path
    done = False
    if staged is not None:
        try:
            os.replace(staged, path)
            done = True
        except OSError:  # staged file gone (cleaned up?): write the record afresh
            pass
    if not done:
        rec.write(str(path), data)
    legacy_path(path).unlink(missing_ok=True)


def _execute_ray(jobs: list[Job], workers: int, address: str | None) -> Iterator[tuple[RunRecord, bytes | None, None] | None]:
    try:
        import ray
    except ImportError:
        from harness.errors import ConfigError

        raise ConfigError("--executor ray needs Ray: pip install 'nas-harness[ray]'") from None
    from harness.ray_local import connect  # cluster (address / RAY_ADDRESS) or loopback-only local

    connect(address, num_cpus=workers)
    remote = ray.remote(num_cpus=1)(_execute_encoded)
    pending = [remote.remote(j) for j in jobs]
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1, timeout=FLUSH_SECONDS)
            if not done:
                yield None  # nothing finished for a while: the caller logs what it has queued
                continue
            rec, data = ray.get(done[0])
            yield rec, data, None, None
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)


def _execute_local(jobs: list[Job], workers: int,
                   artifact_dir: Callable[[Job], str | None] | None = None,
                   ) -> Iterator[tuple[RunRecord, None, str | None, str | None] | None]:
    """Run ``jobs`` in a pool of ``workers`` processes (inline for one); yields ``(record, None,
    staged file, pre-placed run id)`` as they finish, None after :data:`FLUSH_SECONDS` with
    none finished. ``artifact_dir(job)``: where its worker pre-places the MLflow run folder
    (see :func:`_execute_staged`), None for none."""
    if workers <= 1 or len(jobs) <= 1:
        for j in jobs:
            yield _execute_caught(j), None, None, None
        return
    from concurrent.futures import FIRST_COMPLETED, wait

    futures: list = []
    where: dict = {}  # future -> the artifact folder its worker pre-places in
    committed: set = set()
    try:
        with job_pool(workers) as pool:
            dirs = [artifact_dir(j) if artifact_dir else None for j in jobs]
            futures = [pool.submit(_execute_staged, j, str(record_path(j)), d) for j, d in zip(jobs, dirs)]
            where = dict(zip(futures, dirs))
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=FLUSH_SECONDS, return_when=FIRST_COMPLETED)
                if not done:
                    yield None  # nothing finished for a while: the caller logs what it has queued
                    continue
                for f in done:
                    rec, staged, rid = f.result()
                    committed.add(f)
                    yield rec, None, staged, rid
    finally:  # the pool is shut down here; after an interrupt, remove staged files nobody commits
        for f in futures:
            if f not in committed and f.done() and not f.cancelled() and f.exception() is None:
                _, staged, rid = f.result()
                try:
                    os.unlink(staged)
                except OSError:
                    pass
                if rid and where.get(f):
                    from harness import mlflow_sqlite

                    mlflow_sqlite.discard(where[f], rid)


class _Logger:
    """Logs records of one protocol to MLflow; remembers the first failure and stops trying."""

    def __init__(self, uri: str, protocol: str, description: str = "", checked: bool = False):
        self.uri = uri
        self.checked = checked  # the store was just probed (created if missing, found sound)
        self.protocol = protocol
        self.description = description
        self.error = ""
        self._client = None
        self._direct = None  # the one-transaction SQLite writer, where it applies
        self._known: dict[str, dict] | None = None
        self.direct_runs = 0  # runs written by the direct writer (the rest by MLflow's client)
        self.pending: list[tuple[RunRecord, Path, str | None]] = []  # queued for one transaction (defer)
        self._artifacts: str | None = None  # the experiment's local artifact folder (direct writer)

    def _setup(self):
        from harness import tracking

        db = tracking.sqlite_path(self.uri)
        if not self.checked or (db is not None and not db.is_file()):  # (removed since the probe: made anew)
            tracking.ensure_store(self.uri)
        self._direct = tracking.direct_writer(self.uri)
        if self._direct is not None:
            exp = tracking.direct_experiment(self._direct, self.protocol, self.description)
            if exp is not None:
                self._known = self._direct.complete_runs(exp[0], tracking.LOGGED_TAG)
                return
            self._direct = None
        self._connect()
        self._known = tracking.complete_runs(self.protocol, self.uri, self._client)

    def _connect(self):
        from harness import tracking

        if self._client is None:
            self._client = tracking._client(self.uri)

    def present(self, rec: RunRecord) -> bool:
        """Whether the store already holds this very record (same run key and attempt); False
        when the store cannot be read (``error`` then says why)."""
        if not self._ready():
            return False
        info = self._known.get(rec.run_key)
        return info is not None and info["attempt"] == str(rec.meta.get("attempt", ""))

    def log(self, rec: RunRecord, record_file: Path | None = None) -> bool:
        """Log ``rec`` unless the store holds it already; the caller holds the key's claim.
        ``record_file``: its raw record on disk (logged as the artifact as it is, when ``.npz``).
        Returns whether a run was written."""
        if self.error:
            return False
        from harness import tracking

        def once() -> bool:
            if self.present(rec):
                return False
            path = str(record_file) if record_file is not None else None
            rid = None
            if self._direct is not None:
                rid = tracking.log_record_direct(self._direct, rec, self.description, path)
                self.direct_runs += rid is not None
            if rid is None:  # the key has runs already (replaced by MLflow's client), or no fast path
                self._connect()
                tracking.log_record(rec, self.uri, self._client, self.description, path)
            self._mark(rec)
            return True

        return bool(self._retrying(once, False))

    def _retrying(self, fn, failed):
        """``fn()``, tried again while SQLite is busy with another writer; any other failure
        (server down, bad URI, ...) is remembered in ``error`` and gives ``failed`` (the raw
        records are safe on disk)."""
        for attempt in range(4):
            try:
                return fn()
            except Exception as e:
                if "locked" in str(e) and attempt < 3:
                    time.sleep(0.5 * (attempt + 1))
                    continue
                self.error = f"{type(e).__name__}: {first_line(e)}"
                return failed
        return failed

    def _mark(self, rec: RunRecord) -> None:
        self._known[rec.run_key] = {"attempt": str(rec.meta.get("attempt", ""))}

    def artifact_dir(self) -> str | None:
        """The experiment's local artifact folder, where pool workers may make their runs' folders
        (:func:`harness.mlflow_sqlite.preplace`); None where the one-transaction writer does not
        apply or the store cannot be read."""
        if not self._ready() or self._direct is None:
            return None
        if self._artifacts is None:
            from harness import tracking

            try:
                self._artifacts = tracking.direct_artifact_dir(self._direct, self.protocol, self.description) or ""
            except Exception:
                self._artifacts = ""
        return self._artifacts or None

    def _ready(self) -> bool:
        """Set the store up on first use; False if it cannot be read (``error`` says why)."""
        if self.error:
            return False
        if self._known is None:
            try:
                self._setup()
            except Exception as e:
                self.error = f"{type(e).__name__}: {first_line(e)}"
                return False
        return True

    def discard(self, run_id: str | None) -> None:
        """Remove a worker's pre-placed run folder whose run is logged otherwise (or not at all)."""
        if run_id and self._artifacts:
            from harness import mlflow_sqlite

            mlflow_sqlite.discard(self._artifacts, run_id)

    def defer(self, rec: RunRecord, record_file: Path, placed: str | None = None) -> bool:
        """Queue ``rec`` for the next :meth:`flush` where the one-transaction writer applies (the
        caller keeps the key's claim until then); False where it must be logged now (:meth:`log`).
        ``placed``: the run id whose folder a pool worker made (see :meth:`artifact_dir`)."""
        if self.error or self.present(rec) or self._direct is None:
            return False
        self.pending.append((rec, record_file, placed))
        return True

    def flush(self) -> int:
        """Log the queued records in one transaction (the direct writer's ``insert_runs``); a
        record the fast path declines goes through :meth:`log`. Returns the runs written."""
        if not self.pending:
            return 0
        from harness import tracking

        items, self.pending = self.pending, []
        ids = self._retrying(lambda: tracking.log_records_direct(
            self._direct, [(r, str(f), p) for r, f, p in items], self.description), None)
        if ids is None:
            for _, _, p in items:
                self.discard(p)
            return 0
        wrote = 0
        for (rec, f, placed), rid in zip(items, ids):
            if rid is None:
                self.discard(placed)
                wrote += self.log(rec, f)
                continue
            self.direct_runs += 1
            self._mark(rec)
            wrote += 1
        return wrote


FLUSH_SECONDS = 0.25  # the launcher logs the runs that finished within this long in one transaction
FLUSH_RUNS = 64  # ... and at most this many


def check_store(uri: str) -> str:
    """'' if the tracking store at ``uri`` can be used, else why not (fast: a few seconds at most)."""
    from harness import tracking

    return tracking.probe(uri)


def run_sweep(
    jobs: Iterable[Job],
    workers: int = 1,
    executor: str = "local",
    address: str | None = None,
    tracking_uri: str | None = None,
    log: bool = True,
    progress: Callable[[int, int], None] | None = None,
    on_record: Callable[[RunRecord], None] | None = None,
    rerun: bool = False,
) -> SweepResult:
    """Run the jobs not already finished, write raw records, log them; see the module docstring.

    ``rerun``: run every job anew, even when a finished record of its key exists (the record
    and its MLflow run are replaced)."""
    from harness import tracking

    res = SweepResult()
    uniq: dict[str, Job] = {}
    for j in jobs:  # the same run asked for twice is one run
        uniq.setdefault(j.key(), j)
    jobs = list(uniq.values())
    assign_variants(jobs)
    for folder in sorted({record_path(j).parent for j in jobs}):
        a, _ = adopt_staged(folder)
        res.adopted += a
    uri = tracking.resolve_uri(tracking_uri)
    if log:
        why = check_store(uri)
        if why:
            res.log_error, res.store_unreachable, log = why, True, False
    loggers: dict[str, _Logger] = {}

    def logger_for(rec):
        return loggers_by_name(rec.meta["protocol"])

    def loggers_by_name(name):
        if name not in loggers:
            desc = next((j.protocol.description for j in jobs if j.protocol.name == name), "")
            loggers[name] = _Logger(uri, name, desc, checked=log)  # log: the store passed check_store
        return loggers[name]

    held: set[Path] = set()  # claims this sweep holds

    def take(j) -> bool:
        p = record_path(j)
        if locks.claim(p):
            held.add(p)
            return True
        return False

    def drop(p: Path):
        locks.release(p)
        held.discard(p)

    def reuse(rec: RunRecord, j: Job, other: bool):
        res.records.append(rec)
        res.skipped += 1
        res.from_others += other
        if log and not logger_for(rec).error and not logger_for(rec).present(rec) and take(j):
            t0 = time.perf_counter()
            try:  # a record that never reached the store (it was down, or a kill came first)
                res.logged += logger_for(rec).log(rec, existing_record_path(record_path(j)))
            finally:
                drop(record_path(j))
                res.log_time += time.perf_counter() - t0

    todo, waiting = [], []
    for j in jobs:
        rec = None if rerun else finished_record(j)
        if rec is not None:
            reuse(rec, j, False)
        elif take(j):
            todo.append(j)
        else:
            waiting.append(j)  # another live launcher is making it
    done = 0
    total = len(todo) + len(waiting)
    if progress:
        progress(0, total)
    deferred: list[Path] = []  # claims of records queued for the next batched MLflow transaction
    last_flush = time.perf_counter()

    def flush():
        nonlocal last_flush
        t0 = time.perf_counter()
        try:
            for lg in loggers.values():
                res.log_transactions += bool(lg.pending)
                res.logged += lg.flush()
        finally:
            last_flush = time.perf_counter()
            res.log_time += last_flush - t0
            for p in deferred:  # the claims of the logged runs (bookkeeping, not logging)
                drop(p)
            deferred.clear()

    try:
        while todo or waiting:
            if todo:
                # runs that finish close together are logged in one transaction; a serial sweep logs
                # each run as it ends (a queued run would wait for the next run's whole search)
                batch = executor == "ray" or (workers > 1 and len(todo) > 1)
                if executor == "ray":
                    stream = _execute_ray(todo, workers, address)
                else:  # pool workers make their runs' MLflow folders (the writer only inserts rows)
                    t0 = time.perf_counter()
                    art = {name: loggers_by_name(name).artifact_dir() for name in {j.protocol.name for j in todo}} \
                        if log and batch else {}
                    res.log_time += time.perf_counter() - t0
                    stream = _execute_local(todo, workers, (lambda j: art.get(j.protocol.name)) if art else None)
                for item in stream:
                    if item is None:
                        if deferred:
                            flush()
                        continue
                    rec, data, staged, placed = item
                    path = record_path(rec)
                    t0 = time.perf_counter()
                    _commit(rec, data, staged, path)  # raw record first: never lost
                    t1 = time.perf_counter()
                    res.write_time += t1 - t0
                    res.records.append(rec)
                    res.ran += 1
                    res.failed += rec.meta.get("status") != "finished"
                    if log and batch and logger_for(rec).defer(rec, path, placed):
                        deferred.append(path)  # logged with the runs that finish close by
                        res.log_time += time.perf_counter() - t1
                    else:
                        if placed:
                            logger_for(rec).discard(placed)
                        if log:
                            res.logged += logger_for(rec).log(rec, path)
                            res.log_time += time.perf_counter() - t1
                        drop(path)
                    if deferred and (time.perf_counter() - last_flush >= FLUSH_SECONDS or len(deferred) >= FLUSH_RUNS):
                        flush()
                    if on_record:
                        on_record(rec)
                    done += 1
                    if progress:
                        progress(done, total)
                flush()
                todo = []
            still = []
            for j in waiting:  # runs of another launcher: take its record, or the run if it died
                p = record_path(j)
                if locks.claimed_by_other(p):
                    still.append(j)
                    continue
                found = existing_record_path(p)
                rec = _read(found) if found is not None else None
                if rec is not None and rec.run_key == j.key() and rec.meta.get("status") == "finished":
                    reuse(rec, j, True)
                    done += 1
                    if progress:
                        progress(done, total)
                elif take(j):
                    todo.append(j)
                else:
                    still.append(j)
            waiting = still
            if waiting and not todo:
                time.sleep(WAIT_POLL)
    except KeyboardInterrupt:
        res.interrupted = True
    finally:
        try:
            flush()  # the runs queued before an interrupt still reach the store
        except BaseException:
            pass  # their raw records are on disk: the next sweep (or `sync`) logs them
        for p in list(held):
            drop(p)
    if not res.log_error:
        res.log_error = next((lg.error for lg in loggers.values() if lg.error), "")
    return res


def sync(protocol_id: str | None = None, tracking_uri: str | None = None) -> tuple[int, int]:
    """Log raw records that are not yet in the tracking store. Returns (logged, already there).

    Each record is logged under its run key's claim, so a sync beside a running sweep never
    duplicates a run; a record whose claim a live launcher holds is left to that launcher."""
    from harness.errors import HarnessError
    from harness.paths import results_dir

    root = results_dir() / "runs"
    ids = [protocol_id] if protocol_id else sorted(p.name for p in root.glob("*") if p.is_dir())
    from harness import tracking

    uri = tracking.resolve_uri(tracking_uri)
    tracking.check_uri(uri)
    why = check_store(uri)
    if why:
        raise HarnessError(f"cannot reach the tracking store {uri} ({why}); records stay in {root}")
    logged = present = 0
    for pid in ids:
        adopt_staged(root / pid)
        recs = read_records(pid)
        if not recs:
            continue
        loggers: dict[str, _Logger] = {}
        for rec in recs:
            lg = loggers.setdefault(rec.meta["protocol"], _Logger(uri, rec.meta["protocol"]))
            path = record_path(rec)
            if lg.present(rec):
                present += 1
                continue
            if not locks.claim(path):
                continue  # a live launcher is making or logging it
            try:
                wrote = lg.log(rec, existing_record_path(path))
            finally:
                locks.release(path)
            if lg.error:
                raise HarnessError(f"cannot reach the tracking store {uri} ({lg.error}); records stay in {root}")
            logged += wrote
            present += not wrote
    return logged, present
