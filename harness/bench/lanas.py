"""LaNAS vs random search: samples until the global optimum is first queried (BONAS Table 2).

Every seed runs LaNAS and random search (without replacement) on the same table until the
global optimum of the search metric is first queried (the space size is the budget cap); each
run draws from the algorithm stream spawned from its seed, as the runner does. Printed: mean
and median samples-to-optimum with percentile-bootstrap 95% CIs, beside the published figures
(BONAS Table 2, 50 repetitions: LaNAS 1,367.4 and random 7,712.3 on NAS-Bench-102 = NB201
CIFAR-10), whether LaNAS's CI of the mean lies entirely below random search's, and LaNAS's
runtime per 1,000 queries (one process per worker, single-threaded) split by phase.

Reproduce: ``nas-harness bench lanas --data nats_tss_200ep_test_accuracy.csv --seeds 100 --workers 2``
"""

from __future__ import annotations

import os
import time

import numpy as np
from harness.protocol import SEEDS_HELP, seeds_arg

# Published mean samples-to-optimum, by (benchmark, dataset): BONAS Table 2 (50 repetitions),
# read from protocols/papers/bonas.toml when the checkout has it (these copies otherwise).
BONAS_COLUMNS = {("nb201", "cifar10"): "NAS-Bench-102", ("nb101", None): "NAS-Bench-101"}
PUBLISHED = {
    ("nb201", "cifar10"): {"lanas": 1367.4, "random": 7712.3},
    ("nb101", None): {"lanas": 11390.7, "random": 188139.8},
}
PHASES = ("learn", "select", "sample", "query", "backprop")


