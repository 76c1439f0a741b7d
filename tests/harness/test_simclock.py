"""The simulated wall clock: hand-computed schedules for 1 and 4 workers, the oracle's time
budget (which query ends a run, nothing recorded past it), sim_time and cost columns, and the
protocol keys that configure it."""

import numpy as np
import pytest

from harness.benchmarks.base import TabularBenchmark
from harness.errors import BudgetExhausted, ConfigError
from harness.oracle import Oracle
from harness.protocol import protocol_from_dict
from harness.simclock import SimClock, schedule
from harness.spaces import get_space

COSTS = [5.0, 3.0, 8.0, 2.0, 4.0, 6.0, 1.0]
VALUES = [1.0, 5.0, 2.0, 4.0, 3.0, 9.0, 7.0]


@pytest.fixture(scope="module")
def timed():
    """NB201 space; cell i (i < 7) trains COSTS[i] s and scores VALUES[i]; later cells 1 s."""
    s = get_space("nb201")
    acc = np.zeros(s.size)
    acc[:7] = VALUES
    t = np.ones(s.size)
    t[:7] = COSTS
    lat = np.linspace(1.0, 2.0, s.size)
    return TabularBenchmark(name="timed", version="timed-v1", space=s,
                            columns={"acc": acc, "test": -acc, "training_time": t, "latency": lat,
                                     "parameters": 2 * lat},
                            default_search="acc", default_report="test", higher_is_better={"latency": False})


def test_one_worker_finishes_at_the_cumulative_sums():
    start, finish, worker = schedule(COSTS, workers=1)
    np.testing.assert_allclose(finish, np.cumsum(COSTS))
    np.testing.assert_allclose(start, np.r_[0, np.cumsum(COSTS)[:-1]])
    assert worker.tolist() == [0] * 7


def test_four_workers_against_a_hand_computed_schedule():
    # q0..q3 start at 0 on workers 0..3 (finish 5, 3, 8, 2); q4 takes worker 3 (free at 2) -> 6;
    # q5 worker 1 (free at 3) -> 9; q6 worker 0 (free at 5) -> 6
    start, finish, worker = schedule(COSTS, workers=4)
    assert start.tolist() == [0, 0, 0, 0, 2, 3, 5]
    assert finish.tolist() == [5, 3, 8, 2, 6, 9, 6]
    assert worker.tolist() == [0, 1, 2, 3, 3, 1, 0]


def test_the_first_query_past_the_budget_ends_the_schedule():
    # W = 4, budget 8.5: q5 would finish at 9, so it and everything after (q6 would fit) is left out
    _, finish, _ = schedule(COSTS, workers=4, time_budget=8.5)
    assert finish.tolist() == [5, 3, 8, 2, 6]
    # W = 1: cumulative 5, 8, 16, 18, 22: a budget of exactly 18 takes four queries
    assert len(schedule(COSTS, 1, time_budget=18)[1]) == 4
    assert len(schedule(COSTS, 1, time_budget=17.99)[1]) == 3
    c = SimClock(10, 1)
    assert c.charge(4) == 4 and c.charge(7) is None and c.exhausted and c.charge(0.5) is None


def test_compute_time_is_charged_before_the_training():
    start, finish, _ = schedule([5, 3], workers=1, compute=[0.5, 1.0])
    assert start.tolist() == [0.5, 6.5] and finish.tolist() == [5.5, 9.5]


@pytest.mark.parametrize("workers, budget, n", [(1, 20.0, 4), (4, 8.5, 5), (4, 100.0, 7)])
def test_oracle_stops_at_the_right_query_and_records_nothing_past_it(timed, workers, budget, n):
    o = Oracle(timed, budget=100, time_budget=budget, sim_workers=workers, cost_metrics=("latency",))
    got = []
    with pytest.raises(BudgetExhausted, match="simulated time") if n < 7 else _nothing():
        for i in range(7):
            got.append(o.query(timed.space.arch_at(i)))
    assert got == VALUES[:n]  # the value returned is immediate, whatever the schedule
    t = o.trajectory()
    assert t["index"].tolist() == list(range(n)) and o.used == n
    np.testing.assert_allclose(t["sim_time"], schedule(COSTS, workers, time_budget=budget)[1])
    np.testing.assert_allclose(t["cost_latency"], timed.mean("latency")[:n])
    assert o.time_exhausted == (n < 7)
    if n < 7:  # every later query, a cached one too, is refused
        for i in (0, 8):
            with pytest.raises(BudgetExhausted):
                o.query(timed.space.arch_at(i))
        assert o.used == n


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_time_scale_and_repeats_under_each_counting_rule(timed):
    a = timed.space.arch_at(0)  # trains 5 s, 2.5 s at scale 0.5
    o = Oracle(timed, budget=100, time_budget=6, time_scale=0.5, counting="all")
    o.query(a)
    o.query(a)  # a repeat costs again under "all"
    with pytest.raises(BudgetExhausted):
        o.query(a)
    assert o.trajectory()["sim_time"].tolist() == [2.5, 5.0]
    u = Oracle(timed, budget=100, time_budget=6, time_scale=0.5, counting="unique")
    for _ in range(5):
        u.query(a)  # free and cached: no time charged
    assert u.used == 1 and u.sim_time == 2.5


