"""Rankings across benchmarks: one board over a set of protocols.

For every protocol and algorithm a *score* (lower is better): the mean over runs of the
anytime regret (:func:`harness.metrics.anytime_regret`: the normalized regret of the
incumbent's report value averaged over queries ``1..budget``), and, as a second view, the mean
normalized regret at the budget. Over the protocols (the "datasets" of Demšar 2006, JMLR 7):

* **average ranks**: each protocol ranks the algorithms by score (1 = best, ties share the mean
  rank, ``scipy.stats.rankdata``); an algorithm's average rank is the mean over protocols;
* **Friedman test** (``scipy.stats.friedmanchisquare``) of the hypothesis that all algorithms
  have the same rank distribution (needs 3+ algorithms and 2+ protocols);
* **pairwise tests**: two-sided Wilcoxon signed-rank tests (``scipy.stats.wilcoxon``) of the
  per-protocol scores of each pair, Holm-corrected over all pairs (Benavoli et al. 2016, JMLR 17,
  recommend this over the Nemenyi post-hoc test, whose verdicts depend on the other algorithms
  in the comparison). With few protocols no pair can be significant (5 protocols: the smallest
  two-sided exact p is 0.0625); the board says so;
* **critical-difference diagram**: algorithms on the average-rank axis; a bar joins every
  maximal group of algorithms (adjacent by rank) of which no pair differs significantly;
* **ECDF** (COCO, Hansen et al. 2021): the fraction of (run, target) pairs reached after each
  counted query, targets :data:`harness.metrics.ECDF_TARGETS` of normalized regret (0.1 .. 1e-3 log-spaced, and 0), pooled
  over the protocols with each protocol weighted equally (a protocol's runs keep their last
  value after its budget).

Pure functions on arrays; :func:`build` and :func:`write` make and store the board.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np


def score_matrix(scores: Mapping[str, Mapping[str, float]]) -> tuple[list[str], list[str], np.ndarray]:
    """``(protocols, algorithms, (P, A) array)`` from ``protocol -> algorithm -> score``, keeping
    only the algorithms with a finite score on every protocol (sorted case-insensitively)."""
    protocols = list(scores)
    common = None
    for p in protocols:
        names = {a for a, v in scores[p].items() if v is not None and np.isfinite(v)}
        common = names if common is None else common & names
    algos = sorted(common or (), key=str.lower)
    return protocols, algos, np.array([[float(scores[p][a]) for a in algos] for p in protocols], dtype=float).reshape(
        len(protocols), len(algos))


def average_ranks(scores: np.ndarray) -> np.ndarray:
    """``(A,)`` mean over the rows of the rank of each column (1 = lowest score, ties averaged)."""
    from scipy.stats import rankdata

    s = np.asarray(scores, dtype=float)
    return rankdata(s, axis=1).mean(axis=0)


def friedman(scores: np.ndarray) -> tuple[float, float]:
    """``(chi-square statistic, p)`` of the Friedman test over the rows (protocols) of
    ``scores`` ``(P, A)``; NaN when fewer than 3 algorithms or 2 protocols, or all ranks tie."""
    from scipy.stats import friedmanchisquare

    s = np.asarray(scores, dtype=float)
    if s.ndim != 2 or s.shape[1] < 3 or s.shape[0] < 2:
        return float("nan"), float("nan")
    try:
        res = friedmanchisquare(*s.T)
    except ValueError:
        return float("nan"), float("nan")
    return float(res[0]), float(res[1])


def pairwise_wilcoxon(scores: np.ndarray, names: Sequence[str]) -> dict[tuple[str, str], float]:
    """Holm-corrected two-sided Wilcoxon signed-rank p for every pair of columns of ``scores``
    (a pair whose differences are all zero gets p = 1)."""
    from scipy.stats import wilcoxon

    from harness.metrics import holm

    s = np.asarray(scores, dtype=float)
    pairs = [(i, j) for i in range(len(names)) for j in range(i + 1, len(names))]
    raw = []
    for i, j in pairs:
        d = s[:, i] - s[:, j]
        if not np.any(d != 0):
            raw.append(1.0)
            continue
        raw.append(float(wilcoxon(s[:, i], s[:, j]).pvalue))
    adj = holm(raw) if raw else []
    return {(names[i], names[j]): float(p) for (i, j), p in zip(pairs, adj)}


def cliques(avg: np.ndarray, names: Sequence[str], pvalues: Mapping[tuple[str, str], float],
            alpha: float = 0.05) -> list[list[str]]:
    """Maximal groups of 2+ algorithms, contiguous in average-rank order, no pair of which
    differs significantly (``p >= alpha``): the bars of a critical-difference diagram."""
    order = [names[k] for k in np.argsort(avg, kind="stable")]

    def p(a, b):
        return pvalues.get((a, b), pvalues.get((b, a), 1.0))

    groups = []
    for i in range(len(order)):
        j = i
        while j + 1 < len(order) and all(p(order[k], order[j + 1]) >= alpha for k in range(i, j + 1)):
            j += 1
        if j > i and not any(g[0] <= i and j <= g[1] for g in groups):
            groups.append((i, j))
    return [order[a:b + 1] for a, b in groups]


@dataclass
class Aggregate:
    """An aggregate board's numbers (see the module docstring)."""

    name: str
    protocols: list[str]
    algorithms: list[str]
    anytime: np.ndarray  # (P, A) mean anytime regret
    final: np.ndarray  # (P, A) mean normalized regret at the budget
    avg_rank: np.ndarray
    avg_rank_final: np.ndarray
    friedman: tuple[float, float]
    friedman_final: tuple[float, float]
    pvalues: dict[tuple[str, str], float]
    cliques: list[list[str]]
    ecdf: dict[str, np.ndarray] = field(default_factory=dict)  # algorithm -> pooled ECDF over queries
    ecdf_area: dict[str, float] = field(default_factory=dict)
    left_out: list[str] = field(default_factory=list)  # algorithms missing on some protocol
    alpha: float = 0.05
    command: str = ""  # the command that regenerates the board
    runs_note: str = ""  # which seeds the protocols' runs are


