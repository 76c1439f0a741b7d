"""harness.metrics: hand-computed cases, bootstrap coverage, and agreement with numpy/scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from harness import metrics as M
from harness.record import RunRecord


def record(search, report=None, algorithm="a", seed=0, maximize=True, episodes=(), **meta):
    """A run record with the oracle's incumbent rule (strictly better search value; ties keep the earlier)."""
    s = np.asarray(search, dtype=float)
    r = s.copy() if report is None else np.asarray(report, dtype=float)
    signed = s if maximize else -s
    new = np.ones(len(s), dtype=bool)
    new[1:] = signed[1:] > np.maximum.accumulate(signed)[:-1]
    pos = np.maximum.accumulate(np.where(new, np.arange(len(s)), 0))
    m = {"algorithm": algorithm, "seed": seed, "run_key": f"{algorithm}-{seed}", "status": "finished",
         "budget": len(s), "maximize": maximize, "maximize_report": maximize, "noise": "mean", "hyperparameters": {}}
    m.update(meta)
    traj = {"index": np.arange(len(s)), "search": s, "report": r, "incumbent_search": s[pos], "incumbent_report": r[pos]}
    return RunRecord(meta=m, trajectory=traj, episodes=list(episodes))


# --- samples to optimum ---------------------------------------------------------------------
def test_samples_to_optimum_hand_computed_with_censoring():
    hits = np.array([10, np.nan, 30, 20])  # run 2 never found the optimum in its 50 queries
    queries = np.array([100, 50, 30, 100])
    s = M.samples_to_optimum(hits, queries, np.random.default_rng(0), resamples=500)
    assert (s.n_runs, s.successes, s.success_rate) == (4, 3, 0.75)
    assert s.mean == 20 and s.median == 20
    assert s.ert == pytest.approx((10 + 50 + 30 + 20) / 3)  # COCO: censored run counts all its queries
    assert M.ert(hits, queries) == pytest.approx(110 / 3)
    for point, (lo, hi) in ((s.mean, s.mean_ci), (s.median, s.median_ci), (s.ert, s.ert_ci), (s.success_rate, s.success_rate_ci)):
        assert lo <= point <= hi
    assert 10 <= s.mean_ci[0] and s.mean_ci[1] <= 30  # means of successes lie within the successes


def test_ert_without_success_is_infinite_and_ci_keeps_inf():
    s = M.samples_to_optimum(np.array([np.nan, np.nan]), np.array([5, 7]), np.random.default_rng(0), resamples=200)
    assert s.successes == 0 and s.ert == np.inf and np.isnan(s.mean) and np.isnan(s.median)
    one = M.samples_to_optimum(np.array([4.0, np.nan, np.nan]), np.array([4, 9, 9]), np.random.default_rng(1), resamples=2000)
    assert one.ert == pytest.approx(22.0)
    assert one.ert_ci[1] == np.inf  # some resamples have no success


def test_bootstrap_median_over_successes_matches_direct_resampling():
    rng = np.random.default_rng(3)
    hits = np.where(rng.random(15) < 0.7, rng.integers(1, 100, 15).astype(float), np.nan)
    queries = np.full(15, 100.0)
    s = M.samples_to_optimum(hits, queries, np.random.default_rng(7), resamples=3000)
    idx = M.resample_indices(15, np.random.default_rng(7), 3000)
    meds = np.array([np.median(h[~np.isnan(h)]) if (~np.isnan(h)).any() else np.nan for h in hits[idx]])
    assert s.median_ci == pytest.approx(tuple(np.nanpercentile(meds, [2.5, 97.5])))
    means = np.array([np.nanmean(h) if (~np.isnan(h)).any() else np.nan for h in hits[idx]])
    assert s.mean_ci == pytest.approx(tuple(np.nanpercentile(means, [2.5, 97.5])))


