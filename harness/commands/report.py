"""``nas-harness report --protocol P``: the statistics and plots of a protocol's runs.

Reads the runs of protocol ``P`` from the raw records under ``results/runs/<protocol id>/``
(the source of truth) or, when there are none, from the MLflow store; computes
:func:`harness.metrics.summarize` (values at the checkpoints with 95% bootstrap CIs, ranks and
Mann-Whitney/Holm significance, samples to optimum / ERT, improvement statistics of episodic
runs); prints the tables; writes the plots (:mod:`harness.plots`) and the tables as CSV to a
folder it prints (default ``results/reports/<protocol id>/``); ``--log-mlflow`` also logs the
plots as artifacts of a ``report`` run in the protocol's MLflow experiment.
"""

from __future__ import annotations

import os
import sys

import numpy as np
from tabulate import tabulate

from harness.commands.run import _positive
from harness.errors import ConfigError
from harness.protocol import SEEDS_HELP, seeds_arg


def _probability(text):
    """argparse type: a significance level strictly between 0 and 1."""
    import argparse
    import math

    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not 0.0 < v < 1.0:
        raise argparse.ArgumentTypeError(f"alpha must be a significance level between 0 and 1 (e.g. 0.05), got {text!r}")
    return v


def add_selection_args(p) -> None:
    """``--protocol``, ``--budget`` and ``--data``: which experiment's runs a command reads
    (shared by ``report``, ``leaderboard`` and ``aggregate``-like commands)."""
    p.add_argument("--protocol", metavar="NAME|PATH|ID",
                   help="shipped protocol name, your protocol .toml, or the id of a protocol you ran "
                        "(default: the protocol of the last `nas-harness run`)")
    p.add_argument("--budget", type=_positive("budget"), metavar="Q", help="the budget override the runs were made with (run --budget)")
    p.add_argument("--data", metavar="PATH",
                   help="the data file the runs were made with (needed only when runs on several files exist)")


def add_read_args(p, resamples: int = 5000, seeds: bool = True) -> None:
    """Where the runs are read from, which of them, the bootstrap and plots (shared by
    ``report``, ``leaderboard`` and ``aggregate``)."""
    p.add_argument("--source", choices=("auto", "raw", "mlflow"), default="auto",
                   help="where the runs are read from (default auto: raw records if any, else MLflow)")
    p.add_argument("--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI or sqlite under results/)")
    if seeds:
        p.add_argument("--seeds", type=seeds_arg, metavar="SEEDS", help=f"only the runs of these {SEEDS_HELP}")
    p.add_argument("--benchmark-version", metavar="V", help="only the runs on this benchmark version (needed when a "
                   "protocol's runs used different data, e.g. embedded NB201 with and without a test table)")
    p.add_argument("--resamples", type=_positive("number of resamples"), default=resamples,
                   help=f"bootstrap resamples (default {resamples:,})")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resampling (default 0)")
    p.add_argument("--no-plots", action="store_true", help="tables only")


def register(sub) -> None:
    p = sub.add_parser("report", help="statistics, tables and plots of a protocol's runs")
    add_selection_args(p)
    add_read_args(p)
    p.add_argument("--algorithm", nargs="+", metavar="NAME", help="only these algorithms (default all; module:Class or Class)")
    p.add_argument("--out", metavar="DIR", help="folder for plots and CSV tables (default results/reports/<protocol id>)")
    p.add_argument("--alpha", type=_probability, default=0.05, help="significance level of the pairwise tests (default 0.05)")
    p.add_argument("--optimum-metric", choices=("search", "report"), default="search",
                   help="which metric's global optimum samples-to-optimum waits for (default search)")
    p.add_argument("--logx", action="store_true", help="log-scaled query axis in the best-so-far plot")
    p.add_argument("--log-mlflow", action="store_true", help="also log the plots to MLflow (a 'report' run)")
    p.set_defaults(func=main)


def load_protocol_for(args):
    """The protocol named by ``--protocol`` (+ ``--budget``, ``--data``), or the last run's."""
    from dataclasses import replace

    from harness.commands.run import last_protocol_id
    from harness.protocol import load_protocol

    if not args.protocol:
        last = last_protocol_id()
        if last is None:
            raise ConfigError("no --protocol given and no run made in this results folder yet; "
                              "run `nas-harness run` first or pass --protocol NAME")
        args.protocol = last
    p = load_protocol(args.protocol)
    p = p.with_budget(args.budget) if args.budget else p
    if getattr(args, "data", None):
        p = replace(p, data=args.data)
    return p


