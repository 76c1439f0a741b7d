"""MLflow logging and reading back. Only the launching process writes to the store.

One MLflow run per run key (:mod:`harness.identity`), in the experiment
``nas-harness/<protocol>`` (its description is the protocol's; tagged so that the MLflow 3 UI
opens it on its runs, not on the GenAI views):

* run name: the variant label and seed, e.g. ``bonas(sampler=rl)-s0``;
* tags: ``run_key``, ``experiment_key``, ``protocol``, ``protocol_id``, ``algorithm``,
  ``variant``, ``benchmark``, ``dataset``, ``seed``, ``status``, ``git_commit``,
  ``data_checksum``, ``attempt`` (which execution of the run the raw record holds),
  ``record_file`` (the artifact holding the raw record) and, last of all,
  ``nas_harness.logged = true``;
* params: protocol, benchmark (+ version, dataset), metrics, budget, counting, noise, seed,
  package version, algorithm class/version/source hash, data checksum, and every
  hyperparameter as ``hp.<name>``;
* metrics, proportional to what changes, not to the number of queries: the best-so-far curves
  ``incumbent_search`` and ``incumbent_report`` (step = query number) at both ends of each
  of their steps and at the last query (:func:`staircase`), so that the MLflow chart, which
  joins consecutive points, draws exactly the step function: its value at every query is the
  record's incumbent there; ``final_*``, ``wall_time``, ``training_queries``, ``queries``
  (step 0); on time-budgeted protocols ``sim_time`` at the steps of ``incumbent_search`` and
  ``incumbent_report_by_time`` (step = whole simulated seconds, the same staircase rule);
  ``hypervolume`` and ``incumbent_cost_<metric>`` where the protocol records costs; the
  algorithm's diagnostics (:meth:`harness.oracle.Oracle.log_diagnostic`) as ``diag/<name>``
  at their own steps; params and metrics sent together with ``log_batch``;
* artifact: ``record.npz``, the raw record file itself (:mod:`harness.record`: one compact
  columnar file holding metadata, the whole trajectory, episodes and diagnostics). Runs logged
  by versions before record schema 3 hold ``record.json`` (and ``trajectory.csv``) instead;
  reading back takes either; files the run names in ``meta["artifacts"]`` (``{folder: path}``,
  e.g. a trained agent under ``agent/``, :mod:`harness.agents`) when they exist on the logging machine.

**Two writers.** On the default SQLite store the launcher writes a run's rows in one SQLite
transaction (:func:`log_record_direct`, :mod:`harness.mlflow_sqlite`: milliseconds per run
instead of a dozen MLflow calls); a key that has runs in the store already, another store, or
an unknown schema goes through MLflow's client (:func:`log_record`).

**Exactly one run per key, whatever is killed when** (:func:`log_record`): a run counts only
once its ``nas_harness.logged`` tag is set, the last write; before logging a key, every run of
that key that is not a complete copy of this very record (same ``attempt``) is deleted, so a
logging attempt that died half-way, or an older attempt of the run, is replaced. The caller
holds the run key's claim (:mod:`harness.locks`), so two launchers never log one key at once.
Reading back (:func:`complete_runs`, :func:`load_record`) sees complete runs only, one per key.

Default store: ``sqlite:///results/mlflow.db`` (no server), created under a lock and beside its
final place, then renamed, so that a kill cannot leave a half-made database
(:func:`ensure_store`); ``--tracking-uri`` or ``MLFLOW_TRACKING_URI`` selects another (e.g. a
shared ``mlflow server``). :func:`check_uri` refuses malformed URIs; :func:`probe` finds an
unreachable store in seconds, before any run.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Iterable

import numpy as np

from harness.errors import ConfigError, HarnessError, first_line
from harness.record import RunRecord

BATCH = 1000  # entities per log_batch (MLflow's limit), of which at most PARAM_BATCH params
PARAM_BATCH = 100
RECORD_ARTIFACT = "record.npz"
LEGACY_ARTIFACT = "record.json"  # runs logged before record schema 3
LOGGED_TAG = "nas_harness.logged"
PROBE_TIMEOUT = 3.0
SCHEMES = ("sqlite", "file", "http", "https", "postgresql", "mysql", "mssql", "databricks", "databricks-uc")


def resolve_uri(uri: str | None = None) -> str:
    from harness.paths import default_tracking_uri

    return uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()


def check_uri(uri: str) -> str:
    """``uri`` if it is a well-formed tracking URI, else a :class:`ConfigError` saying why."""
    from urllib.parse import urlsplit

    hint = "give e.g. sqlite:///results/mlflow.db, http://HOST:PORT or postgresql://USER@HOST/DB"
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError as e:
        raise ConfigError(f"malformed tracking URI {uri!r} ({e}); {hint}") from None
    scheme = parts.scheme.split("+", 1)[0].lower()
    if not parts.scheme:
        return uri  # a local folder: MLflow's file store
    if len(parts.scheme) == 1:  # a Windows drive letter
        return uri
    if scheme not in SCHEMES:
        raise ConfigError(f"unknown tracking URI scheme {parts.scheme!r} in {uri!r}; {hint}")
    if scheme in ("http", "https", "postgresql", "mysql", "mssql") and not parts.hostname:
        raise ConfigError(f"tracking URI {uri!r} names no host; {hint}")
    if scheme == "sqlite" and not uri.startswith("sqlite:///"):
        raise ConfigError(f"tracking URI {uri!r}: a SQLite store is sqlite:///PATH (three slashes); {hint}")
    del port
    return uri


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (``None`` for other stores)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///"):].split("?", 1)[0]
    return None if path in ("", ":memory:") else Path(path)


def _sqlite_damage(db: Path) -> str:
    """Why an existing MLflow SQLite file cannot be used ('' when it looks sound)."""
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        try:
            names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if names and "alembic_version" not in names:
                return "it has tables but no schema version (not an MLflow store?)"
            tmp = sorted(n for n in names if n.startswith("_alembic_tmp"))
            if tmp:
                return f"a schema migration was interrupted (table {tmp[0]} left behind)"
        finally:
            con.close()
    except sqlite3.DatabaseError as e:
        return f"not a readable SQLite database ({e})"
    return ""


def ensure_store(uri: str) -> None:
    """Create a ``sqlite:///`` store safely if it does not exist yet; refuse a damaged one.

    Creation runs under a lock (``<db>.lock``) into a temporary file beside the database,
    which is renamed into place once MLflow's schema is complete (MLflow's migrations, or a
    copy of the empty store they made before for this MLflow version, kept in the cache
    folder: :mod:`harness.mlflow_sqlite`): a kill at any moment leaves
    either no database or a whole one. A damaged file (e.g. left by an older version killed
    during creation) raises a one-line :class:`HarnessError` that says how to recover; the raw
    records are never at risk."""
    db = sqlite_path(uri)
    if db is None:
        return
    if db.exists() and db.stat().st_size > 0:
        why = _sqlite_damage(db)
        if why:
            raise HarnessError(
                f"the MLflow store {db} is damaged: {why}; move it aside (mv {db} {db}.broken) and run "
                f"`nas-harness sync --tracking-uri {uri}` to rebuild it from the raw records, which are intact")
        return
    from harness.locks import file_lock

    db.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(str(db) + ".lock"):
        if db.exists() and db.stat().st_size > 0:
            return
        tmp = db.with_name(f".{db.name}.creating{os.getpid()}")
        for stale in db.parent.glob(f".{db.name}.creating*"):  # a creation killed earlier
            stale.unlink(missing_ok=True)
        from harness import mlflow_sqlite
        from harness.paths import cache_dir

        try:
            cache = cache_dir()
        except OSError:
            cache = None
        if cache is not None and mlflow_sqlite.from_template(tmp, cache):  # this MLflow's empty store, copied
            os.replace(tmp, db)
            return
        client = _client(f"sqlite:///{tmp}")
        import logging

        logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)  # no INFO lines on first use
        client.search_experiments(max_results=1)  # runs MLflow's schema migrations
        store = getattr(getattr(client, "_tracking_client", None), "store", None)
        engine = getattr(store, "engine", None)
        if engine is not None:
            engine.dispose()
        if cache is not None:
            mlflow_sqlite.save_template(tmp, cache)
        os.replace(tmp, db)


def probe(uri: str, timeout: float = PROBE_TIMEOUT) -> str:
    """'' if the store at ``uri`` answers, else a short reason (at most ``timeout`` s per try)."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(uri)
    scheme = parts.scheme.split("+", 1)[0].lower()
    if scheme in ("http", "https"):
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout):
                return ""
        except urllib.error.HTTPError:
            return ""  # the server answered (a proxy or an auth layer): reachable
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = getattr(e, "reason", e)
            return f"{type(reason).__name__}: {reason}"
    if scheme in ("postgresql", "mysql", "mssql"):
        port = parts.port or {"postgresql": 5432, "mysql": 3306, "mssql": 1433}[scheme]
        try:
            with socket.create_connection((parts.hostname, port), timeout=timeout):
                return ""
        except OSError as e:
            return f"{type(e).__name__}: {e}"
    if scheme == "sqlite":
        try:
            ensure_store(uri)
        except HarnessError as e:  # damaged: the message says how to recover
            return str(e)
        except Exception as e:
            return f"{type(e).__name__}: {first_line(e)}"
    return ""


