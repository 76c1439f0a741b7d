"""Regularized (aging) evolution."""

import numpy as np
import pytest

from algorithms.evolution import RegularizedEvolution
from harness.conformance import run_once
from harness.errors import ConfigError

from .conftest import OPTIMUM


def test_defaults_are_the_nb201_baseline_settings():
    assert RegularizedEvolution().hyperparameters() == {"population": 10, "sample_size": 3}
    with pytest.raises(ConfigError):
        RegularizedEvolution(population=0)


def test_population_is_random_then_every_child_is_one_mutation_of_an_earlier_query(analog):
    t = run_once(lambda: RegularizedEvolution(population=20), analog, budget=300, seed=3, counting="all")
    space = analog.space
    archs = [space.arch_at(i) for i in t["index"]]
    for j in range(20, len(archs)):
        # the parent is a member of the population, i.e. among the last 20 queried
        assert any(space.edit_distance(archs[j], p) == 1 for p in archs[j - 20 : j]), f"query {j} is no child"


@pytest.mark.parametrize("fixture", ["onemax", "onemin"])
def test_climbs_to_the_optimum_of_an_easy_landscape_in_either_direction(request, fixture):
    bench = request.getfixturevalue(fixture)
    for seed in range(3):
        t = run_once(RegularizedEvolution, bench, budget=1500, seed=seed)
        assert bench.space.arch_at(t["incumbent_index"][-1]) == OPTIMUM


def test_members_leave_by_age_not_by_value(onemax):
    """With a population of one, every child replaces its parent (the oldest member) even when
    it is worse: the walk of values goes down as well as up (no elitism)."""
    t = run_once(lambda: RegularizedEvolution(population=1, sample_size=1), onemax, budget=200, seed=0, counting="all")
    steps = np.diff(t["search"])
    assert (steps < 0).any() and (steps > 0).any()


def test_reaches_the_nb201_cifar10_optimum_in_a_few_hundred_queries(nb201_cifar10):
    """Orientation from the issue: about 150-350 counted queries on average (to the optimum value)."""
    opt = nb201_cifar10.optimum("test_accuracy")[0]
    hits = []
    for seed in range(8):
        t = run_once(RegularizedEvolution, nb201_cifar10, budget=3000, seed=seed)
        hit = np.flatnonzero(t["search"] >= opt)
        hits.append(hit[0] + 1 if len(hit) else 3000)
    assert np.mean(hits) < 1000, hits