def test_hitting_times_from_records():
    opt = {"optimum_search": 9.0, "optimum_search_index": 4, "optimum_report": 90.0}
    recs = [
        record([1, 5, 9, 3], [10, 50, 90, 30], **opt),  # optimum at query 3
        record([1, 2, 3], [10, 20, 30], **opt),  # censored after 3 queries
        record([9, 1], [80, 90], **opt),  # search optimum first; report optimum at query 2
    ]
    hits, q = M.hitting_times(recs)
    np.testing.assert_array_equal(q, [4, 3, 2])
    np.testing.assert_array_equal(hits, [3, np.nan, 1])
    rh, _ = M.hitting_times(recs, "report")
    np.testing.assert_array_equal(rh, [3, np.nan, 2])
    # noisy search values: the optimum is recognised by its index, not by value
    noisy = record([9.5, 2, 3], **{**opt, "noise": "sample"})
    noisy.trajectory["index"] = np.array([7, 4, 1])
    assert M.hitting_times([noisy])[0][0] == 2
    # minimisation
    assert M.hitting_times([record([5, 3, 1], maximize=False, optimum_search=1.0)])[0][0] == 3
    # no known optimum (surrogate): every run censored
    assert np.isnan(M.hitting_times([record([1, 2])])[0]).all()


# --- bootstrap --------------------------------------------------------------------------------
def test_bootstrap_ci_coverage_on_normal_samples():
    """About 95% of the intervals cover the true mean (percentile bootstrap, n = 40)."""
    rng = np.random.default_rng(12345)
    draws, n = 400, 40
    cover = 0
    for _ in range(draws):
        x = rng.normal(3.0, 2.0, n)
        lo, hi = M.bootstrap_ci(x, rng, "mean", resamples=2000)
        cover += lo <= 3.0 <= hi
    assert 0.91 <= cover / draws <= 0.98, cover / draws


def test_bootstrap_ci_statistics_and_determinism():
    x = np.random.default_rng(0).normal(size=25)
    a = M.bootstrap_ci(x, np.random.default_rng(5), "median", resamples=1000)
    b = M.bootstrap_ci(x, np.random.default_rng(5), "median", resamples=1000)
    assert a == b
    idx = M.resample_indices(25, np.random.default_rng(5), 1000)
    assert a == pytest.approx(tuple(np.percentile(np.median(x[idx], axis=1), [2.5, 97.5])))
    lo, hi = M.bootstrap_ci(x, np.random.default_rng(5), lambda a_, axis: a_.max(axis=axis), resamples=1000)
    assert lo <= x.max() and hi == x.max()
    assert np.isnan(M.bootstrap_ci([], np.random.default_rng(0))[0])


def test_grouped_bootstrap_ci_holds_the_spread_between_groups():
    # two constant groups: a resample draws group 0 twice (median 0, p 1/4), group 1 twice
    # (10, p 1/4) or both (5, p 1/2): the 95% interval is [0, 10]
    lo, hi = M.grouped_bootstrap_ci([[0.0] * 5, [10.0] * 5], np.random.default_rng(0), "median", resamples=2000)
    assert (lo, hi) == (0.0, 10.0)
    boot_mid = M.grouped_bootstrap_ci([[0.0] * 5, [10.0] * 5], np.random.default_rng(0), "median", resamples=2000,
                                      level=0.4)
    assert boot_mid == (5.0, 5.0)
    # groups that differ: wider than the bootstrap over the pooled items, which ignores the groups
    rng = np.random.default_rng(3)
    groups = [rng.normal(mu, 1.0, 200) for mu in (0.0, 1.0, 2.0)]
    g_lo, g_hi = M.grouped_bootstrap_ci(groups, np.random.default_rng(4), "median", resamples=2000)
    p_lo, p_hi = M.bootstrap_ci(np.concatenate(groups), np.random.default_rng(4), "median", resamples=2000)
    assert g_lo < p_lo and g_hi > p_hi and g_lo < np.median(np.concatenate(groups)) < g_hi
    # one group: the ordinary bootstrap of that group (same distribution)
    x = rng.normal(size=300)
    one = M.grouped_bootstrap_ci([x], np.random.default_rng(5), "median", resamples=4000)
    ref = M.bootstrap_ci(x, np.random.default_rng(6), "median", resamples=4000)
    assert one == pytest.approx(ref, abs=0.05)
    assert M.grouped_bootstrap_ci([[1.0, 2.0]], np.random.default_rng(0), resamples=10) == \
        M.grouped_bootstrap_ci([[1.0, 2.0]], np.random.default_rng(0), resamples=10)  # deterministic under the rng
    assert np.isnan(M.grouped_bootstrap_ci([], np.random.default_rng(0))[0])
    with pytest.raises(ValueError, match="equal length"):
        M.grouped_bootstrap_ci([[1.0], [1.0, 2.0]], np.random.default_rng(0))


