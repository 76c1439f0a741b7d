"""NB301 surrogate predictions: batched vs one architecture per call, and cached repeats.

Needs a NB301 model folder (``--data DIR`` or the one registered with ``nas-harness data
prepare nb301 DIR``) and the optional extra ``[nb301]``. For ``--n`` distinct random DARTS
genotypes it times, each on a freshly loaded benchmark: one ``predict`` call per genotype, one
``predict`` call for all of them, then the same batch again (served from the in-memory cache).
It checks that the batched and one-by-one values are identical.
"""

from __future__ import annotations

import time

import numpy as np


def add_arguments(p) -> None:
    p.add_argument("--data", metavar="DIR", help="NB301 model folder (default: the registered one)")
    p.add_argument("--n", type=int, default=1000, help="distinct genotypes (default 1000)")
    p.add_argument("--seed", type=int, default=0)


def main(args) -> int:
    from harness.benchmarks.nb301 import load

    t0 = time.perf_counter()
    single = load(data=args.data)
    t_load = time.perf_counter() - t0
    batched = load(data=args.data)
    space = single.space
    rng = np.random.default_rng(args.seed)
    archs, seen = [], set()
    while len(archs) < args.n:
        a = space.sample(rng)
        if space.key(a) not in seen:
            seen.add(space.key(a))
            archs.append(a)
    metric = single.default_search
    t0 = time.perf_counter()
    one = np.array([single.predict([a], metric)[0] for a in archs])
    t_one = time.perf_counter() - t0
    t0 = time.perf_counter()
    many = batched.predict(archs, metric)
    t_batch = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = batched.predict(archs, metric)
    t_cached = time.perf_counter() - t0
    n = len(archs)
    members = getattr(single.models[metric], "n_members", "?")
    print(f"benchmark: {single.version} ({single.notes}); {members} members; load {t_load:.2f} s")
    print(f"one per call: {n / t_one:10,.0f} archs/s  ({1e3 * t_one / n:.3f} ms/arch)")
    print(f"one batch:    {n / t_batch:10,.0f} archs/s  ({1e3 * t_batch / n:.3f} ms/arch)  speed-up {t_one / t_batch:.1f}x")
    print(f"cached batch: {n / t_cached:10,.0f} archs/s  ({1e6 * t_cached / n:.1f} us/arch)")
    print(f"max |batched - one by one| = {np.abs(many - one).max():.3g}; cached identical: {np.array_equal(again, many)}")
    print(f"{metric}: mean {many.mean():.3f}, min {many.min():.3f}, max {many.max():.3f} over {n} random genotypes")
    return 0