def _client(uri: str):
    import logging

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # a server that dies during a sweep costs seconds, not minutes of retries
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
    # no usage telemetry: it costs the single writer time per call and sends data off the machine
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    if sqlite_path(uri) is not None:
        _tune_sqlite(client)
    return client


def _tune_sqlite(client) -> None:
    """Write-ahead journal and ``synchronous = NORMAL`` on every connection of the client's
    SQLite store: each MLflow call is a transaction, and with SQLite's default rollback journal
    every commit waits for several disk syncs (about 3x the time of a logged run on this
    project's sweeps, issue 20). In WAL mode a killed or crashed process never leaves the
    database inconsistent, only a power loss can drop the last commits, and the raw records
    (the source of truth) rebuild any lost run with ``nas-harness sync``. The WAL mode is a
    property of the file (set once, kept; readers such as ``mlflow ui`` need nothing); a store
    that another process holds open keeps its journal until it is free."""
    engine = getattr(getattr(getattr(client, "_tracking_client", None), "store", None), "engine", None)
    if engine is None:
        return
    from sqlalchemy import event

    def on_connect(con, _record):
        cur = con.cursor()
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        except Exception:  # busy or read-only: the defaults still work, only slower
            pass
        finally:
            cur.close()

    event.listen(engine, "connect", on_connect)
    engine.dispose()  # connections made before the listener get it on their next checkout