def test_percentile_interval_matches_numpy_and_keeps_inf():
    b = np.random.default_rng(1).normal(size=(997, 7))
    lo, hi = M.percentile_interval(b, 0.9)
    np.testing.assert_allclose(lo, np.percentile(b, 5, axis=0))
    np.testing.assert_allclose(hi, np.percentile(b, 95, axis=0))
    x = np.concatenate([np.arange(95.0), np.full(5, np.inf)])
    assert M.percentile_interval(x)[1] == np.inf
    assert M.percentile_interval(np.array([1.0, np.nan, 3.0]))[0] == pytest.approx(1.05)


def test_weighted_interval_equals_expanded_percentile():
    rng = np.random.default_rng(2)
    vals = rng.normal(size=(13, 4))
    w = rng.integers(1, 9, 13).astype(float)
    lo, hi = M._weighted_interval(vals, w, 0.95)
    expanded = np.repeat(vals, w.astype(int), axis=0)
    np.testing.assert_allclose(lo, np.percentile(expanded, 2.5, axis=0))
    np.testing.assert_allclose(hi, np.percentile(expanded, 97.5, axis=0))


# --- best so far --------------------------------------------------------------------------
def test_curve_summary_matches_direct_computation():
    rng = np.random.default_rng(0)
    n, T, B = 11, 40, 1500
    X = np.maximum.accumulate(rng.integers(0, 20, (n, T)).astype(float), axis=1)
    cs = M.curve_summary(X, np.random.default_rng(9), resamples=B)
    np.testing.assert_allclose(cs.mean, X.mean(0))
    np.testing.assert_allclose(cs.median, np.median(X, 0))
    np.testing.assert_allclose(cs.q25, np.quantile(X, 0.25, 0))
    np.testing.assert_allclose(cs.iqr, np.quantile(X, 0.75, 0) - np.quantile(X, 0.25, 0))
    idx = M.resample_indices(n, np.random.default_rng(9), B)
    # mean: the same resamples of runs
    np.testing.assert_allclose(cs.mean_lo, np.percentile(X[idx].mean(1), 2.5, axis=0))
    np.testing.assert_allclose(cs.mean_hi, np.percentile(X[idx].mean(1), 97.5, axis=0))
    # quantiles: the same resamples of each column's ranks (the sorted column indexed by idx)
    Xs = np.sort(X, axis=0)[idx]  # (B, n, T)
    med = np.median(Xs, axis=1)
    iqr = np.quantile(Xs, 0.75, axis=1) - np.quantile(Xs, 0.25, axis=1)
    np.testing.assert_allclose(cs.median_lo, np.percentile(med, 2.5, axis=0))
    np.testing.assert_allclose(cs.median_hi, np.percentile(med, 97.5, axis=0))
    np.testing.assert_allclose(cs.iqr_lo, np.percentile(iqr, 2.5, axis=0))
    np.testing.assert_allclose(cs.iqr_hi, np.percentile(iqr, 97.5, axis=0))


