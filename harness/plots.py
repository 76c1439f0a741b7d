"""Plots of a protocol's statistics (:class:`harness.metrics.Summary`), written as PNG files.

* :func:`plot_best_so_far`: best-so-far report value (mean with its 95% bootstrap band) and
  its regret to the optimum (log scale) against counted queries, one colour per algorithm
  (LaNAS Fig. 5 top, Ape-X Figs. 10/14/15);
* :func:`plot_samples_to_optimum`: ECDF of the samples to the global optimum (censored runs
  never arrive) and a box plot of the successful runs with the ERT marked (BONAS Table 2,
  LaNAS Fig. 5 bottom);
* :func:`plot_improvement_histograms`: per-episode improvement histograms with the median
  (solid) and the 50/80/95% intervals around it (dashed) (Ape-X Fig. 8);
* :func:`plot_initial_vs_improvement`: initial value vs improvement per episode, with lines of
  constant final value and the unreachable region beyond the optimum (Ape-X Fig. 7);
* :func:`plot_best_so_far_time`: the same against simulated time (s) for time-budgeted
  protocols (a result counts from the simulated time its training finished);
* :func:`plot_pareto_fronts`: per algorithm the Pareto front of (search value, cost) of its
  median-hypervolume run, as a step line, with the normalized hypervolume in the legend;
* :func:`write_plots`: all that apply, into one folder.

matplotlib is imported lazily and used through ``matplotlib.figure.Figure`` with the Agg canvas
(no pyplot, so a user's interactive backend is never switched).
"""

from __future__ import annotations

import os

import numpy as np

DPI = 100


