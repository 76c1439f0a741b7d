"""Aggregate boards across protocols: average ranks, Friedman and Holm-corrected Wilcoxon on
hand-computed cases; the command on raw records of three small protocols, its plots and its
one-line errors."""

import numpy as np
import pytest

from harness import aggregate as G
from harness.cli import main

# rows: protocols, columns: algorithms a, b, c (lower is better)
SCORES = np.array([[0.1, 0.2, 0.3],   # ranks 1 2 3
                   [0.1, 0.3, 0.2],   # ranks 1 3 2
                   [0.0, 0.5, 0.9]])  # ranks 1 2 3


def test_average_ranks_and_friedman_by_hand():
    assert G.average_ranks(SCORES).tolist() == pytest.approx([1.0, 7 / 3, 8 / 3])
    # rank sums 3, 7, 8; chi2 = 12 / (n k (k+1)) sum R^2 - 3 n (k+1) = 122/3 - 36
    stat, p = G.friedman(SCORES)
    assert stat == pytest.approx(122 / 3 - 36)
    assert p == pytest.approx(np.exp(-stat / 2))  # chi-square with 2 df: sf(x) = exp(-x/2)
    assert G.average_ranks(np.array([[1.0, 1.0, 2.0]])).tolist() == [1.5, 1.5, 3.0]  # ties share
    assert np.isnan(G.friedman(SCORES[:, :2])[0])  # needs 3 algorithms


def test_pairwise_wilcoxon_holm_by_hand():
    s = np.array([[0.1, 0.2, 0.1], [0.2, 0.4, 0.2], [0.3, 0.7, 0.3], [0.4, 0.9, 0.4], [0.5, 1.0, 0.5]])
    pv = G.pairwise_wilcoxon(s, ["a", "b", "c"])
    # a < b on all 5 protocols: exact two-sided p = 2 / 2^5 = 0.0625; c = b likewise; a = c exactly
    # Holm over (0.0625, 0.0625, 1): 3 x 0.0625, then max(that, 2 x 0.0625), then 1
    assert pv[("a", "b")] == pytest.approx(0.1875) and pv[("b", "c")] == pytest.approx(0.1875)
    assert pv[("a", "c")] == 1.0


def test_cliques():
    avg = np.array([1.0, 2.0, 3.0])
    pv = {("a", "b"): 0.5, ("b", "c"): 0.5, ("a", "c"): 0.01}
    assert G.cliques(avg, ["a", "b", "c"], pv) == [["a", "b"], ["b", "c"]]
    assert G.cliques(avg, ["a", "b", "c"], {k: 0.001 for k in pv}) == []
    assert G.cliques(avg, ["a", "b", "c"], {k: 0.9 for k in pv}) == [["a", "b", "c"]]


def test_score_matrix_keeps_algorithms_run_everywhere():
    protocols, algos, A = G.score_matrix({"p": {"a": 1.0, "b": 2.0, "x": 0.0}, "q": {"a": 3.0, "b": 1.0}})
    assert protocols == ["p", "q"] and algos == ["a", "b"] and A.tolist() == [[1.0, 2.0], [3.0, 1.0]]


def test_aggregate_runs_note_names_the_seeds_of_rows_that_differ():
    from harness.commands.aggregate import runs_note

    full = list(range(1000, 1025))
    seeds = {"p": {"a": full, "b": full, "c": full[:5], "d": full[:10]},
             "q": {"a": full, "b": full, "c": full[:5], "d": full[:5]}}
    assert runs_note(seeds) == ("Runs: c: seeds 1000-1004 on every protocol; d: seeds 1000-1009 on p, 1000-1004 on q; "
                                "every other row: seeds 1000-1024 on every protocol.")


def test_pooled_ecdf_weighs_protocols_equally():
    got = G.pooled_ecdf([np.array([0.0, 1.0]), np.array([0.5, 0.5, 1.0, 1.0])], 4)
    assert got.tolist() == [0.25, 0.75, 1.0, 1.0]


def test_aggregate_command_on_raw_records(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    protocols = ["nasbench-graph-cora", "nasbench-graph-citeseer", "nasbench-graph-pubmed"]
    for p in protocols:
        assert main(["run", "--protocol", p, "--algorithm", "random", "local-search", "evolution", "--seeds", "3",
                     "--budget", "20", "--workers", "1", "--no-progress"]) == 0
    assert main(["aggregate", "--name", "graph-small", "--protocol", *protocols, "--budget", "20",
                 "--resamples", "100"]) == 0
    out = capsys.readouterr().out
    assert "Friedman test over protocols" in out and "| evolution" in out and "| local-search" in out
    assert "Runs: seeds 0-2 on every protocol, for every row." in out  # the board says which runs it pools
    lb = tmp_path / "leaderboards"
    assert (lb / "graph-small.md").exists() and (lb / "graph-small.csv").exists()
    pngs = sorted(q.name for q in (lb / "graph-small").glob("*.png"))
    assert any("critical-difference" in n for n in pngs) and any("ecdf" in n for n in pngs)
    assert "graph-small" in (lb / "README.md").read_text()
    # the board's per-protocol scores are the protocols' own anytime means
    from harness.commands.aggregate import protocol_scores
    from harness.commands.report import read_records, select
    from harness.protocol import load_protocol
    import argparse

    p = load_protocol("nasbench-graph-cora").with_budget(20)
    recs = select(p, read_records(p)[0], argparse.Namespace(data=None, benchmark_version=None))
    sc = protocol_scores(p, recs, 100)
    row = next(line for line in (lb / "graph-small.csv").read_text().splitlines() if line.split(",")[1] == "random")
    assert float(row.split(",")[7]) == pytest.approx(sc["random"][0], abs=6e-5)


@pytest.mark.parametrize("argv, needle", [
    (["--name", "x", "--protocol", "nasbench-graph-cora"], "two or more"),
    (["--name", "a/b", "--protocol", "nasbench-graph-cora", "nasbench-graph-citeseer"], "--name"),
    (["--name", "x", "--protocol", "nasbench-graph-cora", "nasbench-graph-citeseer"], "no runs of protocol"),
])
def test_aggregate_bad_input_is_one_line(tmp_path, monkeypatch, capsys, argv, needle):
    monkeypatch.chdir(tmp_path)
    assert main(["aggregate", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err