def select(protocol, records: list, args) -> list:
    """The records of exactly the experiment asked for (:func:`harness.identity.select_current`);
    prints a note for each group of records left out."""
    from harness.identity import data_checksum, select_current

    version = getattr(args, "benchmark_version", None)
    wanted = getattr(args, "seeds", None)
    if wanted:
        wanted = set(wanted)
        records = [r for r in records if r.meta.get("seed") in wanted]
    if version:
        records = [r for r in records if r.meta.get("benchmark_version") == version]
    checksum = None
    if getattr(args, "data", None) or (protocol.data and any(r.meta.get("data_checksum") for r in records)):
        from harness.benchmarks import get_benchmark

        checksum = data_checksum(get_benchmark(protocol.benchmark, protocol.dataset, protocol.data))
    kept, notes = select_current(records, protocol, checksum)
    from harness.metrics import collapse_duplicates

    kept, copies = collapse_duplicates(kept)
    for n in notes + copies:
        print(f"nas-harness: note: {n}", file=sys.stderr)
    return kept


def one_source(records, version: str | None = None) -> list:
    """The records, all on one benchmark version and report metric (``version`` picks one).

    A protocol with ``report_fallback`` (or ``nb201`` with and without ``--data``) may have runs
    on different data under one id; mixing them would average test with validation numbers,
    so a ConfigError lists the versions and asks for ``--benchmark-version``.
    """
    if version:
        records = [r for r in records if r.meta.get("benchmark_version") == version]
    groups: dict = {}
    for r in records:
        groups.setdefault((r.meta.get("benchmark_version"), r.meta.get("report_metric")), []).append(r)
    if len(groups) > 1:
        found = "; ".join(f"{v} reporting {m} ({len(rs)} runs)" for (v, m), rs in sorted(groups.items(), key=str))
        raise ConfigError(f"the runs come from different data: {found}; choose one with --benchmark-version V")
    return records


def algorithm_names(record, _declared: dict = {}) -> set[str]:
    """Every name ``report --algorithm`` knows a record's algorithm by: the name it was run
    under (``greedy`` or ``mypackage.greedy:Greedy``), its class name (``Greedy``), its
    ``module:Class`` and the class's declared ``name`` (when the class can be imported)."""
    algo = str(record.meta.get("algorithm"))
    cls_path = str(record.meta.get("algorithm_class") or "")
    names = {algo, algo.rsplit(":", 1)[-1], cls_path, cls_path.rsplit(":", 1)[-1]} - {""}
    if algo not in _declared:  # memo per process: one import per algorithm
        from algorithms.registry import get_algorithm_class
        from harness.errors import HarnessError

        try:
            _declared[algo] = getattr(get_algorithm_class(algo), "name", "") or ""
        except HarnessError:
            _declared[algo] = ""
    return names | ({_declared[algo]} - {""})


def metrics_line(protocol, summary) -> str:
    """Which metric was searched and which reported (and why, when the protocol fell back)."""
    line = f"searched {summary.search_metric}, reported {summary.report_metric}"
    if protocol.report_metric and summary.report_metric and summary.report_metric != protocol.report_metric:
        line += f" (mean over seeds: the data has no {protocol.report_metric})"
    elif summary.report_metric and summary.report_metric == summary.search_metric:
        line += " (search = report: not held out)"
    return line


def raw_records(protocol) -> list:
    """The raw records of a protocol (``results/runs/<protocol id>/*.npz``, and ``*.json`` of
    versions before record schema 3)."""
    from harness.sweep import read_records

    return read_records(protocol.id)


def mlflow_records(protocol, uri: str | None = None) -> list:
    """The records of a protocol's complete runs stored in MLflow (artifact ``record.npz``),
    one per run key (:func:`harness.tracking.mlflow_records`)."""
    from harness import tracking

    tracking.check_uri(tracking.resolve_uri(uri))
    return tracking.mlflow_records(protocol.name, protocol.id, uri)


def read_records(protocol, source: str = "auto", uri: str | None = None) -> tuple[list, str]:
    """``(records, where they came from)``."""
    from harness.paths import results_dir

    if source in ("auto", "raw"):
        recs = raw_records(protocol)
        if recs or source == "raw":
            return recs, str(results_dir() / "runs" / protocol.id)
    from harness import tracking

    uri = tracking.resolve_uri(uri)
    return mlflow_records(protocol, uri), f"MLflow {uri}"


def _f(v, fmt=".2f"):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "-"
    if isinstance(v, float) and np.isinf(v):
        return "inf"
    return format(v + 0.0 if isinstance(v, float) else v, fmt)  # + 0.0: no "-0.00"