def test_regret_summary_mirrors_values():
    X = np.maximum.accumulate(np.random.default_rng(1).normal(size=(9, 30)), axis=1)
    cs = M.curve_summary(X, np.random.default_rng(0), resamples=300)
    r = cs.regret(5.0, maximize=True)
    np.testing.assert_allclose(r.mean, 5.0 - cs.mean)
    np.testing.assert_allclose(r.mean_lo, 5.0 - cs.mean_hi)
    np.testing.assert_allclose(r.q25, 5.0 - cs.q75)
    np.testing.assert_allclose(r.iqr, cs.iqr)
    np.testing.assert_allclose(r.median_lo, 5.0 - cs.median_hi)
    direct = M.curve_summary(5.0 - X, np.random.default_rng(0), resamples=300)  # the same resamples of runs
    np.testing.assert_allclose(r.mean_lo, direct.mean_lo)
    np.testing.assert_allclose(r.mean_hi, direct.mean_hi)
    # runs that all hold the optimum have exactly zero regret, whatever the rounding of their mean
    opt = 94.3733
    held = M.curve_summary(np.full((7, 5), opt) + np.array([0, 0, 0, 0, 0]), np.random.default_rng(0), resamples=50)
    held.mean[:] = 94.37330000000001
    assert np.all(held.regret(opt).mean == 0.0)


def test_best_so_far_is_monotone_for_real_runs(analog):
    from harness.runner import Job, execute
    from harness.protocol import Protocol

    p = Protocol(name="t", benchmark="nb201-analog", budget=120, search_metric="baseline_accuracy",
                 report_metric="baseline_accuracy")
    recs = [execute(Job(p, "random", s)) for s in range(4)]
    S = M.best_so_far(recs, "search")
    R = M.best_so_far(recs, "report")  # search = report here: monotone too
    assert S.shape == (4, 120)
    assert (np.diff(S, axis=1) >= 0).all() and (np.diff(R, axis=1) >= 0).all()
    cs = M.curve_summary(S, np.random.default_rng(0), resamples=200)
    assert (np.diff(cs.mean) >= -1e-12).all() and (np.diff(cs.median) >= 0).all()
    assert (cs.mean_lo <= cs.mean + 1e-12).all() and (cs.mean <= cs.mean_hi + 1e-12).all()


def test_step_columns_equal_the_distinct_columns_of_the_dense_curves():
    rng = np.random.default_rng(0)
    recs = [record(rng.integers(0, 50, rng.integers(1, 40)).astype(float), seed=i) for i in range(9)] + [record([])]
    X = M.best_so_far(recs, "report", 45)
    cols, U = M.step_columns(recs, "report", 45)
    col_of = np.searchsorted(cols, np.arange(45), side="right") - 1
    np.testing.assert_array_equal(U[:, col_of], X)
    a = M.curve_summary(X, np.random.default_rng(1), resamples=300)
    b = M._column_summary(U[:-1], col_of, np.random.default_rng(1), 300, 0.95)
    for k in ("mean", "mean_lo", "median_hi", "iqr_lo"):
        np.testing.assert_allclose(getattr(a, k), getattr(b, k))
    V, Q = M.at_checkpoints(recs, [1, 10, 45])
    np.testing.assert_array_equal(V, X[:, [0, 9, 44]])
    np.testing.assert_array_equal(Q, M.found_at(recs, 45)[:, [0, 9, 44]])


def test_best_so_far_pads_short_runs_and_marks_empty_runs():
    recs = [record([1, 3, 2]), record([2]), record([])]
    X = M.best_so_far(recs, "search", length=4)
    np.testing.assert_array_equal(X[0], [1, 3, 3, 3])
    np.testing.assert_array_equal(X[1], [2, 2, 2, 2])
    assert np.isnan(X[2]).all()
    assert M.curve_summary(X, np.random.default_rng(0), resamples=50).n_runs == 2


# --- checkpoints ---------------------------------------------------------------------------
def test_checkpoints_values_and_number_of_queries():
    recs = [record([1, 3, 2, 5, 4], [10, 30, 20, 50, 40]), record([2, 2, 6, 1, 7], [20, 20, 60, 10, 70])]
    F = M.found_at(recs, 5)
    np.testing.assert_array_equal(F[0], [1, 2, 2, 4, 4])
    np.testing.assert_array_equal(F[1], [1, 1, 3, 3, 5])
    V, Q = M.at_checkpoints(recs, [2, 4, 5])
    np.testing.assert_array_equal(V, M.best_so_far(recs)[:, [1, 3, 4]])
    np.testing.assert_array_equal(Q, F[:, [1, 3, 4]])
    cps = M.checkpoint_stats(V, Q, [2, 4, 5], np.random.default_rng(0), resamples=200)
    dense = M.checkpoint_stats(M.best_so_far(recs), F, [2, 4, 5], np.random.default_rng(0), resamples=200)
    assert [c.ci for c in cps] == [c.ci for c in dense]
    c2, c4, c5 = cps
    np.testing.assert_array_equal(c2.values, [30, 20])
    assert c2.mean == 25 and c2.std == pytest.approx(np.std([30, 20], ddof=1)) and c2.q == 2
    assert (c4.mean, c4.q) == (55, 4) and list(c4.q_runs) == [4, 3]
    assert (c5.mean, c5.q, c5.median) == (60, 5, 60)
    assert c5.ci[0] <= 60 <= c5.ci[1] and 50 <= c5.ci[0] and c5.ci[1] <= 70


