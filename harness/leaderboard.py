"""Leaderboards: one row per algorithm of a protocol, derived from the raw run records.

A leaderboard is written as ``<out>/<protocol>.md`` (the public record, with the plots in
``<out>/<protocol>/``), ``.csv`` and ``.tex``; ``<out>/README.md`` indexes every leaderboard in
the folder. The same statistics as numbers, for programs (:func:`tidy`): ``<protocol>.tidy.csv``
and ``<protocol>.json`` (which also records how many runs the board was made from). Columns:

* the best report value so far at each of the protocol's checkpoints: mean ± std over runs and
  the percentile-bootstrap 95% CI of the mean;
* the rank by mean at each checkpoint; a ``*`` marks the best algorithm and every algorithm not
  significantly different from it (two-sided Mann-Whitney U, Holm-corrected, alpha 0.05);
* where the benchmark knows its optimum: success rate, mean counted queries to the optimum
  with its CI, and ERT (COCO's expected running time);
* runs (failed runs are counted, left out of the statistics) and training queries for
  learned policies (never hidden: a leaderboard shows the cost of training);
* for a time-budgeted protocol: the best report value at each simulated-time checkpoint
  (mean ± std, 95% CI) and the mean number of results available then (``#Q``); the query
  checkpoint columns appear only when the protocol names query ``checkpoints``;
* for a protocol with ``cost_metrics``: the final incumbent's cost (mean over runs) per cost
  metric, and the normalized hypervolume of each run's Pareto front of (search value, cost)
  (mean with its 95% CI; the box is ``meta["pareto"]``, see ``docs/metrics.md``);
* an anytime measure with its CI and the rank by it, so that algorithms tied at the budget are
  told apart by how soon they got there: on a tabular benchmark the anytime regret (mean over
  queries ``1..budget`` of the incumbent's normalized report regret,
  :func:`harness.metrics.anytime_regret`); on a surrogate, whose optimum and worst value are
  unknown, the anytime mean of the raw value (:func:`harness.metrics.anytime_mean`); and in
  the header, when search and report metrics differ, their Spearman agreement among the top 1%
  of cells by search value.

Rows are sorted by the rank at the last checkpoint (the last simulated-time checkpoint for a
time-budgeted protocol; ties by ERT); for a protocol whose runs
stop at the optimum (``until_optimum``), by the rank of the counted queries to the optimum.
A user's algorithm (a ``module:Class`` or an installed plug-in) is a row like any other.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field

import numpy as np

from harness.metrics import Summary


@dataclass
class Board:
    """A leaderboard as plain cells (strings), ready for Markdown, CSV and LaTeX."""

    protocol_id: str
    title: str
    headers: list[str]
    rows: list[list[str]]
    notes: list[str]
    regenerate: list[str] = field(default_factory=list)  # the commands that remake the board


def _f(v, fmt=".2f") -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "-"
    if isinstance(v, float) and np.isinf(v):
        return "inf"
    return format(float(v) + 0.0, fmt)


def build(summary: Summary, protocol, training: dict[str, float] | None = None,
          agreement: tuple[float, int] | None = None) -> Board:
    """The rows of a leaderboard from :func:`harness.metrics.summarize`'s summary.

    ``agreement``: ``(Spearman rho, cells)`` of the search vs the report metric among the top 1%
    of cells by search value (:func:`harness.metrics.top_agreement`), printed in the header.
    """
    tcps = summary.time_checkpoints
    timed = bool(tcps)
    cps = summary.checkpoints if not timed or getattr(protocol, "checkpoints", ()) else ()
    last = summary.time_comparisons[tcps[-1]] if timed else summary.comparisons[cps[-1]]
    has_sto = any(a.samples_to_optimum is not None and a.samples_to_optimum.n_runs for a in summary.algorithms.values())
    headers = ["rank", "algorithm", "runs"]
    for c in cps:
        headers += [f"best @{c} (mean ± std)", f"95% CI @{c}"]
    for t in tcps:
        headers += [f"best @{_secs(t)} (mean ± std)", f"95% CI @{_secs(t)}", f"#Q @{_secs(t)}"]
    costs = summary.cost_metrics
    headers += [f"incumbent {m}" for m in costs]
    has_hv = summary.pareto_cost is not None
    if has_hv:
        headers += [f"hypervolume ({summary.pareto_cost})", "95% CI (HV)"]
    if has_sto:
        headers += ["found optimum", "queries to optimum (mean)", "95% CI", "ERT"]
    any_cmp = summary.anytime_comparison
    has_any = any_cmp is not None and bool(any_cmp.ranks)
    ranged = summary.report_range is not None  # anytime regret; else the anytime mean of the raw values
    if has_any:
        headers += ["anytime regret (mean)" if ranged else "anytime mean (mean)", "95% CI (anytime)", "anytime rank"]
    if training:
        headers += ["training queries / run"]

    by_hits = bool(getattr(protocol, "until_optimum", False)) and has_sto
    if by_hits:  # runs stop at the optimum: every final value ties, the speed is what differs
        from harness.metrics import compare

        last = compare({label: _hitting_values(a.samples_to_optimum) for label, a in summary.algorithms.items()
                        if a.samples_to_optimum is not None and a.samples_to_optimum.n_runs}, maximize=False)

    def sort_key(label):
        a = summary.algorithms[label]
        ert = a.samples_to_optimum.ert if a.samples_to_optimum is not None and a.samples_to_optimum.n_runs else np.inf
        return (last.ranks.get(label, np.inf), ert, label.lower())

    rows = []
    for label in sorted(summary.algorithms, key=sort_key):
        a = summary.algorithms[label]
        mark = "*" if label in last.tied_with_best else ""
        runs = f"{a.n_runs}" + (f" ({a.failed} failed)" if a.failed else "")
        row = [f"{_f(last.ranks.get(label), 'g')}{mark}", label, runs]
        for i, c in enumerate(cps):
            st = a.checkpoints[i]
            cm = summary.comparisons[c]
            m = "*" if label in cm.tied_with_best else ""
            row += [f"{_f(st.mean)} ± {_f(st.std)}{m}" if st.n_runs else "-",
                    f"[{_f(st.ci[0])}, {_f(st.ci[1])}]" if st.n_runs else "-"]
        for i, t in enumerate(tcps):
            st = a.time_checkpoints[i]
            m = "*" if label in summary.time_comparisons[t].tied_with_best else ""
            row += [f"{_f(st.mean)} ± {_f(st.std)}{m}" if st.n_runs else "-",
                    f"[{_f(st.ci[0])}, {_f(st.ci[1])}]" if st.n_runs else "-",
                    _f(float(np.mean(st.q_runs)), ".1f") if st.n_runs else "-"]
        for mname in costs:
            cs = a.costs.get(mname)
            row.append(_f(cs.mean, ".4g") if cs is not None and cs.n_runs else "-")
        if has_hv:
            hv = a.hypervolume
            row += [_f(hv.mean, ".4f") if hv is not None and hv.n_runs else "-",
                    f"[{_f(hv.ci[0], '.4f')}, {_f(hv.ci[1], '.4f')}]" if hv is not None and hv.n_runs else "-"]
        if has_sto:
            s = a.samples_to_optimum
            if s is None or not s.n_runs:
                row += ["-", "-", "-", "-"]
            else:
                row += [f"{s.successes}/{s.n_runs}", _f(s.mean, ",.1f"), f"[{_f(s.mean_ci[0], ',.1f')}, {_f(s.mean_ci[1], ',.1f')}]",
                        _f(s.ert, ",.1f")]
        if has_any:
            at = a.anytime
            if at is None or not at.n_runs:
                row += ["-", "-", "-"]
            else:
                fmt = ".4f" if ranged else ".3f"
                row += [_f(at.mean, fmt), f"[{_f(at.ci[0], fmt)}, {_f(at.ci[1], fmt)}]",
                        f"{_f(any_cmp.ranks.get(label), 'g')}" + ("*" if label in any_cmp.tied_with_best else "")]
        if training:
            row.append(_f(training.get(label, 0.0), ",.0f"))
        rows.append(row)
    opt = f"{summary.optimum_report:.4f}" if summary.optimum_report is not None else "unknown"
    notes = [
        f"Benchmark {protocol.benchmark}" + (f" ({protocol.dataset})" if protocol.dataset else "")
        + f"; search metric `{summary.search_metric}`, report metric `{summary.report_metric}`"
        + (f" (reported instead of `{protocol.report_metric}`, which the data lacks: the protocol's report_fallback)"
           if protocol.report_metric and summary.report_metric and summary.report_metric != protocol.report_metric else "")
        + f" (optimum {opt}); "
        f"budget {protocol.budget} counted queries ({protocol.counting} counting, {protocol.noise} noise)"
        + (f" and {_secs(summary.time_budget)} of simulated training ({_clock(protocol)})" if timed else "") + ".",
        "`best @Q`: report value of the incumbent (best by search value) after Q counted queries, mean ± std over runs; "
        "95% CI: percentile bootstrap of the mean."
        + (" `best @T s`: the same at simulated time T among the results available by then; `#Q @T s`: mean "
           "results available by then." if timed else ""),
        ("rank: by mean counted queries to the optimum (a run that never queried it counts its queries + 1)"
         if by_hits else "rank: by mean at the last " + ("simulated-time " if timed else "") + "checkpoint")
        + "; `*`: best, or not significantly different from the best (two-sided Mann-Whitney U, Holm-corrected, "
        "alpha 0.05).",
    ]
    if has_sto:
        notes.append("queries to optimum: counted queries until a global optimum of the search metric is first queried "
                     "(mean over successful runs); ERT = all counted queries / successes (COCO).")
    if costs:
        notes.append(f"incumbent {', '.join(costs)}: report-only cost of the final incumbent (never shown to the algorithm), "
                     "mean over runs.")
    if has_hv:
        notes.append(f"hypervolume: area dominated by the run's Pareto front of ({summary.search_metric} maximized, "
                     f"{summary.pareto_cost} minimized) over its evaluated cells, normalized by the box from (worst "
                     f"{summary.search_metric}, highest {summary.pareto_cost}) to (best, lowest) of the whole space; mean "
                     "over runs, percentile-bootstrap 95% CI.")
    if has_any:
        if ranged:
            o, w = summary.report_range
            notes.append(f"anytime regret: per run, the mean over queries 1..{summary.budget} of the normalized regret "
                         f"(optimum - value) / (optimum - worst) of the incumbent's report value (optimum {o:.4f}, worst "
                         f"{w:.4f} over the space), i.e. the area under the normalized regret curve / budget (0 = optimum "
                         "from the first query); mean over runs, percentile-bootstrap 95% CI; anytime rank: by that mean "
                         "(lower is better), `*` as above.")
        else:
            better = "higher" if summary.maximize else "lower"
            notes.append(f"anytime mean: per run, the mean over queries 1..{summary.budget} of the incumbent's report value, "
                         f"i.e. the area under the best-so-far curve / budget (the benchmark states no optimum or worst value "
                         f"to normalize by, so no regret); mean over runs, percentile-bootstrap 95% CI; anytime rank: by that "
                         f"mean ({better} is better), `*` as above.")
    if agreement is not None:
        rho, k = agreement
        notes.insert(1, f"Search/report agreement: Spearman {_f(rho, '.2f')} between `{summary.search_metric}` and "
                        f"`{summary.report_metric}` among the top 1% of cells by `{summary.search_metric}` ({k} cells); "
                        "where it is low, the ranks below order noise in the report metric, not better search.")
    if training:
        notes.append("training queries: benchmark queries spent training a learned policy, counted apart from the budget.")
    label = benchmark_label(protocol.benchmark)
    if label:
        notes[0] = notes[0].replace(f"Benchmark {protocol.benchmark}", f"Benchmark {protocol.benchmark}: {label}", 1)
    return Board(protocol.id, f"Leaderboard: {protocol.id}" + (f" ({label})" if label else ""), headers, rows, notes)


def benchmark_label(benchmark: str) -> str:
    """The registry's label of a benchmark family (e.g. "YAHPO surrogate of NB301"), or ""."""
    from harness.benchmarks import BENCHMARKS

    e = BENCHMARKS.get(benchmark)
    return e.label if e is not None else ""