def _ci(ci, fmt=".2f"):
    return f"[{_f(ci[0], fmt)}, {_f(ci[1], fmt)}]"


def tables(summary, alpha: float = 0.05) -> dict[str, tuple[list[str], list[list]]]:
    """The report's tables as ``name -> (headers, rows)`` (plain values, for printing and CSV)."""
    out = {}
    rows = []
    for i, c in enumerate(summary.checkpoints):
        cmp = summary.comparisons[c]
        for label in sorted(summary.algorithms, key=lambda k: cmp.ranks.get(k, np.inf)):
            st = summary.algorithms[label].checkpoints[i]
            if st.n_runs == 0:
                continue
            mark = "*" if label in cmp.tied_with_best else ""
            rows.append([c, label, _f(cmp.ranks.get(label), "g"), mark, st.n_runs, st.q, f"{_f(st.mean)} ± {_f(st.std)}",
                         _ci(st.ci), _f(st.median)])
    out["checkpoints"] = (["checkpoint", "algorithm", "rank", "~best", "runs", "#Q", "mean ± std", "95% CI",
                           "median"], rows)
    rows = []
    for i, t in enumerate(summary.time_checkpoints):
        cmp = summary.time_comparisons[t]
        for label in sorted(summary.algorithms, key=lambda k: cmp.ranks.get(k, np.inf)):
            st = summary.algorithms[label].time_checkpoints[i]
            if st.n_runs == 0:
                continue
            mark = "*" if label in cmp.tied_with_best else ""
            rows.append([f"{t:g}", label, _f(cmp.ranks.get(label), "g"), mark, st.n_runs, _f(float(np.mean(st.q_runs)), ".1f"),
                         st.q, f"{_f(st.mean)} ± {_f(st.std)}", _ci(st.ci), _f(st.median)])
    if rows:
        out["time_checkpoints"] = (["simulated s", "algorithm", "rank", "~best", "runs", "#Q mean", "#Q max", "mean ± std",
                                    "95% CI", "median"], rows)
    rows = []
    for label, a in summary.algorithms.items():
        if not a.costs and a.hypervolume is None:
            continue
        row = [label]
        for m in summary.cost_metrics:
            c = a.costs.get(m)
            row += [f"{_f(c.mean, '.4g')} ± {_f(c.std, '.2g')}" if c and c.n_runs else "-"]
        if summary.pareto_cost is not None:
            hv = a.hypervolume
            row += [f"{_f(hv.mean, '.4f')} ± {_f(hv.std, '.4f')}" if hv and hv.n_runs else "-",
                    _ci(hv.ci, ".4f") if hv and hv.n_runs else "-"]
        rows.append(row)
    if rows:
        out["costs"] = (["algorithm"] + [f"incumbent {m} (mean ± std)" for m in summary.cost_metrics]
                        + ([f"hypervolume ({summary.pareto_cost}) mean ± std", "95% CI"] if summary.pareto_cost else []), rows)
    rows = []
    for label, a in summary.algorithms.items():
        s = a.samples_to_optimum
        if s is None or not s.n_runs:
            continue
        rows.append([label, s.n_runs, f"{s.successes}/{s.n_runs}", _ci(tuple(100 * x for x in s.success_rate_ci), ".0f") + " %",
                     _f(s.mean, ",.1f"), _ci(s.mean_ci, ",.1f"), _f(s.median, ",.1f"), _ci(s.median_ci, ",.1f"),
                     _f(s.ert, ",.1f"), _ci(s.ert_ci, ",.1f")])
    if rows:
        out["samples_to_optimum"] = (["algorithm", "runs", "found", "95% CI", "mean", "95% CI", "median", "95% CI", "ERT",
                                      "95% CI"], rows)
    rows = []
    for label, a in summary.algorithms.items():
        s = a.improvements
        if s is None:
            continue
        rows.append([label, s.n, _f(s.median, "+.2f")] + [_ci(s.intervals[p], "+.2f") for p in sorted(s.intervals)]
                    + [_f(s.skew, "+.3f"), "< 1e-300" if s.normaltest[1] < 1e-300 else _f(s.normaltest[1], ".1e")])
    if rows:
        levels = sorted(next(a.improvements for a in summary.algorithms.values() if a.improvements).intervals)
        out["improvements"] = (["algorithm", "episodes", "median"] + [f"{p:.0%} interval" for p in levels]
                               + ["skew", "normaltest p"], rows)
    return out


