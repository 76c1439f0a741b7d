"""``nas-harness leaderboard --protocol P``: the protocol's leaderboard from its runs.

Reads the runs (raw records, or the MLflow store), computes the statistics
(:func:`harness.metrics.summarize`) and writes ``leaderboards/<protocol id>.md`` (+ ``.csv``,
``.tex``, numeric ``.tidy.csv`` and ``.json``, one row per run in ``.runs.csv``, plots in ``leaderboards/<protocol id>/``; stale plots
removed) and ``leaderboards/README.md``. A board made from more runs than are found now is not
overwritten without ``--force``.
"""

from __future__ import annotations

import os

import numpy as np

from harness.errors import ConfigError


def register(sub) -> None:
    p = sub.add_parser("leaderboard", help="write the leaderboard of a protocol (Markdown, CSV, LaTeX, plots)")
    from harness.commands.report import add_read_args, add_selection_args

    add_selection_args(p)
    add_read_args(p)
    p.add_argument("--out", default="leaderboards", metavar="DIR", help="folder of the leaderboards (default leaderboards/)")
    p.add_argument("--force", action="store_true",
                   help="replace a board made from more runs than are found now (refused otherwise)")
    p.set_defaults(func=main)


def make(protocol, records, out: str, resamples: int = 5000, seed: int = 0, plots: bool = True):
    """Build and write a leaderboard; returns ``(board, paths)``. Runs of an algorithm that
    ``nas-harness run`` refuses on the protocol now are left out (a line on stderr says which);
    rows whose warm-up is over half the queries a time budget affords are flagged in a note."""
    import sys

    from harness import leaderboard, metrics

    oracle = _oracle(protocol, records)
    records, left_out, flagged = warmup_screen(protocol, records, oracle)
    if left_out:
        print(f"note: left out {left_out}", file=sys.stderr)
    if not records:
        raise ConfigError(f"no runs of protocol {protocol.id} left: {left_out}")
    report_range, agreement = benchmark_facts(protocol, records)
    summary = metrics.summarize(records, np.random.default_rng(seed), checkpoints=protocol.report_checkpoints,
                                resamples=resamples, budget=protocol.budget,
                                time_checkpoints=protocol.report_time_checkpoints or None, report_range=report_range,
                                anytime_without_range=True)
    groups = metrics.group_records(records)
    training = {k: float(np.mean([r.meta.get("training_queries", 0) for r in v])) for k, v in groups.items()}
    board = leaderboard.build(summary, protocol, training if any(training.values()) else None, agreement)
    notes, board.regenerate = leaderboard.provenance(groups, protocol)
    board.notes += notes
    if flagged:
        board.notes.append(flagged)
    absent = coverage_note(protocol, records, groups, oracle)
    if absent:
        board.notes.append(absent)
    plot_paths = []
    if plots:
        from harness import plots as P

        from harness.commands.report import metrics_line

        plot_paths = P.write_plots(summary, os.path.join(out, protocol.id), title=f"{protocol.id} ({metrics_line(protocol, summary)})")
    remove_stale_plots(os.path.join(out, protocol.id), plot_paths)
    frame = leaderboard.tidy(summary, training)
    return board, leaderboard.write(board, out, plot_paths, tidy_frame=frame, n_runs=len(records),
                                    runs_frame=leaderboard.per_run(summary, records, protocol))


def _oracle(protocol, records):
    """The protocol's oracle on the data its runs used (never queried), or None when the
    benchmark cannot be opened here (then nothing is screened and no coverage line is written)."""
    import dataclasses

    from harness import metrics
    from harness.errors import HarnessError
    from harness.runner import make_oracle

    data = metrics._meta(records, "data") or protocol.data
    try:
        return make_oracle(dataclasses.replace(protocol, data=data), np.random.default_rng(0))
    except (HarnessError, OSError, KeyError, ValueError):
        return None


def _refusal_of(name: str, hyperparameters: dict, protocol, oracle):
    """:func:`harness.commands.run.refusal` for a registered algorithm with these settings
    (``"unbuildable"`` for settings the registry rejects)."""
    from algorithms.registry import make_algorithm
    from harness.commands.run import refusal
    from harness.errors import HarnessError

    try:
        algo = make_algorithm(name, **hyperparameters)
    except (HarnessError, TypeError, ValueError):
        return "unbuildable"
    return refusal(algo, protocol.budget, oracle.space, oracle.expected_queries)