def _secs(t) -> str:
    """Simulated seconds for a header, e.g. ``12,000 s``."""
    return f"{float(t):,.6g} s" if float(t) < 1000 else f"{float(t):,.0f} s"


def _clock(protocol) -> str:
    parts = [f"`{getattr(protocol, 'time_metric', None) or 'training_time'}`"
             + (f" x {protocol.time_scale:g}" if getattr(protocol, "time_scale", 1.0) != 1.0 else "") + " per query",
             f"{getattr(protocol, 'sim_workers', 1)} simulated worker(s)"]
    if getattr(protocol, "charge_compute", False):
        parts.append("the algorithm's compute charged")
    return ", ".join(parts)


def _hitting_values(sto) -> np.ndarray:
    """Per run: the counted query that first hit the optimum, or the run's queries + 1 if none."""
    hits = np.asarray(sto.hits, dtype=float)
    return np.where(np.isnan(hits), np.asarray(sto.queries, dtype=float) + 1, hits)


def to_markdown(board: Board, plots: list[str] | None = None) -> str:
    from tabulate import tabulate

    out = [f"# {board.title}", "", tabulate(board.rows, headers=board.headers, tablefmt="github", disable_numparse=True), ""]
    out += [f"- {n}" for n in board.notes]
    if plots:
        out += ["", "## Plots", ""]
        out += [f"![{os.path.splitext(os.path.basename(p))[0]}]({p})" for p in plots]
    cmds = board.regenerate or [f"nas-harness leaderboard --protocol {board.protocol_id.rsplit('-v', 1)[0]}"]
    out += ["", "Regenerate: " + ", then ".join(f"`{c}`" for c in cmds), ""]
    return "\n".join(out)


