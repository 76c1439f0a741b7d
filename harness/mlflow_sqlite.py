"""The launcher's fast path into MLflow's SQLite store: a run in one transaction (issue 20).

Logging a run through MLflow's client costs a dozen SQLAlchemy transactions (create, look up,
log, terminate, tag, each re-reading the run) and, in a fresh process, about 1.5 s to import
MLflow; on a tabular benchmark that is several times the search itself (a 50-run random-search
sweep to the NB201 CIFAR-10 optimum: searches 1.6 s, MLflow logging 1.8 s plus the import).
This module writes the very rows MLflow's SQLAlchemy store writes for such a run (``runs``,
``tags``, ``params``, ``metrics``, ``latest_metrics``; ``experiments`` and ``experiment_tags``
for a new experiment) with the standard library's ``sqlite3``, in **one transaction per run**, or per batch of runs (:meth:`Writer.insert_runs`: the launcher
logs the runs that finish within ``harness.sweep.FLUSH_SECONDS`` of each other together, since
a commit costs about as much as a run's rows), after placing the run's artifacts in the run's
artifact folder as MLflow's local artifact repository does (the raw record as a hard link to
its file where the file system allows). In a parallel sweep the pool workers make their runs'
artifact folders and place their records there themselves, alongside the search (:func:`preplace`;
the writer then inserts the run with that id, or removes the folder with :func:`discard` where
the run goes another way): the folder's two ``mkdir`` calls were half the writer's time per run.
Consequences:

* a run appears complete or not at all (the ``nas_harness.logged`` tag commits with the rest;
  a kill before the commit leaves at most an orphan artifact folder, which no run names);
* the store stays MLflow's: MLflow reads these runs as its own (the UI, ``search_runs``,
  metric histories, artifacts) — ``tests/harness/test_mlflow_sqlite.py`` logs the same records
  through the client and through this writer and compares everything MLflow reads back;
* it is used only where it is known to be right: a ``sqlite:///`` store whose tables have the
  columns written here (any other column nullable or defaulted; checked on open), a local
  (``file:``) experiment artifact location, a key with no earlier run in the store (replacing
  or deleting runs goes through MLflow's client, which also clears what MLflow 3 attaches to
  a run), and values within MLflow's limits. Anything else falls back to the client path
  (:func:`harness.tracking.log_record`); ``NAS_HARNESS_MLFLOW_DIRECT=0`` turns it off.

Store creation stays MLflow's (its schema migrations); :func:`save_template` keeps a copy of the
freshly migrated, empty store per MLflow version in the cache folder, and :func:`from_template`
makes later stores from it (MLflow's default experiment then gets the artifact location MLflow
would have given it), so that a new results folder costs a file copy, not an import and a
migration.
"""

from __future__ import annotations

import math
import os
import shutil
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

# the columns written here; other columns of these tables must be nullable or defaulted
COLUMNS = {
    "runs": ("run_uuid", "name", "source_type", "source_name", "entry_point_name", "user_id", "status",
             "start_time", "end_time", "source_version", "lifecycle_stage", "artifact_uri", "experiment_id",
             "deleted_time"),
    "tags": ("key", "value", "run_uuid"),
    "params": ("key", "value", "run_uuid"),
    "metrics": ("key", "value", "timestamp", "run_uuid", "step", "is_nan"),
    "latest_metrics": ("key", "value", "timestamp", "step", "is_nan", "run_uuid"),
    "experiments": ("experiment_id", "name", "artifact_location", "lifecycle_stage", "creation_time",
                    "last_update_time"),
    "experiment_tags": ("key", "value", "experiment_id"),
}
MAX_PARAM = 6000  # MLflow's limits on a param's and a tag's value
MAX_TAG = 8000
RUN_NAME_TAG = "mlflow.runName"
ENV = "NAS_HARNESS_MLFLOW_DIRECT"


def enabled() -> bool:
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def schema_ok(con: sqlite3.Connection) -> bool:
    """Whether the store's tables take exactly the rows this module writes."""
    for table, cols in COLUMNS.items():
        info = con.execute(f'PRAGMA table_info("{table}")').fetchall()
        if not info:
            return False
        have = {r[1]: r for r in info}
        if not set(cols) <= set(have):
            return False
        for name, (_cid, _n, _type, notnull, default, pk) in have.items():
            if name not in cols and notnull and default is None and not pk:
                return False  # a required column this module would not fill
    return True