def warmup_screen(protocol, records, oracle=None):
    """``(records kept, left-out line or "", flag note or None)``; ``oracle``: the protocol's
    (:func:`_oracle`, built here when not given). Leaves out the runs of an
    algorithm ``run`` refuses on this protocol now (e.g. a warm-up that fills every query a
    simulated time budget affords: its row would be random sampling under another name);
    flags the rows whose warm-up is more than half of those queries."""
    from algorithms.registry import list_algorithms

    oracle = oracle if oracle is not None else _oracle(protocol, records)
    if oracle is None:
        return records, "", None
    registered = set(list_algorithms())
    verdicts: dict = {}
    kept, dropped, flagged = [], {}, {}
    for r in records:
        name = r.meta.get("algorithm")
        hp = r.meta.get("hyperparameters") or {}
        key = (name, repr(sorted(hp.items())))
        if key not in verdicts:
            verdicts[key] = _refusal_of(name, hp, protocol, oracle) if name in registered else None
        verdict = verdicts[key]
        kind, detail = verdict if isinstance(verdict, tuple) else (None, None)
        if kind in ("needs", "warmup", "warmup-time"):
            dropped.setdefault(name, [0, kind, detail])[0] += 1
            continue
        if kind == "warn":
            flagged[name] = detail
        kept.append(r)
    left = "; ".join(f"{n} run(s) of {a} ({refusal_reason(k, d)}): `nas-harness run` refuses it on this protocol"
                     for a, (n, k, d) in sorted(dropped.items()))
    note = None
    if flagged:
        note = (f"Warm-up over half of the about {oracle.expected_queries:,.0f} queries the time budget affords (mostly "
                "random samples): " + ", ".join(f"{a} ({d[0]:,})" for a, d in sorted(flagged.items())) + ".")
    return kept, left, note


def refusal_reason(kind: str, detail) -> str:
    """The words for a refusal of :func:`harness.commands.run.refusal` (``needs``, ``warmup``,
    ``warmup-time``), as the boards print it."""
    if kind == "needs":
        return f"needs {', '.join(detail)}"
    if kind == "warmup":
        return f"warm-up of {detail:,} queries over the cap"
    return f"warm-up of {detail[0]:,} queries fills the about {detail[1]:,.0f} the time budget affords"


def coverage_note(protocol, records, groups, oracle=None) -> str | None:
    """One line naming the registered algorithms that have no row: those that apply to the
    protocol but were not run, and those ``nas-harness run`` refuses (a capability the space
    lacks, a warm-up over the cap of the budget, or one that fills the queries a time budget
    affords), with the reason; ``None`` when every registered algorithm has a row or the
    benchmark cannot be opened here."""
    from algorithms.registry import list_algorithms

    oracle = oracle if oracle is not None else _oracle(protocol, records)
    if oracle is None:
        return None
    ran = {r.meta.get("algorithm") for recs in groups.values() for r in recs}
    not_run, refused = [], []
    for name in list_algorithms():
        if name in ran:
            continue
        verdict = _refusal_of(name, protocol.overrides(name), protocol, oracle)
        if verdict == "unbuildable":
            continue
        kind, detail = verdict or (None, None)
        if kind in ("needs", "warmup", "warmup-time"):
            refused.append(f"{name} ({refusal_reason(kind, detail)})")
        else:
            not_run.append(name)
    if not not_run and not refused:
        return None
    parts = []
    if not_run:
        parts.append(f"applies but has no runs here: {', '.join(not_run)}")
    if refused:
        parts.append(f"refused by `nas-harness run` on this protocol: {', '.join(refused)}")
    return "Registered algorithms without a row: " + "; ".join(parts) + "."


def remove_stale_plots(folder: str, keep: list[str]) -> list[str]:
    """Remove the PNG files in a board's plot folder that this board did not write (a plot
    that no longer applies must not sit beside the new board); returns what was removed."""
    if not os.path.isdir(folder):
        return []
    keep_set = {os.path.abspath(p) for p in keep}
    gone = []
    for f in sorted(os.listdir(folder)):
        p = os.path.abspath(os.path.join(folder, f))
        if f.endswith(".png") and p not in keep_set:
            os.remove(p)
            gone.append(p)
    return gone


def benchmark_facts(protocol, records) -> tuple[tuple[float, float] | None, tuple[float, int] | None]:
    """``(report range, agreement)`` of the protocol's benchmark: the (optimum, worst) report value
    over the space (for the anytime regret) and, when the runs' search and report metrics differ,
    the Spearman agreement of the two among the top 1% of cells by search value. ``(None, None)``
    for a benchmark without a value table (a surrogate) or one that cannot be opened here."""
    from harness import metrics
    from harness.benchmarks import get_benchmark
    from harness.errors import HarnessError

    search = metrics._meta(records, "search_metric")
    report = metrics._meta(records, "report_metric")
    if search is None or report is None or metrics._meta(records, "optimum_report") is None:
        return None, None
    data = metrics._meta(records, "data") or protocol.data
    try:
        bench = get_benchmark(protocol.benchmark, protocol.dataset, data)
        rng_ = metrics.value_range(bench, report)
        agreement = None
        if search != report:
            agreement = metrics.top_agreement(bench.mean(search), bench.mean(report), bench.maximize(search))
    except (HarnessError, OSError, KeyError):
        return None, None
    if rng_ is not None and rng_[0] == rng_[1]:
        rng_ = None
    return rng_, agreement


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
    from harness.leaderboard import board_runs

    before = board_runs(args.out, protocol.id)
    if before is not None and before > len(records) and not args.force:
        raise ConfigError(f"{os.path.join(args.out, protocol.id)}.md was made from {before} runs, more than the "
                          f"{len(records)} found now: make the missing runs, write elsewhere with --out DIR, "
                          "or replace it with --force")
    board, paths = make(protocol, records, args.out, args.resamples, args.seed, not args.no_plots)
    from harness.leaderboard import to_markdown

    print(to_markdown(board))
    print(f"written: {', '.join(paths.values())}")
    return 0
