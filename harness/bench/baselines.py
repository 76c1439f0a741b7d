"""Samples-to-optimum of the baselines on the official NB201 table, beside published figures.

For each algorithm (default hyperparameters, or ``--set name.key=value``), ``--seeds`` runs on
``nb201`` (``--dataset``, test accuracy as the search metric, counting ``unique``, budget
15,625 = the whole space) that stop at the first counted query of the optimum architecture
(CIFAR-10: index 6111; CIFAR-100: 9930; ImageNet16-120: 857). Printed per algorithm:

* mean and median number of counted queries up to and including that query, each with a
  percentile-bootstrap 95% CI over seeds (``--bootstrap`` resamples, ``harness.metrics``);
* the same for the first query that reaches the optimum *value* (on CIFAR-10 two cells share
  the top test accuracy 94.3733: indices 6111 and 13714, so this is the earlier of the two);
* how many runs never reached the optimum (budget spent, or the oracle's stall guard ended
  a search that only repeated cached queries); such runs enter the statistics at the number of
  counted queries they made, so the figures are then lower bounds;
* published figures for comparison: random search (N + 1) / 2 = 7,813 (theory, one target
  among N = 15,625); regularized evolution 535.5 (BONAS Table 2, "NAS-Bench-102", 50 runs,
  hyperparameters not stated there); local search 127 on CIFAR-100 (White et al., "Exploring
  the loss landscape in NAS").

Runs are spread over ``--workers`` processes. Example::

    nas-harness bench baselines --data ../shared/data/nb201/nats_tss_200ep_test_accuracy.csv --seeds 100
"""

from __future__ import annotations

import time

import numpy as np

from harness.errors import BudgetExhausted
from harness.oracle import Oracle
from harness.protocol import SEEDS_HELP, seeds_arg

PUBLISHED = {
    ("cifar10", "random"): (7813.0, "theory (N+1)/2"),
    ("cifar10", "evolution"): (535.5, "BONAS Table 2"),
    ("cifar100", "random"): (7813.0, "theory (N+1)/2"),
    ("cifar100", "local-search"): (127.0, "White et al."),
    ("cifar100", "local-search-first"): (127.0, "White et al."),
}


def add_arguments(p) -> None:
    p.add_argument("--data", required=True, help="official NB201 table (e.g. nats_tss_200ep_test_accuracy.csv)")
    p.add_argument("--dataset", default="cifar10", help="cifar10, cifar100 or imagenet16-120 (default cifar10)")
    p.add_argument("--seeds", type=seeds_arg, default=tuple(range(100)), metavar="SEEDS", help=f"{SEEDS_HELP} (default 100)")
    p.add_argument("--algorithms", nargs="*", default=None, help="names (default: the baselines of algorithms.registry.BASELINES)")
    p.add_argument("--set", action="append", default=[], metavar="ALGO.KEY=VALUE",
                   help="hyperparameter override, e.g. evolution.population=50 (repeatable)")
    p.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    p.add_argument("--bootstrap", type=int, default=10_000, help="bootstrap resamples (default 10,000)")


def _estimate(x, statistic: str, resamples: int, rng) -> tuple[float, float, float]:
    """``(statistic of x, CI low, CI high)``: percentile bootstrap of :mod:`harness.metrics`."""
    from harness.metrics import bootstrap_ci

    x = np.asarray(x, dtype=float)
    point = float(np.mean(x) if statistic == "mean" else np.median(x))
    lo, hi = bootstrap_ci(x, rng, statistic, resamples=resamples)
    return point, lo, hi


def _parse_sets(items) -> dict[str, dict]:
    from harness.errors import ConfigError

    out: dict[str, dict] = {}
    for item in items:
        try:
            lhs, value = item.split("=", 1)
            algo, key = lhs.split(".", 1)
        except ValueError:
            raise ConfigError(f"--set wants ALGO.KEY=VALUE, got {item!r}") from None
        try:
            import json

            v = json.loads(value)
        except ValueError:
            v = value
        out.setdefault(algo, {})[key] = v
    return out


