"""Sweep throughput: a 100-run sweep with 1 vs 2 local workers, and Ray's per-run overhead.

Each run is random search on ``nb201-analog`` with ``all`` counting and replacement (a
CPU-bound run of about a tenth of a second; ``--budget`` sets its length). Pool start-up is
included in the timings: that is what a user waits for. Raw records go to a temporary folder
and nothing is logged to MLflow, so only execution is measured. Target: 2 workers at least
1.8x faster than 1 on 2 cores.
"""

from __future__ import annotations

import os
import tempfile
import time


def add_arguments(p) -> None:
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--budget", type=int, default=10000, help="counted queries per run")
    p.add_argument("--ray", action="store_true", help="also measure the Ray executor (needs the [ray] extra)")


def main(args) -> int:
    from harness.protocol import Protocol
    from harness.runner import Job
    from harness.sweep import run_sweep

    p = Protocol.adhoc("nb201-analog", args.budget, args.runs, counting="all")
    jobs = [Job(p, "random", s, {"replace": True}) for s in p.seeds]

    def timed(**kw):
        with tempfile.TemporaryDirectory() as d:
            os.environ["NAS_HARNESS_RESULTS"] = d
            t0 = time.perf_counter()
            res = run_sweep(jobs, log=False, **kw)
            dt = time.perf_counter() - t0
        assert res.ran == len(jobs) and res.failed == 0
        return dt

    t1 = timed(workers=1)
    t2 = timed(workers=2)
    print(f"{len(jobs)} runs x {args.budget} queries (random search, nb201-analog)")
    print(f"1 worker : {t1:7.2f} s  ({t1 / len(jobs) * 1000:.1f} ms/run)")
    print(f"2 workers: {t2:7.2f} s  ({t2 / len(jobs) * 1000:.1f} ms/run)")
    print(f"speed-up 2 vs 1 workers: {t1 / t2:.2f}x   (target >= 1.8x on 2 cores)")
    if args.ray:
        import ray

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        try:
            ray.get(ray.remote(lambda: 0).remote())  # start-up excluded from the per-run figure
            tr = timed(workers=2, executor="ray")
        finally:
            ray.shutdown()
        print(f"ray (2 CPUs): {tr:7.2f} s  ({tr / len(jobs) * 1000:.1f} ms/run); "
              f"overhead vs local pool: {(tr - t2) / len(jobs) * 1000:+.1f} ms/run ({tr / t2:.2f}x)")
    return 0
