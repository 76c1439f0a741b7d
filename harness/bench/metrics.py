"""Time of all metrics for 100 runs x 10,000 queries with 5,000 bootstrap resamples.

The runs are synthetic random-search records built directly with numpy (no oracle): each run
queries 10,000 distinct cells of ``nb201-analog`` in a random order (search = baseline
accuracy, report = analog accuracy) and records 300 episodes (start/end report values), split
over ``--algorithms`` labels (default 2). Timed: :func:`harness.metrics.summarize`, i.e. best-so-far curves
with mean/median/IQR bootstrap CIs at every query count (value and regret), the checkpoints
(#Q, mean +- std, CI), samples-to-optimum with CIs, improvement histograms, and the
Mann-Whitney/Holm comparison. Target: < 5 s on 2 cores.
"""

from __future__ import annotations

import time

import numpy as np


def add_arguments(p) -> None:
    p.add_argument("--runs", type=int, default=100, help="number of runs (default 100)")
    p.add_argument("--queries", type=int, default=10_000, help="counted queries per run (default 10,000)")
    p.add_argument("--resamples", type=int, default=5000, help="bootstrap resamples (default 5,000)")
    p.add_argument("--episodes", type=int, default=300, help="episodes per run (default 300)")
    p.add_argument("--algorithms", type=int, default=2, help="algorithm labels the runs are split over (default 2)")
    p.add_argument("--repeats", type=int, default=3, help="timed repetitions; the best is shown (default 3)")


def synthetic_records(runs: int, queries: int, episodes: int, rng: np.random.Generator, algorithms: int = 2):
    """Random-search-like run records over the nb201-analog table (see the module docstring)."""
    from harness.benchmarks import get_benchmark
    from harness.record import RunRecord

    bench = get_benchmark("nb201-analog")
    search = bench.mean("baseline_accuracy")
    report = bench.mean("analog_accuracy")
    size = len(search)
    opt_s, opt_i = bench.optimum("baseline_accuracy")
    records = []
    for i in range(runs):
        idx = rng.choice(size, size=min(queries, size), replace=False)
        if queries > size:  # counting "all": repeats allowed past the space size
            idx = np.concatenate([idx, rng.integers(0, size, queries - size)])
        s, r = search[idx], report[idx]
        new = np.empty(len(s), dtype=bool)
        new[0] = True
        new[1:] = s[1:] > np.maximum.accumulate(s)[:-1]
        pos = np.maximum.accumulate(np.where(new, np.arange(len(s)), 0))
        st = rng.integers(0, size, episodes)
        en = rng.integers(0, size, episodes)
        eps = [{"start_report": float(report[a]), "end_report": float(report[b]), "start_search": float(search[a]),
                "end_search": float(search[b])} for a, b in zip(st, en)]
        meta = {"algorithm": f"random-{i % algorithms}", "seed": i, "run_key": f"k{i}", "status": "finished",
                "budget": queries, "search_metric": "baseline_accuracy", "report_metric": "analog_accuracy",
                "maximize": True, "maximize_report": True, "optimum_search": opt_s, "optimum_search_index": opt_i,
                "optimum_report": bench.optimum("analog_accuracy")[0], "noise": "mean", "hyperparameters": {}}
        traj = {"index": idx, "search": s, "report": r, "incumbent_search": s[pos], "incumbent_report": r[pos]}
        records.append(RunRecord(meta=meta, trajectory=traj, episodes=eps))
    return records


def main(args) -> int:
    from harness import metrics

    records = synthetic_records(args.runs, args.queries, args.episodes, np.random.default_rng(0), args.algorithms)
    checkpoints = sorted({c for c in (50, 100, 150, 300, 1000, args.queries) if c <= args.queries})
    times, cpu = [], []
    for rep in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        s = metrics.summarize(records, np.random.default_rng(rep), checkpoints=checkpoints, resamples=args.resamples)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    best = min(times)
    print(f"metrics for {args.runs} runs x {args.queries:,} queries ({len(s.algorithms)} algorithms, "
          f"{args.episodes} episodes/run), {args.resamples:,} bootstrap resamples, checkpoints {checkpoints}")
    for label, a in s.algorithms.items():
        c = a.checkpoints[-1]
        sto = a.samples_to_optimum
        print(f"  {label}: value at {c.checkpoint}: {c.mean:.3f} +- {c.std:.3f} CI [{c.ci[0]:.3f}, {c.ci[1]:.3f}] #Q {c.q}; "
              f"samples to optimum: {sto.successes}/{sto.n_runs} runs, ERT {sto.ert:.0f}")
    print(f"time: best {best:.2f} s of {args.repeats} (all: {', '.join(f'{t:.2f}' for t in times)}; "
          f"CPU time of the best: {cpu[times.index(best)]:.2f} s)   (target < 5 s on 2 cores)")
    return 0