def run_to_optimum(algorithm: str, hyperparameters: dict, data: str, dataset: str, seed: int) -> dict:
    """One run that stops at the first counted query of the optimum architecture."""
    from algorithms.registry import make_algorithm
    from harness.benchmarks import get_benchmark
    from harness.rng import spawn_streams

    bench = get_benchmark("nb201", dataset, data=data)
    metric = "test_accuracy"
    opt_value, opt_index = bench.optimum(metric)
    oracle = _UntilIndex(bench, budget=bench.space.size, search_metric=metric, report_metric=metric, target=opt_index)
    algo = make_algorithm(algorithm, **hyperparameters)
    t0 = time.perf_counter()
    try:
        algo.run(oracle, spawn_streams(seed)["algorithm"])
    except BudgetExhausted:
        pass
    traj = oracle.trajectory()
    search, index = traj["search"], traj["index"]
    hit_index = np.flatnonzero(index == opt_index)
    hit_value = np.flatnonzero(search >= opt_value)
    return {
        "seed": seed,
        "used": oracle.used,
        "to_index": int(hit_index[0]) + 1 if len(hit_index) else oracle.used,
        "to_value": int(hit_value[0]) + 1 if len(hit_value) else oracle.used,
        "reached": bool(len(hit_index)),
        "stalled": oracle.stalled,
        "seconds": time.perf_counter() - t0,
    }


class _UntilIndex(Oracle):
    """An oracle whose run ends right after the counted query of the target architecture."""

    def __init__(self, *a, target: int, **kw):
        super().__init__(*a, **kw)
        self._target = int(target)

    def query(self, arch):
        n = self._used
        v = super().query(arch)
        if self._used > n and self._t_ref[-1] == self._target:
            raise BudgetExhausted("optimum reached")
        return v


def _job(args):
    return run_to_optimum(*args)


def main(args) -> int:
    from tabulate import tabulate

    from algorithms.registry import BASELINES, make_algorithm
    from harness.benchmarks import get_benchmark

    bench = get_benchmark("nb201", args.dataset, data=args.data)
    dataset = bench.dataset
    opt_value, opt_index = bench.optimum("test_accuracy")
    names = args.algorithms or list(BASELINES)
    sets = _parse_sets(args.set)
    print(f"nb201 {dataset}: search = report = test_accuracy, counting unique, budget {bench.space.size}, "
          f"{len(args.seeds)} seeds; optimum {opt_value:.4f} at index {opt_index}")
    rows = []
    for name in names:
        hp = make_algorithm(name, **sets.get(name, {})).hyperparameters()
        jobs = [(name, sets.get(name, {}), args.data, dataset, s) for s in args.seeds]
        t0 = time.perf_counter()
        if args.workers > 1:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(args.workers, mp_context=mp.get_context("spawn")) as pool:
                res = list(pool.map(_job, jobs))
        else:
            res = [_job(j) for j in jobs]
        secs = time.perf_counter() - t0
        to_index = [r["to_index"] for r in res]
        to_value = [r["to_value"] for r in res]
        rng = np.random.default_rng(0)
        mi = _estimate(to_index, "mean", args.bootstrap, rng)
        md = _estimate(to_index, "median", args.bootstrap, rng)
        vi = _estimate(to_value, "mean", args.bootstrap, rng)
        vd = _estimate(to_value, "median", args.bootstrap, rng)
        missed = sum(not r["reached"] for r in res)
        pub = PUBLISHED.get((dataset, name))
        rows.append([
            name,
            f"{mi[0]:.1f} [{mi[1]:.1f}, {mi[2]:.1f}]",
            f"{md[0]:.1f} [{md[1]:.1f}, {md[2]:.1f}]",
            f"{vi[0]:.1f} [{vi[1]:.1f}, {vi[2]:.1f}]",
            f"{vd[0]:.1f} [{vd[1]:.1f}, {vd[2]:.1f}]",
            missed,
            f"{pub[0]:g} ({pub[1]})" if pub else "-",
            f"{secs:.0f}",
            ", ".join(f"{k}={v}" for k, v in hp.items()) or "-",
        ])
        print(f"  {name}: done in {secs:.0f} s", flush=True)
    print(tabulate(rows, headers=[
        "algorithm", f"mean to index {opt_index} [95% CI]", "median [95% CI]", "mean to optimum value [95% CI]",
        "median [95% CI]", "missed", "published", "s", "hyperparameters"]))
    return 0
