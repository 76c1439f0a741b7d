"""Ape-X reproduction (004 Fig. 8 and Table 1 structure): train an agent in minutes, compare with random search/walk and local search.

Steps (all numbers printed, a PNG and a JSON written under ``--out``):

1. **Train** one Ape-X agent on the benchmark with the quick preset (T = 64, 1 transformer
   layer, batch 32, lr 2.5e-4, 2 learner updates per round of 4 actors x 8 environments; the
   paper's head, reward shaping, replay, gamma, n-step and exploration) for ``--train-steps``
   environment steps. Training queries are counted in the training ledger and printed.
2. **Improvement histograms** (Fig. 8): one episode per start state of a fixed set
   (``--starts``, drawn with ``--start-seed``) for each of random search (the episode's end is a
   uniform sample), random walk (uniform among the presented neighbours and "stop"), local
   search (query the presented neighbours, move to the best if it improves, else stop) and
   Ape-X (greedy); evaluation episodes of at most 32 moves, N = 50. Improvement = report value
   (e.g. test accuracy) of the end minus that of the start. Per algorithm: median, the
   symmetric intervals around the median holding 50/80/95% of episodes, skew; and the
   difference of medians Ape-X - random walk with a paired percentile-bootstrap 95% CI
   (5,000 resamples of the start states).
3. **Best-so-far** (Table 1): ``--runs`` runs per algorithm, each from fresh random start
   states, incumbent report value (the best *search* value's report value) at 50/100/150/300
   queries: mean +- std and a percentile-bootstrap 95% CI of the mean (5,000 resamples), ``#Q`` =
   mean query of the last improvement at or before the checkpoint. Two rules: the **paper's**
   (one episode = one query; local search and random search count every evaluation) and the
   **strict** one (every architecture whose value reaches the agent counts: the oracle
   trajectory, start states included).

Random walk and local search are the registered plug-ins ``random-walk`` and
``local-search`` (N = 50; random walk 32 moves, local search until a local optimum); the
episodic random search of the histogram (the end is a uniform sample) is kept here; the
statistics come from :mod:`harness.metrics`.
"""

from __future__ import annotations

import json
import time

import numpy as np

CHECKPOINTS = (50, 100, 150, 300)
QUICK = {"latent": 64, "transformer_layers": 1, "heads": 4, "batch_size": 32, "lr": 2.5e-4,
         "updates_per_iteration": 2, "actors": 4, "envs_per_actor": 8, "learning_starts": 1000,
         "log_every": 200}
ALGOS = ("random search", "random walk", "local search", "Ape-X")


def add_arguments(p) -> None:
    p.add_argument("--benchmark", default="nb201-analog", help="benchmark (default nb201-analog)")
    p.add_argument("--data", help="official data file (e.g. the NB201 table for --benchmark nb201)")
    p.add_argument("--train-steps", type=int, default=20_000, help="training env steps (default 20,000)")
    p.add_argument("--head", default="first_token", choices=("first_token", "per_token"))
    p.add_argument("--alpha", type=float, default=None, help="reward-shaping exponent (default: per space)")
    p.add_argument("--reward-reference", type=float, default=1.0,
                   help="accuracy in [0, 1] where the normalized reward shaping is 1 (default 1)")
    p.add_argument("--starts", type=int, default=1000, help="start states for the histograms (default 1,000)")
    p.add_argument("--start-seed", type=int, default=12345)
    p.add_argument("--runs", type=int, default=50, help="runs per algorithm for best-so-far (default 50)")
    p.add_argument("--seed", type=int, default=0, help="training seed")
    p.add_argument("--checkpoint", default="", help="agent checkpoint to resume from / save to")
    p.add_argument("--out", help="output folder (default results/apex)")


# --- episodes ------------------------------------------------------------------------------------
def random_search_episodes(oracle, starts, rng):
    """Episodic random search (004 §3.2.3): an episode's end is a uniformly sampled architecture."""
    for start in starts:
        v0 = oracle.query(start)
        end = oracle.space.sample(rng)
        oracle.record_episode(start, end, 1, v0, oracle.query(end), terminated=True)