# --- improvement histograms -----------------------------------------------------------------
def test_improvement_stats_against_numpy_and_scipy():
    x = np.random.default_rng(4).gamma(2.0, 2.0, 3000) - 3.0
    s = M.improvement_stats(x, hist_range=(-12.5, 12.5), bins=25)
    assert s.n == 3000 and s.median == pytest.approx(np.median(x)) and s.mean == pytest.approx(x.mean())
    for p, (lo, hi) in s.intervals.items():
        assert (lo, hi) == pytest.approx(tuple(np.quantile(x, [(1 - p) / 2, (1 + p) / 2])))
        inside = ((x >= lo) & (x <= hi)).mean()
        assert inside == pytest.approx(p, abs=0.002)
    assert s.intervals[0.5] == pytest.approx(tuple(np.percentile(x, [25, 75])))
    assert s.skew == pytest.approx(stats.skew(x))
    nt = stats.normaltest(x)
    assert s.normaltest == pytest.approx((nt.statistic, nt.pvalue))
    counts, edges = np.histogram(x, bins=25, range=(-12.5, 12.5))
    np.testing.assert_array_equal(s.counts, counts)
    assert s.outside == ((x < -12.5) | (x > 12.5)).sum() and s.counts.sum() + s.outside == len(x)
    auto = M.improvement_stats(x)
    assert auto.edges[-1] == pytest.approx(-auto.edges[0]) and auto.edges[-1] >= max(map(abs, auto.intervals[0.95]))
    tiny = M.improvement_stats([1.0, 2.0, 3.0])
    assert np.isnan(tiny.normaltest[1]) and tiny.median == 2.0


def test_episode_pairs_from_records():
    eps = [{"start_report": 80.0, "end_report": 85.0}, {"start_report": 90.0, "end_report": 88.5},
           {"start_report": None, "end_report": 1.0}]
    init, imp = M.episode_pairs([record([1], episodes=eps), record([2], episodes=eps[:1])])
    np.testing.assert_array_equal(init, [80, 90, 80])
    np.testing.assert_array_equal(imp, [5, -1.5, 5])


