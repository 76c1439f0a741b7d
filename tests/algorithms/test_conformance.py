"""Every registered algorithm on every test space: deterministic under a seed, within budget,
queries only members, repeats priced by the counting rule (``harness.conformance``), plus
property tests over random seeds, budgets (including 1) and both counting rules."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from algorithms.base import missing_capabilities
from algorithms.registry import get_algorithm_class, list_algorithms
from harness.conformance import check_algorithm
from harness.errors import BudgetExhausted
from harness.oracle import Oracle

SPACES = ("analog", "graph_cora")
# (registered name, hyperparameters on top of the class's test_hyperparameters)
VARIANTS = [(n, {}) for n in list_algorithms()] + [("random", {"replace": True}), ("random-walk", {"query": "all"})]


def _factory(name, extra):
    cls = get_algorithm_class(name)
    hp = {**getattr(cls, "test_hyperparameters", {}), **extra}
    return lambda: cls(**hp)


def _bench(request, fixture, name):
    bench = request.getfixturevalue(fixture)
    missing = missing_capabilities(get_algorithm_class(name).requires, bench.space)
    if missing:
        pytest.skip(f"{name} needs {', '.join(missing)}, which {bench.space.id} lacks")
    return bench


def test_every_algorithm_declares_what_the_harness_needs():
    for name in list_algorithms():
        cls = get_algorithm_class(name)
        assert cls.name == name
        assert isinstance(cls.requires, tuple) and isinstance(cls.episodic, bool)
        assert isinstance(getattr(cls, "test_hyperparameters", None), dict), f"{name} has no test_hyperparameters"
        assert cls.__doc__, f"{name} has no class docstring (shown by 'nas-harness list algorithms')"


@pytest.mark.parametrize("fixture", SPACES)
@pytest.mark.parametrize("name,extra", VARIANTS, ids=[f"{n}{'-' + '-'.join(map(str, e.values())) if e else ''}" for n, e in VARIANTS])
def test_conformance(request, fixture, name, extra):
    check_algorithm(_factory(name, extra), _bench(request, fixture, name), budget=60)


class _Spy:
    """Forwards to an oracle; records every architecture a query call returned a value for."""

    def __init__(self, oracle):
        self._o = oracle
        self.space = oracle.space
        self.answered = []

    def __getattr__(self, name):
        return getattr(self._o, name)

    def query(self, arch):
        assert self.space.contains(arch), f"queried a non-member {arch!r}"
        v = self._o.query(arch)
        self.answered.append(arch)
        return v

    def query_batch(self, archs):
        return np.array([self.query(a) for a in archs], dtype=float)


def _run(bench, factory, budget, seed, counting):
    oracle = Oracle(bench, budget=budget, counting=counting)
    spy = _Spy(oracle)
    try:
        factory().run(spy, np.random.default_rng(seed))
    except BudgetExhausted:
        pass
    return oracle, spy


PROPERTY = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("name,extra", VARIANTS, ids=[f"{n}{'-' + '-'.join(map(str, e.values())) if e else ''}" for n, e in VARIANTS])
@PROPERTY
@given(seed=st.integers(0, 2**32 - 1), budget=st.integers(1, 40), counting=st.sampled_from(["unique", "all"]))
def test_budget_members_and_counting_rule(analog, name, extra, seed, budget, counting):
    oracle, spy = _run(analog, _factory(name, extra), budget, seed, counting)
    t = oracle.trajectory()
    assert oracle.used <= budget and len(t["key"]) == oracle.used
    if counting == "all":  # every answered query was counted
        assert len(spy.answered) == oracle.used
    else:  # a repeat is free: counted = distinct architectures answered
        assert oracle.used == len(set(spy.answered)) == len(set(t["key"].tolist()))
    if oracle.used < budget:  # the algorithm stopped by itself: only with fixed start states
        assert not oracle.stalled


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), budget=st.integers(1, 15))
@pytest.mark.parametrize("name", list_algorithms())
def test_budget_on_graph_space(graph_cora, name, seed, budget):
    cls = get_algorithm_class(name)
    if missing_capabilities(cls.requires, graph_cora.space):
        pytest.skip("space lacks a requirement")
    oracle, spy = _run(graph_cora, _factory(name, {}), budget, seed, "all")
    assert oracle.used <= budget and len(spy.answered) == oracle.used


@pytest.mark.parametrize("name", [n for n in list_algorithms() if "decisions" in get_algorithm_class(n).requires])
def test_decision_algorithms_redraw_rejected_decisions(gappy, name):
    """``from_decisions`` rejects a third of the vectors: never queried, and the search goes on."""
    oracle, spy = _run(gappy, _factory(name, {}), 12, 0, "unique")
    assert oracle.used == 12 and not oracle.stalled  # 12 of the 18 members reached, no non-member queried


@pytest.mark.parametrize("name", [n for n in list_algorithms() if get_algorithm_class(n).episodic])
def test_episodic_algorithms_run_from_the_protocols_start_states(analog, name):
    rng = np.random.default_rng(5)
    starts = [analog.space.sample(rng) for _ in range(4)]
    oracle = Oracle(analog, budget=10_000, start_states=starts)
    _factory(name, {})().run(oracle, np.random.default_rng(0))  # returns by itself
    eps = oracle.episodes()
    assert [e["start"] for e in eps] == [analog.space.key(a) for a in starts]
    for e in eps:
        assert {"end", "steps", "start_search", "end_search", "start_report", "end_report"} <= set(e)
        assert isinstance(e["terminated"], bool)


def test_conformance_fails_an_algorithm_that_reaches_past_the_oracle_view(analog):
    """The narrow oracle view: the benchmark's table and the report metric are out of reach."""
    from dataclasses import dataclass

    from algorithms.base import Algorithm

    @dataclass
    class C:
        pass

    class Peek(Algorithm):
        Config = C
        reach = "benchmark"

        def run(self, oracle, rng):
            a = oracle.space.sample(rng)
            oracle.query(a)
            getattr(oracle, self.reach)
            while True:
                oracle.query(oracle.space.sample(rng))

    for reach in ("benchmark", "report_value", "trajectory", "_cache"):
        Peek.reach = reach
        with pytest.raises(AssertionError, match=f"oracle.{reach}"):
            check_algorithm(Peek, analog, budget=10)
    Peek.reach = "remaining"  # offered: passes
    check_algorithm(Peek, analog, budget=10)


def test_runner_gives_algorithms_only_the_view(analog):
    from harness.oracle import OracleView

    o = Oracle(analog, budget=5)
    v = o.view()
    assert isinstance(v, OracleView) and v.budget == 5 and v.space is o.space
    with pytest.raises(AttributeError, match="offers only"):
        v.benchmark
    with pytest.raises(AttributeError):
        v.report_value