def _connect(db: Path) -> sqlite3.Connection:
    con = sqlite3.connect(str(db), timeout=60, isolation_level=None)
    con.execute("PRAGMA busy_timeout=60000")
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.OperationalError:  # busy or read-only: the defaults work, only slower
        pass
    return con


def sanitize(value: float) -> tuple[float, int]:
    """A metric value as MLflow's SQL store keeps it: (value, is_nan); NaN as 0, +-inf as the
    largest finite float."""
    if math.isnan(value):
        return 0.0, 1
    if math.isinf(value):
        return (1.7976931348623157e308 if value > 0 else -1.7976931348623157e308), 0
    return float(value), 0


def local_dir(uri: str) -> str | None:
    """The folder of a ``file:`` URI or a plain path, else None."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(uri)
    if parts.scheme == "file" and parts.netloc in ("", "localhost"):
        return unquote(parts.path)
    if not parts.scheme and uri:
        return uri
    return None


class Writer:
    """Writes runs into one MLflow SQLite store; :meth:`open` returns None where the fast path
    does not apply (see the module docstring)."""

    def __init__(self, con: sqlite3.Connection, db: Path):
        self.con = con
        self.db = Path(db)
        self._experiments: dict[str, tuple[int, str]] = {}
        self._folders: dict[str, str | None] = {}  # an experiment's artifact location -> its folder

    @classmethod
    def open(cls, db: Path) -> "Writer | None":
        if not enabled() or not Path(db).is_file():
            return None
        try:
            con = _connect(Path(db))
            if schema_ok(con):
                return cls(con, db)
            con.close()
        except sqlite3.DatabaseError:
            pass
        return None

    def close(self) -> None:
        self.con.close()

    # experiments -----------------------------------------------------------------------------
    def experiment(self, name: str, artifact_location: str, tags: dict[str, str]) -> tuple[int, str] | None:
        """``(experiment_id, artifact_location)`` of the active experiment ``name``, made with
        ``artifact_location`` and ``tags`` if it does not exist; tags missing from an existing
        one are added. None where the fast path does not apply (deleted experiment, non-local
        artifacts)."""
        if name in self._experiments:
            return self._experiments[name]
        con = self.con
        con.execute("BEGIN IMMEDIATE")
        try:
            row = con.execute("SELECT experiment_id, artifact_location, lifecycle_stage FROM experiments "
                              "WHERE name = ?", (name,)).fetchall()
            if len(row) > 1:  # several workspaces: leave it to MLflow
                con.execute("ROLLBACK")
                return None
            if row:
                eid, loc, stage = row[0]
                if stage != "active" or local_dir(loc or "") is None:
                    con.execute("ROLLBACK")
                    return None
            else:
                now = int(time.time() * 1000)
                cur = con.execute("INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, "
                                  "last_update_time) VALUES (?, ?, 'active', ?, ?)", (name, artifact_location, now, now))
                eid, loc = cur.lastrowid, artifact_location
            have = {k for (k,) in con.execute("SELECT key FROM experiment_tags WHERE experiment_id = ?", (eid,))}
            con.executemany("INSERT INTO experiment_tags (key, value, experiment_id) VALUES (?, ?, ?)",
                            [(k, v, eid) for k, v in tags.items() if k not in have and v])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        self._experiments[name] = (int(eid), loc)
        return self._experiments[name]

    # runs -------------------------------------------------------------------------------------
    def complete_runs(self, experiment_id: int, logged_tag: str) -> dict[str, dict]:
        """``{run_key: {"run_id", "attempt"}}`` of the experiment's active runs that carry
        ``logged_tag = true`` (the first one per key, as :func:`harness.tracking.complete_runs`)."""
        rows = self.con.execute(
            "SELECT r.run_uuid, "
            "(SELECT value FROM tags WHERE run_uuid = r.run_uuid AND key = 'run_key'), "
            "(SELECT value FROM tags WHERE run_uuid = r.run_uuid AND key = 'attempt') "
            "FROM runs r JOIN tags l ON l.run_uuid = r.run_uuid AND l.key = ? AND l.value = 'true' "
            "WHERE r.experiment_id = ? AND r.lifecycle_stage = 'active' ORDER BY r.start_time DESC",
            (logged_tag, experiment_id)).fetchall()
        out: dict[str, dict] = {}
        for rid, key, attempt in rows:
            out.setdefault(key or "", {"run_id": rid, "attempt": attempt or ""})
        return out

    def runs_of_key(self, experiment_id: int, key: str) -> list[str]:
        """Run ids of the experiment's active runs tagged with ``run_key = key`` (complete or not)."""
        return [r for (r,) in self.con.execute(
            "SELECT r.run_uuid FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid AND t.key = 'run_key' "
            "AND t.value = ? WHERE r.experiment_id = ? AND r.lifecycle_stage = 'active'", (key, experiment_id))]

    def keys_with_runs(self, experiment_id: int, keys: list[str]) -> set[str]:
        """Which of ``keys`` have active runs in the experiment (:meth:`runs_of_key` for many keys,
        one query per 500 keys)."""
        out: set[str] = set()
        keys = list(dict.fromkeys(keys))
        for i in range(0, len(keys), 500):
            part = keys[i:i + 500]
            out.update(k for (k,) in self.con.execute(
                "SELECT DISTINCT t.value FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid AND t.key = 'run_key' "
                f"AND t.value IN ({','.join('?' * len(part))}) WHERE r.experiment_id = ? AND r.lifecycle_stage = 'active'",
                (*part, experiment_id)))
        return out

    def insert_run(self, experiment: tuple[int, str], run_name: str, tags: dict[str, str], params: dict[str, str],
                   metrics: list[tuple[str, float, int, int]], files: list[tuple[str, str | None, str]],
                   status: str, start_time: int) -> str | None:
        """Copy ``files`` (``(path, artifact folder or None, file name)``) into a new run's artifacts and
        commit the run with its tags, params and metrics (``(key, value, timestamp, step)``) in
        one transaction; returns the run id, or None (nothing written) where a value exceeds
        MLflow's limits."""
        return self.insert_runs([Run(experiment, run_name, tags, params, metrics, files, status, start_time)])[0]

    def insert_runs(self, runs: list["Run"]) -> list[str | None]:
        """:meth:`insert_run` for several runs in **one** transaction (the launcher batches the runs
        that finish close together: a commit costs about as much as writing a run's rows); the
        run ids, None for a run left out (a value over MLflow's limits). All the runs commit
        together or none does."""
        ids: list[str | None] = []
        runs_rows, tag_rows, param_rows, metric_rows, latest_rows = [], [], [], [], []
        end = int(time.time() * 1000)
        folders = self._folders
        for run in runs:
            if (max(map(len, run.params.values()), default=0) > MAX_PARAM
                    or max(map(len, run.tags.values()), default=0) > MAX_TAG):
                ids.append(None)
                continue
            eid, loc = run.experiment
            base = loc.rstrip('/')
            if base not in folders:  # parsed once per experiment, not per run
                folders[base] = local_dir(base)
            if folders[base] is None:
                raise ValueError(f"not a local artifact location: {loc}")
            if run.run_id:  # its folder made and its record placed by a pool worker (run_folder)
                rid = run.run_id
                folder = os.path.join(folders[base], rid, "artifacts")
            else:
                rid = uuid.uuid4().hex
                folder = run_folder(folders[base], rid)
            artifact_uri = f"{base}/{rid}/artifacts"
            for path, sub, fname in run.files:
                dest = os.path.join(folder, sub) if sub else folder
                if sub:
                    os.makedirs(dest, exist_ok=True)
                place_file(path, Path(dest) / fname, link=path in run.links)
            tags = dict(run.tags)
            tags.setdefault(RUN_NAME_TAG, run.name)
            seen, latest = set(), {}
            for key, value, ts, step in run.metrics:
                v, nan = sanitize(value)
                row = (key, v, int(ts), rid, int(step), nan)
                if row in seen:  # MLflow drops repeated identical metrics
                    continue
                seen.add(row)
                metric_rows.append(row)
                best = latest.get(key)
                if best is None or (row[4], row[2], row[1]) > (best[4], best[2], best[1]):
                    latest[key] = row
            runs_rows.append((rid, run.name, tags.get("mlflow.user", "unknown"), run.status, run.start_time, end,
                              artifact_uri, eid))
            tag_rows += [(k, v, rid) for k, v in tags.items()]
            param_rows += [(k, v, rid) for k, v in run.params.items()]
            latest_rows += [(k, v, ts, st, nan, r) for k, v, ts, r, st, nan in latest.values()]
            ids.append(rid)
        if not runs_rows:
            return ids
        con = self.con
        con.execute("BEGIN IMMEDIATE")
        try:
            con.executemany("INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, "
                            "status, start_time, end_time, source_version, lifecycle_stage, artifact_uri, "
                            "experiment_id, deleted_time) VALUES (?, ?, 'UNKNOWN', '', '', ?, ?, ?, ?, '', 'active', "
                            "?, ?, NULL)", runs_rows)
            con.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)", tag_rows)
            con.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)", param_rows)
            con.executemany("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                            "VALUES (?, ?, ?, ?, ?, ?)", metric_rows)
            con.executemany("INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
                            "VALUES (?, ?, ?, ?, ?, ?)", latest_rows)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return ids


@dataclass
class Run:
    """One run for :meth:`Writer.insert_runs`: its experiment ``(id, artifact location)``, name,
    tags, params, metrics ``(key, value, timestamp, step)``, artifact files ``(path, folder or
    None, file name)``, status and start time (ms)."""

    experiment: tuple[int, str]
    name: str
    tags: dict[str, str]
    params: dict[str, str]
    metrics: list[tuple[str, float, int, int]]
    files: list[tuple[str, str | None, str]]
    status: str
    start_time: int
    links: frozenset[str] = frozenset()  # files that may be hard-linked (see place_file)
    run_id: str | None = None  # a run id whose artifact folder exists already (see run_folder)


def run_folder(artifact_dir: str, run_id: str) -> str:
    """Make the artifact folder ``<artifact_dir>/<run_id>/artifacts`` of a new run (the layout of
    MLflow's SQL store) and return it. A sweep's pool workers make their runs' folders and
    place their records there (:func:`preplace`), in parallel, so that the single writer
    only inserts rows: the two ``mkdir`` calls were half its time per run."""
    run_dir = os.path.join(artifact_dir, run_id)
    folder = os.path.join(run_dir, "artifacts")
    try:  # the experiment's folder exists after the first run: two mkdir calls, no lookups
        os.mkdir(run_dir)
        os.mkdir(folder)
    except OSError:
        os.makedirs(folder, exist_ok=True)
    return folder


def preplace(artifact_dir: str, src: str, name: str) -> str:
    """A new run id, its artifact folder under ``artifact_dir`` made and ``src`` placed there
    as ``name`` (a hard link where the file system allows); the run is inserted later with
    :attr:`Run.run_id` set to it, or its folder removed (:func:`discard`)."""
    rid = uuid.uuid4().hex
    place_file(src, Path(run_folder(artifact_dir, rid)) / name, link=True)
    return rid


def discard(artifact_dir: str, run_id: str) -> None:
    """Remove the folder :func:`preplace` made for a run that is not inserted after all."""
    shutil.rmtree(os.path.join(artifact_dir, run_id), ignore_errors=True)


def place_file(src: str, dest: Path, link: bool = False) -> None:
    """Put ``src`` at ``dest`` as MLflow's local artifact repository would (a copy); with ``link``,
    as a hard link where the file system allows it, so that the raw record and its artifact are
    one file on disk. Only for files never rewritten in place: records are written to a
    temporary name and renamed, so a later record of the key is a new file and the artifact
    keeps its own."""
    if not link:
        shutil.copy2(src, dest)
        return
    try:
        os.link(src, dest)
        return
    except FileExistsError:
        dest.unlink()
    except OSError:  # another file system, or links not allowed
        shutil.copy2(src, dest)
        return
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)


