"""MLflow round trip on a temporary SQLite store; raw records (one npz file each, schema 3; JSON
files of schema 2 still read) round trip without pickle; the diagnostics channel."""

import json
from pathlib import Path

import numpy as np
import pytest

from harness import tracking
from harness.protocol import Protocol
from harness.record import RunRecord
from harness.runner import Job, execute, make_oracle

GOLDEN = Path(__file__).parent / "golden"


def _records(n=2, budget=40):
    p = Protocol.adhoc("nb201-analog", budget, n)
    return [execute(Job(p, "random", s)) for s in p.seeds]


def test_record_round_trip_is_one_npz_file_without_pickle(tmp_path):
    (rec,) = _records(1)
    rec.diagnostics = {"loss": {"step": np.array([0, 5, 9]), "value": np.array([1.5, np.nan, 0.25])}}
    path = rec.write(str(tmp_path / "r.npz"))
    with np.load(path) as z:  # a plain npz (allow_pickle=False): arrays and a JSON header
        assert {"index", "key", "search", "report", "time", "record.json"} <= set(z.files)
        assert not any(f.startswith("incumbent_") for f in z.files)  # rebuilt on read, not stored
        assert json.loads(z["record.json"])["meta"]["run_key"] == rec.run_key
    back = RunRecord.read(path)
    assert back.meta == json.loads(json.dumps(rec.meta))
    assert list(back.trajectory) == list(rec.trajectory)
    for k, v in rec.trajectory.items():
        assert np.array_equal(np.asarray(back.trajectory[k]), np.asarray(v)), k
        assert back.trajectory[k].dtype == np.asarray(v).dtype, k
    np.testing.assert_array_equal(back.diagnostics["loss"]["value"], [1.5, np.nan, 0.25])
    assert back.diagnostics["loss"]["step"].tolist() == [0, 5, 9]
    assert rec.encode() == rec.encode()  # deterministic bytes
    assert RunRecord.from_dict(json.loads(json.dumps(rec.to_dict()))).diagnostics["loss"]["step"].tolist() == [0, 5, 9]


def test_schema2_json_records_still_load(tmp_path):
    """A record file written by the version before record schema 3 (golden file made by it)
    reads as it was, counts as current for reports, and a results folder holding it is read."""
    from harness import identity
    from harness.record import IDENTITY_SCHEMA, SCHEMA_VERSION
    from harness.sweep import read_records

    old = GOLDEN / "record_schema2.json"
    d = json.loads(old.read_text())
    assert d["meta"]["schema_version"] == 2 < SCHEMA_VERSION and IDENTITY_SCHEMA == 2
    rec = RunRecord.read(str(old))
    assert rec.n_queries == 20 and rec.trajectory["key"].dtype == object
    assert rec.trajectory["incumbent_search"].tolist() == np.maximum.accumulate(d["trajectory"]["search"]).tolist()
    # kept by select_current (schema 2 carries the full run identity) when its protocol is asked for
    p = Protocol(**{**Protocol.adhoc("nb201-analog", 20, 1).__dict__})
    kept, notes = identity.select_current([rec], p)
    assert len(kept) == 1 and not any("older record schema" in n for n in notes)
    # a results folder of the old version: <key>.json beside new <key>.npz records
    folder = tmp_path / "results" / "runs" / rec.meta["protocol_id"]
    folder.mkdir(parents=True)
    (folder / f"{rec.run_key}.json").write_text(old.read_text())
    (new,) = _records(1, budget=30)
    new.meta["protocol_id"] = rec.meta["protocol_id"]
    new.write(str(folder / f"{new.run_key}.npz"))
    got = sorted(read_records(rec.meta["protocol_id"]), key=lambda r: r.n_queries)
    assert [r.n_queries for r in got] == [20, 30] and [r.meta["schema_version"] for r in got] == [2, 3]