def pooled_ecdf(curves: Sequence[np.ndarray], length: int) -> np.ndarray:
    """Mean of per-protocol ECDF curves (:func:`harness.metrics.ecdf_pairs`), each held at its
    last value up to ``length`` queries: every protocol weighs the same."""
    out = np.zeros(int(length))
    for c in curves:
        c = np.asarray(c, dtype=float)
        ext = np.full(int(length), c[-1] if len(c) else 0.0)
        ext[:min(len(c), length)] = c[:length]
        out += ext
    return out / max(1, len(curves))


def aggregate(name: str, per_protocol: Mapping[str, Mapping[str, tuple[float, float, np.ndarray]]],
              alpha: float = 0.05) -> Aggregate:
    """The aggregate of ``protocol -> algorithm -> (anytime score, final score, ECDF curve)``."""
    protocols, algos, A = score_matrix({p: {a: v[0] for a, v in d.items()} for p, d in per_protocol.items()})
    if len(protocols) < 2 or len(algos) < 2:
        from harness.errors import ConfigError

        raise ConfigError(f"an aggregate board needs 2+ protocols and 2+ algorithms run on all of them; got "
                          f"{len(protocols)} protocol(s) and {len(algos)} common algorithm(s) ({', '.join(algos) or 'none'})")
    F = np.array([[per_protocol[p][a][1] for a in algos] for p in protocols], dtype=float)
    every = {a for d in per_protocol.values() for a in d}
    pv = pairwise_wilcoxon(A, algos)
    avg = average_ranks(A)
    length = max(len(per_protocol[p][a][2]) for p in protocols for a in algos)
    ecdf = {a: pooled_ecdf([per_protocol[p][a][2] for p in protocols], length) for a in algos}
    return Aggregate(name, protocols, algos, A, F, avg, average_ranks(F), friedman(A), friedman(F), pv,
                     cliques(avg, algos, pv, alpha), ecdf, {a: float(c.mean()) for a, c in ecdf.items()},
                     sorted(every - set(algos), key=str.lower), alpha)