def run_plugin(name, oracle, rng, **hp):
    from algorithms.registry import make_algorithm
    from harness.errors import BudgetExhausted

    try:
        make_algorithm(name, **hp).run(oracle, rng)
    except BudgetExhausted:
        pass


BASELINE_HP = {"random-walk": {"max_steps": 32, "max_neighbours": 50}, "local-search": {"max_neighbours": 50}}


def run_apex(net, table, space, oracle, starts, rng, batch=256):
    from algorithms.apex.evaluate import charge_episodes, rollout
    from harness.errors import BudgetExhausted

    try:
        for i in range(0, len(starts), batch):
            charge_episodes(oracle, rollout(net, table, space, starts[i : i + batch], 50, 32, rng))
    except BudgetExhausted:
        pass


# --- statistics (harness.metrics) ------------------------------------------------------------------
def paired_median_diff_ci(a, b, rng, n=5000):
    """Median of ``a`` minus median of ``b`` and its percentile-bootstrap 95% CI, resampling
    the pairs (the same start states) together."""
    from harness.metrics import percentile_interval, resample_indices

    a, b = np.asarray(a), np.asarray(b)
    idx = resample_indices(len(a), rng, n)
    d = np.median(a[idx], axis=1) - np.median(b[idx], axis=1)
    lo, hi = percentile_interval(d)
    return float(np.median(a) - np.median(b)), np.array([float(lo), float(hi)])


def histogram_stats(imp) -> dict:
    from harness.metrics import improvement_stats

    s = improvement_stats(np.asarray(imp, dtype=float), hist_range=None)
    imp = np.asarray(imp, dtype=float)
    out = {"episodes": s.n, "median": s.median, "mean": s.mean, "skew": s.skew,
           "normaltest_p": s.normaltest[1], "improved": float(np.mean(imp > 0)), "worse": float(np.mean(imp < 0))}
    for p, (lo, hi) in s.intervals.items():
        out[f"interval{round(100 * p)}"] = [lo, hi]
    return out


def plot_histograms(improvements: dict, stats: dict, path: str, title: str, lim: float = 12.5) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"random search": "tab:gray", "random walk": "tab:orange", "local search": "tab:green", "Ape-X": "tab:blue"}
    fig, axes = plt.subplots(len(improvements), 1, figsize=(8, 2.3 * len(improvements)), sharex=True)
    bins = np.linspace(-lim, lim, 101)
    for ax, (name, imp) in zip(axes, improvements.items()):
        imp = np.asarray(imp)
        inside = imp[(imp >= -lim) & (imp <= lim)]
        ax.hist(inside, bins=bins, weights=np.full(len(inside), 100.0 / len(imp)), color=colours.get(name, "tab:blue"))
        s = stats[name]
        ax.axvline(s["median"], color="black", lw=1.5, label=f"median {s['median']:+.2f}")
        for p, ls in ((50, "--"), (80, "-."), (95, ":")):
            lo, hi = s[f"interval{p}"]
            ax.axvline(lo, color="black", ls=ls, lw=0.8, label=f"{p}%: [{lo:+.2f}, {hi:+.2f}]")
            ax.axvline(hi, color="black", ls=ls, lw=0.8)
        ax.set_xlim(-lim, lim)  # interval lines beyond the range are listed in the legend
        ax.set_ylabel("episodes (%)")
        ax.set_title(f"{name} (skew {s['skew']:+.2f}, {len(imp) - len(inside)} outside the range)", fontsize=9)
        ax.legend(fontsize=7, loc="upper left")
    axes[-1].set_xlabel(f"improvement over the episode (accuracy points, end - start; range +-{lim})")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- the command --------------------------------------------------------------------------------
