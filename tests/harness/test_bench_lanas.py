"""``nas-harness bench lanas`` (harness/bench/lanas.py): the bootstrap helper and a tiny run."""

from __future__ import annotations

import numpy as np
import pytest

from harness.bench.lanas import bootstrap_ci
from harness.cli import main


def test_bootstrap_ci_hand_cases():
    assert bootstrap_ci([5.0] * 10) == (5.0, 5.0)
    x = np.random.default_rng(0).normal(100, 10, size=400)
    lo, hi = bootstrap_ci(x, np.mean, 2000, rng=np.random.default_rng(1))
    assert lo < x.mean() < hi and hi - lo == pytest.approx(2 * 1.96 * x.std() / 20, rel=0.15)
    mlo, mhi = bootstrap_ci(x, np.median, 2000, rng=np.random.default_rng(1))
    assert mlo <= np.median(x) <= mhi


def test_bench_lanas_prints_both_algorithms_and_the_runtime(capsys):
    assert main(["bench", "lanas", "--benchmark", "nb201-analog", "--seeds", "2", "--workers", "1",
                 "--selects", "50", "--boot", "200"]) == 0
    out = capsys.readouterr().out
    for text in ("lanas", "random", "95% CI", "entirely below random search's", "per 1,000 queries", "learn", "sample"):
        assert text in out


def test_bench_lanas_rejects_one_seed(capsys):
    assert main(["bench", "lanas", "--benchmark", "nb201-analog", "--seeds", "1"]) == 2
    assert "--seeds" in capsys.readouterr().err
