"""Cached load of all NAS-Bench-101 cells: seconds and peak memory (targets: < 2 s, < 1 GB).

Uses the prepared NB101 cache when there is one (``nas-harness data prepare nb101 PATH``);
otherwise it writes a synthetic cache of 423,624 cells in the same format (random hashes, cell
codes and numbers, 3 runs at 108 epochs; ``--full`` adds 4/12/36 epochs like the full file) to
a temporary folder and says so. The load runs in a fresh Python process so that its peak RSS
(``resource.getrusage``) is the load's own: read + sha256 check of the npz, the benchmark's
columns, the means of the search/report metrics and the cell -> row index the oracle uses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

_CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import harness.benchmarks.nb101 as B
from harness.data import nb101 as D
t_import = time.perf_counter() - t0
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t1 = time.perf_counter()
cache = D.load()
t_read = time.perf_counter() - t1
bench = B.from_cache(cache)
bench.mean(bench.default_search); bench.mean(bench.default_report)
t_bench = time.perf_counter() - t1
n = len(bench.space._row_of_code)
t_total = time.perf_counter() - t1
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    hwm = int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
except (OSError, StopIteration):
    hwm = rss
print(json.dumps({"cells": bench.space.size, "rows_indexed": n, "read_s": t_read, "benchmark_s": t_bench,
                  "total_s": t_total, "import_s": t_import, "rss_before_kb": rss0, "peak_rss_kb": rss, "vm_hwm_kb": hwm,
                  "bytes": cache.meta["bytes"], "metrics": list(bench.metrics)}))
"""


def add_arguments(p) -> None:
    p.add_argument("--synthetic", action="store_true", help="use a synthetic cache even if a real one is prepared")
    p.add_argument("--full", action="store_true", help="synthetic cache with 4/12/36/108 epochs (like nasbench_full)")
    p.add_argument("--repeats", type=int, default=3, help="timed loads (default 3; the best is reported)")
    p.add_argument("--cells", type=int, default=423_624,
                   help="cells of the synthetic cache (default 423,624, all of NB101; fewer for a quick check)")


def synthetic_cache(root, full: bool = False, n: int = 423_624, seed: int = 0) -> None:
    """Write a synthetic NB101 cache of ``n`` cells in the real format under ``root``."""
    from harness.data import cache
    from harness.data.nb101 import EPOCHS

    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    hashes = np.array([bytes(r).hex().encode() for r in raw], dtype="S32")
    order = np.argsort(hashes)
    codes = rng.choice(1 << 34, size=n, replace=False).astype(np.int64)
    arrays = {"hashes": hashes[order], "codes": codes, "parameters": rng.integers(200_000, 50_000_000, size=n)}
    for e in EPOCHS if full else (108,):
        arrays[f"training_time_{e}"] = rng.uniform(100, 5000, size=(n, 3))
        arrays[f"valid_accuracy_{e}"] = rng.uniform(10, 95, size=(n, 3))
        arrays[f"test_accuracy_{e}"] = rng.uniform(10, 95, size=(n, 3))
    meta = {"benchmark": "nb101", "synthetic": True, "cells": n, "epochs": list(EPOCHS if full else (108,)), "repeats": 3}
    cache.write("nb101", arrays, meta, root=root)


def _with_path(env: dict) -> dict:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(env)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


def main(args) -> int:
    from harness.data import cache
    from harness.errors import ConfigError

    if args.cells < 1 or args.repeats < 1:
        raise ConfigError(f"--cells and --repeats must be positive integers, got {args.cells} and {args.repeats}")
    from harness.paths import cache_dir

    env = dict(os.environ)
    real = False
    tmp = None
    if not args.synthetic:
        try:
            side = cache.read_sidecar("nb101")
            real = side is not None and not side.get("meta", {}).get("synthetic")
        except Exception:
            real = False
    if real:
        where = f"the prepared NB101 cache in {cache_dir()}"
    else:
        tmp = tempfile.TemporaryDirectory(prefix="nas-harness-bench-")
        t0 = time.perf_counter()
        # in its own process, so that this one stays small (a child inherits its parent's
        # peak RSS as its own starting ru_maxrss on Linux)
        gen = (f"from harness.bench.data import synthetic_cache; "
               f"synthetic_cache({tmp.name!r}, full={bool(args.full)}, n={int(args.cells)})")
        subprocess.run([sys.executable, "-c", gen], env=_with_path(env), check=True)
        env["NAS_HARNESS_CACHE"] = tmp.name
        where = (f"a SYNTHETIC cache of {args.cells:,} cells ({'4/12/36/108' if args.full else '108'} epochs, same format; "
                 f"written in {time.perf_counter() - t0:.1f} s): no prepared NB101 cache found")
    env = _with_path(env)
    runs = []
    try:
        for _ in range(max(1, args.repeats)):
            out = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True)
            if out.returncode:
                print(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "load failed", file=sys.stderr)
                return 2
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    finally:
        if tmp is not None:
            tmp.cleanup()
    best = min(runs, key=lambda r: r["total_s"])
    peak = max(r["peak_rss_kb"] for r in runs) / 1024
    print(f"data: {where}")
    print(f"cells: {best['cells']:,}  cache file: {best['bytes'] / 1e6:.0f} MB  metrics: {', '.join(best['metrics'])}")
    print(f"load (read + sha256 + arrays):        {best['read_s']:.2f} s")
    print(f"+ benchmark columns and means:        {best['benchmark_s']:.2f} s")
    print(f"+ cell -> row index for the oracle:   {best['total_s']:.2f} s total  (best of {len(runs)})")
    hwm = max(r["vm_hwm_kb"] for r in runs) / 1024
    print(f"peak RSS of the loading process:      {peak:,.0f} MB by getrusage (VmHWM {hwm:,.0f} MB; after imports: {best['rss_before_kb'] / 1024:,.0f} MB)")
    ok = best["total_s"] < 2.0 and peak < 1024
    print(f"targets < 2 s and < 1 GB: {'met' if ok else 'NOT met'}")
    return 0
