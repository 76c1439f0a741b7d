"""harness.plots: every kind of plot is written as a readable PNG from a real summary."""

from __future__ import annotations

import numpy as np
import pytest

from harness import metrics, plots
from harness.bench.metrics import synthetic_records

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def summary():
    recs = synthetic_records(12, 400, 60, np.random.default_rng(0), algorithms=3)
    return metrics.summarize(recs, np.random.default_rng(0), checkpoints=[50, 100, 400], resamples=300)


def _png(path):
    with open(path, "rb") as f:
        head = f.read(8)
    import os

    return head == PNG and 5_000 < os.path.getsize(path) < 200_000


def test_each_kind_of_plot(summary, tmp_path):
    assert _png(plots.plot_best_so_far(summary, str(tmp_path / "a.png"), "t")) is True
    assert _png(plots.plot_best_so_far(summary, str(tmp_path / "b.png"), logx=True, statistic="median"))
    assert _png(plots.plot_samples_to_optimum(summary, str(tmp_path / "c.png")))
    assert _png(plots.plot_improvement_histograms(summary, str(tmp_path / "d.png")))
    assert _png(plots.plot_initial_vs_improvement(summary, str(tmp_path / "e.png")))


def test_write_plots_chooses_what_applies(summary, tmp_path):
    names = sorted(p.rsplit("/", 1)[-1] for p in plots.write_plots(summary, str(tmp_path / "all")))
    assert names == ["best_so_far.png", "improvement_histograms.png", "initial_vs_improvement.png", "samples_to_optimum.png"]
    recs = synthetic_records(4, 50, 0, np.random.default_rng(1), algorithms=1)
    for r in recs:  # a surrogate-like run: no optimum known, no episodes
        for k in ("optimum_search", "optimum_report", "optimum_search_index"):
            r.meta.pop(k)
    s = metrics.summarize(recs, np.random.default_rng(0), resamples=100)
    assert s.optimum_report is None
    only = plots.write_plots(s, str(tmp_path / "few"))
    assert [p.rsplit("/", 1)[-1] for p in only] == ["best_so_far.png"] and _png(only[0])


def test_colours_are_distinct_and_units_named():
    assert len(set(plots.colours(10))) == 10 and len(set(plots.colours(14))) == 14
    assert plots.unit("test_accuracy") == "%" and plots.unit("latency") == "s"
