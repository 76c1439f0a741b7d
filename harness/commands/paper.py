"""``nas-harness paper lanas|bonas|l2nas|apex [--table ID]``: the papers' tables, ours beside theirs.

Published values live in ``protocols/papers/<paper>.toml`` with their table, column, method,
protocol and statistic. For each column this command runs (or reuses: sweeps resume by run
key) the protocol's runs of the algorithms named there, then prints our value beside the
published one. A ``!`` marks a published value outside our 95% CI. Where a benchmark file is
absent (e.g. NB101), it names the file needed and goes on with the rest.

Statistics: ``best_report`` = report value of the incumbent after ``at`` counted queries
(mean ± std over seeds, bootstrap CI of the mean); ``best_report_time`` = the same at ``at``
seconds of simulated training (time-budgeted protocols, :mod:`harness.simclock`; e.g. L2NAS
Table 1's RS / REA / REINFORCE rows, which are NB201's time-budgeted baselines);
``samples_to_optimum`` = counted queries until the global optimum is first queried (mean over
successful runs, bootstrap CI). A paper's ``closing_note`` is printed at the end.

Besides printing, the tables are written to ``results/papers/<paper>/`` (``--out DIR``):
``<paper>.md`` (what is printed, as Markdown tables), ``<paper>.csv`` and ``<paper>.json`` (one
row per published value, one numeric column per quantity: published mean and std, our mean,
std, CI ends, median, runs, and ``outside_ci`` as a boolean). With ``--table ID`` the files are
``<paper>-table<ID>.*``.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tomllib

import numpy as np
from tabulate import tabulate

from harness.errors import ConfigError, HarnessError
from harness.protocol import SEEDS_HELP, seeds_arg

PAPERS = ("lanas", "bonas", "l2nas", "apex")


def register(sub) -> None:
    p = sub.add_parser("paper", help="regenerate a paper's tables: our value beside the published one")
    p.add_argument("paper", choices=PAPERS)
    p.add_argument("--table", help="only this table id (e.g. 1, 2, fig5)")
    p.add_argument("--data", action="append", default=[], metavar="[BENCH=]PATH",
                   help="official benchmark file, repeatable: nb101=PATH, nb201=PATH, nb301=PATH, or a bare PATH "
                        "(its benchmark is told by its name: *.tfrecord is NB101, a NATS/NB201 table or folder NB201, "
                        "nb_models* NB301); each protocol gets the file of its benchmark")
    p.add_argument("--seeds", type=seeds_arg, metavar="SEEDS", help=f"{SEEDS_HELP} (default: the protocol's)")
    p.add_argument("--workers", type=int, default=None, help="parallel worker processes (default: number of cores)")
    p.add_argument("--algorithm", nargs="+", metavar="NAME", help="only rows of these algorithms")
    p.add_argument("--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI or sqlite under results/)")
    p.add_argument("--resamples", type=int, default=5000, help="bootstrap resamples (default 5,000)")
    p.add_argument("--no-log", action="store_true", help="do not log the runs to MLflow")
    p.add_argument("--out", metavar="DIR", help="folder of the written tables (default results/papers/<paper>/)")
    p.set_defaults(func=main)


def published(paper: str) -> dict:
    """The published values of ``paper`` (``protocols/papers/<paper>.toml``)."""
    from harness.protocol import protocol_dirs

    for d in protocol_dirs():
        path = os.path.join(d, "papers", f"{paper}.toml")
        if os.path.exists(path):
            with open(path, "rb") as f:
                return tomllib.load(f)
    raise ConfigError(f"published values of {paper} not found (protocols/papers/{paper}.toml)")


DATA_BENCHMARKS = ("nb101", "nb201", "nb301")


def data_paths(values: list[str]) -> dict[str, str]:
    """``--data`` values -> {benchmark family: path}."""
    out: dict[str, str] = {}
    for v in values or []:
        fam, sep, path = v.partition("=")
        if not (sep and fam in DATA_BENCHMARKS):
            fam, path = _guess_benchmark(v), v
        if fam is None:
            raise ConfigError(f"--data {v}: cannot tell which benchmark this file is for; "
                              f"write it as nb101=PATH, nb201=PATH or nb301=PATH")
        if fam in out and out[fam] != path:
            raise ConfigError(f"--data: two files for {fam} ({out[fam]} and {path}); give one")
        out[fam] = path
    return out


def _guess_benchmark(path: str) -> str | None:
    from pathlib import Path

    p = Path(path)
    name = p.name.lower()
    if name.endswith(".tfrecord"):
        return "nb101"
    if "nb_models" in name or (p.is_dir() and any((p / d).exists() for d in ("xgb_v1.0", "gnn_gin_v1.0"))):
        return "nb301"
    if p.is_dir() or name.endswith((".csv", ".pickle", ".pbz2", ".pth")) or "nats" in name or "201" in name:
        return "nb201"
    return None


def _protocol(name: str, data: dict[str, str], seeds: int | None):
    from harness.protocol import load_protocol

    p = load_protocol(name)
    kw = {}
    if data.get(p.benchmark):
        kw["data"] = data[p.benchmark]
    if seeds:
        kw["seeds"] = tuple(seeds)
    return dataclasses.replace(p, **kw) if kw else p


def _runs(protocol, rows, args):
    """Run (or reuse) the jobs of the rows' algorithms; return records by (algorithm, hp json)."""
    import json

    from harness.paths import check_results_writable
    from harness.runner import Job
    from harness.sweep import run_sweep

    check_results_writable()  # before computing anything
    jobs, seen = [], set()
    for row in rows:
        if row.get("optimum"):
            continue
        hp = dict(row.get("hyperparameters", {}))
        k = (row["algorithm"], json.dumps(hp, sort_keys=True))
        if k in seen:
            continue
        seen.add(k)
        jobs += [Job(protocol, row["algorithm"], s, hp) for s in protocol.seeds]
    from tqdm import tqdm

    tqdm.monitor_interval = 0  # no monitor thread: the pool may fork (harness.runner.start_method)

    bar = tqdm(total=len(jobs), desc=protocol.name, unit="run", disable=not sys.stderr.isatty(), file=sys.stderr)

    def progress(i, total):
        bar.total, bar.n = total, i
        bar.refresh()

    res = run_sweep(jobs, workers=args.workers or os.cpu_count() or 1, tracking_uri=args.tracking_uri,
                    log=not args.no_log, progress=progress)
    bar.close()
    if res.interrupted:
        raise KeyboardInterrupt
    by = {}
    keys = {j.key(): (j.algorithm, json.dumps(j.hyperparameters, sort_keys=True)) for j in jobs}
    for r in res.records:
        if r.run_key in keys and r.meta.get("status") == "finished":
            by.setdefault(keys[r.run_key], []).append(r)
    from harness.metrics import sort_by_seed

    for recs in by.values():
        sort_by_seed(recs)
    return by, res


