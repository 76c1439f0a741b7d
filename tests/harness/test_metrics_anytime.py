"""Anytime regret, ECDF of (run, target) pairs and top-cell agreement on hand-computed cases,
and the anytime column of a leaderboard that separates algorithms tied at the budget."""

import numpy as np
import pytest

from harness import metrics as M


def test_normalized_regret_by_hand():
    r = M.normalized_regret([90.0, 80.0, 50.0, 100.0], optimum=100.0, worst=50.0)
    assert r.tolist() == [0.2, 0.4, 1.0, 0.0]
    r = M.normalized_regret([1.5, 1.0], optimum=1.0, worst=3.0, maximize=False)  # minimizing
    assert r.tolist() == [0.25, 0.0]
    with pytest.raises(ValueError):
        M.normalized_regret([1.0], 1.0, 1.0)


def test_anytime_regret_by_hand():
    # budget 4, optimum 100, worst 0. Run A: 50, 50, 100, 100 -> regrets .5 .5 0 0 -> mean .25.
    # Run B: 80 throughout -> .2. Columns: positions where some curve changes: 0 and 2.
    cols, U = np.array([0, 2]), np.array([[50.0, 100.0], [80.0, 80.0]])
    got = M.anytime_regret(cols, U, 4, 100.0, 0.0)
    assert np.allclose(got, [0.25, 0.2])
    dense = np.array([[50, 50, 100, 100], [80, 80, 80, 80]], dtype=float)
    assert np.allclose(M.normalized_regret(dense, 100.0, 0.0).mean(axis=1), got)


def test_anytime_regret_orders_runs_tied_at_the_budget():
    # both reach the optimum by query 10 of 10; one at query 2, the other at query 8
    fast = np.r_[[0.0], np.full(9, 1.0)]
    slow = np.r_[np.zeros(7), np.full(3, 1.0)]
    cols = np.arange(10)
    got = M.anytime_regret(cols, np.vstack([fast, slow]), 10, 1.0, 0.0)
    assert got.tolist() == [pytest.approx(0.1), pytest.approx(0.7)]


def test_ecdf_pairs_by_hand():
    # two runs, targets 0.5 and 0: run 1 regrets 1, .5, 0; run 2 regrets .6, .6, .4
    reg = np.array([[1.0, 0.5, 0.0], [0.6, 0.6, 0.4]])
    got = M.ecdf_pairs(reg, targets=[0.5, 0.0])
    assert got.tolist() == [0.0, 0.25, 0.75]
    assert M.ecdf_pairs(np.array([[np.nan, np.nan]]), targets=[1.0]).tolist() == [0.0, 0.0]


def test_top_agreement_by_hand():
    s = np.arange(100, dtype=float)  # top 1% -> at least 3 cells: 99, 98, 97
    r = np.zeros(100)
    r[[99, 98, 97]] = [1.0, 2.0, 3.0]  # perfectly reversed among the top cells
    rho, k = M.top_agreement(s, r)
    assert k == 3 and rho == pytest.approx(-1.0)
    r[[99, 98, 97]] = [3.0, 2.0, 1.0]
    assert M.top_agreement(s, r)[0] == pytest.approx(1.0)
    assert np.isnan(M.top_agreement(s, np.ones(100))[0])


def test_value_range_of_a_benchmark():
    from harness.benchmarks import get_benchmark

    b = get_benchmark("nasbench-graph", "cora")
    opt, worst = M.value_range(b, "test_accuracy")
    v = b.mean("test_accuracy")
    assert opt == np.nanmax(v) and worst == np.nanmin(v) and opt > worst


def test_leaderboard_has_an_anytime_column_and_rank(tmp_path):
    from harness.commands.leaderboard import make
    from harness.protocol import Protocol
    from harness.runner import Job
    from harness.sweep import run_sweep

    p = Protocol.adhoc("nasbench-graph", 30, 3, dataset="cora")
    res = run_sweep([Job(p, a, s) for a in ("random", "local-search") for s in p.seeds], log=False)
    board, _ = make(p, res.records, str(tmp_path / "lb"), resamples=200, seed=0, plots=False)
    h = board.headers
    assert "anytime regret (mean)" in h and "anytime rank" in h
    col = h.index("anytime regret (mean)")
    # the column equals the definition computed here from the raw trajectories
    from harness.benchmarks import get_benchmark

    b = get_benchmark("nasbench-graph", "cora")
    opt, worst = M.value_range(b, "test_accuracy")
    for row in board.rows:
        recs = [r for r in res.records if r.meta["algorithm"] == row[1]]
        dense = np.array([np.asarray(r.trajectory["incumbent_report"], float) for r in recs])
        want = ((opt - dense) / (opt - worst)).mean(axis=1).mean()
        assert float(row[col]) == pytest.approx(want, abs=6e-5)
    assert any(n.startswith("Search/report agreement: Spearman") for n in board.notes)


def test_anytime_mean_by_hand():
    # budget 4: run A 50, 50, 100, 100 -> 75; run B 80 throughout -> 80 (as above, unnormalized)
    cols, U = np.array([0, 2]), np.array([[50.0, 100.0], [80.0, 80.0]])
    assert M.anytime_mean(cols, U, 4).tolist() == [75.0, 80.0]
    # for any fixed range it orders runs as the anytime regret does
    assert np.allclose(M.anytime_regret(cols, U, 4, 100.0, 0.0), (100.0 - M.anytime_mean(cols, U, 4)) / 100.0)


def test_a_board_without_a_value_range_ranks_by_the_anytime_mean():
    """A surrogate states no optimum or worst value: the board's anytime column is then the raw
    area under the best-so-far curve / budget, ranked higher-is-better for an accuracy."""
    from harness import leaderboard
    from harness.protocol import Protocol
    from harness.runner import Job
    from harness.sweep import run_sweep

    p = Protocol.adhoc("nasbench-graph", 30, 3, dataset="cora")
    res = run_sweep([Job(p, a, s) for a in ("random", "local-search") for s in p.seeds], log=False)
    s = M.summarize(res.records, np.random.default_rng(0), resamples=200, budget=30, anytime_without_range=True)
    assert s.report_range is None and s.anytime_comparison is not None
    board = leaderboard.build(s, p)
    h = board.headers
    assert "anytime mean (mean)" in h and "anytime regret (mean)" not in h
    col, rank = h.index("anytime mean (mean)"), h.index("anytime rank")
    means = {}
    for row in board.rows:
        recs = [r for r in res.records if r.meta["algorithm"] == row[1]]
        dense = np.array([np.asarray(r.trajectory["incumbent_report"], float) for r in recs])
        means[row[1]] = dense.mean(axis=1).mean()
        assert float(row[col]) == pytest.approx(means[row[1]], abs=6e-4)
    best = max(means, key=means.get)
    assert next(r[rank] for r in board.rows if r[1] == best).startswith("1")
    assert any(n.startswith("anytime mean: per run") and "higher is better" in n for n in board.notes)
    # without the flag (as `report` calls it) there is no anytime measure at all
    assert M.summarize(res.records, np.random.default_rng(0), resamples=200, budget=30).anytime_comparison is None
