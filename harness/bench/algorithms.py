"""Each algorithm's own overhead per counted query (time outside the oracle).

Every baseline (``algorithms.registry.BASELINES``, or the algorithms named with
``--algorithms``, e.g. ``lanas l2nas bonas``) runs with its default hyperparameters on
``--benchmark`` (default ``nb201-analog``) under the ``--counting`` rule for ``--budget``
counted queries (``--tpe-budget`` for TPE, whose per-trial cost grows with the number of
trials), over ``--seeds`` seeds, through the narrow oracle view the runner gives algorithms
(:meth:`harness.oracle.Oracle.view`) and the runner's algorithm stream
(:func:`harness.rng.spawn_streams`). The view is wrapped so that the time spent inside
``query``/``query_batch`` is measured and subtracted from the run's time; the rest (the
algorithm's own logic and the space operations it calls, including free repeats) is divided by
the number of counted queries. Times are the process's CPU time (``time.process_time``), so
other load on the machine inflates them little; the figure printed is the best (lowest) run
over the seeds, as ``timeit`` does, with the median beside it, and the CPU seconds per 1,000
counted queries of the whole run. Target: at most 50 microseconds per query for every
algorithm but MCTS, TPE and the learned-model methods (LaNAS, L2NAS, BONAS, Ape-X).

``--phases``: for an algorithm that times its own phases (LaNAS's ``cpu_timings_``: init,
learn, select, sample, query, backprop), their CPU seconds per 1,000 counted queries.
``--profile``: a cProfile summary (top functions by own time) of each algorithm's first seed.

Example: ``nas-harness bench algorithms --algorithms lanas l2nas --budget 1000 --counting all --phases``
"""

from __future__ import annotations

import time

from harness.protocol import SEEDS_HELP, seeds_arg

TARGET_US = 50.0
# CPU seconds of this process: unlike wall time, not inflated when other processes compete
# for the cores (the figures are per-query costs of this process's own work).
_clock = time.process_time
EXEMPT = ("mcts", "tpe", "lanas", "lanas-paper", "l2nas", "l2nas-tuned", "l2nas-darts", "bonas", "apex")


def add_arguments(p) -> None:
    p.add_argument("--benchmark", default="nb201-analog", help="benchmark (default nb201-analog)")
    p.add_argument("--data", help="official data file for benchmarks that need one")
    p.add_argument("--budget", type=int, default=2000, help="counted queries per run (default 2000)")
    p.add_argument("--tpe-budget", type=int, default=300, help="counted queries per TPE run (default 300)")
    p.add_argument("--counting", default="unique", choices=("unique", "all"), help="counting rule (default unique)")
    p.add_argument("--seeds", type=seeds_arg, default=(0, 1, 2), metavar="SEEDS", help=f"{SEEDS_HELP} (default 3)")
    p.add_argument("--algorithms", nargs="*", default=None, help="names (default: the baselines of algorithms.registry.BASELINES)")
    p.add_argument("--phases", action="store_true", help="also print the phase split of algorithms that time their phases")
    p.add_argument("--profile", action="store_true", help="also print a cProfile summary of each algorithm's first seed")


class _TimedOracle:
    """Forwards to an oracle view and adds up the seconds spent inside its query methods."""

    def __init__(self, oracle):
        self._o = oracle
        self.space = oracle.space
        self.inside = 0.0
        self.calls = 0

    def __getattr__(self, name):
        return getattr(self._o, name)

    def query(self, arch):
        self.calls += 1
        t0 = _clock()
        try:
            return self._o.query(arch)
        finally:
            self.inside += _clock() - t0

    def query_batch(self, archs):
        self.calls += len(archs)
        t0 = _clock()
        try:
            return self._o.query_batch(archs)
        finally:
            self.inside += _clock() - t0


