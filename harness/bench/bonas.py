"""BONAS samples-to-optimum on NAS-Bench-201 (BONAS paper Table 2) beside baselines run alike.

``nas-harness bench bonas --data nats_tss_200ep_test_accuracy.csv --seeds 50 --workers 2``

For every seed and method, the search runs on the official NB201 table (test accuracy as the
search metric, as in the paper's closed-domain search) until the global optimum (CIFAR-10:
index 6111, 94.37 %) is first queried; the number of counted queries up to and including it
is its samples-to-optimum. Methods: BONAS with the EA, random and RL samplers (published
72.5, 320.0 and 308.4 on NAS-Bench-102, Table 2), random search (without replacement; its
expectation is (N + 1) / 2 = 7,813) and regularized evolution (published 535.5). Regularized
evolution is the registry's ``evolution`` when installed, else the minimal aging evolution of
this module (population 10, tournament 3 drawn with replacement: NAS-Bench-201's REA
settings). Seeds are the runner's: seed ``s`` gives the algorithm stream of
``spawn_streams(s)``, so a run here equals ``nas-harness run`` with that seed.

Printed: mean and median samples-to-optimum with percentile-bootstrap 95 % CIs, runs that hit
``--max-samples`` before the optimum (counted at the cap: the mean is then a lower bound),
wall seconds per run, the verdict of BONAS(EA) vs regularized evolution (CIs of the mean),
and with ``--profile`` a cProfile summary of one BONAS(EA) run.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
from harness.protocol import SEEDS_HELP, seeds_arg

PUBLISHED = {"bonas-ea": 72.5, "bonas-random": 320.0, "bonas-rl": 308.4, "random": 7712.3, "evolution": 535.5}
LABELS = {"bonas-ea": "BONAS(EA)", "bonas-random": "BONAS(RS)", "bonas-rl": "BONAS(RL)", "random": "Random search",
          "evolution": "Reg. evolution"}
METHODS = tuple(LABELS)


def add_arguments(p) -> None:
    p.add_argument("--data", required=True, help="official NB201 table (e.g. nats_tss_200ep_test_accuracy.csv)")
    p.add_argument("--dataset", default="cifar10", help="cifar10 (default), cifar100, imagenet16-120")
    p.add_argument("--seeds", type=seeds_arg, default=tuple(range(50)), metavar="SEEDS", help=f"{SEEDS_HELP} (default 50; --first-seed is added to each)")
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2, help="process pool size (default 2)")
    p.add_argument("--methods", default=",".join(METHODS), help=f"comma list of {', '.join(METHODS)}")
    p.add_argument("--max-samples", type=int, default=3000, help="cap per run (default 3000; random search: the space)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="BONAS hyperparameter override (repeatable), e.g. --set epochs=50")
    p.add_argument("--rea-population", type=int, default=10)
    p.add_argument("--rea-sample", type=int, default=3)
    p.add_argument("--bootstrap", type=int, default=10_000, help="bootstrap resamples (default 10000)")
    p.add_argument("--profile", action="store_true", help="also profile one BONAS(EA) run (seed --first-seed)")
    p.add_argument("--out", metavar="CSV", help="also write one row per run (method, seed, samples, found, wall, cpu)")


# --- one run (in a worker) ------------------------------------------------------------------
def _stop_oracle(bench, budget: int, target: int):
    from harness.errors import BudgetExhausted
    from harness.oracle import Oracle

    class StopAtTarget(Oracle):
        """Ends the run (BudgetExhausted) once the target architecture has been counted."""

        def query(self, arch):
            v = super().query(arch)
            if self.space.index(arch) == target:
                raise BudgetExhausted("target found")
            return v

    return StopAtTarget(bench, budget=budget)


class AgingEvolution:
    """Minimal regularized evolution (Real et al. 2019) for this comparison: ``population``
    random architectures, then repeatedly the best of ``sample`` members drawn with
    replacement is mutated, the child queried and appended, and the oldest member removed."""

    def __init__(self, population: int = 10, sample: int = 3):
        self.population, self.sample = population, sample

    def run(self, oracle, rng) -> None:
        from collections import deque

        space = oracle.space
        sign = 1.0 if oracle.maximize else -1.0
        pop: deque = deque()
        while len(pop) < self.population:
            a = space.sample(rng)
            pop.append((a, sign * oracle.query(a)))
        while True:
            picks = rng.integers(0, len(pop), size=self.sample)
            parent = max((pop[int(i)] for i in picks), key=lambda m: m[1])[0]
            child = space.mutate(parent, rng)
            pop.append((child, sign * oracle.query(child)))
            pop.popleft()


def _make(method: str, hp: dict, rea: tuple[int, int]):
    from algorithms.registry import get_algorithm_class
    from harness.errors import ConfigError

    if method.startswith("bonas-"):
        return get_algorithm_class("bonas")(sampler=method[len("bonas-"):], **hp)
    if method == "random":
        return get_algorithm_class("random")()
    try:
        cls = get_algorithm_class("evolution")
    except ConfigError:
        return AgingEvolution(*rea)
    return cls(population=rea[0], sample_size=rea[1])


def run_one(method: str, seed: int, data: str, dataset: str, max_samples: int, hp: dict, rea=(10, 3)) -> dict:
    """Samples-to-optimum of one seeded run: ``{"method", "seed", "samples", "found", "wall",
    "cpu"}`` (seconds of the search itself, imports excluded)."""
    from harness.benchmarks import get_benchmark
    from harness.errors import BudgetExhausted
    from harness.rng import spawn_streams

    bench = get_benchmark("nb201", dataset, data=data)
    _, target = bench.optimum(bench.default_search)
    budget = bench.space.size if method in ("random", "evolution") else max_samples
    oracle = _stop_oracle(bench, budget, int(target))
    algo = _make(method, hp, rea)
    if method.startswith("bonas"):
        import torch  # noqa: F401  (imports outside the timed part)
        import torch_geometric  # noqa: F401
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        algo.run(oracle, spawn_streams(seed)["algorithm"])
    except BudgetExhausted:
        pass
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    idx = oracle.trajectory()["index"]
    hits = np.flatnonzero(idx == target)
    found = bool(hits.size)
    return {"method": method, "seed": seed, "samples": int(hits[0] + 1) if found else int(len(idx)),
            "found": found, "wall": wall, "cpu": cpu}


# --- statistics -------------------------------------------------------------------------------
def bootstrap_ci(x, stat, rng: np.random.Generator, n_boot: int = 10_000, level: float = 0.95) -> tuple[float, float]:
    """Percentile-bootstrap CI of ``stat`` (a function of a 1-D array along axis 1)."""
    x = np.asarray(x, dtype=float)
    res = stat(x[rng.integers(0, len(x), size=(n_boot, len(x)))], axis=1)
    lo, hi = np.quantile(res, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def summarize(results: list[dict], n_boot: int = 10_000, seed: int = 0) -> dict:
    """Per method: n, found, mean, median, their CIs, mean wall seconds."""
    rng = np.random.default_rng(seed)
    out = {}
    for m in dict.fromkeys(r["method"] for r in results):
        rs = [r for r in results if r["method"] == m]
        x = np.array([r["samples"] for r in rs], dtype=float)
        out[m] = {
            "n": len(x), "found": sum(r["found"] for r in rs),
            "mean": float(x.mean()), "mean_ci": bootstrap_ci(x, np.mean, rng, n_boot),
            "median": float(np.median(x)), "median_ci": bootstrap_ci(x, np.median, rng, n_boot),
            "wall": float(np.mean([r["wall"] for r in rs])), "wall_max": float(np.max([r["wall"] for r in rs])),
            "cpu": float(np.mean([r["cpu"] for r in rs])),
        }
    return out


def _parse_set(items) -> dict:
    hp = {}
    for it in items:
        k, _, v = it.partition("=")
        for conv in (int, float):
            try:
                v = conv(v)
                break
            except ValueError:
                continue
        else:
            v = {"true": True, "false": False}.get(v.lower(), v)
        hp[k.strip()] = v
    return hp


# --- command ----------------------------------------------------------------------------------
def main(args) -> int:
    from tabulate import tabulate

    from harness.errors import ConfigError

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    bad = [m for m in methods if m not in METHODS]
    if bad:
        raise ConfigError(f"unknown method(s) {', '.join(bad)}; choose from: {', '.join(METHODS)}")
    hp = _parse_set(args.set)
    from harness.benchmarks import get_benchmark

    bench = get_benchmark("nb201", args.dataset, data=args.data)
    opt_value, target = bench.optimum(bench.default_search)
    seeds = [args.first_seed + s for s in args.seeds]
    rea = (args.rea_population, args.rea_sample)
    jobs = [(m, s, args.data, args.dataset, args.max_samples, hp, rea) for m in methods for s in seeds]
    print(f"NB201 {args.dataset}: search metric {bench.default_search}, optimum {opt_value:.4f} at index {target}; "
          f"{len(jobs)} runs on {args.workers} worker(s)", flush=True)
    t0 = time.perf_counter()
    results = []
    if args.workers <= 1:
        for j in jobs:
            results.append(run_one(*j))
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, "1")  # inherited by the spawned workers
        from concurrent.futures import as_completed

        with ProcessPoolExecutor(max_workers=args.workers, mp_context=mp.get_context("spawn")) as pool:
            futures = [pool.submit(run_one, *j) for j in jobs]
            for f in as_completed(futures):
                results.append(f.result())
                if len(results) % max(1, len(jobs) // 20) == 0:
                    print(f"  {len(results)}/{len(jobs)} runs done ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
        order = {(m, s): i for i, (m, s, *_) in enumerate(jobs)}
        results.sort(key=lambda r: order[(r["method"], r["seed"])])
    elapsed = time.perf_counter() - t0
    if args.out:
        import csv

        with open(args.out, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(results[0]))
            w.writeheader()
            w.writerows(results)
    s = summarize(results, args.bootstrap)
    evo_name = "registry 'evolution'" if _has_evolution() else "bench's minimal aging evolution"
    rows = []
    for m, st in s.items():
        pub = PUBLISHED[m] if args.dataset == "cifar10" else None
        rows.append([
            LABELS[m], st["n"], st["found"],
            f"{st['mean']:.1f} [{st['mean_ci'][0]:.1f}, {st['mean_ci'][1]:.1f}]",
            f"{st['median']:.1f} [{st['median_ci'][0]:.1f}, {st['median_ci'][1]:.1f}]",
            "" if pub is None else f"{pub:g}",
            f"{st['wall']:.2f} (max {st['wall_max']:.1f})", f"{st['cpu']:.2f}",
        ])
    print(tabulate(rows, headers=["method", "runs", "found", "mean [95% CI]", "median [95% CI]",
                                  "published mean", "wall s/run", "CPU s/run"], tablefmt="github"))
    print(f"(percentile bootstrap, {args.bootstrap} resamples; runs not finding the optimum within "
          f"{args.max_samples} samples count as {args.max_samples}; regularized evolution: {evo_name}, "
          f"P={rea[0]}, S={rea[1]}; BONAS overrides: {hp or 'none'}; total {elapsed:.0f} s)")
    if "bonas-ea" in s and "evolution" in s:
        a, b = s["bonas-ea"]["mean_ci"], s["evolution"]["mean_ci"]
        verdict = "BEATS" if a[1] < b[0] else ("loses to" if a[0] > b[1] else "overlaps with")
        print(f"BONAS(EA) {verdict} regularized evolution: mean CI {a[0]:.1f}-{a[1]:.1f} vs {b[0]:.1f}-{b[1]:.1f}")
    if args.profile:
        profile_one(args.data, args.dataset, args.first_seed, args.max_samples, hp)
    return 0


def _has_evolution() -> bool:
    from algorithms.registry import get_algorithm_class
    from harness.errors import ConfigError

    try:
        get_algorithm_class("evolution")
        return True
    except ConfigError:
        return False


def profile_one(data: str, dataset: str, seed: int, max_samples: int, hp: dict, top: int = 15) -> None:
    """cProfile one BONAS(EA) run; print where the time goes."""
    import cProfile
    import io
    import pstats

    import torch  # noqa: F401  (imports are not the run's cost)
    import torch_geometric  # noqa: F401

    prof = cProfile.Profile()
    prof.enable()
    r = run_one("bonas-ea", seed, data, dataset, max_samples, hp)
    prof.disable()
    st = pstats.Stats(prof)
    total = r["wall"]
    print(f"\nprofile of one BONAS(EA) run (seed {seed}): {r['samples']} samples, {total:.2f} s")
    parts = {
        "GCN (re)training (train_gcn)": "train_gcn",
        "  of which backward": "run_backward",
        "pool proposals (sampler.propose)": "propose",
        "embedding pools and data (features)": "features",
        "  of which graph batching (from_arrays)": "from_arrays",
        "  of which space.graph": "graph",
        "BLR fit (alpha, beta, posterior)": "fit",
        "EI + BLR predict (ei_of_rows)": "ei_of_rows",
        "oracle queries": "query",
    }
    def ours(key, fn):  # a function of this project (or torch's backward engine) named fn
        path, _, name = key
        if fn == "run_backward":
            return "method 'run_backward'" in name
        return name == fn and any(m in path for m in ("bonas", "oracle", "spaces"))

    rows = []
    for label, fn in parts.items():
        hits = [v for k, v in st.stats.items() if ours(k, fn)]
        cum = sum(v[3] for v in hits)
        rows.append([label, sum(v[1] for v in hits), f"{cum:.2f}", f"{100 * cum / total:.0f}%"])
    from tabulate import tabulate

    print(tabulate(rows, headers=["part", "calls", "cumulative s", "of run"], tablefmt="github"))
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    lines = [ln for ln in buf.getvalue().splitlines() if ln.strip()]
    start = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls")), 0)
    print(f"top {top} functions by own time:")
    print("\n".join(lines[start:]))
