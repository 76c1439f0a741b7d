"""Random walk (Ape-X NAS §3.2.3): uniform choice among the neighbours or termination."""

import numpy as np
import pytest

from algorithms.random_walk import RandomWalk
from harness.errors import BudgetExhausted, ConfigError
from harness.oracle import Oracle


def _run(bench, budget=300, counting="all", seed=0, **hp):
    oracle = Oracle(bench, budget=budget, counting=counting)
    try:
        RandomWalk(**hp).run(oracle, np.random.default_rng(seed))
    except BudgetExhausted:
        pass
    return oracle, oracle.episodes()


def test_query_end_queries_one_architecture_per_episode(analog):
    oracle, eps = _run(analog, budget=200, query="end")
    assert len(eps) == 200 == oracle.used  # 'end': each episode queries its final architecture
    t = oracle.trajectory()
    assert [analog.space.key(analog.space.arch_at(i)) for i in t["index"]] == [e["end"] for e in eps]
    assert all(e["start_search"] is None and e["end_search"] is not None for e in eps)


def test_by_default_the_start_and_every_move_are_queried(analog):
    oracle, eps = _run(analog, budget=400)
    done = sum(e["steps"] + 1 for e in eps)  # start + one per move, finished episodes
    assert done == eps[-1]["queries_at_end"] and 400 - 33 <= done <= 400  # the cut episode is not recorded
    for e in eps:
        assert e["start_search"] == analog.mean(analog.default_search)[analog.space.index(analog.space.parse(e["start"]))]
        assert e["end_search"] == analog.mean(analog.default_search)[analog.space.index(analog.space.parse(e["end"]))]


def test_walks_move_one_edit_per_step_and_respect_max_steps(analog):
    space = analog.space
    _, eps = _run(analog, budget=300, max_steps=5)
    assert max(e["steps"] for e in eps) == 5
    for e in eps:
        assert space.edit_distance(space.parse(e["start"]), space.parse(e["end"])) <= e["steps"] <= 5


def test_without_the_termination_action_every_walk_has_max_steps(analog):
    _, eps = _run(analog, budget=100, max_steps=7, terminate=False)
    assert {e["steps"] for e in eps} == {7} and not any(e["terminated"] for e in eps)


def test_termination_is_one_action_among_the_neighbours(analog):
    """NB201 cells have 24 neighbours: a walk stops with probability 1/25 per step, so an
    unbounded walk makes 24 moves on average (geometric)."""
    _, eps = _run(analog, budget=3000, max_steps=10_000, query="end")
    mean = np.mean([e["steps"] for e in eps])
    assert 22.5 < mean < 25.5, mean
    # with N = 4 actions shown, the walk stops with probability 1/5 per step: 4 moves on average
    _, eps = _run(analog, budget=3000, max_steps=10_000, max_neighbours=4, query="end")
    assert 3.7 < np.mean([e["steps"] for e in eps]) < 4.3


def test_steps_pick_neighbours_uniformly(analog):
    """The first move from a fixed start is uniform over its 24 neighbours."""
    space = analog.space
    start = space.sample(np.random.default_rng(1))
    oracle = Oracle(analog, budget=10**6, counting="all", start_states=[start] * 4800)
    RandomWalk(max_steps=1, terminate=False).run(oracle, np.random.default_rng(0))
    ends = [e["end"] for e in oracle.episodes()]
    counts = np.array([ends.count(space.key(nb)) for nb in space.neighbours(start)])
    assert counts.sum() == 4800 and counts.min() > 140 and counts.max() < 260  # 200 expected each


def test_bad_query_mode_is_a_clear_error():
    with pytest.raises(ConfigError, match="query"):
        RandomWalk(query="every")