def template_path(cache: Path) -> Path | None:
    """The cached empty store of the installed MLflow version (None if MLflow is missing)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        v = version("mlflow")
    except PackageNotFoundError:
        return None
    return cache / f"mlflow-{v}-empty-store.db"


def save_template(db: Path, cache: Path) -> None:
    """Keep a copy of the freshly migrated, still empty store ``db`` (best effort)."""
    t = template_path(cache)
    if t is None or t.exists() or Path(str(db) + "-wal").exists():
        return
    try:
        t.parent.mkdir(parents=True, exist_ok=True)
        tmp = t.with_name(f".{t.name}.{os.getpid()}")
        shutil.copyfile(db, tmp)
        os.replace(tmp, t)
    except OSError:
        pass


def from_template(dest: Path, cache: Path) -> bool:
    """Make the empty store ``dest`` (a temporary name; the caller renames it into place) from
    the cached template; False if there is none or it does not look like one."""
    t = template_path(cache)
    if t is None or not t.is_file():
        return False
    try:
        shutil.copyfile(t, dest)
        con = sqlite3.connect(str(dest), isolation_level=None)
        try:
            if not schema_ok(con) or con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]:
                raise sqlite3.DatabaseError("not an empty store")
            # MLflow gives its default experiment the folder ./mlruns/0 of the creating process
            con.execute("UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0",
                        (os.path.abspath(os.path.join("mlruns", "0")),))
        finally:
            con.close()
        return True
    except (OSError, sqlite3.DatabaseError):
        Path(dest).unlink(missing_ok=True)
        return False
