"""Tracking cost: a logged sweep of random search to the NB201 CIFAR-10 optimum, its time in
MLflow logging and record writing, its bytes per run, and reading the runs back.

The sweep is what ``nas-harness run --protocol nb201-cifar10-optimum --algorithm random
--seeds N --workers W --data PATH`` runs (4,718 counted queries per run on average for seeds 0-49), into
a fresh temporary results folder with the default SQLite MLflow store. Printed:

* sweep wall time, and the launcher's time committing raw records and logging to MLflow
  (:attr:`harness.sweep.SweepResult.write_time` / ``log_time``) as a share of it (the launcher
  logs a run while the workers search the next ones, so this time overlaps the search); the
  wall time the tracking adds: the same sweep made without MLflow, into its own folder, just
  before and just after the logged one, against the logged one; and the same sweep logged
  through MLflow's client (``NAS_HARNESS_MLFLOW_DIRECT=0``: the writer before the
  one-transaction SQLite writer of :mod:`harness.mlflow_sqlite`), the ratio measured here; the pool
  workers' encoding of the records (done in parallel with the search) is timed again here
  and printed per run;
* bytes per run on disk: the SQLite store, the MLflow artifacts and the raw records;
* the MLflow best-so-far chart of every run against its record's incumbent at every query
  (read back from the store, rebuilt as the chart draws it: see :func:`harness.tracking.staircase`);
* reading the records back (raw folder vs MLflow store), and the wall time of the
  ``nas-harness report --no-plots`` command on each source.

Targets (issue 20): logging + writing at most 10% of the sweep's wall time; bytes per run at
most 10% of the version before record schema 3 (which logged two metric rows per counted
query and stored each trajectory as record.json + trajectory.csv); the chart equals the
staircase. The reference data (the official NB201 table) is needed: ``--data PATH``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np


def add_arguments(p) -> None:
    p.add_argument("--runs", type=int, default=50, help="seeds of random search (default 50)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--data", metavar="PATH", help="the official NB201 table (nats_tss_200ep_test_accuracy.csv)")
    p.add_argument("--keep", metavar="DIR", help="results folder to use and keep (default: a temporary one)")


def _bytes(path: Path, seen: set | None = None) -> int:
    """Bytes of the files under ``path``; a file whose inode is in ``seen`` (a hard link to a file
    counted already) counts nothing, and ``seen`` gains the inodes counted here."""
    seen = set() if seen is None else seen
    if not path.exists():
        return 0
    total = 0
    for f in [path] if path.is_file() else path.rglob("*"):
        if f.is_file():
            st = f.stat()
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total


def _chart_matches(client, run_id: str, rec) -> bool:
    """Whether the logged best-so-far histories, drawn as MLflow's chart joins them, equal the
    record's incumbent at every query."""
    n = rec.n_queries
    q = np.arange(1, n + 1)
    for name in ("incumbent_search", "incumbent_report"):
        hist = sorted(client.get_metric_history(run_id, name), key=lambda h: h.step)
        steps = np.array([h.step for h in hist], dtype=float)
        vals = np.array([h.value for h in hist])
        if not np.array_equal(np.interp(q, steps, vals), rec.trajectory[name]):
            return False
    return True


def main(args) -> int:
    from harness.errors import ConfigError

    if not args.data:
        raise ConfigError("bench tracking needs the official NB201 table: --data PATH "
                          "(nats_tss_200ep_test_accuracy.csv)")
    if args.keep:
        return _measure(args, Path(args.keep))
    with tempfile.TemporaryDirectory() as d:
        return _measure(args, Path(d))


