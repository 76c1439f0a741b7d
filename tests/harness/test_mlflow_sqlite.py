"""The one-transaction SQLite writer (harness/mlflow_sqlite.py) writes what MLflow's client
writes: the same records logged both ways read back identically through MLflow itself; it
steps aside where it does not apply; the launcher uses it; a new store comes from the cached
empty store of this MLflow version."""

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from harness import mlflow_sqlite, tracking
from harness.protocol import Protocol
from harness.runner import Job, execute


def _records():
    p = Protocol.adhoc("nb201-analog", 60, 2)
    recs = [execute(Job(p, "random", s)) for s in p.seeds]
    recs[0].diagnostics = {"loss": {"step": np.array([0, 5, 5, 9]), "value": np.array([1.5, np.nan, 2.0, np.inf])}}
    recs[1].meta["status"] = "failed"
    recs[1].meta["error"] = "RuntimeError: boom"
    return recs


def _store(tmp_path, name):
    uri = f"sqlite:///{tmp_path / name / 'mlflow.db'}"
    tracking.ensure_store(uri)
    return uri


def _view(client, run_id):
    """Everything MLflow reads back about a run, without its id and clock."""
    run = client.get_run(run_id)
    info = run.info
    hist = {k: sorted((m.step, m.value) for m in client.get_metric_history(run_id, k)) for k in run.data.metrics}
    hist = {k: [(s, "nan" if v != v else v) for s, v in h] for k, h in hist.items()}
    latest = {k: ("nan" if v != v else v) for k, v in run.data.metrics.items()}

    def walk(path=None):
        out = []
        for f in client.list_artifacts(run_id, path):
            out += walk(f.path) if f.is_dir else [(f.path, f.file_size)]
        return sorted(out)

    return {"status": info.status, "stage": info.lifecycle_stage, "name": info.run_name, "user": info.user_id,
            "artifact_tail": info.artifact_uri.rsplit("/", 1)[-1], "ended": info.end_time is not None,
            "tags": run.data.tags, "params": run.data.params, "latest": latest, "history": hist, "artifacts": walk()}


def test_direct_writer_writes_what_mlflows_client_writes(tmp_path):
    recs = _records()
    agent = tmp_path / "agent.pt"
    agent.write_bytes(b"weights")
    recs[0].meta["artifacts"] = {"agent": str(agent)}
    a, b = _store(tmp_path, "client"), _store(tmp_path, "direct")
    ids_a = [tracking.log_record(r, a, description="the protocol") for r in recs]
    w = tracking.direct_writer(b)
    assert w is not None  # this MLflow's schema takes the fast path
    ids_b = [tracking.log_record_direct(w, r, "the protocol") for r in recs]
    assert all(ids_b)
    ca, cb = tracking._client(a), tracking._client(b)
    for ra, rb in zip(ids_a, ids_b):
        va, vb = _view(ca, ra), _view(cb, rb)
        assert va == vb
    assert vb["status"] == "FAILED" and vb["tags"]["error"] == "RuntimeError: boom"
    assert ("agent/agent.pt", 7) in _view(cb, ids_b[0])["artifacts"]
    ea = ca.get_experiment_by_name(tracking.experiment_name(recs[0].meta["protocol"]))
    eb = cb.get_experiment_by_name(tracking.experiment_name(recs[0].meta["protocol"]))
    assert ea.tags == eb.tags and ea.lifecycle_stage == eb.lifecycle_stage == "active"
    assert eb.artifact_location.endswith("/mlartifacts/" + eb.name.replace("/", "_"))
    # the readers find the same complete runs and records
    proto = recs[0].meta["protocol"]
    assert set(tracking.complete_runs(proto, a)) == set(tracking.complete_runs(proto, b)) == {r.run_key for r in recs}
    got = {r.run_key: r for r in tracking.mlflow_records(proto, recs[0].meta["protocol_id"], b)}
    for r in recs:
        assert np.array_equal(got[r.run_key].trajectory["search"], r.trajectory["search"])
    # the writer's own view of complete runs agrees with MLflow's search
    exp = w.experiment(tracking.experiment_name(proto), "", {})
    assert {k: v["run_id"] for k, v in w.complete_runs(exp[0], tracking.LOGGED_TAG).items()} == \
        {k: v["run_id"] for k, v in tracking.complete_runs(proto, b).items()}