def experiment_name(protocol: str) -> str:
    return f"nas-harness/{protocol}"


EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}  # the MLflow 3 UI then opens on runs


def _experiment_id(client, name: str, uri: str, description: str = "") -> str:
    cache = client.__dict__.setdefault("_nas_harness_experiments", {})
    if name in cache:  # an experiment is never deleted under a launcher: one lookup per client
        return cache[name]
    cache[name] = _find_or_create_experiment(client, name, uri, description)
    return cache[name]


def _find_or_create_experiment(client, name: str, uri: str, description: str = "") -> str:
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        if exp.tags.get("mlflow.experimentKind") is None:
            client.set_experiment_tag(exp.experiment_id, "mlflow.experimentKind", EXPERIMENT_KIND["mlflow.experimentKind"])
        if description and not exp.tags.get("mlflow.note.content"):
            client.set_experiment_tag(exp.experiment_id, "mlflow.note.content", description)
        return exp.experiment_id
    try:
        return client.create_experiment(name, artifact_location=_artifact_location(name, uri),
                                        tags=_experiment_tags(description))
    except Exception:  # created concurrently
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise
        return exp.experiment_id


def _params(rec: RunRecord) -> dict[str, str]:
    m = rec.meta
    keys = ("protocol", "protocol_id", "algorithm", "algorithm_class", "algorithm_version", "algorithm_source",
            "benchmark", "benchmark_version", "dataset", "space", "data_checksum", "search_metric", "report_metric",
            "budget", "counting", "noise", "seed", "time_budget", "time_scale", "sim_workers")
    out = {k: str(m.get(k)) for k in keys if k in m or not k.startswith(("time_", "sim_"))}
    out["package_version"] = str((m.get("provenance") or {}).get("package_version", m.get("code_version")))
    for k, v in (m.get("hyperparameters") or {}).items():
        out[f"hp.{k}"] = json.dumps(v) if not isinstance(v, str) else v
    return {k: v[:6000] for k, v in out.items()}


