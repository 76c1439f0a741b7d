"""Warm-ups against a simulated time budget: the cap is taken of the queries the budget affords
(harness.oracle.Oracle.expected_queries), not of the protocol's query budget, which a time
budget never lets a run reach (15,625 on the NB201 time protocols, where 12,000 s afford about
109, 55 and 18 queries). A warm-up that fills them all is refused by ``run`` and left out of
the board; one over half of them is warned about and its row flagged."""

import numpy as np
import pytest

from harness.commands.leaderboard import _oracle, coverage_note, warmup_screen
from harness.commands.run import check
from harness.errors import ConfigError
from harness.metrics import group_records
from harness.protocol import load_protocol
from harness.runner import Job, execute, make_oracle


def test_expected_queries_is_random_searchs_mean_count():
    p = load_protocol("nb201-cifar10-time")
    expected = make_oracle(p, np.random.default_rng(0)).expected_queries
    counts = [execute(Job(p, "random", s)).n_queries for s in range(1000, 1030)]
    assert abs(np.mean(counts) / expected - 1) < 0.05, (np.mean(counts), expected)
    assert 100 < expected < 120
    # a query budget alone: the budget itself
    assert make_oracle(load_protocol("nb201-cifar10"), np.random.default_rng(0)).expected_queries == 1000


def test_run_refuses_a_warmup_that_fills_the_time_budget_and_warns_over_half(capsys):
    p = load_protocol("nb201-imagenet16-time")  # about 18 queries in 12,000 s
    with pytest.raises(ConfigError, match=r"lanas-paper spends 2,000 initial random samples .* affords about 18 queries"):
        check(p, ["lanas-paper"])
    check(p, ["evolution", "random"])  # REA's population of 10 (NB201's setting) of about 18
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "evolution spends 10" in err[0] and "more than half" in err[0]


def test_board_leaves_out_refused_runs_and_flags_the_rest():
    p = load_protocol("nb201-imagenet16-time")
    records = [execute(Job(p, a, s)) for a in ("lanas-paper", "evolution", "random") for s in (1000, 1001)]
    oracle = _oracle(p, records)
    kept, left_out, flag = warmup_screen(p, records, oracle)
    assert {r.meta["algorithm"] for r in kept} == {"evolution", "random"}
    assert left_out.startswith("2 run(s) of lanas-paper (warm-up of 2,000 queries fills the about 18")
    assert flag == "Warm-up over half of the about 18 queries the time budget affords (mostly random samples): evolution (10)."
    note = coverage_note(p, kept, group_records(kept), oracle)
    assert "lanas-paper (warm-up of 2,000 queries fills the about 18 the time budget affords)" in note
    assert "l2nas-darts (warm-up of 3,000" in note


def test_every_algorithm_leaves_warmup_within_every_time_protocols_budget_or_is_refused():
    from algorithms.registry import list_algorithms, make_algorithm
    from harness.commands.run import refusal
    from harness.protocol import list_protocols

    refused, warned = set(), set()
    for p in list_protocols():
        if p.time_budget is None:
            continue
        oracle = make_oracle(p, np.random.default_rng(0))
        expected = oracle.expected_queries
        assert expected < p.budget  # the time budget binds, so the cap must be of it
        for name in list_algorithms():
            algo = make_algorithm(name, **p.overrides(name))
            kind, detail = refusal(algo, p.budget, oracle.space, expected) or (None, None)
            if kind in ("needs", "warmup"):
                continue
            w = algo.warmup(p.budget, oracle.space)
            if kind == "warmup-time":
                assert w >= expected
                refused.add((p.name, name))
            else:
                assert w < expected  # it leaves its warm-up within the budget: it searches
                if kind == "warn":
                    warned.add((p.name, name))
    for p in ("nb201-cifar10-time", "nb201-cifar100-time", "nb201-imagenet16-time"):
        assert {(p, "lanas-paper"), (p, "l2nas-darts")} <= refused
    assert ("nb201-cifar10-time", "lanas") in warned and ("nb201-cifar100-time", "lanas") in refused
    assert ("nb201-imagenet16-time", "evolution") in warned
