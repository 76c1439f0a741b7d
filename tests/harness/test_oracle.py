"""The budgeted oracle: counting rules, budget, hidden report metric, trajectory, errors."""

import numpy as np
import pytest

from harness.benchmarks.base import TabularBenchmark
from harness.errors import BudgetExhausted, ConfigError, InvalidArchitecture
from harness.oracle import Oracle
from harness.spaces import get_space


@pytest.fixture(scope="module")
def toy():
    """NB201 space with search = index, report = -index, and 3 repeats of the search metric."""
    s = get_space("nb201")
    idx = np.arange(s.size, dtype=float)
    reps = np.stack([idx - 1, idx, idx + 1], axis=1)
    return TabularBenchmark(name="toy", version="toy-v1", space=s,
                            columns={"search": idx, "report": -idx, "noisy": reps},
                            default_search="search", default_report="report")


def test_budget_next_counted_query_raises(toy):
    o = Oracle(toy, budget=5)
    for i in range(5):
        o.query(toy.space.arch_at(i))
    assert o.used == 5 and o.remaining == 0
    with pytest.raises(BudgetExhausted):
        o.query(toy.space.arch_at(10))
    assert len(o.trajectory()["search"]) == 5  # nothing past the budget recorded


def test_unique_repeats_are_free_and_cached(toy):
    o = Oracle(toy, budget=3, counting="unique")
    a = toy.space.arch_at(7)
    assert o.query(a) == 7 and o.query(a) == 7 and o.query(a) == 7
    assert o.used == 1 and o.is_cached(a)
    assert o.trajectory()["index"].tolist() == [7]


def test_all_counts_every_query(toy):
    o = Oracle(toy, budget=3, counting="all")
    a = toy.space.arch_at(7)
    for _ in range(3):
        o.query(a)
    assert o.used == 3 and not o.is_cached(a)
    with pytest.raises(BudgetExhausted):
        o.query(a)
    assert o.trajectory()["index"].tolist() == [7, 7, 7]


def test_report_metric_recorded_never_returned(toy):
    o = Oracle(toy, budget=10)
    vals = [o.query(toy.space.arch_at(i)) for i in (3, 9, 4)]
    assert vals == [3.0, 9.0, 4.0]  # search metric
    t = o.trajectory()
    assert t["report"].tolist() == [-3.0, -9.0, -4.0]
    assert t["incumbent_search"].tolist() == [3.0, 9.0, 9.0]
    assert t["incumbent_report"].tolist() == [-3.0, -9.0, -9.0]
    assert t["incumbent_index"].tolist() == [3, 9, 9]
    assert t["key"][1] == toy.space.key(toy.space.arch_at(9))
    assert (np.diff(t["time"]) >= 0).all()


def test_batch_query_records_up_to_the_budget(toy):
    o = Oracle(toy, budget=4)
    np.testing.assert_array_equal(o.query_batch([toy.space.arch_at(i) for i in (1, 2)]), [1.0, 2.0])
    with pytest.raises(BudgetExhausted):
        o.query_batch([toy.space.arch_at(i) for i in (5, 6, 7, 8)])
    assert o.trajectory()["index"].tolist() == [1, 2, 5, 6]


def test_invalid_architecture_names_the_value(toy):
    o = Oracle(toy, budget=4)
    with pytest.raises(InvalidArchitecture, match=r"\(9, 9, 9"):
        o.query((9, 9, 9, 9, 9, 9))
    with pytest.raises(InvalidArchitecture):
        o.query(["not", "hashable"])
    assert o.used == 0


def test_noise_samples_one_repeat_per_counted_query(toy):
    rng = np.random.default_rng(0)
    o = Oracle(toy, budget=200, search_metric="noisy", noise="sample", rng=rng, counting="all")
    a = toy.space.arch_at(100)
    vals = {o.query(a) for _ in range(200)}
    assert vals == {99.0, 100.0, 101.0}
    o2 = Oracle(toy, budget=5, search_metric="noisy", noise="sample", rng=np.random.default_rng(0))
    first = o2.query(a)
    assert o2.query(a) == first  # unique: the sampled value is cached