def seed_ranges(seeds) -> str:
    """Seeds as ``--seeds`` writes them: ``[1000, 1001, 1002, 1007]`` -> ``1000-1002,1007``."""
    s = sorted({int(x) for x in seeds})
    parts, i = [], 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[j] + 1:
            j += 1
        parts.append(str(s[i]) if i == j else f"{s[i]}-{s[j]}")
        i = j + 1
    return ",".join(parts)


def setting_spec(recs: list, protocol) -> str | None:
    """The ``--algorithm`` setting (:func:`algorithms.registry.parse_spec` text) that remakes the
    runs ``recs`` of one row on ``protocol``: the algorithm and the hyperparameters its records
    hold where they differ from the algorithm's defaults under the protocol's overrides; None
    where the runs differ in algorithm or setting, or the algorithm cannot be loaded here."""
    import json

    from algorithms.registry import make_algorithm, spec_text

    names = {r.meta.get("algorithm") for r in recs}
    settings = {json.dumps(r.meta.get("hyperparameters") or {}, sort_keys=True, default=str) for r in recs}
    if len(names) != 1 or len(settings) != 1 or None in names:
        return None
    name = next(iter(names))
    hp = recs[0].meta.get("hyperparameters") or {}
    try:
        defaults = make_algorithm(name, **protocol.overrides(name)).hyperparameters()
    except Exception:
        return None
    diff = {k: v for k, v in hp.items() if k not in defaults or json.dumps(defaults[k], default=str) != json.dumps(v, default=str)}
    return spec_text(name, diff)