def measure(name: str, bench, budget: int, seed: int, counting: str = "unique", profile=None) -> dict:
    """One run: CPU seconds, seconds inside the oracle, counted queries, query calls, and the
    algorithm's own phase timings when it keeps them (``phases``, else None)."""
    from algorithms.registry import make_algorithm
    from harness.errors import BudgetExhausted
    from harness.oracle import Oracle
    from harness.rng import spawn_streams

    algo = make_algorithm(name)
    oracle = Oracle(bench, budget=budget, counting=counting)
    timed = _TimedOracle(oracle.view())
    rng = spawn_streams(seed)["algorithm"]
    t0 = _clock()
    if profile is not None:
        profile.enable()
    try:
        algo.run(timed, rng)
    except BudgetExhausted:
        pass
    finally:
        if profile is not None:
            profile.disable()
    cpu = _clock() - t0
    phases = getattr(algo, "cpu_timings_", None)
    return {"cpu": cpu, "inside": timed.inside, "used": oracle.used, "calls": timed.calls,
            "phases": dict(phases) if isinstance(phases, dict) else None}


def _profile_text(prof, top: int = 12) -> str:
    import io
    import pstats

    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    lines = [ln for ln in buf.getvalue().splitlines() if ln.strip()]
    start = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls")), 0)
    return "\n".join(lines[start:])


def main(args) -> int:
    import os

    import numpy as np
    from tabulate import tabulate

    from algorithms.registry import BASELINES
    from harness.benchmarks import get_benchmark
    from harness.errors import ConfigError

    if args.budget < 1 or args.tpe_budget < 1:
        raise ConfigError(f"--budget and --tpe-budget must be positive, got {args.budget} and {args.tpe_budget}")
    bench = get_benchmark(args.benchmark, data=args.data)
    names = args.algorithms or list(BASELINES)
    rows, failing, phase_rows, profiles = [], [], [], []
    for name in names:
        budget = args.tpe_budget if name == "tpe" else args.budget
        runs = []
        for i, seed in enumerate(args.seeds):
            prof = None
            if args.profile and i == 0:
                import cProfile

                prof = cProfile.Profile()
            runs.append(measure(name, bench, budget, seed, args.counting, prof))
            if prof is not None:
                profiles.append((name, seed, runs[-1], _profile_text(prof)))
        used = sum(r["used"] for r in runs)
        if not used:
            raise ConfigError(f"bench algorithms: {name} made no counted query on {bench.name}")
        own = [1e6 * (r["cpu"] - r["inside"]) / max(r["used"], 1) for r in runs]
        calls = sum(r["calls"] for r in runs)
        inside_us = 1e6 * sum(r["inside"] for r in runs) / max(calls, 1)
        per_1000 = 1000 * sum(r["cpu"] for r in runs) / used
        best = min(own)
        ok = best <= TARGET_US or name in EXEMPT
        if not ok:
            failing.append(name)
        rows.append([name, used, calls - used, f"{best:.1f}", f"{np.median(own):.1f}", f"{inside_us:.2f}",
                     f"{per_1000:.3f}", "exempt" if name in EXEMPT else ("ok" if ok else "ABOVE")])
        if args.phases and all(r["phases"] for r in runs):
            total = {k: sum(r["phases"][k] for r in runs) for k in runs[0]["phases"]}
            whole = total.get("total") or sum(total.values())
            for k, v in total.items():
                if k != "total":
                    phase_rows.append([name, k, f"{1000 * v / used:.4f}", f"{100 * v / whole:.1f}%" if whole else "-"])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"benchmark: {bench.name}, counting {args.counting}, {len(args.seeds)} seeds, budget {args.budget} "
          f"(tpe {args.tpe_budget}); CPU time; load average {load:.1f} on {os.cpu_count()} cores")
    print(tabulate(rows, headers=["algorithm", "counted", "free repeats", "own us/query (best)", "median",
                                  "oracle us/call", "CPU s/1,000 q", f"<= {TARGET_US:.0f} us"]))
    if failing:
        print(f"above target: {', '.join(failing)}")
    if args.phases:
        if phase_rows:
            print("\nphases (the algorithm's own CPU timings, all seeds):")
            print(tabulate(phase_rows, headers=["algorithm", "phase", "CPU s / 1,000 q", "share"], disable_numparse=True))
        else:
            print("\nphases: none of these algorithms times its phases")
    for name, seed, r, text in profiles:
        print(f"\nprofile of {name}, seed {seed}: {r['used']} counted queries, {r['cpu']:.2f} CPU s; "
              f"top functions by own time:\n{text}")
    return 0