def _ours(stat: str, row: dict, recs: list, rng, resamples: int, numbers: dict | None = None):
    """``(text, lo, hi)`` of our value for one published row; ``numbers`` (a dict), when given,
    receives the same values as numbers (mean, std, ci_low, ci_high, median, n_runs, ...)."""
    from harness import metrics

    numbers = {} if numbers is None else numbers
    if not recs:
        return "no runs", None, None
    if stat == "best_report":
        at = int(row["at"])
        vals, q = metrics.at_checkpoints(recs, [at])
        st = metrics.checkpoint_stats(vals, q, [at], rng, resamples)[0]
        numbers.update(mean=st.mean, std=st.std, ci_low=st.ci[0], ci_high=st.ci[1], median=st.median, n_runs=st.n_runs,
                       queries=st.q)
        return f"{st.mean:.2f} ± {st.std:.2f} [{st.ci[0]:.2f}, {st.ci[1]:.2f}] (n={st.n_runs})", st.ci[0], st.ci[1]
    if stat == "best_report_time":
        at = float(row["at"])
        vals, avail = metrics.at_times(recs, [at])
        st = metrics.time_checkpoint_stats(vals, avail, [at], rng, resamples)[0]
        if not st.n_runs:
            return "no results by then", None, None
        numbers.update(mean=st.mean, std=st.std, ci_low=st.ci[0], ci_high=st.ci[1], median=st.median, n_runs=st.n_runs,
                       queries=float(np.mean(st.q_runs)))
        return (f"{st.mean:.2f} ± {st.std:.2f} [{st.ci[0]:.2f}, {st.ci[1]:.2f}] (n={st.n_runs}, "
                f"{float(np.mean(st.q_runs)):.0f} queries)"), st.ci[0], st.ci[1]
    if stat == "samples_to_optimum":
        s = metrics.samples_to_optimum(*metrics.hitting_times(recs, "search"), rng, resamples)
        numbers.update(mean=s.mean, ci_low=s.mean_ci[0], ci_high=s.mean_ci[1], median=s.median, n_runs=s.n_runs,
                       successes=s.successes)
        return (f"{s.mean:,.1f} [{s.mean_ci[0]:,.1f}, {s.mean_ci[1]:,.1f}] median {s.median:,.1f} "
                f"(found {s.successes}/{s.n_runs})"), s.mean_ci[0], s.mean_ci[1]
    raise ConfigError(f"unknown statistic {stat!r} in the published values")


