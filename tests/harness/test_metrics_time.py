"""Statistics against simulated time and the multi-objective view, on hand-computed cases; and
report / leaderboard / paper of a time-budgeted protocol end to end (small budgets)."""

from pathlib import Path

import numpy as np
import pytest

from harness import metrics
from harness.cli import main
from harness.record import RunRecord


def _rec(search, sim_time, seed=0, report=None, latency=None, meta=None):
    search = np.asarray(search, dtype=float)
    t = {"search": search, "report": np.asarray(report if report is not None else search, dtype=float),
         "index": np.arange(len(search)), "sim_time": np.asarray(sim_time, dtype=float)}
    if latency is not None:
        t["cost_latency"] = np.asarray(latency, dtype=float)
    m = {"seed": seed, "run_key": f"k{seed}", "maximize": True, "algorithm": "a", "time_budget": 10.0,
         "cost_metrics": ["latency"] if latency is not None else [], **(meta or {})}
    return RunRecord(meta=m, trajectory=t)


def test_best_at_times_uses_sorted_finish_times():
    # the 4-worker schedule of test_simclock: finishes 5, 3, 8, 2, 6, 9, 6
    r = _rec([1, 5, 2, 4, 3, 9, 7], [5, 3, 8, 2, 6, 9, 6])
    # available in order q3 (2), q1 (3), q0 (5), q4 (6), q6 (6), q2 (8), q5 (9):
    # best so far 4, 5, 5, 5, 7, 7, 9
    v, k = metrics.at_times([r], [1, 2.5, 5, 6, 8.9, 10])
    assert np.isnan(v[0, 0]) and v[0, 1:].tolist() == [4, 5, 7, 7, 9]
    assert k[0].tolist() == [0, 1, 3, 5, 6, 7]
    # the report value is the incumbent's (best by search), not the best report value
    r2 = _rec([1, 3, 2], [1, 2, 3], report=[10, 0, 20])
    assert metrics.at_times([r2], [1, 2, 3])[0][0].tolist() == [10, 0, 0]
    # ties keep the result available first
    r3 = _rec([5, 5], [2, 1], report=[1, 2])
    assert metrics.at_times([r3], [3])[0][0].tolist() == [2]


def test_time_checkpoint_stats_on_a_hand_computed_case(rng=None):
    rng = np.random.default_rng(0)
    runs = [_rec([1, 3], [1, 4], seed=0), _rec([2, 6], [2, 3], seed=1), _rec([4], [5], seed=2)]
    v, k = metrics.at_times(runs, [1.5, 4, 10])
    assert np.isnan(v[1, 0]) and np.isnan(v[2, 0]) and v[:, 1].tolist()[:2] == [3, 6]
    st = metrics.time_checkpoint_stats(v, k, [1.5, 4, 10], rng, resamples=2000)
    assert (st[0].n_runs, st[0].mean, st[0].std) == (1, 1.0, 0.0)  # only run 0 had a result by 1.5 s
    assert st[1].n_runs == 2 and st[1].mean == 4.5 and st[1].q == 2
    assert st[2].n_runs == 3 and st[2].mean == pytest.approx(13 / 3) and st[2].std == pytest.approx(np.std([3, 6, 4], ddof=1))
    assert st[2].ci[0] <= 13 / 3 <= st[2].ci[1] and 3 <= st[2].ci[0] and st[2].ci[1] <= 6
    assert st[2].median == 4 and st[2].q_runs.tolist() == [2, 2, 1]


def test_time_curve_starts_when_every_run_has_a_result():
    runs = [_rec([1, 3], [1, 4], seed=0), _rec([2, 6], [2, 3], seed=1)]
    tc = metrics.time_curve(runs, np.random.default_rng(0), times=[0.5, 1, 2, 3, 4, 10], resamples=200)
    assert tc.times.tolist() == [2, 3, 4, 10]
    assert tc.curve.mean.tolist() == [1.5, 3.5, 4.5, 4.5] and tc.curve.n_runs == 2


# points (value, cost): A (90, 3), B (85, 1), C (80, 2), D (95, 5), E (90, 4), F = B
VALS = np.array([90, 85, 80, 95, 90, 85.0])
COSTS = np.array([3, 1, 2, 5, 4, 1.0])


def test_pareto_front_on_hand_computed_points():
    assert metrics.pareto_front(VALS, COSTS).tolist() == [1, 0, 3]  # B, A, D by cost; C, E, F dominated
    assert metrics.pareto_front(-VALS, COSTS, maximize=False).tolist() == [1, 0, 3]
    assert metrics.pareto_front([np.nan, 1], [0, 1]).tolist() == [1]
    assert metrics.pareto_front([], []).tolist() == []


def test_hypervolume_on_hand_computed_points():
    # rectangles along the front to the reference (70, 6): B 2 x 15 + A 2 x 20 + D 1 x 25 = 95
    assert metrics.hypervolume_2d(VALS, COSTS, (70, 6)) == pytest.approx(95)
    assert metrics.hypervolume_2d(VALS, COSTS, (70, 6), ideal=(100, 0)) == pytest.approx(95 / 180)
    assert metrics.hypervolume_2d(-VALS, COSTS, (-70, 6), maximize=False) == pytest.approx(95)
    # a point at the ideal corner dominates the whole box; points beyond the reference add nothing
    assert metrics.hypervolume_2d([105], [-1], (70, 6), ideal=(100, 0)) == pytest.approx(1.0)
    assert metrics.hypervolume_2d([60, 90], [1, 7], (70, 6)) == 0.0
    # dominated points do not change it
    assert metrics.hypervolume_2d(np.r_[VALS, 71], np.r_[COSTS, 5.9], (70, 6)) == pytest.approx(95)


