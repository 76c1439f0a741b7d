"""MCTS over the decisions view (AlphaX-style, the baseline of LaNAS §4.2)."""

import numpy as np
import pytest

from algorithms.mcts import MCTS
from harness.conformance import run_once
from harness.errors import BudgetExhausted, ConfigError
from harness.oracle import Oracle

from .conftest import OPTIMUM, queries_to


def test_first_queries_expand_one_new_root_child_each(analog):
    """Every root child (op of edge 0) is tried once before UCB picks any of them twice."""
    t = run_once(MCTS, analog, budget=5, seed=0, counting="all")
    first_ops = {analog.space.arch_at(i)[0] for i in t["index"]}
    assert first_ops == set(range(5))


@pytest.mark.parametrize("fixture", ["onemax", "onemin"])
def test_finds_the_optimum_of_an_easy_landscape_faster_than_random(request, fixture):
    bench = request.getfixturevalue(fixture)
    hits = [queries_to(bench, MCTS, OPTIMUM, budget=1500, seed=seed) for seed in range(3)]
    assert max(hits) <= 1500, hits  # random search needs 7,813 on average


def test_tree_statistics_concentrate_on_good_subtrees(onemax):
    """Later queries are better on average than the first ones: UCB exploits what it learnt."""
    t = run_once(MCTS, onemax, budget=600, seed=1, counting="all")
    assert t["search"][-200:].mean() > t["search"][:100].mean() + 0.5


def test_dead_subtrees_are_abandoned(gappy):
    """Decision 0 = 0 admits no member: the tree marks it dead, queries only members and
    reaches all 18 of them."""
    oracle = Oracle(gappy, budget=18)
    with pytest.raises(BudgetExhausted):
        MCTS().run(oracle, np.random.default_rng(0))
    assert oracle.used == 18


def test_bad_settings_are_clear_errors():
    with pytest.raises(ConfigError):
        MCTS(c=-1)