def _tags(rec: RunRecord) -> dict[str, str]:
    m = rec.meta
    prov = m.get("provenance") or {}
    tags = {"run_key": rec.run_key, "experiment_key": str(m.get("experiment_key", "")), "protocol": m["protocol"],
            "protocol_id": str(m.get("protocol_id", "")), "algorithm": m["algorithm"],
            "variant": str(m.get("variant") or m["algorithm"]), "benchmark": str(m.get("benchmark", "")),
            "dataset": str(m.get("dataset") or ""), "seed": str(m["seed"]), "status": m.get("status", "finished"),
            "git_commit": str(prov.get("git_commit", "")) + ("+dirty" if prov.get("git_dirty") else ""),
            "data_checksum": str(m.get("data_checksum", "")), "attempt": str(m.get("attempt", "")),
            "record_file": RECORD_ARTIFACT}
    if m.get("error"):
        tags["error"] = m["error"][-5000:]
    return tags


def _status(rec: RunRecord) -> str:
    return "FINISHED" if rec.meta.get("status", "finished") == "finished" else "FAILED"


def run_name(rec: RunRecord) -> str:
    return f"{rec.meta.get('variant') or rec.meta['algorithm']}-s{rec.meta['seed']}"


def runs_of_key(client, exp_id: str, key: str) -> list:
    """Every active run of run key ``key`` in the experiment, complete or not."""
    return list(client.search_runs([exp_id], filter_string=f"tags.run_key = '{key}'", max_results=1000))


def staircase(values, grid=None) -> tuple[np.ndarray, np.ndarray]:
    """The points of a step function that a chart joining consecutive points draws exactly.

    ``values[j]`` holds from ``grid[j]`` (integers, increasing; default ``1..n``, the query
    numbers) until just before ``grid[j + 1]``. Returns ``(steps, values)``: both ends of each
    run of equal values (its first grid step and the step before the next run) and the last
    grid step; a NaN run counts as one value. Between two consecutive points the line is
    either flat (one step of the function) or spans one unit (a change), so at every integer
    step the chart's value is the function's."""
    v = np.asarray(values, dtype=float)
    n = len(v)
    if not n:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    change = np.empty(n, dtype=bool)
    change[0] = True
    np.not_equal(v[1:], v[:-1], out=change[1:])
    if np.isnan(v).any():
        change[1:] &= ~(np.isnan(v[1:]) & np.isnan(v[:-1]))
    starts = np.flatnonzero(change)
    if grid is None:  # steps 1..n
        first = starts + 1
        last = np.empty_like(starts)
        last[:-1] = starts[1:]
        last[-1] = n
    else:
        g = np.asarray(grid, dtype=np.int64)
        first = g[starts]
        last = np.empty_like(first)
        last[:-1] = g[starts[1:]] - 1
        last[-1] = g[-1]
    k = len(starts)
    steps = np.empty(2 * k, dtype=np.int64)
    steps[0::2], steps[1::2] = first, last
    keep = np.ones(2 * k, dtype=bool)
    keep[1::2] = last != first  # a one-step run: its two ends coincide
    return steps[keep], np.repeat(v[starts], 2)[keep]


