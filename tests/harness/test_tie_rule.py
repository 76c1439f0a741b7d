"""The incumbent tie rule, pinned on embedded data (no ../shared needed): a later architecture
whose search value only ties the incumbent's does not replace it (harness.record.best_positions,
strict ``>``; ties keep the earlier architecture). nb201-analog has many cells sharing a
baseline accuracy with different analog accuracies, so a ``>=`` rule changes reported numbers."""

import numpy as np

from harness import metrics
from harness.protocol import load_protocol
from harness.record import RunRecord
from harness.runner import Job, execute, make_oracle


def _tied_pairs(bench, search, report, k=5):
    """``k`` pairs of cells (i, j) with equal search value and different report values."""
    s, r = bench.mean(search), bench.mean(report)
    order = np.argsort(-s, kind="stable")
    pairs = []
    for a, b in zip(order[:-1], order[1:]):
        if s[a] == s[b] and r[a] != r[b]:
            pairs.append((int(a), int(b)))
            if len(pairs) == k:
                break
    assert len(pairs) == k, "nb201-analog should hold tied search values"
    return pairs


def test_a_tie_keeps_the_earlier_incumbent_in_oracle_and_record():
    p = load_protocol("nb201-analog").with_budget(20)
    oracle = make_oracle(p, np.random.default_rng(0))
    bench, space = oracle.benchmark, oracle.space
    pairs = _tied_pairs(bench, oracle.search_metric, oracle.report_metric)
    s, r = bench.mean(oracle.search_metric), bench.mean(oracle.report_metric)
    for first, second in pairs:
        o = make_oracle(p, np.random.default_rng(0))
        o.query(space.arch_at(first))
        o.query(space.arch_at(second))
        t = o.trajectory()
        assert t["search"][1] == t["search"][0] == s[first]
        assert list(t["incumbent_index"]) == [first, first]
        assert t["incumbent_report"][1] == r[first] != r[second]


def test_the_tie_rule_survives_a_record_round_trip():
    p = load_protocol("nb201-analog").with_budget(30)
    rec = execute(Job(p, "random", 0))
    oracle = make_oracle(p, np.random.default_rng(0))
    (first, second), = _tied_pairs(oracle.benchmark, oracle.search_metric, oracle.report_metric, 1)
    # plant the tie: the best cell of the run is queried again under another index later
    s, r = oracle.benchmark.mean(oracle.search_metric), oracle.benchmark.mean(oracle.report_metric)
    d = rec.to_dict()
    traj = d["trajectory"]
    traj["index"][-2:] = [first, second]
    traj["search"][-2:] = [float(s[first]) + 1000.0] * 2  # above everything before: a new incumbent, then a tie
    traj["report"][-2:] = [float(r[first]), float(r[second])]
    back = RunRecord.from_dict(d)
    assert back.trajectory["incumbent_report"][-1] == r[first] != r[second]
    assert metrics.best_so_far([back], "report")[0][-1] == r[first]