def test_record_round_trip_rebuilds_incumbents_for_a_minimised_metric(tmp_path):
    """The file stores no incumbent columns; reading rebuilds them exactly as the oracle made
    them, also for a metric to minimise (latency) where many architectures tie."""
    p = Protocol.adhoc("nasbench-graph", 300, 1, dataset="cora", search_metric="latency",
                       report_metric="latency", counting="all")
    rec = execute(Job(p, "random", 0, {"replace": True}))
    assert rec.meta["maximize"] is False
    stored = json.loads(json.dumps(rec.to_dict()))["trajectory"]
    assert not any(k.startswith("incumbent_") for k in stored)
    back = RunRecord.read(rec.write(str(tmp_path / "r.npz"), data=rec.encode()))
    assert list(back.trajectory) == list(rec.trajectory)
    for k, v in rec.trajectory.items():
        assert np.array_equal(np.asarray(back.trajectory[k]), np.asarray(v)), k
    inc = back.trajectory["incumbent_search"]
    assert np.all(np.diff(inc) <= 0) and inc[-1] == back.trajectory["search"].min()


def _rebuild(hist, n):
    """The step function a chart of ``hist`` draws, at steps 1..n: linear between consecutive
    points (MLflow's line chart) and, separately, the last point at or before each step."""
    steps = np.array([h.step for h in hist])
    vals = np.array([h.value for h in hist])
    q = np.arange(1, n + 1)
    held = vals[np.searchsorted(steps, q, side="right") - 1]
    return np.interp(q, steps, vals), held


def test_mlflow_best_so_far_chart_is_the_records_staircase(tmp_path):
    """Read the best-so-far metric histories back from the store, rebuild the curve the chart
    draws and compare it with the record's incumbent at every query; far fewer points than
    queries."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    p = Protocol.adhoc("nb201-analog", 400, 3)
    recs = [execute(Job(p, "random", s)) for s in p.seeds]
    ids = tracking.log_records(recs, uri)
    client = MlflowClient(uri)
    for rid, rec in zip(ids, recs):
        n = rec.n_queries
        for name in ("incumbent_search", "incumbent_report"):
            hist = sorted(client.get_metric_history(rid, name), key=lambda h: h.step)
            steps = [h.step for h in hist]
            assert steps[0] == 1 and steps[-1] == n and len(set(steps)) == len(steps)
            changes = 1 + int(np.count_nonzero(np.diff(rec.trajectory[name])))
            assert len(hist) <= 2 * changes + 1 < n / 4  # both ends of each step + the last query
            line, held = _rebuild(hist, n)
            np.testing.assert_array_equal(held, rec.trajectory[name])
            np.testing.assert_array_equal(line, rec.trajectory[name])


def test_staircase_points():
    steps, vals = tracking.staircase([1.0, 1.0, 3.0, 3.0, 3.0, 4.0])
    assert steps.tolist() == [1, 2, 3, 5, 6] and vals.tolist() == [1.0, 1.0, 3.0, 3.0, 4.0]
    steps, vals = tracking.staircase([np.nan, np.nan, 2.0])
    assert steps.tolist() == [1, 2, 3] and vals[2] == 2.0 and np.isnan(vals[:2]).all()
    steps, vals = tracking.staircase([5.0, 7.0], grid=[10, 20])
    assert steps.tolist() == [10, 19, 20] and vals.tolist() == [5.0, 5.0, 7.0]
    assert tracking.staircase([])[0].size == 0


def test_mlflow_round_trip(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    recs = _records(2)
    ids = tracking.log_records(recs, uri)
    assert len(ids) == 2
    df = tracking.search_runs(recs[0].meta["protocol"], uri)
    assert len(df) == 2
    assert set(df["params.algorithm"]) == {"random"}
    assert sorted(df["params.seed"].astype(int)) == [0, 1]
    assert set(df["status"]) == {"FINISHED"}
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    assert [a.path for a in client.list_artifacts(ids[0])] == ["record.npz"]  # the trajectory once
    local = tracking._local_dir(client.get_run(ids[0]).info.artifact_uri)
    assert open(f"{local}/record.npz", "rb").read() == recs[0].encode()  # the raw record file itself
    back = tracking.load_record(ids[1], uri)
    assert back.run_key == recs[1].run_key
    np.testing.assert_array_equal(back.trajectory["index"], recs[1].trajectory["index"])
    assert [r.run_key for r in tracking.mlflow_records(recs[0].meta["protocol"], uri=uri)] == \
        sorted(r.run_key for r in recs)


def test_mlflow_runs_logged_before_schema3_still_load(tmp_path):
    """A run as versions before record schema 3 logged it (artifact record.json, no
    record_file tag) is read back by mlflow_records."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracking.ensure_store(uri)
    rec = RunRecord.read(str(GOLDEN / "record_schema2.json"))
    client = MlflowClient(uri)
    exp = tracking._experiment_id(client, tracking.experiment_name(rec.meta["protocol"]), uri)
    tags = {k: v for k, v in tracking._tags(rec).items() if k != "record_file"}
    rid = client.create_run(exp, tags=tags).info.run_id
    (tmp_path / "art").mkdir()
    (tmp_path / "art" / "record.json").write_text((GOLDEN / "record_schema2.json").read_text())
    client.log_artifacts(rid, str(tmp_path / "art"))
    client.set_tag(rid, tracking.LOGGED_TAG, "true")
    (back,) = tracking.mlflow_records(rec.meta["protocol"], uri=uri)
    assert back.run_key == rec.run_key and back.meta["schema_version"] == 2
    np.testing.assert_array_equal(back.trajectory["search"], rec.trajectory["search"])


