"""Cached load of all NAS-Bench-101 cells, and the enumeration of the NB101 space: seconds and peak memory.

Two figures, each measured in fresh Python processes so that the peak RSS (``resource.getrusage``)
is the measured step's own:

* *load* (targets < 2 s, < 1 GB): the prepared NB101 cache when there is one (``nas-harness
  data prepare nb101 PATH``); otherwise a synthetic cache of 423,624 cells in the same format
  (random hashes, cell codes and numbers, 3 runs at 108 epochs; ``--full`` adds 4/12/36 epochs
  like the full file) written to a temporary folder, and said so. Timed: read + sha256 check of
  the npz, the benchmark's columns, the means of the search/report metrics and the cell -> row
  index the oracle uses.
* *enumeration* (targets: < 60 s on 2 cores; cached index load < 2 s, < 1 GB): the whole space
  enumerated from scratch into a temporary cache (:func:`harness.data.nb101_space.load_index`'s
  computation, ``--workers`` processes; peak RSS of the enumerating process and of its largest
  worker), then the cached hash index read back in another process (read + sha256 check, the
  finite view over all cells, the rows of 20,001 hashes looked up as a table load does).
"""

from __future__ import annotations

import argparse
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


_ENUM_CHILD = r"""
import json, resource, sys, time
from harness.data import cache, nb101_space
from harness.spaces.nb101_enumerate import enumerate_space
workers, max_vertices = int(sys.argv[1]), int(sys.argv[2])
t0 = time.perf_counter()
hashes, codes = enumerate_space(workers=workers, max_vertices=max_vertices)
secs = time.perf_counter() - t0
cache.write(nb101_space.CACHE_NAME, {"hashes": hashes, "codes": codes}, {"cells": int(hashes.size), "seconds": secs})
total = time.perf_counter() - t0
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
print(json.dumps({"cells": int(hashes.size), "distinct": int(len(set(hashes.tolist()))), "enumerate_s": secs, "cpu_s": cpu,
                  "with_write_s": total, "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "workers_peak_rss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""

_INDEX_CHILD = r"""
import json, resource, time
t0 = time.perf_counter()
import numpy as np
from harness.data import cache, nb101_space
from harness.spaces.nb101 import NB101TableSpace
t_import = time.perf_counter() - t0
t1 = time.perf_counter()
c = cache.read(nb101_space.CACHE_NAME)
space = NB101TableSpace(c.arrays["hashes"], c.arrays["codes"])
keys = space.hashes[:: max(1, space.size // 20001)][:20001]
rows = nb101_space.rows_of_hashes(space.hashes, keys)
assert (rows >= 0).all()
cells = [space.arch_at(int(r)) for r in rows[:1000]]
total = time.perf_counter() - t1
print(json.dumps({"cells": space.size, "load_s": total, "import_s": t_import, "bytes": c.meta["bytes"],
                  "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def add_arguments(p) -> None:
    p.add_argument("--what", choices=("all", "load", "enumeration"), default="all",
                   help="which figures: the cached NB101 load, the space's enumeration, or both (default)")
    p.add_argument("--workers", type=int, default=2, help="enumeration worker processes (default 2)")
    p.add_argument("--max-vertices", type=int, default=7, help=argparse.SUPPRESS)  # smaller spaces for smoke tests
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
    if args.what in ("all", "enumeration"):
        rc = enumeration(args)
        if rc:
            return rc
    if args.what in ("all", "load"):
        return load(args)
    return 0


def _child(code: str, env: dict, *argv) -> dict | None:
    out = subprocess.run([sys.executable, "-c", code, *map(str, argv)], env=env, capture_output=True, text=True)
    if out.returncode:
        print(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "bench child failed", file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def enumeration(args) -> int:
    """Enumerate the NB101 space into a temporary cache, then time the cached index's load."""
    with tempfile.TemporaryDirectory(prefix="nas-harness-bench-enum-") as tmp:
        env = _with_path(dict(os.environ))
        env["NAS_HARNESS_CACHE"] = tmp
        e = _child(_ENUM_CHILD, env, max(1, args.workers), args.max_vertices)
        if e is None:
            return 2
        loads = [_child(_INDEX_CHILD, env) for _ in range(max(1, args.repeats))]
        if any(r is None for r in loads):
            return 2
    best = min(loads, key=lambda r: r["load_s"])
    peak = max(r["peak_rss_kb"] for r in loads) / 1024
    epeak, wpeak = e["peak_rss_kb"] / 1024, e["workers_peak_rss_kb"] / 1024
    cores = os.cpu_count()
    print(f"NB101 enumeration ({args.max_vertices} vertices max, {args.workers} worker process(es), {cores} cores here): "
          f"{e['cells']:,} cells, {e['distinct']:,} distinct hashes")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"enumeration wall time:                {e['enumerate_s']:.1f} s  ({e['with_write_s']:.1f} s with the cache write; "
          f"CPU time of all its processes {e['cpu_s']:.1f} s; load average now {load:.1f})")
    print(f"peak RSS: enumerating process {epeak:,.0f} MB, largest worker {wpeak:,.0f} MB")
    print(f"cached hash index load (read + sha256, all-cells view, 20,001 hashes looked up): "
          f"{best['load_s']:.2f} s (best of {len(loads)}), peak RSS {peak:,.0f} MB, cache file {best['bytes'] / 1e6:.0f} MB")
    ok = e["enumerate_s"] < 60 and best["load_s"] < 2.0 and peak < 1024
    print(f"targets enumeration < 60 s, cached load < 2 s and < 1 GB: {'met' if ok else 'NOT met'}")
    return 0


def load(args) -> int:
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
