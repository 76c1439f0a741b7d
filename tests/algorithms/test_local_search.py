"""Local search with restarts: best improvement (Ape-X NAS §3.2.3) and first improvement (White et al.)."""

import numpy as np
import pytest

from algorithms.local_search import FirstImprovementLocalSearch, LocalSearch
from harness.conformance import run_once
from harness.errors import BudgetExhausted
from harness.oracle import Oracle

from .conftest import OPTIMUM

VARIANTS = [LocalSearch, FirstImprovementLocalSearch]


def _value(bench, arch):
    return float(bench.mean(bench.default_search)[bench.space.index(arch)])


def _episodes(bench, cls, budget=2000, seed=0, **kw):
    oracle = Oracle(bench, budget=budget, **kw)
    try:
        cls().run(oracle, np.random.default_rng(seed))
    except BudgetExhausted:
        pass
    return oracle, oracle.episodes()


@pytest.mark.parametrize("cls", VARIANTS)
def test_every_finished_episode_ends_at_a_local_optimum_no_worse_than_its_start(analog, cls):
    space = analog.space
    oracle, eps = _episodes(analog, cls, budget=1500)
    assert len(eps) >= 5
    for e in eps:
        assert e["terminated"]  # no max_steps: every recorded descent ended at a local optimum
        end = space.parse(e["end"])
        assert e["end_search"] == _value(analog, end) >= e["start_search"]
        assert all(_value(analog, nb) <= e["end_search"] for nb in space.neighbours(end))
        assert space.edit_distance(space.parse(e["start"]), end) <= e["steps"]
    assert eps[-1]["queries_at_end"] <= 1500


def test_best_improvement_follows_the_steepest_path(analog):
    space = analog.space
    start = space.sample(np.random.default_rng(11))
    oracle = Oracle(analog, budget=10_000, start_states=[start])
    LocalSearch().run(oracle, np.random.default_rng(0))
    cur = start
    while True:  # the steepest-ascent path computed from the table
        best = max(space.neighbours(cur), key=lambda nb: _value(analog, nb))
        if _value(analog, best) <= _value(analog, cur):
            break
        cur = best
    (ep,) = oracle.episodes()
    assert ep["end"] == space.key(cur)
    # every neighbour of every visited cell was queried: 1 + 24 per step (+24 to confirm)
    assert oracle.used <= 1 + 24 * (ep["steps"] + 1)


def test_first_improvement_stops_scanning_at_the_first_better_neighbour(onemax):
    oracle = Oracle(onemax, budget=10_000, counting="all", start_states=[(0,) * 6])
    FirstImprovementLocalSearch().run(oracle, np.random.default_rng(0))
    (ep,) = oracle.episodes()
    assert ep["end"] == onemax.space.key(OPTIMUM) and ep["steps"] == 6
    best = LocalSearch()
    o2 = Oracle(onemax, budget=10_000, counting="all", start_states=[(0,) * 6])
    best.run(o2, np.random.default_rng(0))
    assert oracle.used < o2.used == 1 + 24 * 7  # best improvement scans every neighbourhood


def test_max_neighbours_caps_the_neighbours_evaluated_per_step(analog):
    start = analog.space.sample(np.random.default_rng(2))
    oracle = Oracle(analog, budget=10_000, counting="all", start_states=[start])
    LocalSearch(max_neighbours=5).run(oracle, np.random.default_rng(0))
    (ep,) = oracle.episodes()
    assert oracle.used == 1 + 5 * (ep["steps"] + 1)


@pytest.mark.parametrize("cls", VARIANTS)
def test_restarts_until_the_budget_is_spent_recording_finished_descents(analog, cls):
    oracle, eps = _episodes(analog, cls, budget=500)
    assert oracle.used == 500 and len(eps) > 2
    assert eps[-1]["queries_at_end"] < 500  # the descent cut by the budget is not recorded


@pytest.mark.parametrize("cls", VARIANTS)
def test_max_steps_limits_the_moves(onemax, cls):
    oracle = Oracle(onemax, budget=10_000, start_states=[(0,) * 6])
    cls(max_steps=2).run(oracle, np.random.default_rng(0))
    (ep,) = oracle.episodes()
    assert ep["steps"] == 2 and abs(ep["end_search"]) == 2.0 and not ep["terminated"]


@pytest.mark.parametrize("cls", VARIANTS)
def test_reaches_the_nb201_cifar10_optimum_in_a_few_hundred_queries(nb201_cifar10, cls):
    """Orientation from the issue: roughly 130-200 queries on average (best improvement)."""
    opt = nb201_cifar10.optimum("test_accuracy")[0]
    hits = []
    for seed in range(10):
        t = run_once(cls, nb201_cifar10, budget=3000, seed=seed)
        hit = np.flatnonzero(t["search"] >= opt)
        hits.append(hit[0] + 1 if len(hit) else 3000)
    assert np.mean(hits) < 600, hits