# --- comparison ------------------------------------------------------------------------------
def test_holm_hand_computed():
    np.testing.assert_allclose(M.holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(M.holm([0.5, 0.9]), [1.0, 1.0])
    out = M.holm([0.01, np.nan])
    assert out[0] == pytest.approx(0.01) and np.isnan(out[1])


def test_ranks_and_pairwise_tests():
    rng = np.random.default_rng(0)
    samples = {"good": rng.normal(94, 0.1, 30), "same": rng.normal(94, 0.1, 30), "bad": rng.normal(93, 0.1, 30)}
    c = M.compare(samples)
    assert c.ranks["bad"] == 3 and {c.ranks["good"], c.ranks["same"]} == {1, 2}
    assert set(c.tied_with_best) == {"good", "same"}
    assert c.significant("bad", "good") and c.significant("same", "bad")
    raw = stats.mannwhitneyu(samples["good"], samples["bad"], alternative="two-sided").pvalue
    assert c.pvalues[("good", "bad")] >= raw  # corrected upward
    assert M.ranks({"a": 1.0, "b": 1.0, "c": 0.0}) == {"a": 1.5, "b": 1.5, "c": 3.0}
    assert M.ranks({"a": 1.0, "b": 2.0}, maximize=False) == {"a": 1.0, "b": 2.0}
    const = M.compare({"x": [1.0, 1.0], "y": [1.0, 1.0]})
    assert const.pvalues[("x", "y")] == 1.0 and set(const.tied_with_best) == {"x", "y"}


# --- everything -------------------------------------------------------------------------------
def test_summarize_groups_algorithms_and_skips_failed_runs():
    opt = {"optimum_search": 9.0, "optimum_report": 9.0}
    recs = [record([1, 9, 2], algorithm="a", seed=0, **opt), record([5, 6, 7], algorithm="a", seed=1, **opt),
            record([9, 1, 1], algorithm="pkg.mod:B", seed=0, **opt), record([1, 1, 1], algorithm="pkg.mod:B", seed=1, **opt),
            record([1, 1, 1], algorithm="a", seed=2, status="failed", **opt),
            record([1, 9, 2], algorithm="a", seed=0, **opt)]  # a duplicate run key: counted once
    s = M.summarize(recs, np.random.default_rng(0), checkpoints=[1, 3], resamples=200)
    assert set(s.algorithms) == {"a", "B"}
    a = s.algorithms["a"]
    assert (a.n_runs, a.failed, a.curve.n_runs) == (3, 1, 2)
    assert a.checkpoints[1].mean == 8.0 and a.samples_to_optimum.successes == 1
    assert a.samples_to_optimum.ert == pytest.approx((2 + 3) / 1)
    np.testing.assert_allclose(a.regret.mean, 9.0 - a.curve.mean)
    assert s.comparisons[3].ranks == {"a": 1.0, "B": 2.0}
    assert s.optimum_report == 9.0 and s.budget == 3 and a.improvements is None


def test_one_algorithm_with_several_settings_is_labelled_by_what_differs():
    def rec(seed, **hp):
        r = record([1, 2, 3], algorithm="bonas", seed=seed, hyperparameters={"epochs": 300, **hp})
        r.meta["run_key"] = f"{sorted(hp.items())}-{seed}"
        return r

    recs = [rec(0, sampler="ea"), rec(1, sampler="ea"), rec(0, sampler="rl"), rec(0, sampler="random")]
    groups = M.group_records(recs)
    assert {k: len(v) for k, v in groups.items()} == {
        "bonas(sampler=ea)": 2, "bonas(sampler=rl)": 1, "bonas(sampler=random)": 1}
    long = [rec(0, note="x" * 50), rec(0, note="y" * 50)]
    assert list(M.group_records(long)) == ["bonas#1", "bonas#2"]  # unreadably long: numbered


def test_a_rows_confidence_intervals_do_not_depend_on_the_other_rows():
    """Adding an algorithm to a board must not move the CIs of the rows already there: every
    row resamples from its own generator (the caller's generator and the row's label). The
    bootstrap once drew from one stream in row order, and a new row shifted the others' CIs."""
    from harness.protocol import Protocol
    from harness.runner import Job
    from harness.sweep import run_sweep

    p = Protocol.adhoc("nb201-analog", 40, 4)
    res = run_sweep([Job(p, a, s) for a in ("random", "random-walk", "local-search") for s in p.seeds], log=False)
    both = [r for r in res.records if r.meta["algorithm"] in ("random", "random-walk")]
    alone = [r for r in res.records if r.meta["algorithm"] == "random"]
    cis = []
    for recs in (res.records, both, alone):
        s = M.summarize(recs, np.random.default_rng(7), resamples=300, budget=40)
        a = s.algorithms["random"]
        cis.append((a.checkpoints[0].ci, tuple(a.curve.mean_lo[[9, 39]]), tuple(a.curve.mean_hi[[9, 39]])))
    assert cis[0] == cis[1] == cis[2]
    # and a different generator gives different resamples (the CI is not fixed by the label alone)
    s = M.summarize(alone, np.random.default_rng(8), resamples=300, budget=40)
    a = s.algorithms["random"]
    assert (a.checkpoints[0].ci, tuple(a.curve.mean_lo[[9, 39]]), tuple(a.curve.mean_hi[[9, 39]])) != cis[0]
