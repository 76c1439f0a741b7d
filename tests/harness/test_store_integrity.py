"""The store never double-counts and never loses a run, whatever is killed when.

Real launcher subprocesses, a real SQLite MLflow store: SIGKILL of the launcher and its pool
workers at random moments, then a resume; two launchers at once on one results folder; a kill
while the store is being created; a closed-port tracking server; ``sync`` twice.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
RECORD = "[0-9a-f]" * 16 + ".npz"


def _env(results: Path) -> dict:
    env = dict(os.environ, NAS_HARNESS_RESULTS=str(results), PYTHONUNBUFFERED="1")
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def _start(results: Path, *args) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "harness", "run", "--no-progress", *args]
    return subprocess.Popen(cmd, cwd=ROOT, env=_env(results), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the launcher and its pool workers
    except ProcessLookupError:
        pass
    proc.communicate()


def _records(results: Path) -> list[Path]:
    return list((results / "runs").glob(f"*/{RECORD}"))


def _leftovers(results: Path) -> list[Path]:
    return [p for p in (results / "runs").rglob("*") if p.is_file() and not p.match(RECORD)]


def _store(results: Path) -> dict:
    """Independent look at the SQLite store: active runs by status, run keys, duplicates."""
    con = sqlite3.connect(results / "mlflow.db")
    try:
        rows = con.execute(
            "SELECT r.status, t.value FROM runs r LEFT JOIN tags t ON t.run_uuid = r.run_uuid AND t.key = 'run_key' "
            "WHERE r.lifecycle_stage = 'active' AND r.name NOT LIKE 'report%'").fetchall()
    finally:
        con.close()
    keys = [k for _, k in rows]
    return {"finished": sum(s == "FINISHED" for s, _ in rows), "running": sum(s == "RUNNING" for s, _ in rows),
            "failed": sum(s == "FAILED" for s, _ in rows), "keys": set(keys), "duplicates": len(keys) - len(set(keys))}


def _assert_exact(results: Path, n: int) -> None:
    recs = _records(results)
    assert len(recs) == n
    st = _store(results)
    assert (st["finished"], st["running"], st["duplicates"]) == (n, 0, 0), st
    assert st["keys"] == {p.stem for p in recs}
    assert _leftovers(results) == []


def test_sigkill_at_random_moments_then_resume_loses_and_duplicates_nothing(tmp_path):
    # a sweep of several seconds of work (runs and their logging take milliseconds each), killed
    # within 0.6 s of its first write, so that every resumed attempt still has work left
    results, n = tmp_path / "results", 1000
    args = ("--seeds", str(n), "--budget", "1000", "--workers", "2")
    rng = np.random.default_rng(1000)
    kills = attempts = 0
    while kills < 3 and attempts < 8:  # three kills of a live sweep, at random moments after it started working
        attempts += 1
        runs = results / "runs"
        before = {p.name for p in runs.rglob("*")} if runs.exists() else set()
        proc = _start(results, *args)
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:  # until it writes (a claim, a staged file, a record)
            if runs.exists() and {p.name for p in runs.rglob("*")} - before:
                break
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.6))
        if proc.poll() is None:
            kills += 1
        _kill(proc)
    assert kills == 3, f"only {kills} of {attempts} sweeps were still running when killed"
    done = subprocess.run([sys.executable, "-m", "harness", "run", "--no-progress", *args], cwd=ROOT,
                          env=_env(results), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    _assert_exact(results, n)
    assert "reused" in done.stdout


def test_two_launchers_at_once_split_the_work_and_log_each_run_once(tmp_path):
    results = tmp_path / "results"
    first = _start(results, "--seeds", "30", "--budget", "200", "--workers", "1")
    second = _start(results, "--seeds", "45", "--budget", "200", "--workers", "1")
    outs = [p.communicate(timeout=300) for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, outs
    _assert_exact(results, 45)
    import re

    made = [int(re.search(r"(\d+) runs done", o).group(1)) for o, _ in outs]
    assert sum(made) == 45, outs  # no run computed twice


def test_a_kill_during_store_creation_leaves_no_half_made_store(tmp_path):
    results = tmp_path / "results"
    proc = _start(results, "--seeds", "2", "--budget", "30", "--workers", "1")
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        if results.exists() and list(results.glob(".mlflow.db.creating*")):
            break
        time.sleep(0.01)
    time.sleep(0.3)  # well inside MLflow's migrations
    _kill(proc)
    assert not (results / "mlflow.db").exists() or (results / "mlflow.db").stat().st_size > 0
    done = subprocess.run([sys.executable, "-m", "harness", "run", "--no-progress", "--seeds", "2", "--budget", "30"],
                          cwd=ROOT, env=_env(results), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "warning" not in done.stderr, done.stderr
    _assert_exact(results, 2)
    assert not list(results.glob(".mlflow.db.creating*"))


def test_a_damaged_store_is_named_with_the_way_to_recover_and_runs_go_on(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    con = sqlite3.connect(results / "mlflow.db")  # what a kill during an old, unlocked creation left
    con.execute("CREATE TABLE alembic_version (version_num TEXT)")
    con.execute("CREATE TABLE _alembic_tmp_trace_tags (x TEXT)")
    con.commit()
    con.close()
    done = subprocess.run([sys.executable, "-m", "harness", "run", "--no-progress", "--seeds", "1", "--budget", "20"],
                          cwd=ROOT, env=_env(results), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0
    warn = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(warn) == 1 and "is damaged" in warn[0] and "mv " in warn[0] and "nas-harness sync" in warn[0]
    assert len(_records(results)) == 1  # the run is kept in the raw records


def _closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_a_closed_port_costs_seconds_and_prints_the_sync_command_with_its_uri(tmp_path):
    results = tmp_path / "results"
    args = [sys.executable, "-m", "harness", "run", "--no-progress", "--seeds", "2", "--budget", "50", "--rerun"]
    env = _env(results)
    subprocess.run(args, cwd=ROOT, env=env, capture_output=True, timeout=300, check=True)  # the local store exists
    t0 = time.perf_counter()
    subprocess.run(args, cwd=ROOT, env=env, capture_output=True, timeout=300, check=True)
    local = time.perf_counter() - t0
    dead = _closed_port()
    t0 = time.perf_counter()
    res = subprocess.run(args + ["--tracking-uri", dead], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    closed = time.perf_counter() - t0
    assert res.returncode == 0, res.stderr
    assert closed < 2 * local, (closed, local)
    assert f"nas-harness sync --tracking-uri {dead}" in res.stderr
    assert res.stderr.count("warning") == 1  # warned once, at the start


@pytest.mark.parametrize("uri", ["notascheme://x", "http://[bad", "http://", "sqlite://relative.db"])
def test_a_malformed_tracking_uri_exits_2_before_any_run(tmp_path, uri):
    results = tmp_path / "results"
    res = subprocess.run([sys.executable, "-m", "harness", "run", "--no-progress", "--seeds", "1", "--budget", "10",
                          "--tracking-uri", uri], cwd=ROOT, env=_env(results), capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "tracking URI" in res.stderr
    assert not (results / "runs").exists() or _records(results) == []


def test_sync_twice_logs_nothing_the_second_time_failed_runs_included(tmp_path, monkeypatch):
    from harness import tracking
    from harness.protocol import Protocol
    from harness.runner import Job
    from harness.sweep import run_sweep, sync

    p = Protocol.adhoc("nb201-analog", 20, 6)
    jobs = [Job(p, a, s) for a in ("random", "tests.harness.plugin_algorithms:Boom") for s in p.seeds]
    res = run_sweep(jobs, tracking_uri=_closed_port())
    assert res.ran == 12 and 0 < res.failed < 6 and res.logged == 0
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    assert sync(p.id, uri) == (12, 0)
    assert sync(p.id, uri) == (0, 12)
    st = _store_of(tmp_path / "m.db")
    assert st["finished"] + st["failed"] == 12 and st["failed"] == res.failed and st["duplicates"] == 0
    # a resume re-runs the failed ones (their records are replaced), still one MLflow run per key
    again = run_sweep(jobs, tracking_uri=uri)
    assert again.ran == res.failed and again.skipped == 12 - res.failed
    st = _store_of(tmp_path / "m.db")
    assert st["finished"] + st["failed"] == 12 and st["duplicates"] == 0
    assert len(tracking.mlflow_records(p.name, p.id, uri)) == 12


def _store_of(db: Path) -> dict:
    con = sqlite3.connect(db)
    try:
        rows = con.execute("SELECT r.status, t.value FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid "
                           "AND t.key = 'run_key' WHERE r.lifecycle_stage = 'active'").fetchall()
    finally:
        con.close()
    keys = [k for _, k in rows]
    return {"finished": sum(s == "FINISHED" for s, _ in rows), "failed": sum(s == "FAILED" for s, _ in rows),
            "duplicates": len(keys) - len(set(keys))}


def test_reading_back_from_mlflow_skips_partial_runs_and_keeps_one_per_key(tmp_path):
    from mlflow.tracking import MlflowClient

    from harness import tracking
    from harness.protocol import Protocol
    from harness.runner import Job
    from harness.sweep import run_sweep

    uri = f"sqlite:///{tmp_path / 'm.db'}"
    p = Protocol.adhoc("nb201-analog", 20, 3)
    res = run_sweep([Job(p, "random", s) for s in p.seeds], tracking_uri=uri)
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(tracking.experiment_name(p.name))
    # a logging attempt killed half-way: a RUNNING run with the same key and no record.json
    client.create_run(exp.experiment_id, tags={"run_key": res.records[0].run_key, "protocol": p.name})
    back = tracking.mlflow_records(p.name, p.id, uri)
    assert sorted(r.run_key for r in back) == sorted(r.run_key for r in res.records)
    # logging the record again replaces the partial run: one run for the key
    tracking.log_record(res.records[0], uri)
    runs = tracking.runs_of_key(client, exp.experiment_id, res.records[0].run_key)
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