def _measure(args, res_dir: Path) -> int:
    from harness import tracking
    from harness.benchmarks import get_benchmark
    from harness.protocol import load_protocol
    from harness.runner import Job
    from harness.paths import env_override
    from harness.sweep import FLUSH_SECONDS, read_records, run_sweep

    with env_override(NAS_HARNESS_RESULTS=res_dir):
        p = replace(load_protocol("nb201-cifar10-optimum"), data=args.data, seeds=tuple(range(args.runs)))
        get_benchmark(p.benchmark, p.dataset, p.data)  # as `nas-harness run` validates its protocol
        jobs = [Job(p, "random", s) for s in p.seeds]

        from harness import mlflow_sqlite
        from harness.paths import cache_dir

        had_template = (mlflow_sqlite.template_path(cache_dir()) or Path("-")).is_file()

        def other_sweep(folder: str, log: bool, direct: bool = True):  # the same sweep in its own folder
            with env_override(NAS_HARNESS_RESULTS=res_dir / folder, **({} if direct else {mlflow_sqlite.ENV: "0"})):
                t = time.perf_counter()
                r = run_sweep(jobs, workers=args.workers, log=log)
                return time.perf_counter() - t, r

        bare = [other_sweep("no-tracking-0", False)[0]]
        t0 = time.perf_counter()
        res = run_sweep(jobs, workers=args.workers)
        wall = time.perf_counter() - t0
        bare.append(other_sweep("no-tracking-1", False)[0])
        client_wall, client_res = other_sweep("mlflow-client", True, direct=False)
        if res.ran != len(jobs) or res.failed or res.logged != len(jobs):
            raise RuntimeError(f"bench tracking: {res.ran} ran, {res.failed} failed, {res.logged} logged "
                               f"({res.log_error})")
        n = len(jobs)
        queries = np.mean([r.n_queries for r in res.records])
        enc = []
        for r in res.records:
            t = time.perf_counter()
            r.encode()
            enc.append(time.perf_counter() - t)
        inodes: set = set()  # the artifacts are hard links to the raw records: their bytes count once
        db, raw = _bytes(res_dir / "mlflow.db"), _bytes(res_dir / "runs", inodes)
        art_all, art = _bytes(res_dir / "mlartifacts"), _bytes(res_dir / "mlartifacts", inodes)
        uri = tracking.resolve_uri()
        client = tracking._client(uri)
        done = tracking.complete_runs(p.name, uri, client)
        ok = all(_chart_matches(client, done[r.run_key]["run_id"], r) for r in res.records)
        points = np.mean([len(client.get_metric_history(done[r.run_key]["run_id"], "incumbent_search"))
                          for r in res.records[:5]])
        t = time.perf_counter()
        n_raw = len(read_records(p.id))
        t_raw = time.perf_counter() - t
        t = time.perf_counter()
        n_ml = len(tracking.mlflow_records(p.name, p.id, uri))
        t_ml = time.perf_counter() - t
        cli = {}
        for src in ("raw", "mlflow"):
            t = time.perf_counter()
            out = subprocess.run([sys.executable, "-m", "harness", "report", "--protocol", p.name, "--data", args.data,
                                  "--source", src, "--no-plots", "--out", str(res_dir / f"report-{src}")],
                                 capture_output=True, text=True, env=dict(os.environ))
            cli[src] = (time.perf_counter() - t, out.returncode)
    share = (res.log_time + res.write_time) / wall
    added = (wall - float(np.mean(bare))) / wall
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{n} runs of random search to the NB201 CIFAR-10 optimum, {queries:,.0f} queries per run on average, "
          f"{args.workers} workers; load average {load:.1f} on {os.cpu_count()} cores")
    print(f"sweep wall time: {wall:.2f} s ({wall / n * 1000:.0f} ms/run)")
    print(f"launcher: MLflow logging {res.log_time:.2f} s + record writing {res.write_time:.3f} s = {share:.1%} of wall "
          f"(target <= 10%); {(res.log_time + res.write_time) / n * 1000:.1f} ms/run")
    print(f"store: {'a copy of the cached empty store of this MLflow version' if had_template else 'made by MLflow (first use of this MLflow version here: its empty store is cached for later folders)'}; "
          f"runs written by harness.mlflow_sqlite in {res.log_transactions} SQLite transactions for {n} runs "
          f"(the runs that finish within {FLUSH_SECONDS:g} s of each other share one)")
    print(f"the same sweep logged through MLflow's client (NAS_HARNESS_MLFLOW_DIRECT=0, the writer before issue 20's "
          f"fast path): {client_wall:.2f} s wall, logging {client_res.log_time:.2f} s ({client_res.log_time / n * 1000:.1f} ms/run, "
          f"{client_res.log_time / client_wall:.1%} of its wall); one-transaction writer: {res.log_time / max(client_res.log_time, 1e-9):.3f}x its logging time")
    print(f"the same sweep without MLflow (before and after): {bare[0]:.2f} s, {bare[1]:.2f} s: tracking adds "
          f"{added:.1%} to the wall time (target <= 10%; the launcher logs while the workers search)")
    print(f"workers: record encoding {np.mean(enc) * 1000:.1f} ms/run (in parallel with the search)")
    print(f"bytes per run on disk: SQLite store {db / n / 1e3:,.1f} kB + raw records {raw / n / 1e3:,.1f} kB + artifacts "
          f"{art / n / 1e3:,.1f} kB beyond them ({art_all / n / 1e3:,.1f} kB, hard links to the raw records where the "
          f"file system allows) = {(db + art + raw) / n / 1e6:.3f} MB")
    print(f"MLflow best-so-far chart equals the record's staircase at every query: {'yes' if ok else 'NO'} "
          f"({points:.1f} points per curve vs {queries:,.0f} queries)")
    print(f"reading {n_raw} records: raw folder {t_raw:.2f} s, MLflow store {t_ml:.2f} s ({n_ml} records)")
    print(f"`report --no-plots`: --source raw {cli['raw'][0]:.2f} s (exit {cli['raw'][1]}), "
          f"--source mlflow {cli['mlflow'][0]:.2f} s (exit {cli['mlflow'][1]})")
    return 0 if ok and n_ml == n_raw == n and not any(rc for _, rc in cli.values()) else 1