# =============================================================================================
# board and plots
# =============================================================================================
def table(agg: Aggregate) -> tuple[list[str], list[list[str]]]:
    """Headers and rows (sorted by average anytime rank)."""
    from harness.leaderboard import _f

    headers = ["rank", "algorithm", "average rank (anytime)", "average rank (final)", "mean anytime regret",
               "mean final regret", "ECDF area"] + [f"anytime: {p}" for p in agg.protocols]
    order = np.argsort(agg.avg_rank, kind="stable")
    best = agg.algorithms[order[0]]
    rows = []
    for pos, k in enumerate(order, 1):
        a = agg.algorithms[k]
        tied = a == best or agg.pvalues.get((a, best), agg.pvalues.get((best, a), 1.0)) >= agg.alpha
        rows.append([f"{pos}" + ("*" if tied else ""), a, _f(agg.avg_rank[k]), _f(agg.avg_rank_final[k]),
                     _f(float(agg.anytime[:, k].mean()), ".4f"), _f(float(agg.final[:, k].mean()), ".4f"),
                     _f(agg.ecdf_area[a], ".4f")] + [_f(float(v), ".4f") for v in agg.anytime[:, k]])
    return headers, rows


def plot_critical_difference(agg: Aggregate, path: str) -> str:
    """Critical-difference diagram: average anytime ranks on an axis (1 = best, left), bars
    joining the groups of algorithms no pair of which differs (Holm-corrected Wilcoxon)."""
    from harness.plots import _figure, _save

    k = len(agg.algorithms)
    order = list(np.argsort(agg.avg_rank, kind="stable"))
    fig = _figure(8, 1.6 + 0.3 * k)
    ax = fig.add_subplot(1, 1, 1)
    ax.set_xlim(0.7, k + 0.3)
    ax.set_ylim(-(k // 2 + 2 + len(agg.cliques)) * 1.0, 1.0)
    ax.axhline(0, color="black", lw=1)
    for r in range(1, k + 1):
        ax.plot([r, r], [0, 0.15], color="black", lw=1)
        ax.text(r, 0.3, str(r), ha="center", va="bottom", fontsize=9)
    half = (k + 1) // 2
    for pos, i in enumerate(order):
        r = float(agg.avg_rank[i])
        left = pos < half
        y = -(pos if left else k - 1 - pos) - 1.0
        x_text = 0.75 if left else k + 0.25
        ax.plot([r, r, x_text], [0, y, y], color="black", lw=0.8)
        ax.text(x_text, y, f"{agg.algorithms[i]} ({r:.2f})", ha="left" if left else "right", va="bottom", fontsize=9)
    for g, members in enumerate(agg.cliques):
        rs = [float(agg.avg_rank[agg.algorithms.index(m)]) for m in members]
        y = -0.4 - 0.25 * g
        ax.plot([min(rs) - 0.03, max(rs) + 0.03], [y, y], color="tab:red", lw=3)
    ax.axis("off")
    fs, fp = agg.friedman
    ax.set_title(f"{agg.name}: average rank of the anytime regret over {len(agg.protocols)} protocols "
                 f"(Friedman p = {fp:.3g})\nbars: no significant difference (Wilcoxon signed-rank, Holm, alpha {agg.alpha:g})",
                 fontsize=9)
    return _save(fig, path)


def plot_ecdf(agg: Aggregate, path: str) -> str:
    """Pooled ECDF of (run, target) pairs reached against counted queries (log x)."""
    from harness.plots import _figure, _plain_log_ticks, _save, colours

    fig = _figure(7, 4.5)
    ax = fig.add_subplot(1, 1, 1)
    for a, c in zip(agg.algorithms, colours(len(agg.algorithms))):
        y = agg.ecdf[a]
        ax.step(np.arange(1, len(y) + 1), y, where="post", color=c, label=f"{a} (area {agg.ecdf_area[a]:.3f})")
    ax.set_xscale("log")
    _plain_log_ticks(ax.xaxis)
    ax.set_ylim(0, 1)
    ax.set_xlabel("counted queries")
    ax.set_ylabel("fraction of (run, target) pairs reached")
    ax.set_title(f"{agg.name}: ECDF over {len(agg.protocols)} protocols, targets: normalized regret 0.1 .. 1e-3 and 0\n(report value of the incumbent: can fall when search and report metrics differ)",
                 fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def to_markdown(agg: Aggregate, plots: Sequence[str] = ()) -> str:
    from tabulate import tabulate

    headers, rows = table(agg)
    fs, fp = agg.friedman
    ffs, ffp = agg.friedman_final
    notes = [
        f"Protocols ({len(agg.protocols)}): {', '.join(agg.protocols)}.",
        "Score per protocol and algorithm (lower is better): anytime regret = mean over runs of the mean over queries "
        "1..budget of the normalized regret (optimum - value) / (optimum - worst) of the incumbent's report value; "
        "final regret = the same at the budget. Each protocol ranks the algorithms by score (ties share the mean rank).",
        f"Friedman test over protocols: anytime chi2 = {fs:.3f}, p = {fp:.3g}; final chi2 = {ffs:.3f}, p = {ffp:.3g}.",
        f"rank `*`: not significantly different from the best (two-sided Wilcoxon signed-rank over protocols, "
        f"Holm-corrected, alpha {agg.alpha:g}); with {len(agg.protocols)} protocols the smallest possible unadjusted p "
        f"is {2 * 0.5 ** len(agg.protocols):.3g}.",
        "ECDF area: mean over queries of the fraction of (run, target) pairs reached (targets: 21 normalized regrets "
        "log-spaced 0.1 .. 1e-3, and 0 = the optimum; of the incumbent's report value, so it can fall when the "
        "search and report metrics differ), each protocol weighted equally; up to the largest budget, a "
        "protocol's runs holding their last value after its own budget.",
    ]
    if agg.left_out:
        notes.append(f"Left out (not run on every protocol): {', '.join(agg.left_out)}.")
    if agg.runs_note:
        notes.append(agg.runs_note)
    pv = ["| pair | Holm-adjusted p |", "|---|---|"] + [f"| {a} vs {b} | {p:.3g} |" for (a, b), p in sorted(agg.pvalues.items())]
    out = [f"# Aggregate leaderboard: {agg.name}", "",
           tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True), ""]
    out += [f"- {n}" for n in notes]
    out += ["", "## Pairwise tests (anytime regret)", ""] + pv
    if plots:
        out += ["", "## Plots", ""] + [f"![{os.path.splitext(os.path.basename(p))[0]}]({p})" for p in plots]
    cmd = agg.command or f"nas-harness aggregate --name {agg.name} --protocol {' '.join(agg.protocols)}"
    out += ["", f"Regenerate: `{cmd}`", ""]
    return "\n".join(out)


def write(agg: Aggregate, out_dir: str, plots: bool = True) -> dict[str, str]:
    """``<out>/<name>.md`` and ``.csv`` (+ ``<out>/<name>/critical-difference.png`` and
    ``ecdf.png``); refreshes the folder's README index."""
    import csv

    from harness.leaderboard import write_index

    os.makedirs(out_dir, exist_ok=True)
    base = os.path.join(out_dir, agg.name)
    paths = {"md": base + ".md", "csv": base + ".csv"}
    rel = []
    if plots:
        paths["cd"] = plot_critical_difference(agg, os.path.join(base, f"{agg.name}-critical-difference.png"))
        paths["ecdf"] = plot_ecdf(agg, os.path.join(base, f"{agg.name}-ecdf.png"))
        rel = [os.path.relpath(paths["cd"], out_dir), os.path.relpath(paths["ecdf"], out_dir)]
    with open(paths["md"], "w") as f:
        f.write(to_markdown(agg, rel))
    headers, rows = table(agg)
    with open(paths["csv"], "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(headers)
        w.writerows(rows)
    write_index(out_dir)
    return paths