TITLES = {
    "checkpoints": "{report} of the incumbent (the best by search value so far; its report value can fall) at the "
                   "checkpoints (mean ± std: mean and standard deviation over seeds, one run per seed; percentile-bootstrap 95% CI of the "
                   "mean; #Q = latest query at which a run's value was found; rank by mean; ~best: * marks the best and "
                   "those not significantly different from it, two-sided Mann-Whitney U, Holm-corrected, alpha {alpha:g})",
    "samples_to_optimum": "Counted queries until the global optimum of the {which} metric is first queried (mean/median "
                          "over successful runs; ERT = all counted queries / successes, COCO; 95% bootstrap CIs)",
    "time_checkpoints": "{report} of the incumbent at simulated times (s): the best by search value among the results "
                        "available by then (mean ± std over seeds, bootstrap 95% CI; #Q = results available; rank and ~best as above)",
    "costs": "Report-only costs of the final incumbent, and the normalized hypervolume of each run's Pareto front of "
             "({search} maximized, {pareto} minimized), box from the space's worst to its best corner",
    "improvements": "Improvement of {report} over an episode (final - initial): median, intervals around the median "
                    "holding 50/80/95% of episodes, skew, scipy.stats.normaltest",
}


def main(args) -> int:
    from harness import metrics
    from harness.paths import check_writable_dir, results_dir

    protocol = load_protocol_for(args)
    records, where = read_records(protocol, args.source, args.tracking_uri)
    records = select(protocol, records, args)
    if args.algorithm:  # a module:Class algorithm may be named by its class alone
        want = set(args.algorithm)
        records = [r for r in records if algorithm_names(r) & want]
    records = one_source(records, args.benchmark_version)
    if not records:
        raise ConfigError(f"no runs of protocol {protocol.id} in {where}; make them with: "
                          f"nas-harness run --protocol {args.protocol}" + (f" --budget {args.budget}" if args.budget else ""))
    if args.resamples < 1:
        raise ConfigError(f"--resamples must be positive, got {args.resamples}")
    summary = metrics.summarize(records, np.random.default_rng(args.seed), checkpoints=protocol.report_checkpoints,
                                resamples=args.resamples, alpha=args.alpha, optimum_metric=args.optimum_metric,
                                budget=protocol.budget,
                                time_checkpoints=protocol.report_time_checkpoints or None)
    failed = sum(a.failed for a in summary.algorithms.values())
    opt = f"{summary.optimum_report:.4g}" if summary.optimum_report is not None else "unknown"
    print(f"protocol {protocol.id}: {len(records)} runs ({failed} failed, left out) of {len(summary.algorithms)} "
          f"algorithm(s) from {where}")
    version = records[0].meta.get("benchmark_version")
    tb = f" and {protocol.time_budget:,g} simulated s" if protocol.time_budget is not None else ""
    print(f"{metrics_line(protocol, summary)} (optimum {opt}); benchmark {version}; "
          f"budget {protocol.budget}{tb}, {args.resamples:,} bootstrap resamples\n")
    tabs = tables(summary, args.alpha)
    fmt = {"report": summary.report_metric, "which": args.optimum_metric, "alpha": args.alpha,
           "search": summary.search_metric, "pareto": summary.pareto_cost}
    for name, (headers, rows) in tabs.items():
        print(TITLES[name].format(**fmt))
        print(tabulate(rows, headers=headers, disable_numparse=True))
        print()
    out = args.out or str(results_dir() / "reports" / protocol.id)
    check_writable_dir(out, "the report folder", "pass --out with a writable folder")
    import csv

    for name, (headers, rows) in tabs.items():
        with open(os.path.join(out, f"{name}.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(headers)
            w.writerows(rows)
    paths = []
    if not args.no_plots:
        from harness import plots

        title = f"{protocol.id} ({metrics_line(protocol, summary)})"
        paths = plots.write_plots(summary, out, title=title, logx=args.logx)
    print(f"tables (CSV){' and plots' if paths else ''} in {out}")
    for p in paths:
        print(f"  {os.path.basename(p)}")
    if args.log_mlflow and paths:
        from harness import tracking

        uri = tracking.resolve_uri(args.tracking_uri)
        try:
            rid = tracking.log_artifacts(paths, protocol.name, uri=uri, run_name="report", artifact_path="plots")
            print(f"plots logged to MLflow run {rid} ({uri})")
        except Exception as e:
            print(f"nas-harness: warning: could not log the plots to MLflow at {uri} ({type(e).__name__}: {e})",
                  file=sys.stderr)
    return 0
