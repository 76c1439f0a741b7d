"""``nas-harness bench algorithms`` and ``bench baselines``: they run and print the figures;
the full 100-seed reproduction is marked slow."""

import numpy as np
import pytest

from harness.bench.baselines import run_to_optimum
from harness.cli import main


def test_bench_algorithms_prints_every_algorithm(capsys):
    assert main(["bench", "algorithms", "--budget", "50", "--tpe-budget", "20", "--seeds", "1"]) == 0
    out = capsys.readouterr().out
    for name in ("random", "evolution", "local-search", "random-walk", "mcts", "reinforce", "tpe"):
        assert f"\n{name} " in out
    assert "own us/query" in out


def test_runs_stop_at_the_optimum_index(nb201_csv):
    r = run_to_optimum("local-search", {}, nb201_csv, "cifar10", seed=0)
    assert r["reached"] and r["to_index"] == r["used"] and r["to_value"] <= r["to_index"]


def test_bench_baselines_prints_the_table_beside_published_figures(nb201_csv, capsys):
    args = ["bench", "baselines", "--data", nb201_csv, "--seeds", "3", "--bootstrap", "200",
            "--algorithms", "evolution", "local-search", "--set", "evolution.population=20"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "535.5 (BONAS Table 2)" in out and "population=20" in out and "index 6111" in out


def test_reproduction_random_search_agrees_with_theory_and_baselines_are_in_range(nb201_csv):
    """100 seeds on NB201 CIFAR-10: random search's mean CI contains (N + 1) / 2 = 7,813;
    evolution and local search reach the optimum value in the issue's orientation ranges."""
    out = {}
    for name in ("random", "evolution", "local-search"):
        res = [run_to_optimum(name, {}, nb201_csv, "cifar10", seed=s) for s in range(100)]
        out[name] = res
    from harness.metrics import bootstrap_ci

    lo, hi = bootstrap_ci([r["to_index"] for r in out["random"]], np.random.default_rng(0))
    assert lo <= 7813 <= hi
    assert 100 < np.mean([r["to_value"] for r in out["evolution"]]) < 400
    assert 80 < np.mean([r["to_value"] for r in out["local-search"]]) < 250