def test_a_batch_in_one_transaction_reads_back_as_runs_logged_one_by_one(tmp_path):
    """The launcher logs the runs that finish close together in one transaction, their raw
    record files hard-linked as artifacts: MLflow reads them back as the client's runs; a key
    already in the store is left to the client; rewriting a record later leaves the artifact."""
    recs = _records() + [execute(Job(Protocol.adhoc("nb201-analog", 60, 3), "random", 2))]
    files = []
    for r in recs:
        f = tmp_path / "runs" / f"{r.run_key}.npz"
        r.write(str(f))
        files.append(str(f))
    a, b = _store(tmp_path, "client"), _store(tmp_path, "direct")
    ids_a = [tracking.log_record(r, a, description="d", record_file=f) for r, f in zip(recs, files)]
    tracking.log_record(recs[2], b, description="d", record_file=files[2])  # this key is taken
    w = tracking.direct_writer(b)
    ids_b = tracking.log_records_direct(w, list(zip(recs, files)), "d")
    assert ids_b[2] is None and all(ids_b[:2])
    ca, cb = tracking._client(a), tracking._client(b)
    for ra, rb in zip(ids_a[:2], ids_b[:2]):
        assert _view(ca, ra) == _view(cb, rb)
    art = Path(mlflow_sqlite.local_dir(cb.get_run(ids_b[0]).info.artifact_uri)) / tracking.RECORD_ARTIFACT
    assert art.stat().st_ino == Path(files[0]).stat().st_ino  # one file on disk
    before = art.read_bytes()
    recs[0].meta["note"] = "rewritten"
    recs[0].write(files[0])  # records are rewritten by rename, never in place
    assert art.read_bytes() == before and Path(files[0]).read_bytes() != before


def test_direct_writer_steps_aside_for_a_key_already_in_the_store(tmp_path):
    (rec, _) = _records()
    uri = _store(tmp_path, "s")
    tracking.log_record(rec, uri)
    w = tracking.direct_writer(uri)
    assert tracking.log_record_direct(w, rec) is None  # replacing runs is MLflow's client's job
    assert len(tracking.complete_runs(rec.meta["protocol"], uri)) == 1


def test_direct_writer_refuses_unknown_schemas_and_can_be_turned_off(tmp_path, monkeypatch):
    uri = _store(tmp_path, "s")
    db = tracking.sqlite_path(uri)
    assert tracking.direct_writer(uri) is not None
    monkeypatch.setenv("NAS_HARNESS_MLFLOW_DIRECT", "0")
    assert tracking.direct_writer(uri) is None
    monkeypatch.delenv("NAS_HARNESS_MLFLOW_DIRECT")
    con = sqlite3.connect(db)
    con.execute("ALTER TABLE runs ADD COLUMN owner VARCHAR(20) NOT NULL DEFAULT 'x'")  # defaulted: fine
    con.commit()
    assert mlflow_sqlite.schema_ok(con)
    con.execute("CREATE TABLE t2 (a)")
    con.execute("DROP TABLE latest_metrics")  # a table it writes is gone: not the schema it knows
    assert not mlflow_sqlite.schema_ok(con)
    con.close()
    assert tracking.direct_writer(uri) is None


def test_a_sweep_logs_through_the_direct_writer_and_a_rerun_replaces_through_mlflow(tmp_path, monkeypatch):
    from harness.sweep import run_sweep

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    p = Protocol.adhoc("nb201-analog", 30, 3)
    jobs = [Job(p, "random", s) for s in p.seeds]
    res = run_sweep(jobs, workers=1)
    assert res.logged == 3 and not res.log_error
    done = tracking.complete_runs(p.name)
    assert len(done) == 3
    client = tracking._client(tracking.resolve_uri())
    run = client.get_run(next(iter(done.values()))["run_id"])
    assert run.data.tags[tracking.LOGGED_TAG] == "true" and run.info.status == "FINISHED"
    res2 = run_sweep(jobs[:1], workers=1, rerun=True)  # the key has a run: MLflow's client replaces it
    assert res2.logged == 1
    exp = client.get_experiment_by_name(tracking.experiment_name(p.name))
    assert len(client.search_runs([exp.experiment_id])) == 3  # one active run per key, never two
    assert len(tracking.complete_runs(p.name)) == 3