def test_bad_settings_are_config_errors(toy):
    with pytest.raises(ConfigError, match="positive"):
        Oracle(toy, budget=0)
    with pytest.raises(ConfigError, match="counting"):
        Oracle(toy, budget=3, counting="some")
    with pytest.raises(ConfigError, match="no metric"):
        Oracle(toy, budget=3, search_metric="nope")
    with pytest.raises(ConfigError, match="repeats"):
        Oracle(toy, budget=3, noise="sample", rng=np.random.default_rng(0))


def test_endless_free_repeats_end_the_run(toy):
    o = Oracle(toy, budget=1)
    a = toy.space.arch_at(0)
    o.query(a)  # budget now spent: any query raises
    with pytest.raises(BudgetExhausted):
        o.query(a)
    o = Oracle(toy, budget=2)
    o.query(a)
    with pytest.raises(BudgetExhausted):
        while True:
            o.query(a)
    assert o.stalled and o.used == 1


def test_training_ledger_is_separate(toy):
    o = Oracle(toy, budget=2)
    t = o.training()
    assert t.query_batch([toy.space.arch_at(i) for i in range(10)]).tolist() == list(map(float, range(10)))
    assert o.training_queries == 10 and o.used == 0
    assert len(o.trajectory()["search"]) == 0


def test_episodes_get_report_values(toy):
    o = Oracle(toy, budget=2)
    s, e = toy.space.arch_at(1), toy.space.arch_at(5)
    o.record_episode(s, e, steps=3, start_value=1.0, end_value=5.0)
    (ep,) = o.episodes()
    assert ep["start_report"] == -1.0 and ep["end_report"] == -5.0 and ep["steps"] == 3


def test_until_optimum_by_value_or_by_the_optimum_architecture():
    """Two cells tie at the optimum (as on NB201 CIFAR-10): by value either ends the run; with
    "index" only the benchmark's optimum architecture (the first of the tied cells) does."""
    s = get_space("nb201")
    v = np.zeros(s.size)
    v[[40, 700]] = 1.0  # tied optima; optimum() names index 40
    b = TabularBenchmark(name="tied", version="tied-v1", space=s, columns={"acc": v}, default_search="acc",
                         default_report="acc")
    assert b.optimum("acc") == (1.0, 40)
    by_value = Oracle(b, budget=100, stop_at_optimum=True)
    by_value.query(s.arch_at(3))
    with pytest.raises(BudgetExhausted):
        by_value.query(s.arch_at(700))
    assert by_value.found_optimum and by_value.used == 2
    by_arch = Oracle(b, budget=100, stop_at_optimum="index")
    assert by_arch.query(s.arch_at(700)) == 1.0  # the tied cell does not end the run
    assert not by_arch.found_optimum
    with pytest.raises(BudgetExhausted):
        by_arch.query(s.arch_at(40))
    assert by_arch.found_optimum and by_arch.used == 2


def test_samples_to_the_optimum_architecture_through_a_protocol(tmp_path):
    from harness import metrics
    from harness.protocol import load_protocol
    from harness.runner import Job, execute

    text = (tmp_path / "p.toml")
    text.write_text('name = "arch"\nbenchmark = "nb201-analog"\nbudget = 15625\nseeds = 3\nuntil_optimum = "index"\n'
                    'search_metric = "baseline_accuracy"\n')
    p = load_protocol(str(text))
    assert p.until_optimum == "index"
    recs = [execute(Job(p, "random", s)) for s in p.seeds]
    target = recs[0].meta["optimum_search_index"]
    for r in recs:
        assert r.meta["found_optimum"] and r.trajectory["index"][-1] == target
        assert target not in r.trajectory["index"][:-1]
    hits, queries = metrics.hitting_times(recs)
    np.testing.assert_array_equal(hits, queries)  # the run ends at the hit
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "arch"\nbenchmark = "nb201-analog"\nbudget = 10\nuntil_optimum = "first"\n')
    with pytest.raises(ConfigError, match="until_optimum"):
        load_protocol(str(bad))