def _figure(w: float, h: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def colours(n: int) -> list:
    """``n`` distinct colours (tab10, then tab20)."""
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def unit(metric: str | None) -> str:
    """The unit of a metric's values, for axis labels."""
    m = (metric or "").lower()
    if "accuracy" in m or "drift" in m:
        return "%"
    if "latency" in m:
        return "s"
    if "parameters" in m:
        return "M params"
    return "value"


def _label(metric: str | None) -> str:
    return f"{(metric or 'value').replace('_', ' ')} ({unit(metric)})"


def _thin(x: np.ndarray, max_points: int = 3000) -> np.ndarray:
    """Indices to draw a long step curve with at most about ``max_points`` points."""
    n = len(x)
    if n <= max_points:
        return np.arange(n)
    lin = np.linspace(0, n - 1, max_points // 2)
    geo = np.geomspace(1, n, max_points // 2) - 1
    return np.unique(np.concatenate([lin, geo]).astype(int))


def _plain_log_ticks(axis) -> None:
    """Tick labels like 2, 10, 300 (not 2x10^0) on a log-scaled axis."""
    from matplotlib.ticker import FuncFormatter

    def minor(v, _):  # label 2x and 5x ticks only on short axes (under 2.5 decades)
        lo, hi = sorted(axis.get_view_interval())
        if lo <= 0 or np.log10(hi / lo) > 2.5:
            return ""
        return f"{v:g}" if f"{v:g}"[0] in "25" else ""

    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(FuncFormatter(minor))


def _save(fig, path: str | None):
    """Write ``fig`` to ``path`` and return the path; with ``path=None`` return the Figure
    itself (:meth:`harness.api.Results.plot`)."""
    if path is None:
        return fig
    os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
    fig.savefig(path, dpi=DPI)
    return path


def plot_best_so_far(summary, path: str, title: str = "", logx: bool = False, statistic: str = "mean") -> str:
    """Best-so-far report value and regret vs counted queries, with 95% bootstrap bands.

    ``statistic`` is ``"mean"`` (band: CI of the mean) or ``"median"`` (band: CI of the median).
    """
    algos = summary.algorithms
    has_regret = summary.optimum_report is not None and any(a.regret is not None for a in algos.values())
    fig = _figure(12 if has_regret else 7, 4.8)
    axes = fig.subplots(1, 2 if has_regret else 1, squeeze=False)[0]
    cols = colours(len(algos))
    for ax, what in zip(axes, ("value", "regret")):
        for (label, a), c in zip(algos.items(), cols):
            cs = a.curve if what == "value" else a.regret
            if cs is None or cs.n_runs == 0:
                continue
            i = _thin(cs.queries)
            x = cs.queries[i]
            y = getattr(cs, statistic)[i]
            lo, hi = getattr(cs, f"{statistic}_lo")[i], getattr(cs, f"{statistic}_hi")[i]
            if what == "regret":  # log scale: draw zero regret at the bottom of the axis
                y, lo, hi = (np.where(v > 0, v, np.nan) for v in (y, lo, hi))
            ax.step(x, y, where="post", color=c, lw=1.8, label=f"{label} (n={cs.n_runs})")
            ax.fill_between(x, lo, hi, step="post", color=c, alpha=0.22, lw=0)
        for cp in summary.checkpoints:
            ax.axvline(cp, color="0.75", lw=0.8, ls=":", zorder=0)
        if logx:
            ax.set_xscale("log")
            _plain_log_ticks(ax.xaxis)
        ax.set_xlabel("counted queries (architectures evaluated)")
        ax.grid(alpha=0.3)
        if what == "value":
            if summary.optimum_report is not None:
                ax.axhline(summary.optimum_report, color="0.3", ls="--", lw=1, label=f"global optimum {summary.optimum_report:.2f}")
            if not logx:  # linear x: the first ~2% of queries would squash the rest; start the y-axis there
                first = max(1, int(np.ceil(0.02 * summary.budget)))
                lows = [a.curve.mean_lo[first - 1] for a in algos.values() if a.curve.n_runs]
                top = max([a.curve.mean_hi.max() for a in algos.values() if a.curve.n_runs] + [summary.optimum_report or -np.inf])
                if lows and np.isfinite(top) and top > min(lows):
                    ax.set_ylim(min(lows) - 0.08 * (top - min(lows)), top + 0.08 * (top - min(lows)))
            ax.set_ylabel(f"incumbent's {_label(summary.report_metric)}")
            ax.set_title(f"{statistic} over seeds of the incumbent's {summary.report_metric} (incumbent: best by search "
                         "value so far), 95% bootstrap CI", fontsize=10)
            ax.legend(fontsize=8, loc="lower right")
        else:
            ax.set_yscale("log")
            _plain_log_ticks(ax.yaxis)
            ax.set_ylabel(f"regret to the optimum: {_label(summary.report_metric)}, log scale")
            ax.set_title(f"{statistic} regret (optimum - incumbent's value), 95% bootstrap CI", fontsize=10)
    if title:
        fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def plot_samples_to_optimum(summary, path: str, title: str = "", logx: bool | None = None) -> str:
    """ECDF of samples to the optimum (left) and box plot of the successful runs (right)."""
    algos = {k: a for k, a in summary.algorithms.items() if a.samples_to_optimum is not None and a.samples_to_optimum.n_runs}
    fig = _figure(12, 4.8)
    ax1, ax2 = fig.subplots(1, 2)
    cols = dict(zip(summary.algorithms, colours(len(summary.algorithms))))
    budget = summary.budget
    if logx is None:
        logx = budget > 2000
    for label, a in algos.items():
        s = a.samples_to_optimum
        h = np.sort(s.hits[~np.isnan(s.hits)])
        x = np.concatenate([[1], h, [budget]])
        y = np.concatenate([[0], np.arange(1, len(h) + 1) / s.n_runs, [len(h) / s.n_runs]])
        ax1.step(x, 100 * y, where="post", color=cols[label], lw=1.8,
                 label=f"{label}: {s.successes}/{s.n_runs} found, ERT {_fmt_q(s.ert)}")
    ax1.set_xlim(1, budget)
    if logx:
        ax1.set_xscale("log")
        _plain_log_ticks(ax1.xaxis)
    ax1.set_ylim(0, 102)
    ax1.set_xlabel("counted queries until the global optimum is first queried")
    ax1.set_ylabel("runs that found the optimum (%)")
    ax1.set_title("ECDF of samples to optimum (censored runs never arrive)", fontsize=10)
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=8, loc="upper left")
    data, labels, colors = [], [], []
    for label, a in algos.items():
        s = a.samples_to_optimum
        data.append(s.hits[~np.isnan(s.hits)])
        labels.append((label, f"{s.successes}/{s.n_runs}"))
        colors.append(cols[label])
    if data:
        pos = np.arange(1, len(data) + 1)
        bp = ax2.boxplot([d if len(d) else [np.nan] for d in data], positions=pos, widths=0.55, patch_artist=True,
                         showfliers=True, medianprops={"color": "black", "lw": 1.5})
        for patch, c in zip(bp["boxes"], colors):
            patch.set_facecolor(c)
            patch.set_alpha(0.45)
        for p, d in zip(pos, data):
            if len(d):
                jitter = np.linspace(-0.12, 0.12, len(d)) if len(d) > 1 else np.zeros(1)
                ax2.plot(p + jitter, d, "o", ms=2.5, color="0.25", alpha=0.5)
        erts = [a.samples_to_optimum.ert for a in algos.values()]
        ax2.plot(pos, [e if np.isfinite(e) else np.nan for e in erts], "D", color="crimson", ms=7, label="ERT (COCO)")
        long = max(len(name) for name, _ in labels) * len(labels) > 80
        # many long names: one slanted line per box, anchored at its tick, so that they do not overlap
        labels = [f"{name} ({found})" if long else f"{name}\n{found} runs" for name, found in labels]
        ax2.set_xticks(pos, labels, fontsize=8, rotation=40 if long else 0, ha="right" if long else "center",
                       rotation_mode="anchor" if long else "default")
        ax2.legend(fontsize=8, loc="best")
    if logx and any(len(d) for d in data):  # no successful run: nothing to put on a log axis
        ax2.set_yscale("log")
        _plain_log_ticks(ax2.yaxis)
    ax2.set_ylabel("counted queries to the optimum (successful runs)")
    ax2.set_title("samples to optimum: box = quartiles, line = median, diamond = ERT", fontsize=10)
    ax2.grid(alpha=0.3, axis="y")
    if title:
        fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def _fmt_q(v: float) -> str:
    return "inf" if not np.isfinite(v) else f"{v:,.0f}"


INTERVAL_STYLES = {0.5: ("0.1", "--"), 0.8: ("0.3", "-."), 0.95: ("0.45", ":")}


def plot_improvement_histograms(summary, path: str, title: str = "") -> str:
    """One histogram per episodic algorithm (Ape-X Fig. 8): fraction of episodes per bin of
    improvement, the median (solid) and the intervals around it holding 50/80/95% (dashed,
    dash-dotted, dotted)."""
    algos = {k: a for k, a in summary.algorithms.items() if a.improvements is not None}
    cols = dict(zip(summary.algorithms, colours(len(summary.algorithms))))
    n = max(1, len(algos))
    fig = _figure(9, 1.0 + 2.4 * n)
    axes = fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0]
    for ax, (label, a) in zip(axes, algos.items()):
        s = a.improvements
        widths = np.diff(s.edges)
        ax.bar(s.edges[:-1], 100 * s.counts / max(1, s.n), width=widths, align="edge", color=cols[label], alpha=0.75,
               edgecolor="white", lw=0.3)
        ax.axvline(s.median, color="black", lw=2, label=f"median {s.median + 0.0:+.2f}")
        top = ax.get_ylim()[1]
        for p, (lo, hi) in s.intervals.items():
            c, ls = INTERVAL_STYLES.get(p, ("0.5", "--"))
            ax.axvline(lo, color=c, ls=ls, lw=1.4)
            ax.axvline(hi, color=c, ls=ls, lw=1.4, label=f"{p:.0%} interval [{lo:+.2f}, {hi:+.2f}]")
        ax.set_ylim(0, top * 1.05)
        ax.set_xlim(s.edges[0], s.edges[-1])
        stat, pv = s.normaltest
        ptxt = "p n/a" if np.isnan(pv) else ("p < 1e-300" if pv < 1e-300 else f"p = {pv:.1e}")
        ax.set_title(f"{label}: {s.n:,} episodes, skew {s.skew:+.3f}, normaltest {ptxt}"
                     + (f", {s.outside:,} beyond the range shown" if s.outside else ""), fontsize=9)
        ax.set_ylabel("episodes (%)")
        ax.legend(fontsize=7, loc="upper left")
        ax.grid(alpha=0.3, axis="y")
    axes[-1].set_xlabel(f"improvement over an episode (final - initial {_label(summary.report_metric)})")
    if not algos:
        axes[0].text(0.5, 0.5, "no episodic runs", ha="center", va="center", transform=axes[0].transAxes)
    if title:
        fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def _nice_levels(lo: float, hi: float, k: int = 3) -> list[float]:
    span = hi - lo
    if span <= 0:
        return [hi]
    step = 10 ** np.floor(np.log10(span / k))
    for m in (1, 2, 2.5, 5, 10):
        if span / (m * step) <= k + 1:
            step *= m
            break
    first = np.ceil(lo / step) * step
    return [float(v) for v in np.arange(first, hi + 1e-9, step)][-k:]


def plot_initial_vs_improvement(summary, path: str, title: str = "", max_points: int = 6000) -> str:
    """Initial report value vs improvement per episode, one panel per episodic algorithm (Ape-X
    Fig. 7). Dashed diagonals: episodes ending at the same final value; shaded: finals beyond
    the global optimum (unreachable)."""
    algos = {k: a for k, a in summary.algorithms.items() if a.episode_pairs is not None}
    cols = dict(zip(summary.algorithms, colours(len(summary.algorithms))))
    n = max(1, len(algos))
    ncol = min(n, 3)
    nrow = int(np.ceil(n / ncol))
    fig = _figure(4.2 * ncol + 0.6, 3.8 * nrow + 0.6)
    axes = np.atleast_1d(fig.subplots(nrow, ncol, sharex=True, sharey=True, squeeze=False).ravel())
    allx = np.concatenate([a.episode_pairs[0] for a in algos.values()]) if algos else np.zeros(1)
    ally = np.concatenate([a.episode_pairs[1] for a in algos.values()]) if algos else np.zeros(1)
    xlo, xhi = np.quantile(allx, [0.001, 1.0]) if len(allx) else (0, 1)
    ylo, yhi = np.quantile(ally, [0.0005, 0.9995]) if len(ally) else (0, 1)
    pad_x, pad_y = 0.04 * (xhi - xlo or 1), 0.06 * (yhi - ylo or 1)
    xlim, ylim = (xlo - pad_x, xhi + pad_x), (ylo - pad_y, yhi + pad_y)
    opt = summary.optimum_report
    finals = allx + ally
    levels = _nice_levels(*np.quantile(finals, [0.05, 1.0])) if len(finals) else []
    gen = np.random.default_rng(0)  # a fixed, local generator: which points are drawn
    for ax, (label, a) in zip(axes, algos.items()):
        x, y = a.episode_pairs
        if len(x) > max_points:
            keep = np.sort(gen.choice(len(x), max_points, replace=False))
            x, y = x[keep], y[keep]
        few = len(x) < 1500
        ax.scatter(x, y, s=14 if few else 4, color=cols[label], alpha=0.6 if few else 0.3, lw=0, rasterized=True)
        xs = np.array(xlim)
        for f in levels:
            ax.plot(xs, f - xs, ls="--", color="0.45", lw=0.9)
            xt = xs[0] + 0.62 * (xs[1] - xs[0])
            if ylim[0] < f - xt < ylim[1]:
                ax.text(xt, f - xt, f"final {f:g}", fontsize=7, color="0.3", ha="center", va="center", rotation=-25,
                        bbox={"fc": "white", "ec": "none", "pad": 0.5, "alpha": 0.8})
        if opt is not None:
            ax.fill_between(xs, opt - xs, ylim[1], color="red", alpha=0.12, lw=0, label=f"final > optimum {opt:.2f}")
        ax.axhline(0, color="0.2", lw=0.8)
        ax.set_xlim(xlim)
        ax.set_ylim(ylim)
        ax.set_title(f"{label} ({len(a.episode_pairs[0]):,} episodes)", fontsize=10)
        ax.set_xlabel(f"initial {_label(summary.report_metric)}")
        ax.set_ylabel(f"improvement ({unit(summary.report_metric)})")
        ax.grid(alpha=0.3)
        if opt is not None:
            ax.legend(fontsize=7, loc="upper right")
    for ax in axes[len(algos):]:
        ax.set_visible(bool(not algos and ax is axes[0]))
    if not algos:
        axes[0].text(0.5, 0.5, "no episodic runs", ha="center", va="center", transform=axes[0].transAxes)
    if title:
        fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def plot_best_so_far_time(summary, path: str, title: str = "", logx: bool = False) -> str:
    """Mean best-so-far report value (95% bootstrap band) and its regret against simulated
    time, one colour per algorithm; simulated-time checkpoints dotted."""
    algos = summary.algorithms
    has_regret = summary.optimum_report is not None and any(
        a.time_curve is not None and a.time_curve.regret is not None for a in algos.values())
    fig = _figure(12 if has_regret else 7, 4.8)
    axes = fig.subplots(1, 2 if has_regret else 1, squeeze=False)[0]
    cols = colours(len(algos))
    for ax, what in zip(axes, ("value", "regret")):
        for (label, a), c in zip(algos.items(), cols):
            tc = a.time_curve
            cs = None if tc is None else (tc.curve if what == "value" else tc.regret)
            if cs is None or cs.n_runs == 0 or not len(tc.times):
                continue
            y, lo, hi = cs.mean, cs.mean_lo, cs.mean_hi
            if what == "regret":
                y, lo, hi = (np.where(v > 0, v, np.nan) for v in (y, lo, hi))
            ax.step(tc.times, y, where="post", color=c, lw=1.8, label=f"{label} (n={cs.n_runs})")
            ax.fill_between(tc.times, lo, hi, step="post", color=c, alpha=0.22, lw=0)
        for t in summary.time_checkpoints:
            ax.axvline(t, color="0.75", lw=0.8, ls=":", zorder=0)
        if logx:
            ax.set_xscale("log")
            _plain_log_ticks(ax.xaxis)
        ax.set_xlabel("simulated time (s of training)")
        ax.grid(alpha=0.3)
        if what == "value":
            if summary.optimum_report is not None:
                ax.axhline(summary.optimum_report, color="0.3", ls="--", lw=1, label=f"global optimum {summary.optimum_report:.2f}")
            ax.set_ylabel(f"incumbent's {_label(summary.report_metric)}")
            ax.set_title(f"mean over seeds of the incumbent's {summary.report_metric} vs simulated time, 95% bootstrap CI",
                         fontsize=10)
            ax.legend(fontsize=8, loc="lower right")
        else:
            ax.set_yscale("log")
            _plain_log_ticks(ax.yaxis)
            ax.set_ylabel(f"regret to the optimum: {_label(summary.report_metric)}, log scale")
            ax.set_title("mean regret vs simulated time, 95% bootstrap CI", fontsize=10)
    if title:
        fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def plot_pareto_fronts(summary, path: str, title: str = "") -> str:
    """Pareto fronts of (search value maximized, cost minimized): for each algorithm the front
    of its run with the median normalized hypervolume, as a staircase."""
    algos = {k: a for k, a in summary.algorithms.items() if a.median_front is not None}
    cols = dict(zip(summary.algorithms, colours(len(summary.algorithms))))
    fig = _figure(7.5, 5)
    ax = fig.subplots()
    for label, a in algos.items():
        v, c, hv = a.median_front
        ax.step(c, v, where="post", color=cols[label], lw=1.6, marker="o", ms=3.5,
                label=f"{label}: HV {hv:.4f} (median run; mean {a.hypervolume.mean:.4f})")
    ax.set_xlabel(f"{_label(summary.pareto_cost)} (lower is better)")
    ax.set_ylabel(f"{_label(summary.search_metric)} (higher is better)")
    ax.set_title("Pareto front of the median-hypervolume run per algorithm", fontsize=10)
    ax.grid(alpha=0.3)
    if algos:
        ax.legend(fontsize=8, loc="lower right")
    else:
        ax.text(0.5, 0.5, "no Pareto fronts", ha="center", va="center", transform=ax.transAxes)
    if title:
        fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def write_plots(summary, folder: str, title: str = "", logx: bool = False) -> list[str]:
    """Every plot that applies to ``summary``, as PNG files in ``folder``; returns their paths."""
    os.makedirs(folder, exist_ok=True)
    out = [plot_best_so_far(summary, os.path.join(folder, "best_so_far.png"), title, logx=logx)]
    if any(a.time_curve is not None for a in summary.algorithms.values()):
        out.append(plot_best_so_far_time(summary, os.path.join(folder, "best_so_far_time.png"), title))
    if any(a.median_front is not None for a in summary.algorithms.values()):
        out.append(plot_pareto_fronts(summary, os.path.join(folder, "pareto_fronts.png"), title))
    if any(a.samples_to_optimum is not None and a.samples_to_optimum.n_runs for a in summary.algorithms.values()):
        out.append(plot_samples_to_optimum(summary, os.path.join(folder, "samples_to_optimum.png"), title))
    if any(a.improvements is not None for a in summary.algorithms.values()):
        out.append(plot_improvement_histograms(summary, os.path.join(folder, "improvement_histograms.png"), title))
        out.append(plot_initial_vs_improvement(summary, os.path.join(folder, "initial_vs_improvement.png"), title))
    return out