def _metrics(rec: RunRecord, ts: int) -> list:
    """Every metric of ``rec``'s MLflow run (see the module docstring), as
    ``(key, value, timestamp, step)`` tuples."""

    def Metric(key, value, timestamp, step):  # a plain row; the client path makes MLflow entities of it
        return (key, value, timestamp, step)

    m, t = rec.meta, rec.trajectory
    out = []
    for name in ("incumbent_search", "incumbent_report"):
        if name in t:
            steps, vals = staircase(t[name])
            out.extend(Metric(name, float(v), ts, int(s)) for s, v in zip(steps, vals))
    summary = {"wall_time": m.get("wall_time", 0.0), "training_queries": m.get("training_queries", 0),
               "queries": rec.n_queries}
    if rec.n_queries:
        summary["final_incumbent_search"] = float(t["incumbent_search"][-1])
        summary["final_incumbent_report"] = float(t["incumbent_report"][-1])
    if len(t.get("sim_time", ())):  # time-budgeted protocols: the simulated clock, and the curve against it
        from harness import metrics as M

        sim = np.asarray(t["sim_time"], dtype=float)
        at, _ = staircase(t["incumbent_search"]) if "incumbent_search" in t else (np.arange(1, len(sim) + 1), None)
        out.extend(Metric("sim_time", float(sim[s - 1]), ts, int(s)) for s in at)
        secs = np.unique(np.ceil(sim).astype(np.int64))
        vals, _ = M.at_times([rec], secs.astype(float), "report")
        ok = np.isfinite(vals[0])
        steps, v = staircase(vals[0][ok], secs[ok])
        out.extend(Metric("incumbent_report_by_time", float(x), ts, int(s)) for s, x in zip(steps, v))
        summary["sim_time"] = float(m.get("sim_time") or sim.max())
    if m.get("pareto"):
        from harness import metrics as M

        summary["hypervolume"] = M.run_pareto(rec)[1]
    for c in (k[5:] for k in t if k.startswith("cost_")):
        from harness import metrics as M

        summary[f"incumbent_cost_{c}"] = float(M.incumbent_costs([rec], c)[0])
    out.extend(Metric(k, float(v), ts, 0) for k, v in summary.items() if np.isfinite(float(v)))
    for name, d in rec.diagnostics.items():
        out.extend(Metric(f"diag/{name}", float(v), ts, int(s)) for s, v in zip(d["step"].tolist(), d["value"].tolist()))
    return out


def _batches(params: list, metrics: list):
    """``(params, metrics)`` chunks within MLflow's ``log_batch`` limits."""
    i = j = 0
    while i < len(params) or j < len(metrics):
        p = params[i : i + PARAM_BATCH]
        i += len(p)
        mm = metrics[j : j + BATCH - len(p)]
        j += len(mm)
        yield p, mm