def test_query_budget_still_applies(timed):
    o = Oracle(timed, budget=2, time_budget=1000)
    o.query(timed.space.arch_at(0))
    o.query(timed.space.arch_at(1))
    with pytest.raises(BudgetExhausted, match="queries"):
        o.query(timed.space.arch_at(2))
    assert not o.time_exhausted and o.sim_time == 8


def test_charge_compute_only_adds_time(timed):
    o = Oracle(timed, budget=100, time_budget=1e6, charge_compute=True)
    for i in range(7):
        o.query(timed.space.arch_at(i))
    st = o.trajectory()["sim_time"]
    assert (st >= np.cumsum(COSTS)).all() and (st - np.cumsum(COSTS) < 5.0).all()


def test_the_number_of_queries_that_fit_matches_the_training_times(timed):
    """On the embedded NB201 CIFAR-10 data: what fits 12,000 s of 12/200-scaled training."""
    from harness.benchmarks import get_benchmark

    b = get_benchmark("nb201", "cifar10")
    cost = 0.06 * b.mean("training_time")
    rng = np.random.default_rng(3)
    idx = rng.integers(0, b.space.size, 400)
    o = Oracle(b, budget=15625, counting="all", noise="sample", rng=np.random.default_rng(0), time_budget=12000,
               time_scale=0.06, cost_metrics=("latency", "parameters"))
    with pytest.raises(BudgetExhausted):
        for i in idx:
            o.query(b.space.arch_at(int(i)))
    fit = int(np.searchsorted(np.cumsum(cost[idx]), 12000, side="right"))
    t = o.trajectory()
    assert 60 < o.used == fit < 200
    np.testing.assert_allclose(t["sim_time"], np.cumsum(cost[idx])[:fit])
    assert t["sim_time"][-1] <= 12000 < t["sim_time"][-1] + cost[idx[fit]]
    assert set(t) >= {"cost_latency", "cost_parameters"} and not np.isnan(t["cost_parameters"]).any()


def test_no_time_budget_leaves_the_trajectory_as_before(timed):
    o = Oracle(timed, budget=3)
    o.query(timed.space.arch_at(0))
    assert "sim_time" not in o.trajectory() and o.sim_time == 0.0


def test_bad_clock_settings(timed):
    with pytest.raises(ConfigError, match="no metric 'nope'"):
        Oracle(timed, budget=3, time_budget=10, time_metric="nope")
    with pytest.raises(ConfigError, match="no metric 'flops'"):
        Oracle(timed, budget=3, cost_metrics=("flops",))


BASE = {"name": "t", "benchmark": "nb201", "dataset": "cifar10", "budget": 100}


@pytest.mark.parametrize("extra, key, needle", [
    ({"time_budget": 0}, "time_budget", "positive number"),
    ({"time_budget": "12000"}, "time_budget", "must be int or float"),
    ({"time_budget": True}, "time_budget", "must be int or float"),
    ({"time_scale": 0.06}, "time_scale", "needs time_budget"),
    ({"sim_workers": 4}, "sim_workers", "needs time_budget"),
    ({"time_budget": 100, "time_scale": -1}, "time_scale", "positive number"),
    ({"time_budget": 100, "time_metric": "walltime"}, "time_metric", "no metric 'walltime'"),
    ({"time_budget": 100, "sim_workers": 0}, "sim_workers", "integer >= 1"),
    ({"time_budget": 100, "sim_workers": 2.5}, "sim_workers", "must be int"),
    ({"time_budget": 100, "charge_compute": "yes"}, "charge_compute", "must be bool"),
    ({"time_budget": 100, "time_checkpoints": [50, 200]}, "time_checkpoints", "beyond the time budget"),
    ({"time_budget": 100, "time_checkpoints": [60, 50]}, "time_checkpoints", "strictly increasing"),
    ({"cost_metrics": ["latency", "latency"]}, "cost_metrics", "repeated"),
    ({"cost_metrics": ["size"]}, "cost_metrics", "no metric 'size'"),
    ({"search_metric": "valid_accuracy", "cost_metrics": ["valid_accuracy"]}, "cost_metrics", "report-only"),
    ({"cost_metrics": ["parameters"], "pareto_cost": "latency"}, "pareto_cost", "must be one of the cost_metrics"),
])
def test_protocol_validation_of_the_new_keys(extra, key, needle):
    with pytest.raises(ConfigError) as e:
        protocol_from_dict({**BASE, **extra}, "my.toml")
    msg = str(e.value)
    assert msg.startswith(f"my.toml: key '{key}':") and needle in msg and "\n" not in msg


def test_protocol_time_fields_enter_to_dict():
    p = protocol_from_dict({**BASE, "time_budget": 12000, "time_scale": 0.06, "sim_workers": 4,
                            "cost_metrics": ["latency", "parameters"]})
    d = p.to_dict()
    assert (d["time_budget"], d["time_scale"], d["sim_workers"], d["charge_compute"]) == (12000.0, 0.06, 4, False)
    assert d["cost_metrics"] == ["latency", "parameters"] and d["time_checkpoints"] == []
    assert p.report_time_checkpoints == (12000.0,) and p.pareto_metric == "latency"
    plain = protocol_from_dict(BASE)
    assert plain.report_time_checkpoints == () and plain.pareto_metric is None
    assert p.to_dict() != plain.to_dict()  # the run key (a hash of to_dict) tells them apart
