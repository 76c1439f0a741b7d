"""MLflow round trip on a temporary SQLite store; raw records round trip without pickle."""

import json

import numpy as np

from harness import tracking
from harness.protocol import Protocol
from harness.record import RunRecord
from harness.runner import Job, execute


def _records(n=2, budget=40):
    p = Protocol.adhoc("nb201-analog", budget, n)
    return [execute(Job(p, "random", s)) for s in p.seeds]


def test_record_json_round_trip(tmp_path):
    (rec,) = _records(1)
    path = rec.write(str(tmp_path / "r.json"))
    json.load(open(path))  # plain JSON, no pickle
    back = RunRecord.read(path)
    assert back.meta == json.loads(json.dumps(rec.meta))
    for k, v in rec.trajectory.items():
        assert np.array_equal(np.asarray(back.trajectory[k]), np.asarray(v)), k


def test_record_round_trip_rebuilds_incumbents_for_a_minimised_metric(tmp_path):
    """The file stores no incumbent columns; reading rebuilds them exactly as the oracle made
    them, also for a metric to minimise (latency) where many architectures tie."""
    p = Protocol.adhoc("nasbench-graph", 300, 1, dataset="cora", search_metric="latency",
                       report_metric="latency", counting="all")
    rec = execute(Job(p, "random", 0, {"replace": True}))
    assert rec.meta["maximize"] is False
    stored = json.loads(rec.encode())["trajectory"]
    assert not any(k.startswith("incumbent_") for k in stored)
    back = RunRecord.read(rec.write(str(tmp_path / "r.json"), text=rec.encode()))
    assert list(back.trajectory) == list(rec.trajectory)
    for k, v in rec.trajectory.items():
        assert np.array_equal(np.asarray(back.trajectory[k]), np.asarray(v)), k
    inc = back.trajectory["incumbent_search"]
    assert np.all(np.diff(inc) <= 0) and inc[-1] == back.trajectory["search"].min()


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

    hist = MlflowClient(uri).get_metric_history(ids[0], "incumbent_report")
    assert [m.step for m in hist] == list(range(1, 41))
    np.testing.assert_allclose([m.value for m in hist], recs[0].trajectory["incumbent_report"])
    back = tracking.load_record(ids[1], uri)
    assert back.run_key == recs[1].run_key
    np.testing.assert_array_equal(back.trajectory["index"], recs[1].trajectory["index"])


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
