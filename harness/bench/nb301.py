"""NB301 surrogate predictions: batched vs one architecture per call, cached repeats, and queries/s.

``--benchmark nb301`` (default): the official NB301 ensemble; needs a NB301 model folder
(``--data DIR`` or the one registered with ``nas-harness data prepare nb301 DIR``) and the
optional extra ``[nb301]``. ``--benchmark nb301-yahpo``: the YAHPO surrogate of NB301 (not the
official ensemble); needs ``--data DIR`` (YAHPO Gym's nb301 files) and the extra
``[nb301-yahpo]``.

For ``--n`` distinct random DARTS genotypes it times, each on a freshly loaded benchmark: one
``predict`` call per genotype, one ``predict`` call for all of them, then the same batch again
(served from the in-memory cache). It checks that the batched and one-by-one values agree.
Then the **queries/s** an algorithm sees: counted queries through the budgeted oracle (the
product's own ``Oracle``, fresh benchmark, nothing cached), one ``query`` per genotype and one
``query_batch`` for all of them.
"""

from __future__ import annotations

import time

import numpy as np

BENCHMARKS = ("nb301", "nb301-yahpo")


def add_arguments(p) -> None:
    p.add_argument("--benchmark", choices=BENCHMARKS, default="nb301",
                   help="nb301 (official ensemble, default) or nb301-yahpo (YAHPO surrogate of NB301)")
    p.add_argument("--data", metavar="DIR", help="model folder (nb301: default the registered one; nb301-yahpo: required)")
    p.add_argument("--n", type=int, default=1000, help="distinct genotypes (default 1000)")
    p.add_argument("--seed", type=int, default=0)


def _loader(name: str):
    if name == "nb301-yahpo":
        from harness.benchmarks.nb301_yahpo import load
    else:
        from harness.benchmarks.nb301 import load
    return lambda data: load(data=data)


def main(args) -> int:
    from harness.oracle import Oracle

    load = _loader(getattr(args, "benchmark", "nb301"))
    t0 = time.perf_counter()
    single = load(args.data)
    t_load = time.perf_counter() - t0
    batched = load(args.data)
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
    members = getattr(getattr(single, "models", {}).get(metric), "n_members", 1)
    print(f"benchmark: {single.version} ({single.notes}); {members} member(s); load {t_load:.2f} s")
    print(f"one per call: {n / t_one:10,.0f} archs/s  ({1e3 * t_one / n:.3f} ms/arch)")
    print(f"one batch:    {n / t_batch:10,.0f} archs/s  ({1e3 * t_batch / n:.3f} ms/arch)  speed-up {t_one / t_batch:.1f}x")
    print(f"cached batch: {n / t_cached:10,.0f} archs/s  ({1e6 * t_cached / n:.1f} us/arch)")
    print(f"max |batched - one by one| = {np.abs(many - one).max():.3g}; cached identical: {np.array_equal(again, many)}")
    print(f"{metric}: mean {many.mean():.3f}, min {many.min():.3f}, max {many.max():.3f} over {n} random genotypes")
    # queries/s through the budgeted oracle (fresh benchmarks: every query goes to the surrogate)
    rates = {}
    for how in ("query", "query_batch"):
        oracle = Oracle(load(args.data), budget=n, search_metric=metric, report_metric=metric)
        t0 = time.perf_counter()
        if how == "query":
            for a in archs:
                oracle.query(a)
        else:
            oracle.query_batch(archs)
        rates[how] = n / (time.perf_counter() - t0)
        assert oracle.used == n
    print(f"oracle queries/s: {rates['query']:,.0f} one query per call, {rates['query_batch']:,.0f} in one query_batch "
          f"({n} counted queries each)")
    return 0
