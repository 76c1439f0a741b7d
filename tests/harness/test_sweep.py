"""Sweeps: resume without duplicates, failures recorded, sync after an unreachable store,
Ray = local pool, and a real MLflow server on 127.0.0.1."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

from harness import tracking
from harness.protocol import Protocol
from harness.record import RunRecord
from harness.runner import Job
from harness.sweep import read_records, run_sweep, sync

BOOM = "tests.harness.plugin_algorithms:Boom"


def _jobs(n=5, budget=30, algorithms=("random",)):
    p = Protocol.adhoc("nb201-analog", budget, n)
    return p, [Job(p, a, s) for a in algorithms for s in p.seeds]


def _comparable(rec):
    t = {k: np.asarray(v).tolist() for k, v in rec.trajectory.items() if k != "time"}
    m = {k: v for k, v in rec.meta.items() if k not in ("wall_time", "attempt", "provenance")}  # provenance of one execution
    return m, t


@pytest.mark.parametrize("workers", [1, 2])
def test_interrupted_sweep_resumes_only_missing_jobs(tmp_path, workers):
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    p, jobs = _jobs(5)
    seen = []

    def interrupt_after_two(rec):
        seen.append(rec.run_key)
        if len(seen) == 2:
            raise KeyboardInterrupt

    first = run_sweep(jobs, tracking_uri=uri, on_record=interrupt_after_two, workers=workers)
    assert first.interrupted and first.ran == 2
    assert len(read_records(p.id)) == 2  # finished runs kept
    from harness.paths import runs_dir

    assert sorted(f.suffix for f in runs_dir(p.id).iterdir()) == [".npz", ".npz"]  # no staged leftovers
    second = run_sweep(jobs, tracking_uri=uri, workers=workers)
    assert second.skipped == 2 and second.ran == 3 and not second.interrupted
    third = run_sweep(jobs, tracking_uri=uri)
    assert third.ran == 0 and third.skipped == 5 and third.logged == 0
    df = tracking.search_runs(p.name, uri)
    assert len(df) == 5 and df["tags.run_key"].nunique() == 5  # no duplicate MLflow runs


def test_a_crashing_run_is_recorded_as_failed_and_the_others_complete(tmp_path):
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    p, jobs = _jobs(6, algorithms=(BOOM,))
    res = run_sweep(jobs, tracking_uri=uri)
    assert res.ran == 6 and 0 < res.failed < 6
    statuses = {r.meta["seed"]: r.meta["status"] for r in res.records}
    failed = [r for r in res.records if r.meta["status"] == "failed"]
    assert all("RuntimeError: boom" in r.meta["error"] for r in failed)
    assert all(r.n_queries == 3 for r in failed)  # the trajectory up to the crash is kept
    df = tracking.search_runs(p.name, uri)
    assert sorted(df["status"]) == sorted("FAILED" if s == "failed" else "FINISHED" for s in statuses.values())
    assert df.loc[df["status"] == "FAILED", "tags.error"].str.contains("boom").all()


def test_records_written_while_the_store_is_unreachable_are_synced_later(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    p, jobs = _jobs(3)
    res = run_sweep(jobs, tracking_uri=dead)
    assert res.ran == 3 and res.logged == 0 and res.log_error
    assert len(read_records(p.id)) == 3  # nothing lost
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    assert sync(p.id, uri) == (3, 0)
    assert sync(p.id, uri) == (0, 3)  # idempotent
    assert len(tracking.search_runs(p.name, uri)) == 3


def test_same_records_on_the_process_pool_as_in_process(tmp_path, monkeypatch):
    _, jobs = _jobs(4, algorithms=("random",))
    monkeypatch.setenv("NAS_HARNESS_RESULTS", str(tmp_path / "a"))
    inproc = {r.run_key: _comparable(r) for r in run_sweep(jobs, workers=1, log=False).records}
    monkeypatch.setenv("NAS_HARNESS_RESULTS", str(tmp_path / "b"))
    pooled = {r.run_key: _comparable(r) for r in run_sweep(jobs, workers=2, log=False).records}
    assert inproc == pooled
    # pool workers stage the encoded record, the writer renames it: the files read back alike
    on_disk = {r.run_key: _comparable(r) for r in read_records(jobs[0].protocol.id)}
    assert on_disk == pooled
    runs = tmp_path / "b" / "runs" / jobs[0].protocol.id
    assert sorted(f.suffix for f in runs.iterdir()) == [".npz"] * len(jobs)  # no staged parts left


def test_ray_executor_gives_the_same_records_as_the_local_pool(tmp_path, monkeypatch):
    ray = pytest.importorskip("ray", reason="Ray is installed with the [ray] extra")
    _, jobs = _jobs(3, algorithms=("random", "tests.harness.plugin_algorithms:Greedy"))
    monkeypatch.setenv("NAS_HARNESS_RESULTS", str(tmp_path / "local"))
    local = {r.run_key: _comparable(r) for r in run_sweep(jobs, workers=2, log=False).records}
    monkeypatch.setenv("NAS_HARNESS_RESULTS", str(tmp_path / "ray"))
    from harness.ray_local import code_path_env, connect

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    connect(None, num_cpus=2, runtime_env=code_path_env())  # the harness's one way: loopback-only local runtime
    try:
        via_ray = {r.run_key: _comparable(r) for r in run_sweep(jobs, executor="ray", log=False).records}
    finally:
        ray.shutdown()
    assert via_ray == local and len(local) == 6


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_real_mlflow_server_receives_a_sweep_and_serves_it_back(tmp_path):
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--artifacts-destination", str(tmp_path / "artifacts"), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 90
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=2)
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    pytest.fail("mlflow server did not start on 127.0.0.1")
                time.sleep(0.5)
        p, jobs = _jobs(3, budget=25)
        res = run_sweep(jobs, tracking_uri=url)
        assert res.logged == 3 and not res.log_error
        req = urllib.request.Request(f"{url}/api/2.0/mlflow/experiments/get-by-name?experiment_name="
                                     f"{tracking.experiment_name(p.name).replace('/', '%2F')}")
        exp_id = json.load(urllib.request.urlopen(req, timeout=10))["experiment"]["experiment_id"]
        body = json.dumps({"experiment_ids": [exp_id], "max_results": 100}).encode()
        req = urllib.request.Request(f"{url}/api/2.0/mlflow/runs/search", data=body,
                                     headers={"Content-Type": "application/json"})
        runs = json.load(urllib.request.urlopen(req, timeout=10))["runs"]
        assert len(runs) == 3
        keys = {t["value"] for r in runs for t in r["data"]["tags"] if t["key"] == "run_key"}
        assert keys == {j.key() for j in jobs}
        rid = runs[0]["info"]["run_id"]
        hist = json.load(urllib.request.urlopen(
            f"{url}/api/2.0/mlflow/metrics/get-history?run_id={rid}&metric_key=incumbent_report", timeout=10))
        rec = next(r for r in res.records if r.run_key == next(t["value"] for t in runs[0]["data"]["tags"]
                                                                if t["key"] == "run_key"))
        steps, vals = tracking.staircase(rec.trajectory["incumbent_report"])
        got = sorted((int(m["step"]), m["value"]) for m in hist["metrics"])
        assert got == list(zip(steps.tolist(), vals.tolist())) and got[-1][0] == 25
        back = {r.run_key: r for r in tracking.mlflow_records(p.name, uri=url)}  # artifacts over HTTP
        assert set(back) == keys
        np.testing.assert_array_equal(back[rec.run_key].trajectory["search"], rec.trajectory["search"])
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_forked_pool_gives_the_same_records_and_the_start_method_is_chosen_safely(tmp_path, monkeypatch):
    """In a clean launcher on Linux the pool forks; the records equal the in-process ones."""
    from harness.errors import ConfigError
    from harness.runner import start_method

    script = (
        "import os, sys\n"
        "from harness.protocol import Protocol\n"
        "from harness.runner import Job, start_method\n"
        "from harness.sweep import run_sweep\n"
        "print(start_method())\n"
        "p = Protocol.adhoc('nb201-analog', 40, 4)\n"
        "jobs = [Job(p, a, s) for a in ('random', 'evolution') for s in p.seeds]\n"
        "for w, d in ((2, 'pool'), (1, 'inproc')):\n"
        "    os.environ['NAS_HARNESS_RESULTS'] = os.path.join(sys.argv[1], d)\n"
        "    assert run_sweep(jobs, workers=w, log=False).ran == len(jobs)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "NAS_HARNESS_START_METHOD"}
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == ("fork" if sys.platform == "linux" else "spawn")

    def load(d):
        recs = {}
        for f in (tmp_path / d / "runs").rglob("*.npz"):
            r = RunRecord.read(str(f)).to_dict()
            r["meta"].pop("wall_time"), r["meta"].pop("attempt"), r["meta"].pop("provenance")
            r["trajectory"].pop("time")
            recs[f.name] = r
        return recs

    pool, inproc = load("pool"), load("inproc")
    assert len(pool) == 8 and pool == inproc
    import torch  # noqa: F401  (a launcher that imported torch never forks)

    assert start_method() == "spawn"
    monkeypatch.setenv("NAS_HARNESS_START_METHOD", "forkserver")
    assert start_method() == "forkserver"
    monkeypatch.setenv("NAS_HARNESS_START_METHOD", "vfork")
    with pytest.raises(ConfigError, match="spawn, fork, forkserver"):
        start_method()