def provenance(groups: dict[str, list], protocol) -> tuple[list[str], list[str]]:
    """``(notes, commands)`` that say which runs a board was made from: the seeds of each row, the
    commits of the code that made them, and the ``nas-harness run`` commands that remake them
    (a row run with settings other than the algorithm's defaults as its setting,
    ``'bonas(sampler=rl)'``: :func:`setting_spec`) followed by the ``leaderboard`` command."""
    by_seeds: dict[str, list[str]] = {}
    plain: dict[str, list[str]] = {}  # seeds -> `--algorithm` arguments (names, or settings as specs)
    custom, commits, dirty, data = [], set(), False, set()
    for label, recs in groups.items():
        seeds = seed_ranges(r.meta.get("seed", 0) for r in recs)
        by_seeds.setdefault(seeds, []).append(label)
        names = {r.meta.get("algorithm", "?") for r in recs}
        algo = next(iter(names))
        if len(names) == 1 and label in (algo, algo.rsplit(":", 1)[-1]):  # a user's module:Class is shortened
            plain.setdefault(seeds, []).append(algo)
        else:
            spec = setting_spec(recs, protocol)
            if spec is None:
                custom.append(label)
            else:
                plain.setdefault(seeds, []).append(shlex.quote(spec))
        for r in recs:
            prov = r.meta.get("provenance") or {}
            if prov.get("git_commit"):
                commits.add(str(prov["git_commit"])[:7])
            dirty = dirty or bool(prov.get("git_dirty"))
            if r.meta.get("data"):
                data.add(os.path.basename(str(r.meta["data"])))
    if len(by_seeds) == 1:
        seeds_note = f"Runs: seeds {next(iter(by_seeds))} for every row."
    else:
        seeds_note = "Runs: " + "; ".join(f"seeds {s} for {', '.join(labels)}" for s, labels in by_seeds.items()) + "."
    if commits:
        seeds_note += (f" Made by commit{'s' if len(commits) > 1 else ''} {', '.join(sorted(commits))}"
                       + (" (some with uncommitted changes)" if dirty else "") + ".")
    if custom:
        seeds_note += (f" Rows {', '.join(custom)} are runs of several settings or algorithms under one label: "
                       "no single `--algorithm` setting remakes them.")
    name = protocol.id.rsplit("-v", 1)[0]
    data_arg = f" --data PATH/{next(iter(data))}" if len(data) == 1 else ""
    cmds = [f"nas-harness run --protocol {name} --algorithm {' '.join(labels)} --seeds {s}{data_arg}"
            for s, labels in plain.items()]
    cmds.append(f"nas-harness leaderboard --protocol {name}{data_arg}")
    return [seeds_note], cmds