def test_an_algorithm_logging_diagnostics_gets_them_in_its_record_and_mlflow_run(tmp_path):
    from mlflow.tracking import MlflowClient

    from harness.errors import ConfigError
    from harness.sweep import run_sweep

    p = Protocol.adhoc("nb201-analog", 25, 2)
    res = run_sweep([Job(p, "tests.harness.plugin_algorithms:Diagnosing", s) for s in p.seeds], workers=1)
    assert res.ran == 2 and res.logged == 2 and not res.failed
    uri = tracking.resolve_uri()
    client = MlflowClient(uri)
    for rec in res.records:
        d = RunRecord.read(str(tmp_path / "results" / "runs" / p.id / f"{rec.run_key}.npz")).diagnostics
        assert d["loss"]["step"].tolist() == list(range(25))  # the 26th query raises BudgetExhausted
        np.testing.assert_allclose(d["loss"]["value"], 1.0 / np.arange(1, 26))
        assert d["fit/r2"]["value"].tolist() == [0.5]
        info = tracking.complete_runs(p.name, uri)[rec.run_key]
        hist = sorted(client.get_metric_history(info["run_id"], "diag/loss"), key=lambda h: h.step)
        assert [h.step for h in hist] == list(range(25))
        np.testing.assert_allclose([h.value for h in hist], d["loss"]["value"])
        assert [h.value for h in client.get_metric_history(info["run_id"], "diag/fit/r2")] == [0.5]
    from harness.oracle import OracleView

    assert "log_diagnostic" in OracleView.EXPOSED
    o = make_oracle(p)
    for bad in ({"name": "", "value": 1.0, "step": 0}, {"name": "a!", "value": 1.0, "step": 0},
                {"name": "x", "value": "high", "step": 0}, {"name": "x", "value": 1.0, "step": 1.5}):
        with pytest.raises(ConfigError, match="log_diagnostic"):
            o.view().log_diagnostic(**bad)


def test_default_store_is_sqlite_under_results(tmp_path, monkeypatch):
    monkeypatch.setenv("NAS_HARNESS_RESULTS", str(tmp_path / "res"))
    assert tracking.resolve_uri() == f"sqlite:///{tmp_path / 'res' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    assert tracking.resolve_uri() == "http://127.0.0.1:5999"
    assert tracking.resolve_uri("sqlite:///x.db") == "sqlite:///x.db"


def test_time_budgeted_runs_log_their_simulated_clock_and_costs(tmp_path):
    """A time protocol's run shows its curve against simulated seconds in MLflow, and the
    Pareto hypervolume and incumbent costs as run metrics."""
    from dataclasses import replace

    from mlflow.tracking import MlflowClient

    from harness import metrics
    from harness.protocol import load_protocol

    p = replace(load_protocol("nb201-cifar10-time"), seeds=(0,))
    rec = execute(Job(p, "random", 0))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    (rid,) = tracking.log_records([rec], uri)
    run = MlflowClient(uri).get_run(rid)
    assert run.data.params["time_budget"] == str(p.time_budget)
    m = run.data.metrics
    assert m["hypervolume"] == metrics.run_pareto(rec)[1]
    assert m["incumbent_cost_latency"] == metrics.incumbent_costs([rec], "latency")[0]
    hist = MlflowClient(uri).get_metric_history(rid, "incumbent_report_by_time")
    assert hist[-1].step <= p.time_budget and 0 < len(hist) <= rec.n_queries
    secs = np.array([h.step for h in hist], dtype=float)
    np.testing.assert_allclose([h.value for h in hist], metrics.at_times([rec], secs)[0][0])