def main(args) -> int:
    import json

    from harness.paths import check_writable_dir, results_dir

    data = data_paths(args.data)
    pub = published(args.paper)
    check_writable_dir(getattr(args, "out", None) or results_dir() / "papers" / args.paper, "the paper tables folder",
                       "pass --out with a writable folder")  # before any run
    columns = [v for v in pub["value"] if not args.table or str(v["table"]) == str(args.table)]
    if not columns:
        tables = sorted({str(v["table"]) for v in pub["value"]})
        raise ConfigError(f"{pub['paper']} has no table {args.table!r} here; choose one of: {', '.join(tables)}")
    print(f"{pub['paper']}: {pub['source']}\n")
    rng = np.random.default_rng(0)
    skipped = []
    md = [f"# {pub['paper']}", "", str(pub["source"]), ""]
    tidy: list[dict] = []
    for col in columns:
        rows = [r for r in col["rows"] if not args.algorithm or r.get("optimum") or r["algorithm"] in args.algorithm]
        title = f"Table {col['table']}, {col['column']} (protocol {col['protocol']})"
        try:
            protocol = _protocol(col["protocol"], data, args.seeds)
            from harness.runner import make_oracle

            make_oracle(protocol, np.random.default_rng(0))  # fails here, with the file to obtain, when data is missing
        except HarnessError as e:
            skipped.append(f"{title}: {e}")
            print(f"{title}\n  skipped: {e}\n")
            continue
        by, res = _runs(protocol, rows, args)
        table = []
        for row in rows:
            if row.get("optimum"):
                from harness.benchmarks import get_benchmark

                b = get_benchmark(protocol.benchmark, protocol.dataset, protocol.data)
                opt = b.optimum(protocol.resolve_metrics(b)[1])[0]
                ours = f"{opt:.2f}"
                table.append([row["method"], f"{row['mean']:.2f}", ours, ""])
                tidy.append(_tidy_row(pub, col, row, {"mean": opt}, False))
                continue
            k = (row["algorithm"], json.dumps(dict(row.get("hyperparameters", {})), sort_keys=True))
            nums: dict = {}
            text, lo, hi = _ours(col["statistic"], row, by.get(k, []), rng, args.resamples, nums)
            pubv = row.get("mean")  # rows without a published value are ours alone (e.g. same-budget baselines)
            pub_txt = "-" if pubv is None else f"{pubv:,.2f}" + (f" ± {row['std']:.2f}" if "std" in row else "")
            mark = "!" if pubv is not None and lo is not None and not (lo <= pubv <= hi) else ""
            at = "" if "at" not in row else (f" @{row['at']:,} s" if col["statistic"] == "best_report_time" else f" @{row['at']}")
            table.append([row["method"] + at, pub_txt, text, mark])
            tidy.append(_tidy_row(pub, col, row, nums, bool(mark)))
        reported = sorted({r.meta.get("report_metric") for recs in by.values() for r in recs} - {None})
        if reported:
            title += f"; ours report {', '.join(reported)}"
        print(title)
        headers = ["method", "published", "ours: mean [95% CI]", "outside CI"]
        print(tabulate(table, headers=headers, disable_numparse=True))
        md += [f"## {title}", "", tabulate(table, headers=headers, disable_numparse=True, tablefmt="github"), ""]
        notes = [f"{r['method']}: {r['note']}" for r in rows if r.get("note")]
        for n in notes:
            print(f"  note: {n}")
            md.append(f"- note: {n}")
        print(f"  ({res.ran} runs made, {res.skipped} reused; seeds {len(protocol.seeds)})\n")
        md += [f"({res.ran} runs made, {res.skipped} reused; seeds {len(protocol.seeds)})", ""]
    if skipped:
        print("Not regenerated (benchmark files absent):")
        md += ["## Not regenerated (benchmark files absent)", ""]
        for s in skipped:
            print(f"  - {s}")
            md.append(f"- {s}")
        md.append("")
    if pub.get("closing_note"):
        print(f"\nNote: {pub['closing_note']}")
        md += [f"Note: {pub['closing_note']}", ""]
    paths = write_files(args, md, tidy)
    print(f"\nwritten: {', '.join(paths)}")
    return 0