def log_record(rec: RunRecord, uri: str | None = None, client=None, description: str = "",
               record_file: str | None = None) -> str:
    """Make the store hold exactly one complete run for ``rec``'s key, mirroring ``rec``;
    returns its MLflow run id. The caller holds the key's claim (:mod:`harness.locks`).

    ``record_file``: ``rec``'s raw record file (``.npz``) when it is on disk already: it is
    logged as the artifact as it is (else the record is encoded here)."""
    from mlflow.entities import Param

    uri = resolve_uri(uri)
    client = client or _client(uri)
    exp_id = _experiment_id(client, experiment_name(rec.meta["protocol"]), uri, description)
    attempt = str(rec.meta.get("attempt", ""))
    keep = None
    for r in runs_of_key(client, exp_id, rec.run_key):
        t = r.data.tags
        if keep is None and t.get(LOGGED_TAG) == "true" and t.get("attempt", "") == attempt:
            keep = r.info.run_id  # this very record is already logged completely
        else:
            client.delete_run(r.info.run_id)  # half-logged, an older attempt, or a duplicate
    if keep is not None:
        return keep
    m = rec.meta
    run = client.create_run(exp_id, run_name=run_name(rec), tags=_tags(rec))
    rid = run.info.run_id
    log_artifact = _artifact_logger(client, run)
    from mlflow.entities import Metric

    params = [Param(k, v) for k, v in _params(rec).items()]
    metrics = [Metric(*row) for row in _metrics(rec, int(time.time() * 1000))]
    for p, mm in _batches(params, metrics):
        client.log_batch(rid, metrics=mm, params=p)
    with tempfile.TemporaryDirectory() as d:
        art = os.path.join(d, RECORD_ARTIFACT)
        if record_file is not None and str(record_file).endswith(".npz"):
            try:
                os.link(record_file, art)  # the very file, no copy here (MLflow copies it into the store)
            except OSError:
                import shutil

                shutil.copyfile(record_file, art)
        else:
            rec.write(art)
        log_artifact(art, None)
    for name, path in (m.get("artifacts") or {}).items():  # files the run made, e.g. a trained agent
        if isinstance(path, str) and os.path.isfile(path):
            log_artifact(path, str(name))
    client.set_terminated(rid, status=_status(rec))
    client.set_tag(rid, LOGGED_TAG, "true")  # last: from now on the run counts
    return rid


def _artifact_location(name: str, uri: str) -> str | None:
    """Where a new experiment of a SQLite store keeps its artifacts: ``mlartifacts/`` beside the
    database (None for other stores: the server decides)."""
    db = sqlite_path(uri)
    return None if db is None else (db.parent / "mlartifacts" / name.replace("/", "_")).absolute().as_uri()


def _experiment_tags(description: str) -> dict[str, str]:
    tags = dict(EXPERIMENT_KIND)
    if description:
        tags["mlflow.note.content"] = description
    return tags


def direct_writer(uri: str):
    """The one-transaction writer (:mod:`harness.mlflow_sqlite`) for a ``sqlite:///`` store,
    or None where the fast path does not apply."""
    from harness import mlflow_sqlite

    db = sqlite_path(uri)
    return None if db is None else mlflow_sqlite.Writer.open(db)


def direct_experiment(writer, protocol: str, description: str = ""):
    """``(experiment_id, artifact_location)`` of the protocol's experiment in ``writer``'s store
    (made as :func:`_find_or_create_experiment` makes it), or None where the fast path does not
    apply."""
    name = experiment_name(protocol)
    return writer.experiment(name, _artifact_location(name, f"sqlite:///{writer.db}"), _experiment_tags(description))


def direct_artifact_dir(writer, protocol: str, description: str = "") -> str | None:
    """The local folder of the protocol's experiment's artifacts in ``writer``'s store (where
    :func:`harness.mlflow_sqlite.preplace` makes run folders), or None where the fast path does
    not apply."""
    from harness import mlflow_sqlite

    exp = direct_experiment(writer, protocol, description)
    return None if exp is None else mlflow_sqlite.local_dir(exp[1].rstrip("/"))


def log_record_direct(writer, rec: RunRecord, description: str = "", record_file: str | None = None) -> str | None:
    """:func:`log_record` through ``writer`` in one transaction; None (nothing written) where the
    key has runs in the store already or the record does not fit the fast path: the caller then
    uses :func:`log_record`."""
    return log_records_direct(writer, [(rec, record_file)], description)[0]