def to_latex(board: Board) -> str:
    def esc(s: str) -> str:
        for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"),
                     ("±", r"$\pm$"), ("@", r"@")):
            s = s.replace(a, b)
        return s

    cols = "l" * len(board.headers)
    lines = [r"\begin{tabular}{" + cols + "}", r"\toprule",
             " & ".join(esc(h) for h in board.headers) + r" \\", r"\midrule"]
    lines += [" & ".join(esc(c) for c in row) + r" \\" for row in board.rows]
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)


TIDY_COLUMNS = ("algorithm", "unit", "checkpoint", "n_runs", "failed", "mean", "std", "ci_low", "ci_high", "median",
                "queries", "rank", "tied_with_best", "training_queries", "success_rate", "success_rate_ci_low",
                "success_rate_ci_high", "queries_to_optimum", "queries_to_optimum_ci_low", "queries_to_optimum_ci_high",
                "ert", "hypervolume", "hypervolume_ci_low", "hypervolume_ci_high")


def tidy(summary: Summary, training: dict[str, float] | None = None):
    """The leaderboard's statistics as numbers: a pandas DataFrame with one row per algorithm
    and checkpoint (``unit`` ``queries``, or ``s`` for simulated-time checkpoints) and one numeric
    column per quantity (:data:`TIDY_COLUMNS`, then ``cost_<metric>`` per cost metric): the
    checkpoint statistics (:func:`harness.api.summary_frame`; ``tied_with_best`` is the ``*``
    of the Markdown board, a boolean), then per algorithm its training queries,
    samples-to-optimum (success rate, mean counted queries to the optimum, ERT; NaN where the
    optimum is unknown) and Pareto hypervolume, repeated on each of its rows."""
    import pandas as pd

    from harness.api import summary_frame

    df = summary_frame(summary)
    nan = float("nan")
    per = {}
    for label, a in summary.algorithms.items():
        sto, hv = a.samples_to_optimum, a.hypervolume
        row = {"training_queries": float((training or {}).get(label, 0.0))}
        if sto is not None and sto.n_runs:
            row.update(success_rate=sto.success_rate, success_rate_ci_low=sto.success_rate_ci[0],
                       success_rate_ci_high=sto.success_rate_ci[1], queries_to_optimum=sto.mean,
                       queries_to_optimum_ci_low=sto.mean_ci[0], queries_to_optimum_ci_high=sto.mean_ci[1], ert=sto.ert)
        if hv is not None:
            row.update(hypervolume=hv.mean, hypervolume_ci_low=hv.ci[0], hypervolume_ci_high=hv.ci[1])
        for m, v in a.costs.items():
            row[f"cost_{m}"] = v.mean
        per[label] = row
    extra = [c for c in TIDY_COLUMNS if c not in df.columns]
    costs = [f"cost_{m}" for m in summary.cost_metrics]
    for c in extra + costs:
        df[c] = pd.Series([float(per.get(lbl, {}).get(c, nan)) for lbl in df["algorithm"]], index=df.index, dtype=float)
    return df[list(TIDY_COLUMNS) + costs]