TIDY = ("paper", "table", "column", "protocol", "method", "algorithm", "statistic", "at", "published_mean",
        "published_std", "mean", "std", "ci_low", "ci_high", "median", "n_runs", "successes", "queries", "outside_ci")


def _tidy_row(pub: dict, col: dict, row: dict, nums: dict, outside: bool) -> dict:
    nan = float("nan")
    out = {"paper": pub.get("paper", ""), "table": str(col["table"]), "column": col.get("column", ""),
           "protocol": col["protocol"], "method": row["method"],
           "algorithm": "" if row.get("optimum") else row.get("algorithm", ""),
           "statistic": "optimum" if row.get("optimum") else col["statistic"],
           "at": float(row["at"]) if "at" in row else nan,
           "published_mean": float(row["mean"]) if row.get("mean") is not None else nan,
           "published_std": float(row["std"]) if "std" in row else nan}
    for k in ("mean", "std", "ci_low", "ci_high", "median", "n_runs", "successes", "queries"):
        v = nums.get(k)
        out[k] = nan if v is None else float(v)
    out["outside_ci"] = bool(outside)
    return out


def write_files(args, md: list[str], tidy: list[dict]) -> list[str]:
    """``<paper>.md``, ``.csv`` and ``.json`` into ``--out`` (default results/papers/<paper>/)."""
    import json

    import pandas as pd

    from harness.paths import check_writable_dir, results_dir

    out = getattr(args, "out", None) or str(results_dir() / "papers" / args.paper)
    check_writable_dir(out, "the paper tables folder", "pass --out with a writable folder")
    os.makedirs(out, exist_ok=True)
    base = os.path.join(out, args.paper + (f"-table{args.table}" if args.table else ""))
    with open(base + ".md", "w") as f:
        f.write("\n".join(md).rstrip() + "\n")
    frame = pd.DataFrame(tidy, columns=list(TIDY))
    frame.to_csv(base + ".csv", index=False)
    with open(base + ".json", "w") as f:
        json.dump({"paper": args.paper, "table": args.table, "rows": json.loads(frame.to_json(orient="records"))}, f,
                  indent=1)
        f.write("\n")
    return [base + ".md", base + ".csv", base + ".json"]