def log_records_direct(writer, items: list, description: str = "") -> list[str | None]:
    """:func:`log_record_direct` for several ``(record, record_file)`` pairs of one protocol in
    **one** transaction (:meth:`harness.mlflow_sqlite.Writer.insert_runs`); per pair the run id,
    or None where that record must go through :func:`log_record` (its key has runs already,
    or it does not fit the fast path). The records' keys must differ.

    An item may be ``(record, record_file, run_id)``: a pool worker made that run's artifact
    folder in the experiment's (:func:`direct_artifact_dir`) and placed the record in it
    (:func:`harness.mlflow_sqlite.preplace`); the run is inserted with that id. Where the item
    gets None its folder is left for the caller to discard."""
    import shutil

    from harness import mlflow_sqlite

    out: list[str | None] = [None] * len(items)
    runs, where, tmps = [], [], []
    exps: dict[str, tuple | None] = {}
    items = [(*it, None)[:3] for it in items]  # (record, record_file) pairs: no pre-placed folder
    for rec, _, _ in items:
        name = rec.meta["protocol"]
        if name not in exps:
            exps[name] = direct_experiment(writer, name, description)
    taken: dict[str, set[str]] = {  # keys that have runs already: replacing them is the client's job
        name: writer.keys_with_runs(exp[0], [r.run_key for r, _, _ in items if r.meta["protocol"] == name])
        for name, exp in exps.items() if exp is not None}
    try:
        for i, (rec, record_file, placed) in enumerate(items):
            m = rec.meta
            exp = exps[m["protocol"]]
            if exp is None or rec.run_key in taken[m["protocol"]]:
                continue
            tags = _tags(rec)
            tags[LOGGED_TAG] = "true"  # commits with everything else: the run is complete or absent
            links = frozenset()
            if placed:  # its folder made and the record placed in it by the pool worker
                files = []
            elif record_file is not None and str(record_file).endswith(".npz"):
                files = [(str(record_file), None, RECORD_ARTIFACT)]  # the raw record file itself
                links = frozenset({str(record_file)})
            else:
                tmp = tempfile.mkdtemp()
                tmps.append(tmp)
                art = os.path.join(tmp, RECORD_ARTIFACT)
                rec.write(art)
                files = [(art, None, RECORD_ARTIFACT)]
            files += [(path, str(sub), os.path.basename(path)) for sub, path in (m.get("artifacts") or {}).items()
                      if isinstance(path, str) and os.path.isfile(path)]
            now = int(time.time() * 1000)
            runs.append(mlflow_sqlite.Run(exp, run_name(rec), tags, _params(rec), _metrics(rec, now), files,
                                          _status(rec), now, links, placed or None))
            where.append(i)
        for i, rid in zip(where, writer.insert_runs(runs) if runs else []):
            out[i] = rid
        return out
    finally:
        for tmp in tmps:
            shutil.rmtree(tmp, ignore_errors=True)


def _artifact_logger(client, run):
    """``f(path, artifact_path)`` logging a file into ``run``'s artifacts. A local artifact store
    (the default ``mlartifacts/`` beside the SQLite file) is written through MLflow's artifact
    repository of the run's known artifact URI, which spares the client's lookup of the run per
    file; other stores go through the client."""
    uri = run.info.artifact_uri or ""
    if _local_dir(uri) is not None:
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        repo = get_artifact_repository(uri)
        return lambda path, artifact_path: repo.log_artifact(path, artifact_path=artifact_path)
    return lambda path, artifact_path: client.log_artifact(run.info.run_id, path, artifact_path=artifact_path)


def log_records(records: Iterable[RunRecord], uri: str | None = None) -> list[str]:
    """Log records (no claims taken: for a single writer, e.g. a notebook); returns run ids."""
    uri = resolve_uri(uri)
    ensure_store(uri)
    client = _client(uri)
    return [log_record(r, uri, client) for r in records]


def complete_runs(protocol: str, uri: str | None = None, client=None) -> dict[str, dict]:
    """The complete runs of a protocol's experiment, one per run key:
    ``{run_key: {"run_id", "attempt", "status", "protocol_id", "artifact_uri", "record_file"}}``
    (partial runs left out)."""
    uri = resolve_uri(uri)
    client = client or _client(uri)
    exp = client.get_experiment_by_name(experiment_name(protocol))
    if exp is None:
        return {}
    out, token = {}, None
    while True:
        page = client.search_runs([exp.experiment_id], filter_string=f"tags.`{LOGGED_TAG}` = 'true'",
                                  max_results=5000, page_token=token)
        for r in page:
            t = r.data.tags
            out.setdefault(t.get("run_key", ""), {"run_id": r.info.run_id, "attempt": t.get("attempt", ""),
                                                  "status": r.info.status, "protocol_id": t.get("protocol_id", ""),
                                                  "artifact_uri": r.info.artifact_uri,
                                                  "record_file": t.get("record_file", LEGACY_ARTIFACT)})
        token = page.token
        if not token:
            return out


