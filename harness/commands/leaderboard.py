"""``nas-harness leaderboard --protocol P``: the protocol's leaderboard from its runs.

Reads the runs (raw records, or the MLflow store), computes the statistics
(:func:`harness.metrics.summarize`) and writes ``leaderboards/<protocol id>.md`` (+ ``.csv``,
``.tex``, plots in ``leaderboards/<protocol id>/``) and ``leaderboards/README.md``.
"""

from __future__ import annotations

import os

import numpy as np

from harness.commands.run import _positive
from harness.errors import ConfigError
from harness.protocol import SEEDS_HELP, seeds_arg


def register(sub) -> None:
    p = sub.add_parser("leaderboard", help="write the leaderboard of a protocol (Markdown, CSV, LaTeX, plots)")
    p.add_argument("--protocol", metavar="NAME|PATH|ID",
                   help="shipped protocol name, your protocol .toml, or the id of a protocol you ran "
                        "(default: the protocol of the last `nas-harness run`)")
    p.add_argument("--budget", type=_positive("budget"), metavar="Q", help="the budget override the runs were made with (run --budget)")
    p.add_argument("--data", metavar="PATH",
                   help="the data file the runs were made with (needed only when runs on several files exist)")
    p.add_argument("--source", choices=("auto", "raw", "mlflow"), default="auto", help="where runs are read from")
    p.add_argument("--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI or sqlite under results/)")
    p.add_argument("--seeds", type=seeds_arg, metavar="SEEDS", help=f"only the runs of these {SEEDS_HELP}")
    p.add_argument("--benchmark-version", metavar="V", help="only the runs on this benchmark version (see report)")
    p.add_argument("--out", default="leaderboards", metavar="DIR", help="folder of the leaderboards (default leaderboards/)")
    p.add_argument("--resamples", type=_positive("number of resamples"), default=5000, help="bootstrap resamples (default 5,000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resampling (default 0)")
    p.add_argument("--no-plots", action="store_true", help="tables only")
    p.set_defaults(func=main)


def make(protocol, records, out: str, resamples: int = 5000, seed: int = 0, plots: bool = True):
    """Build and write a leaderboard; returns ``(board, paths)``."""
    from harness import leaderboard, metrics

    summary = metrics.summarize(records, np.random.default_rng(seed), checkpoints=protocol.report_checkpoints,
                                resamples=resamples, budget=protocol.budget,
                                time_checkpoints=protocol.report_time_checkpoints or None)
    groups = metrics.group_records(records)
    training = {k: float(np.mean([r.meta.get("training_queries", 0) for r in v])) for k, v in groups.items()}
    board = leaderboard.build(summary, protocol, training if any(training.values()) else None)
    plot_paths = []
    if plots:
        from harness import plots as P

        from harness.commands.report import metrics_line

        plot_paths = P.write_plots(summary, os.path.join(out, protocol.id), title=f"{protocol.id} ({metrics_line(protocol, summary)})")
    return board, leaderboard.write(board, out, plot_paths)


def main(args) -> int:
    from harness.commands.report import load_protocol_for, one_source, read_records, select

    from harness.paths import check_writable_dir

    check_writable_dir(args.out, "the leaderboard folder", "pass --out with a writable folder")
    protocol = load_protocol_for(args)
    records, where = read_records(protocol, args.source, args.tracking_uri)
    records = one_source(select(protocol, records, args), getattr(args, "benchmark_version", None))
    if not records:
        raise ConfigError(f"no runs of protocol {protocol.id} in {where}; make them with: "
                          f"nas-harness run --protocol {args.protocol}")
    board, paths = make(protocol, records, args.out, args.resamples, args.seed, not args.no_plots)
    from harness.leaderboard import to_markdown

    print(to_markdown(board))
    print(f"written: {', '.join(paths.values())}")
    return 0