def test_run_pareto_and_incumbent_costs():
    p = {"pareto": {"cost": "latency", "reference": [70, 6], "ideal": [100, 0]}}
    r = _rec(VALS, np.arange(1, 7), latency=COSTS, meta=p)
    front, hv = metrics.run_pareto(r)
    assert front.tolist() == [1, 0, 3] and hv == pytest.approx(95 / 180)
    assert metrics.incumbent_costs([r], "latency").tolist() == [5.0]  # D (95) is the incumbent
    assert np.isnan(metrics.run_pareto(_rec([1], [1]))[1])


def test_summarize_carries_time_cost_and_hypervolume_statistics():
    p = {"pareto": {"cost": "latency", "reference": [70, 6], "ideal": [100, 0]}}
    recs = [_rec(VALS, np.arange(1, 7), seed=s, latency=COSTS, meta=p) for s in range(3)]
    s = metrics.summarize(recs, np.random.default_rng(0), resamples=300, budget=6, time_checkpoints=[2, 6])
    a = s.algorithms["a"]
    assert s.time_checkpoints == (2.0, 6.0) and [c.mean for c in a.time_checkpoints] == [90, 95]
    assert a.costs["latency"].mean == 5 and a.hypervolume.mean == pytest.approx(95 / 180)
    assert a.median_front[0].tolist() == [85, 90, 95] and s.pareto_cost == "latency"
    assert set(s.time_comparisons) == {2.0, 6.0}


TOML = """
name = "tiny-time"
description = "a small time-budgeted protocol for tests"
benchmark = "nb201"
dataset = "cifar10"
search_metric = "valid_accuracy"
report_metric = "test_accuracy"
report_fallback = "valid_accuracy"
budget = 15625
counting = "all"
noise = "sample"
seeds = 3
time_budget = 1500
time_scale = 0.06
time_checkpoints = [500, 1500]
cost_metrics = ["latency", "parameters"]
"""


def test_report_and_leaderboard_of_a_time_protocol(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.toml").write_text(TOML)
    from harness.protocol import load_protocol
    from harness.runner import Job
    from harness.sweep import run_sweep

    p = load_protocol("tiny.toml")
    assert run_sweep([Job(p, a, s) for a in ("random", "evolution") for s in p.seeds], log=False).ran == 6
    assert main(["report", "--protocol", "tiny.toml", "--resamples", "200", "--out", str(tmp_path / "rep")]) == 0
    out = capsys.readouterr().out
    assert "1,500 simulated s" in out and "valid_accuracy of the incumbent at simulated times" in out
    assert "hypervolume (latency)" in out and "incumbent parameters" in out
    for f in ("best_so_far_time.png", "pareto_fronts.png", "time_checkpoints.csv", "costs.csv"):
        assert (tmp_path / "rep" / f).exists(), f
    assert main(["leaderboard", "--protocol", "tiny.toml", "--resamples", "200"]) == 0
    md = Path(tmp_path / "leaderboards" / "tiny-time-v1.md").read_text()
    header = md.splitlines()[2]
    assert "best @1,500 s (mean ± std)" in header and "#Q @500 s" in header and "hypervolume (latency)" in header
    assert "best @15625" not in header  # a time protocol without query checkpoints shows no query columns
    assert "incumbent latency" in header and "1,500 s of simulated training" in md
    from harness.commands.report import raw_records

    recs = raw_records(p)
    assert len(recs) == 6 and all(r.meta["sim_time"] <= 1500 and r.meta["time_exhausted"] for r in recs)
    assert all(np.all(np.diff(r.trajectory["sim_time"]) > 0) for r in recs)


def test_time_protocols_ship_with_nb201s_budget():
    from harness.protocol import load_protocol

    for ds in ("cifar10", "cifar100", "imagenet16"):
        p = load_protocol(f"nb201-{ds}-time")
        assert (p.time_budget, p.time_scale, p.time_metric, p.sim_workers, p.charge_compute) == (12000, 0.06, "training_time", 1, False)
        assert (p.search_metric, p.report_metric, p.noise, p.counting) == ("valid_accuracy", "test_accuracy", "sample", "all")
        assert p.cost_metrics == ("latency", "parameters") and p.report_time_checkpoints[-1] == 12000


def test_paper_l2nas_prints_the_time_budgeted_baselines(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["paper", "l2nas", "--seeds", "2", "--algorithm", "random", "evolution", "reinforce", "--no-log",
                 "--resamples", "100", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "protocol nb201-cifar10-time); ours report valid_accuracy" in out  # no test table given
    for v in ("93.70 ± 0.36", "71.84 ± 0.99", "45.24 ± 1.18"):
        assert v in out
    assert out.count("@12,000 s") == 9
    note = out[out.index("Note:"):]
    for v in ("RS 93.70 / 71.04 / 44.57", "REA 93.92 / 71.84 / 45.54", "REINFORCE 93.85 / 71.71 / 45.24"):
        assert v in note