def per_run(summary: Summary, records, protocol=None) -> "pd.DataFrame":
    """One row per run of a board: the numbers every statistic of the board is made of, so that
    a reader can test, pair or re-aggregate them (``<protocol>.runs.csv``).

    Columns: ``algorithm`` (the row label), ``name`` (the registered algorithm), ``setting``
    (given ``protocol``: the ``--algorithm`` text of the run's setting, :func:`setting_spec`), ``seed``,
    ``run_key``, ``status``, ``queries`` (counted), then per query checkpoint ``best@Q`` (the
    report value of the incumbent after ``Q`` queries, the board's ``best @Q``) and ``found@Q``
    (the query it was found at), ``queries_to_optimum`` (NaN: never queried, or no optimum
    known), ``anytime`` (the board's anytime regret, or anytime mean on a surrogate; NaN when the
    board has none), ``training_queries`` and ``commit``. A failed run has its key, seed and
    status and NaN elsewhere. The values are the arrays the board's statistics were computed
    from (:func:`harness.metrics.summarize`), in its order of runs (by seed)."""
    import pandas as pd

    from harness import metrics

    rows = []
    cps = list(summary.checkpoints)
    for label, recs in metrics.group_records(records).items():
        a = summary.algorithms[label]
        spec = (setting_spec(recs, protocol) or "") if protocol is not None else ""
        ok = [r for r in metrics.finished(recs) if r.n_queries]
        hits = metrics.hitting_times(ok, "search")[0] if ok else np.zeros(0)
        anytime = a.anytime.values if a.anytime is not None and len(a.anytime.values) == len(ok) else None
        pos = {id(r): i for i, r in enumerate(ok)}
        for r in recs:
            m = r.meta
            row = {"algorithm": label, "name": m.get("algorithm"), "setting": spec, "seed": m.get("seed"), "run_key": r.run_key,
                   "status": m.get("status", "finished"), "queries": r.n_queries}
            i = pos.get(id(r))
            for j, c in enumerate(cps):
                row[f"best@{c}"] = float(a.checkpoints[j].values[i]) if i is not None else np.nan
                row[f"found@{c}"] = int(a.checkpoints[j].q_runs[i]) if i is not None else np.nan
            row["queries_to_optimum"] = float(hits[i]) if i is not None else np.nan
            row["anytime"] = float(anytime[i]) if i is not None and anytime is not None else np.nan
            row["training_queries"] = m.get("training_queries", 0)
            row["commit"] = str((m.get("provenance") or {}).get("git_commit") or "")[:7]
            rows.append(row)
    return pd.DataFrame(rows)


