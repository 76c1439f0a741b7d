"""Counted queries per second of random search through the oracle, vs a bare array lookup.

Random search without replacement over all of ``nb201-analog`` (15,625 cells), repeated; the
baseline loops over the same architectures and looks their value up in a plain list (space
index + list indexing: the space's ``index_of`` mapping where it has one, as NB201 does, else
its ``index`` method), in the same process and run. Any finite (tabular) benchmark works, e.g.
``--benchmark nasbench-graph-cora``. Targets: >= 200,000 queries/s and <= 5x the bare lookup.
"""

from __future__ import annotations

import time

import numpy as np


def add_arguments(p) -> None:
    p.add_argument("--repeats", type=int, default=5, help="passes over the space (default 5)")
    p.add_argument("--benchmark", default="nb201-analog")


def main(args) -> int:
    from algorithms.random_search import RandomSearch
    from harness.benchmarks import get_benchmark
    from harness.errors import BudgetExhausted
    from harness.oracle import Oracle

    from harness.errors import ConfigError

    if args.repeats < 1:
        raise ConfigError(f"--repeats must be a positive integer, got {args.repeats}")
    bench = get_benchmark(args.benchmark)
    space = bench.space
    if not space.finite:
        raise ConfigError(f"bench oracle needs a finite (tabular) benchmark; {bench.name} is a surrogate")
    n = space.size
    mapping = getattr(space, "index_of", None)  # NB201: a dict; other spaces: the index method
    index_of = mapping.__getitem__ if mapping is not None else space.index
    t_oracle = t_bare = 0.0
    for rep in range(args.repeats):
        rng = np.random.default_rng(rep)
        oracle = Oracle(bench, budget=n)
        t0 = time.perf_counter()
        try:
            RandomSearch().run(oracle, rng)
        except BudgetExhausted:
            pass
        t_oracle += time.perf_counter() - t0
        # bare: same architectures (same generator), plain lookup
        rng = np.random.default_rng(rep)
        values = bench.mean(bench.default_search).tolist()
        t0 = time.perf_counter()
        out = [values[index_of(space.arch_at(int(i)))] for i in rng.permutation(n)]
        t_bare += time.perf_counter() - t0
        assert len(out) == n == oracle.used
    q = args.repeats * n
    qps, bare = q / t_oracle, q / t_bare
    print(f"benchmark: {bench.name}, {q:,} counted queries of random search")
    print(f"oracle:      {qps:12,.0f} queries/s  ({1e6 / qps:.2f} us/query)")
    print(f"bare lookup: {bare:12,.0f} lookups/s  ({1e6 / bare:.2f} us/lookup)")
    print(f"ratio oracle/bare time: {bare / qps:.2f}x   (targets: >= 200,000 queries/s, <= 5x)")
    return 0