def test_a_parallel_sweep_batches_its_runs_and_logs_each_once(tmp_path, monkeypatch):
    """Fast runs on 2 workers reach MLflow in fewer transactions than runs, every run exactly
    once, and a rerun of the same jobs logs nothing new."""
    from harness import sweep

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setattr(sweep, "FLUSH_SECONDS", 5.0)  # wide window: batching must happen
    calls = []
    real = mlflow_sqlite.Writer.insert_runs
    monkeypatch.setattr(mlflow_sqlite.Writer, "insert_runs", lambda self, runs: calls.append(len(runs)) or real(self, runs))
    p = Protocol.adhoc("nb201-analog", 20, 12)
    jobs = [Job(p, "random", s) for s in p.seeds]
    res = sweep.run_sweep(jobs, workers=2)
    assert res.logged == 12 and not res.log_error
    assert sum(calls) == 12 and len(calls) < 12
    assert len(tracking.complete_runs(p.name)) == 12
    client = tracking._client(tracking.resolve_uri())
    exp = client.get_experiment_by_name(tracking.experiment_name(p.name))
    assert len(client.search_runs([exp.experiment_id])) == 12
    assert sweep.run_sweep(jobs, workers=2).logged == 0
    # the pool workers made the runs' folders: each artifact is its raw record (one inode), and
    # every folder belongs to a run of the store, also after a rerun whose keys MLflow's client
    # replaces (the workers' folders for those runs are removed again)
    from mlflow.entities import ViewType

    def check(linked):
        runs = client.search_runs([exp.experiment_id], run_view_type=ViewType.ALL)
        folders = {f.name for f in Path(mlflow_sqlite.local_dir(exp.artifact_location)).iterdir()}
        assert folders == {r.info.run_id for r in runs}
        for r in runs:
            if r.info.lifecycle_stage == "active":
                art = Path(mlflow_sqlite.local_dir(r.info.artifact_uri)) / tracking.RECORD_ARTIFACT
                raw = sweep.record_path(next(j for j in jobs if j.key() == r.data.tags["run_key"]))
                assert art.read_bytes() == raw.read_bytes()
                assert (art.stat().st_ino == raw.stat().st_ino) == (r.data.tags["run_key"] in linked)

    check({j.key() for j in jobs})
    assert sweep.run_sweep(jobs[:4], workers=2, rerun=True).logged == 4
    check({j.key() for j in jobs[4:]})  # the replaced runs' artifacts are MLflow's copies


def test_new_stores_come_from_the_cached_empty_store(tmp_path, monkeypatch):
    monkeypatch.setenv("NAS_HARNESS_CACHE", str(tmp_path / "cache"))
    first = _store(tmp_path, "a")  # MLflow's migrations; the empty store is kept
    template = mlflow_sqlite.template_path(tmp_path / "cache")
    assert template.is_file()
    second = _store(tmp_path / "elsewhere", "b")  # a copy of it
    db1, db2 = tracking.sqlite_path(first), tracking.sqlite_path(second)
    q = "SELECT name, sql FROM sqlite_master ORDER BY name"
    with sqlite3.connect(db1) as c1, sqlite3.connect(db2) as c2:
        assert c1.execute(q).fetchall() == c2.execute(q).fetchall()
        assert c1.execute("SELECT * FROM alembic_version").fetchall() == c2.execute("SELECT * FROM alembic_version").fetchall()
    (rec, _) = _records()
    tracking.log_record(rec, second)  # MLflow's client uses the copied store as its own
    assert list(tracking.complete_runs(rec.meta["protocol"], second)) == [rec.run_key]
    Path(template).write_bytes(b"not a database")  # a damaged template: MLflow makes the store
    third = _store(tmp_path, "c")
    assert tracking.direct_writer(third) is not None