def search_runs(protocol: str | None = None, uri: str | None = None):
    """Runs of a protocol (or all nas-harness experiments) as a pandas DataFrame."""
    import mlflow

    uri = resolve_uri(uri)
    mlflow.set_tracking_uri(uri)
    client = _client(uri)
    if protocol:
        exp = client.get_experiment_by_name(experiment_name(protocol))
        names = [exp.name] if exp else []
    else:
        names = [e.name for e in client.search_experiments() if e.name.startswith("nas-harness/")]
    if not names:
        import pandas as pd

        return pd.DataFrame()
    return mlflow.search_runs(experiment_names=names, max_results=100_000)


def mlflow_records(protocol: str, protocol_id: str | None = None, uri: str | None = None) -> list[RunRecord]:
    """The raw records of a protocol's complete MLflow runs (artifact ``record.npz``, or
    ``record.json`` of runs logged before record schema 3), one per run key; a run whose record
    cannot be read is skipped with a warning line."""
    import sys

    uri = resolve_uri(uri)
    out = []
    for key, info in sorted(complete_runs(protocol, uri).items()):
        if protocol_id and info["protocol_id"] and info["protocol_id"] != protocol_id:
            continue
        try:
            rec = load_record(info["run_id"], uri, info)
        except Exception as e:
            print(f"nas-harness: warning: skipping MLflow run {info['run_id']} (run key {key}): its {info['record_file']} "
                  f"cannot be read ({type(e).__name__})", file=sys.stderr)
            continue
        if protocol_id is None or rec.meta.get("protocol_id") == protocol_id:
            out.append(rec)
    return out


def load_record(run_id: str, uri: str | None = None, info: dict | None = None) -> RunRecord:
    """The raw record stored as an artifact of an MLflow run.

    ``info``: the run's entry of :func:`complete_runs` (saves looking the run up); a local
    artifact store is read in place, others through MLflow's artifact download."""
    uri = resolve_uri(uri)
    if info is None:
        run = _client(uri).get_run(run_id)
        info = {"artifact_uri": run.info.artifact_uri,
                "record_file": run.data.tags.get("record_file", LEGACY_ARTIFACT)}
    name = info.get("record_file") or LEGACY_ARTIFACT
    local = _local_dir(info.get("artifact_uri") or "")
    if local is not None:
        return RunRecord.read(os.path.join(local, name))
    import mlflow.artifacts

    with tempfile.TemporaryDirectory() as d:
        path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=name, dst_path=d, tracking_uri=uri)
        return RunRecord.read(path)


def _local_dir(artifact_uri: str) -> str | None:
    """The folder of a ``file:`` artifact URI (or a plain path), else None."""
    from harness.mlflow_sqlite import local_dir

    return local_dir(artifact_uri)


def log_artifacts(paths, protocol: str, uri: str | None = None, run_name: str = "report",
                  artifact_path: str | None = None, tags: dict | None = None) -> str:
    """Log files (e.g. a report's plots) as artifacts of a new MLflow run in the protocol's
    experiment, tagged ``kind=<run_name>``; returns the run id."""
    uri = resolve_uri(uri)
    client = _client(uri)
    exp_id = _experiment_id(client, experiment_name(protocol), uri)
    run = client.create_run(exp_id, run_name=run_name, tags={"kind": run_name, "protocol": protocol, **(tags or {})})
    rid = run.info.run_id
    for p in paths:
        client.log_artifact(rid, str(p), artifact_path=artifact_path)
    client.set_terminated(rid, status="FINISHED")
    return rid
