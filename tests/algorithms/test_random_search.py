"""Random search: the reference plug-in."""

import numpy as np

from algorithms.random_search import RandomSearch
from harness.conformance import check_algorithm, run_once
from harness.errors import BudgetExhausted
from harness.oracle import Oracle


def test_without_replacement_finds_the_official_optimum(nb201_cifar10):
    space = nb201_cifar10.space
    oracle = Oracle(nb201_cifar10, budget=space.size)
    try:
        RandomSearch().run(oracle, np.random.default_rng(0))
    except BudgetExhausted:
        pass
    t = oracle.trajectory()
    assert len(t["index"]) == space.size == len(set(t["index"].tolist()))
    assert t["incumbent_index"][-1] == 6111
    assert t["incumbent_report"][-1] == pytest_approx(94.3733)


def pytest_approx(v):
    import pytest

    return pytest.approx(v, abs=1e-3)


def test_conformance(analog, graph_cora):
    check_algorithm(RandomSearch, analog)
    check_algorithm(RandomSearch, graph_cora)


def test_with_replacement_repeats_are_priced_by_the_counting_rule(analog):
    make = lambda: RandomSearch(replace=True)  # noqa: E731
    # a tiny space makes repeats certain: use proteins (2,021 archs) with a large budget
    from harness.benchmarks import get_benchmark

    prot = get_benchmark("nasbench-graph-proteins")
    t_all = run_once(make, prot, budget=3000, seed=0, counting="all")
    assert len(t_all["key"]) == 3000 and len(set(t_all["key"])) < 3000
    t_unique = run_once(make, prot, budget=500, seed=0, counting="unique")
    assert len(set(t_unique["key"])) == len(t_unique["key"]) == 500


def test_with_replacement_under_both_rules_from_the_same_seed(analog):
    """Same seed, same draws: under ``all`` each repeat costs a query, under ``unique`` it is
    free, so ``unique`` reaches further into the same sequence of draws."""
    from harness.benchmarks import get_benchmark

    prot = get_benchmark("nasbench-graph-proteins")  # 2,021 members: repeats are frequent
    make = lambda: RandomSearch(replace=True)  # noqa: E731
    t_all = run_once(make, prot, budget=1500, seed=7, counting="all")
    t_unique = run_once(make, prot, budget=1500, seed=7, counting="unique")
    distinct_all = list(dict.fromkeys(t_all["key"].tolist()))
    assert len(distinct_all) < 1500
    assert t_unique["key"].tolist()[: len(distinct_all)] == distinct_all  # same draws, repeats skipped free
    assert len(t_unique["key"]) == 1500