def add_arguments(p) -> None:
    p.add_argument("--data", help="official benchmark file (for nb201: nats_tss_200ep_test_accuracy.csv)")
    p.add_argument("--benchmark", default="nb201", help="tabular benchmark (default nb201)")
    p.add_argument("--dataset", default=None, help="dataset (default: the benchmark's first, cifar10 for nb201)")
    p.add_argument("--search-metric", default=None, help="metric searched (default: the benchmark's; test accuracy for nb201)")
    p.add_argument("--seeds", type=seeds_arg, default=tuple(range(100)), metavar="SEEDS", help=f"{SEEDS_HELP} (default 100)")
    p.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--height", type=int, default=None, help="LaNAS tree height (default: the algorithm's, 5)")
    p.add_argument("--selects", type=int, default=None, help="LaNAS #selects (default: the algorithm's, 100)")
    p.add_argument("--init-samples", type=int, default=None, help="LaNAS initial samples (default: the algorithm's rule)")
    p.add_argument("--c", type=float, default=None, help="LaNAS UCB constant (default 0.5)")
    p.add_argument("--boot", type=int, default=10_000, help="bootstrap resamples (default 10,000)")
    p.add_argument("--plot", metavar="PATH", help="also write seed 0's node means over time (Fig. 4) to PATH")


def published(key) -> dict[str, tuple[float, str]]:
    """``{algorithm: (mean, source)}`` of BONAS Table 2 for a ``(benchmark, dataset)`` key."""
    from pathlib import Path

    column = BONAS_COLUMNS.get(key)
    if column is None:
        return {}
    values = dict(PUBLISHED[key])
    path = Path(__file__).resolve().parents[2] / "protocols" / "papers" / "bonas.toml"
    if path.exists():
        import tomllib

        for v in tomllib.loads(path.read_text()).get("value", []):
            if v.get("table") == "2" and v.get("column") == column:
                values.update({r["algorithm"]: r["mean"] for r in v["rows"] if r["algorithm"] in ("lanas", "random")})
    return {a: (m, f"BONAS Table 2 ({column}), 50 reps") for a, m in values.items()}


def bootstrap_ci(x, stat=np.mean, n_boot: int = 10_000, level: float = 0.95, rng=None) -> tuple[float, float]:
    """Percentile-bootstrap ``level`` CI of ``stat`` over the values ``x`` (resampled with
    replacement ``n_boot`` times, vectorized; ``stat`` takes ``axis=``)."""
    x = np.asarray(x, dtype=float)
    rng = np.random.default_rng(0) if rng is None else rng
    s = stat(x[rng.integers(len(x), size=(n_boot, len(x)))], axis=1)
    lo, hi = np.percentile(s, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


def _run_one(task: dict) -> dict:
    """One (algorithm, seed) run until the optimum is queried; returns plain numbers."""
    from algorithms.registry import make_algorithm
    from harness.benchmarks import get_benchmark
    from harness.errors import BudgetExhausted
    from harness.oracle import Oracle
    from harness.rng import spawn_streams

    bench = get_benchmark(task["benchmark"], task["dataset"], task["data"])
    metric = task["search_metric"] or bench.default_search
    target = bench.optimum(metric)[1]

    class UntilOptimum(Oracle):
        def query(self, arch):
            value = super().query(arch)
            if self.space.index(arch) == target:
                raise BudgetExhausted("global optimum queried")
            return value

    oracle = UntilOptimum(bench, budget=bench.space.size, search_metric=metric)
    algo = make_algorithm(task["algorithm"], **task["hyperparameters"])
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        algo.run(oracle, spawn_streams(task["seed"])["algorithm"])
    except BudgetExhausted:
        pass
    out = {"algorithm": task["algorithm"], "seed": task["seed"], "queries": oracle.used,
           "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0,
           "found": bool(oracle.used and oracle.trajectory()["index"][-1] == target)}
    if task["algorithm"] == "lanas":
        out["timings"] = dict(algo.timings_)
        out["cpu_timings"] = dict(algo.cpu_timings_)
        out["fallbacks"] = algo.fallbacks_
        out["sampler"] = algo.sampler_
        out["n_initial"] = algo.n_initial(bench.space)
        out["hyperparameters"] = algo.hyperparameters()
        if task.get("plot"):
            from algorithms.lanas import plot_node_means

            plot_node_means(algo.history_, task["plot"], title=f"LaNAS node means, {bench.name}, seed {task['seed']}")
    return out


def _map(tasks, workers):
    if workers <= 1:
        return [_run_one(t) for t in tasks]
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")  # inherited by the spawned workers before numpy loads
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        return list(pool.map(_run_one, tasks, chunksize=1))


def main(args) -> int:
    from tabulate import tabulate

    from harness.benchmarks import get_benchmark, resolve
    from harness.errors import ConfigError

    if len(args.seeds) < 2:
        raise ConfigError(f"--seeds must name at least 2 seeds (for confidence intervals), got {len(args.seeds)}")
    for opt in ("workers", "boot"):
        if getattr(args, opt) < 1:
            raise ConfigError(f"--{opt} must be a positive integer, got {getattr(args, opt)}")
    family, ds = resolve(args.benchmark, args.dataset)
    bench = get_benchmark(family, ds, args.data)  # fails early, with one line, on a bad path
    if not bench.space.finite:
        raise ConfigError(f"bench lanas needs a tabular benchmark with a known optimum; {bench.name} is not one")
    metric = args.search_metric or bench.default_search
    opt_value, opt_index = bench.optimum(metric)
    hp = {k: v for k, v in (("height", args.height), ("selects", args.selects), ("init_samples", args.init_samples),
                            ("c", args.c)) if v is not None}
    base = {"benchmark": family, "dataset": ds, "data": args.data, "search_metric": metric}
    tasks = [{**base, "algorithm": a, "seed": s, "hyperparameters": hp if a == "lanas" else {},
              "plot": args.plot if (a == "lanas" and s == 0) else None}
             for s in args.seeds for a in ("lanas", "random")]
    t0 = time.perf_counter()
    results = _map(tasks, args.workers)
    wall = time.perf_counter() - t0

    by = {a: [r for r in results if r["algorithm"] == a] for a in ("lanas", "random")}
    lanas_hp = by["lanas"][0]["hyperparameters"]
    print(f"benchmark: {bench.name} ({bench.version}), search metric {metric}, {bench.space.size:,} architectures; "
          f"global optimum index {opt_index} ({metric} {opt_value:.4f})")
    print(f"{len(args.seeds)} seeds per algorithm, each run until the optimum is first queried (cap {bench.space.size:,}); "
          f"{args.workers} worker process(es), wall {wall:.1f} s")
    print("LaNAS: " + ", ".join(f"{k}={lanas_hp[k]}" for k in ("height", "selects", "c", "count_reset", "reward_scale"))
          + f", init_samples={lanas_hp['init_samples']} (-> {by['lanas'][0]['n_initial']}), sampler={by['lanas'][0].get('sampler', 'auto')}")
    rng = np.random.default_rng(12345)
    rows, ci_mean = [], {}
    pub_values = published((family, ds if family != "nb101" else None))
    for a in ("lanas", "random"):
        q = np.array([r["queries"] for r in by[a]], dtype=float)
        m_ci, md_ci = bootstrap_ci(q, np.mean, args.boot, rng=rng), bootstrap_ci(q, np.median, args.boot, rng=rng)
        ci_mean[a] = m_ci
        pub = pub_values.get(a)
        rows.append([a, f"{q.mean():,.1f}", f"[{m_ci[0]:,.1f}, {m_ci[1]:,.1f}]", f"{np.median(q):,.1f}",
                     f"[{md_ci[0]:,.1f}, {md_ci[1]:,.1f}]", f"{q.min():,.0f} / {q.max():,.0f}",
                     sum(r["found"] for r in by[a]), f"{pub[0]:,.1f}" if pub else "-", pub[1] if pub else ""])
    print()
    print(tabulate(rows, headers=["algorithm", "mean", "95% CI", "median", "95% CI", "min / max", "found",
                                  "published mean", "source"], disable_numparse=True))
    print(f"\nrandom search, expected (N + 1) / 2 = {(bench.space.size + 1) / 2:,.1f}")
    lm = np.mean([r["queries"] for r in by["lanas"]])
    rm = np.mean([r["queries"] for r in by["random"]])
    print(f"speed-up random / LaNAS (means): {rm / lm:.2f}x  (published: "
          + (f"{pub_values['random'][0] / pub_values['lanas'][0]:.2f}x)" if pub_values else "-)"))
    if family == "nb101":
        print("LaNAS paper (000, §4.2): 22x fewer samples than random search on NASBench-101; "
              "official code: 2,274 samples on average over 41 published runs")
    below = ci_mean["lanas"][1] < ci_mean["random"][0]
    print(f"LaNAS's 95% CI of the mean lies entirely below random search's: {'YES' if below else 'NO'}")

    # runtime per 1,000 queries (each run in one single-threaded process)
    tq = sum(r["queries"] for r in by["lanas"])
    wall = {k: sum(r["timings"][k] for r in by["lanas"]) for k in (*PHASES, "init", "total")}
    cpu = {k: sum(r["cpu_timings"][k] for r in by["lanas"]) for k in (*PHASES, "init", "total")}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nLaNAS runtime per 1,000 queries: {1000 * wall['total'] / tq:.3f} s wall, {1000 * cpu['total'] / tq:.3f} s CPU "
          f"(over {tq:,} queries in {len(by['lanas'])} runs, one single-threaded process per worker; "
          f"machine load {load:.1f} on {os.cpu_count()} cores; fall-backs up the path: {sum(r['fallbacks'] for r in by['lanas'])})")
    parts = []
    for k in (*PHASES, "init"):
        parts.append([k, f"{1000 * wall[k] / tq:.4f}", f"{100 * wall[k] / wall['total']:.1f}%",
                      f"{1000 * cpu[k] / tq:.4f}", f"{100 * cpu[k] / cpu['total']:.1f}%"])
    ow, oc = (d["total"] - sum(d[k] for k in (*PHASES, "init")) for d in (wall, cpu))
    parts.append(["other (loop)", f"{1000 * ow / tq:.4f}", f"{100 * ow / wall['total']:.1f}%",
                  f"{1000 * oc / tq:.4f}", f"{100 * oc / cpu['total']:.1f}%"])
    print(tabulate(parts, headers=["phase", "wall s / 1,000 q", "share", "CPU s / 1,000 q", "share"], disable_numparse=True))
    rq = sum(r["queries"] for r in by["random"])
    print(f"random search runtime per 1,000 queries: {1000 * sum(r['seconds'] for r in by['random']) / rq:.4f} s wall, "
          f"{1000 * sum(r['cpu_seconds'] for r in by['random']) / rq:.4f} s CPU")
    if args.plot:
        print(f"\nnode means of seed 0 written to {args.plot}")
    return 0
