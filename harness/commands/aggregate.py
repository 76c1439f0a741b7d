"""``nas-harness aggregate --name NAME --protocol P1 P2 ...``: one board across protocols.

For each protocol: its current runs (raw records or MLflow, as ``leaderboard``), the anytime
and final normalized regret of every algorithm and its ECDF of (run, target) pairs; then
average ranks, the Friedman test, Holm-corrected Wilcoxon tests, a critical-difference diagram
and the pooled ECDF (:mod:`harness.aggregate`). Writes ``<out>/<name>.md`` and ``.csv`` and the
plots in ``<out>/<name>/``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

import numpy as np

from harness.commands.run import _positive
from harness.errors import ConfigError


def register(sub) -> None:
    p = sub.add_parser("aggregate", help="write a leaderboard across several protocols (average ranks, Friedman, CD diagram, ECDF)")
    p.add_argument("--name", required=True, metavar="NAME", help="name of the board (file name under --out)")
    p.add_argument("--protocol", nargs="+", required=True, metavar="P", help="two or more protocols (names, .toml paths or ids)")
    p.add_argument("--data", metavar="PATH", help="the data file the runs were made with (applied to every protocol)")
    p.add_argument("--budget", type=_positive("budget"), metavar="Q", help="the budget override the runs were made with")
    from harness.commands.report import add_read_args

    add_read_args(p, resamples=1000, seeds=False)
    p.add_argument("--out", default="leaderboards", metavar="DIR", help="folder of the leaderboards (default leaderboards/)")
    p.set_defaults(func=main)


def protocol_scores(protocol, records, resamples: int = 1000, seed: int = 0) -> dict[str, tuple[float, float, np.ndarray]]:
    """``algorithm -> (mean anytime regret, mean final normalized regret, ECDF curve)`` of one
    protocol's records; ConfigError when its benchmark has no value range (no optimum)."""
    from harness import metrics
    from harness.commands.leaderboard import benchmark_facts

    report_range, _ = benchmark_facts(protocol, records)
    if report_range is None:
        raise ConfigError(f"protocol {protocol.id}: its benchmark states no report optimum/worst value (a surrogate?); "
                          "an aggregate board needs tabular benchmarks")
    summary = metrics.summarize(records, np.random.default_rng(seed), resamples=resamples, budget=protocol.budget,
                                report_range=report_range)
    out = {}
    for label, recs in metrics.group_records(records).items():
        ok = [r for r in metrics.finished(recs) if r.n_queries]
        a = summary.algorithms[label]
        if not ok or a.anytime is None:
            continue
        reg = metrics.normalized_regret(metrics.best_so_far(ok, "report", summary.budget), *report_range, summary.maximize)
        out[label] = (a.anytime.mean, float(np.mean(reg[:, -1])), metrics.ecdf_pairs(reg))
    return out


def runs_note(seeds: dict[str, dict[str, list[int]]]) -> str:
    """``Runs: seeds ...`` of an aggregate from ``protocol id -> row label -> seeds``: the seeds
    of every row on every protocol, rows with the same seeds named together (the largest such
    group last, as "every other row")."""
    from harness.leaderboard import seed_ranges

    labels = sorted({a for rows in seeds.values() for a in rows})
    desc: dict[str, list[str]] = {}
    for a in labels:
        texts = {pid: seed_ranges(rows[a]) for pid, rows in seeds.items() if a in rows}
        d = (f"seeds {next(iter(texts.values()))} on every protocol" if len(set(texts.values())) == 1 and len(texts) == len(seeds)
             else "seeds " + ", ".join(f"{t} on {pid}" for pid, t in texts.items()))
        desc.setdefault(d, []).append(a)
    if len(desc) == 1:
        return f"Runs: {next(iter(desc))}, for every row."
    groups = sorted(desc.items(), key=lambda kv: (len(kv[1]), kv[1]))
    parts = [f"{', '.join(algs)}: {d}" for d, algs in groups[:-1]]
    return "Runs: " + "; ".join(parts) + f"; every other row: {groups[-1][0]}."


def main(args) -> int:
    from harness import aggregate, metrics
    from harness.commands.leaderboard import warmup_screen
    from harness.commands.report import load_protocol_for, one_source, read_records, select
    from harness.paths import check_writable_dir

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", args.name):
        raise ConfigError(f"--name {args.name!r}: use letters, digits, '.', '_' and '-' only (it is a file name)")
    if len(set(args.protocol)) < 2:
        raise ConfigError("--protocol needs two or more different protocols")
    check_writable_dir(args.out, "the leaderboard folder", "pass --out with a writable folder")
    per, seeds = {}, {}
    for name in args.protocol:
        pargs = argparse.Namespace(**{**vars(args), "protocol": name})
        protocol = load_protocol_for(pargs)
        records, where = read_records(protocol, args.source, args.tracking_uri)
        records = one_source(select(protocol, records, pargs))
        if records:  # the runs the protocol's own board keeps (harness.commands.leaderboard.warmup_screen)
            records, left_out, _ = warmup_screen(protocol, records)
            if left_out:
                print(f"note: {protocol.id}: left out {left_out}", file=sys.stderr)
        if not records:
            raise ConfigError(f"no runs of protocol {protocol.id} in {where}; make them with: nas-harness run --protocol {name}")
        per[protocol.id] = protocol_scores(protocol, records, args.resamples, args.seed)
        seeds[protocol.id] = {label: sorted({int(r.meta.get("seed", 0)) for r in recs})
                              for label, recs in metrics.group_records(records).items()}
    agg = aggregate.aggregate(args.name, per)
    agg.runs_note = runs_note(seeds)
    agg.command = " ".join(["nas-harness aggregate --name", args.name, "--protocol", *args.protocol]
                           + ([f"--budget {args.budget}"] if args.budget else [])
                           + ([f"--data PATH/{os.path.basename(args.data)}"] if args.data else []))
    paths = aggregate.write(agg, args.out, not args.no_plots)
    print(aggregate.to_markdown(agg))
    print(f"written: {', '.join(paths.values())}")
    return 0