def write_tidy(frame, out_dir: str, protocol_id: str, n_runs: int) -> dict[str, str]:
    """``<protocol>.tidy.csv`` and ``<protocol>.json`` (``{"protocol_id", "n_runs", "columns",
    "rows"}``, NaN as null) of :func:`tidy`'s frame."""
    import json

    base = os.path.join(out_dir, protocol_id)
    paths = {"tidy_csv": base + ".tidy.csv", "json": base + ".json"}
    frame.to_csv(paths["tidy_csv"], index=False)
    rows = json.loads(frame.to_json(orient="records"))  # NaN -> null, numpy -> plain numbers
    with open(paths["json"], "w") as f:
        json.dump({"protocol_id": protocol_id, "n_runs": int(n_runs), "columns": list(frame.columns), "rows": rows},
                  f, indent=1)
        f.write("\n")
    return paths


def board_runs(out_dir: str, protocol_id: str) -> int | None:
    """How many runs the leaderboard of ``protocol_id`` in ``out_dir`` was made from: its JSON's
    ``n_runs``, else the sum of the ``runs`` column of its CSV (boards written before the JSON
    existed); ``None`` when there is no board."""
    import csv
    import json

    base = os.path.join(out_dir, protocol_id)
    try:
        with open(base + ".json") as f:
            return int(json.load(f)["n_runs"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        with open(base + ".csv", newline="") as f:
            rows = list(csv.reader(f))
    except OSError:
        return None
    if not rows or "runs" not in rows[0]:
        return None
    i = rows[0].index("runs")
    total = 0
    for r in rows[1:]:
        try:
            total += int(str(r[i]).split()[0].replace(",", ""))
        except (ValueError, IndexError):
            continue
    return total


def write(board: Board, out_dir: str, plots: list[str] | None = None, tidy_frame=None,
          n_runs: int | None = None, runs_frame=None) -> dict[str, str]:
    """Write ``.md``, ``.csv``, ``.tex`` of one board (and, given :func:`tidy`'s frame,
    ``.tidy.csv`` and ``.json``; given :func:`per_run`'s, ``.runs.csv``) and refresh the
    folder's README index."""
    import csv

    os.makedirs(out_dir, exist_ok=True)
    base = os.path.join(out_dir, board.protocol_id)
    rel_plots = [os.path.relpath(p, out_dir) for p in plots or []]
    paths = {"md": base + ".md", "csv": base + ".csv", "tex": base + ".tex"}
    with open(paths["md"], "w") as f:
        f.write(to_markdown(board, rel_plots))
    with open(paths["csv"], "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(board.headers)
        w.writerows(board.rows)
    with open(paths["tex"], "w") as f:
        f.write(to_latex(board))
    if tidy_frame is not None:
        paths.update(write_tidy(tidy_frame, out_dir, board.protocol_id, n_runs or 0))
    if runs_frame is not None:
        paths["runs_csv"] = base + ".runs.csv"
        runs_frame.to_csv(paths["runs_csv"], index=False)
    write_index(out_dir)
    return paths


def write_index(out_dir: str) -> str:
    """``README.md`` listing every leaderboard (``*.md`` but the README) in ``out_dir``."""
    boards = sorted(f for f in os.listdir(out_dir) if f.endswith(".md") and f != "README.md")
    lines = ["# Leaderboards", "",
             "Generated from the raw run records by `nas-harness leaderboard --protocol P`; each has a `.csv` and a "
             "`.tex` beside it, its statistics as numbers in `.tidy.csv` and `.json`, and, for boards made since "
             "per-run files exist, one row per run in `.runs.csv` (seed, run key, the incumbent's value at every "
             "checkpoint, queries to the optimum, anytime regret). Do not edit by hand. Each board says which seeds "
             "every row ran, by which commit, "
             "the commands that remake it, and which registered algorithms have no row (not run there, or refused "
             "by `nas-harness run` on that protocol, with the reason).", ""]
    for b in boards:
        with open(os.path.join(out_dir, b)) as f:
            first = f.readline().strip().lstrip("# ")
        lines.append(f"- [{b[:-3]}]({b}): {first}")
    path = os.path.join(out_dir, "README.md")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path