def main(args) -> int:
    import os

    import torch
    from tabulate import tabulate

    from algorithms.apex.config import ApeXConfig
    from algorithms.apex.evaluate import paper_rule_curve, value_at
    from algorithms.apex.train import train
    from algorithms.random_search import RandomSearch
    from harness.benchmarks import get_benchmark
    from harness.errors import BudgetExhausted
    from harness.metrics import bootstrap_ci
    from harness.oracle import Oracle
    from harness.paths import results_dir

    torch.set_num_threads(1)
    bench = get_benchmark(args.benchmark, data=args.data)
    space = bench.space
    out_dir = args.out or str(results_dir() / "apex")
    os.makedirs(out_dir, exist_ok=True)
    tag = bench.name
    ref = Oracle(bench, budget=1)
    print(f"benchmark {bench.name}: search metric {ref.search_metric}, report metric {ref.report_metric}")

    # 1. training
    cfg = ApeXConfig(**QUICK, head=args.head, alpha=args.alpha, reward_reference=args.reward_reference,
                      train_steps=args.train_steps, checkpoint=args.checkpoint)
    train_oracle = Oracle(bench, budget=1)
    res = train(cfg, space, train_oracle.training(), np.random.default_rng(args.seed))
    net, table = res.learner.net, res.table
    h = res.history
    print(f"\ntraining: {res.env_steps:,} env steps, {res.updates:,} learner updates, {res.train_seconds:.0f} s, "
          f"training queries {res.training_queries:,} (reported apart from the search budget)")
    for e in h[:: max(1, len(h) // 6)] + h[-1:]:
        print(f"  steps {e['env_steps']:>7,}  loss {e['loss']:.5f}  mean training-episode improvement "
              f"{e['episode_improvement']:+.2f}  return {e['episode_return']:+.4f}")

    # 2. improvement histograms from a fixed start set
    srng = np.random.default_rng(args.start_seed)
    starts = [space.sample(srng) for _ in range(args.starts)]
    improvements, episodes = {}, {}
    t0 = time.perf_counter()
    for name in ALGOS:
        oracle = Oracle(bench, budget=10**9, start_states=starts)
        rng = np.random.default_rng(1)
        if name == "Ape-X":
            run_apex(net, table, space, oracle, starts, rng)
        elif name == "random search":
            random_search_episodes(oracle, starts, rng)
        else:
            plugin = name.replace(" ", "-")
            run_plugin(plugin, oracle, rng, **BASELINE_HP[plugin])
        eps = oracle.episodes()
        episodes[name] = eps
        improvements[name] = np.array([e["end_report"] - e["start_report"] for e in eps])
    hstats = {k: histogram_stats(v) for k, v in improvements.items()}
    print(f"\nimprovement over an episode ({ref.report_metric}, end - start), {args.starts} fixed start states "
          f"({time.perf_counter() - t0:.0f} s)")
    rows = []
    for name, s in hstats.items():
        moves = np.mean([e["steps"] for e in episodes[name]])
        rows.append([name, f"{s['median']:+.2f}", f"{s['mean']:+.2f}", "[{:+.2f}, {:+.2f}]".format(*s["interval50"]),
                     "[{:+.2f}, {:+.2f}]".format(*s["interval80"]), "[{:+.2f}, {:+.2f}]".format(*s["interval95"]),
                     f"{s['skew']:+.3f}", f"{100 * s['improved']:.0f}%", f"{moves:.1f}"])
    print(tabulate(rows, headers=["algorithm", "median", "mean", "50%", "80%", "95%", "skew", "improved", "moves"]))
    print("normality test (scipy.stats.normaltest) p-values: "
          + ", ".join(f"{k} {v['normaltest_p']:.1e}" for k, v in hstats.items()))
    diff, ci = paired_median_diff_ci(improvements["Ape-X"], improvements["random walk"], np.random.default_rng(2))
    verdict = "excludes 0" if ci[0] > 0 or ci[1] < 0 else "contains 0"
    print(f"median improvement Ape-X - random walk: {diff:+.3f}, paired bootstrap 95% CI "
          f"[{ci[0]:+.3f}, {ci[1]:+.3f}] ({verdict})")
    png = os.path.join(out_dir, f"{tag}-improvement.png")
    plot_histograms(improvements, hstats, png, f"{bench.name}: improvement over an episode (structure of 004 Fig. 8)")
    print(f"histogram: {png}")

    # 3. best-so-far at 50/100/150/300 queries, both counting rules
    t0 = time.perf_counter()
    Q = max(CHECKPOINTS)
    curves: dict[tuple[str, str], list[np.ndarray]] = {}
    for r in range(args.runs):
        rng = np.random.default_rng(10_000 + r)
        run_starts = [space.sample(rng) for _ in range(Q)]
        for name in ALGOS:
            if name == "random search":
                o = Oracle(bench, budget=Q)
                try:
                    RandomSearch().run(o, np.random.default_rng(20_000 + r))
                except BudgetExhausted:
                    pass
                inc = o.trajectory()["incumbent_report"]
                curves.setdefault((name, "paper"), []).append(inc)
                curves.setdefault((name, "strict"), []).append(inc)
                continue
            o = Oracle(bench, budget=Q if name == "local search" else 10**9, start_states=run_starts)
            erng = np.random.default_rng(30_000 + r)
            if name == "Ape-X":
                run_apex(net, table, space, o, run_starts, erng)
            else:
                plugin = name.replace(" ", "-")
                run_plugin(plugin, o, erng, **BASELINE_HP[plugin])
            strict = o.trajectory()["incumbent_report"][:Q]
            curves.setdefault((name, "strict"), []).append(strict)
            paper = strict if name == "local search" else paper_rule_curve(o.episodes()[:Q])["incumbent_report"]
            curves.setdefault((name, "paper"), []).append(paper)
    brng = np.random.default_rng(3)
    table_rows, numbers = [], {}
    for rule in ("paper", "strict"):
        for name in ALGOS:
            row = [name, rule]
            for q in CHECKPOINTS:
                vals, last = zip(*(value_at(c, [q]) for c in curves[(name, rule)]))
                vals, last = np.concatenate(vals), np.concatenate(last)
                lo, hi = bootstrap_ci(vals, brng)
                row += [f"{last.mean():.0f}", f"{vals.mean():.2f} ± {vals.std(ddof=1):.2f}", f"[{lo:.2f}, {hi:.2f}]"]
                numbers[f"{name}|{rule}|{q}"] = {"mean": float(vals.mean()), "std": float(vals.std(ddof=1)),
                                                 "ci": [float(lo), float(hi)], "last_improvement": float(last.mean())}
            table_rows.append(row)
    headers = ["algorithm", "rule"] + [f"{h}@{q}" for q in CHECKPOINTS for h in ("#Q", "μ ± σ", "95% CI")]
    opt = bench.optimum(ref.report_metric)[0]
    print(f"\nbest-so-far {ref.report_metric} (incumbent by {ref.search_metric}), {args.runs} runs per algorithm "
          f"({time.perf_counter() - t0:.0f} s); global optimum {opt:.2f}")
    print(tabulate(table_rows, headers=headers))
    summary = {"benchmark": bench.name, "train": {"env_steps": res.env_steps, "updates": res.updates,
                                                 "seconds": res.train_seconds, "training_queries": res.training_queries,
                                                 "config": {**QUICK, "head": args.head, "alpha": args.alpha,
                                                            "reward_reference": args.reward_reference}},
               "histograms": hstats, "median_diff_vs_random_walk": {"diff": diff, "ci": [float(c) for c in ci]},
               "best_so_far": numbers}
    js = os.path.join(out_dir, f"{tag}-summary.json")
    with open(js, "w") as f:
        json.dump(summary, f, indent=1)
    print(f"numbers: {js}")
    return 0
