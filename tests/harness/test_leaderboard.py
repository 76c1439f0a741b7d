"""Leaderboards of a small sweep: expected rows, CIs and ranks (golden file); a user's
module:Class algorithm is a row like the built-ins; the paper command prints ours beside theirs."""

import os
import re
from pathlib import Path

import pytest

from harness.cli import main
from harness.commands.leaderboard import make
from harness.protocol import Protocol
from harness.runner import Job
from harness.sweep import run_sweep

GOLDEN = Path(__file__).parent / "golden" / "leaderboard_small.md"
REGEN = "NAS_HARNESS_REGEN_GOLDEN=1 python -m pytest tests/harness/test_leaderboard.py"
USER = "tests.harness.plugin_algorithms:Greedy"


def _small_sweep():
    p = Protocol.adhoc("nb201-analog", 40, 4, checkpoints=(10, 40))
    jobs = [Job(p, a, s) for a in ("random", USER) for s in p.seeds]
    res = run_sweep(jobs, log=False)
    assert res.ran == 8
    return p, res.records


def test_leaderboard_of_a_small_sweep_matches_the_golden_file(tmp_path):
    p, records = _small_sweep()
    board, paths = make(p, records, str(tmp_path / "lb"), resamples=500, seed=0, plots=False)
    assert [r[1] for r in board.rows] == ["Greedy", "random"]  # the user's algorithm is a row
    assert board.rows[0][0].startswith("1")
    # the commit that made the runs (and whether the tree was clean) is the only part that moves
    text = re.sub(r"Made by commits? [0-9a-f, ]+( \(some with uncommitted changes\))?\.", "Made by commit <commit>.",
                  Path(paths["md"]).read_text())
    if os.environ.get("NAS_HARNESS_REGEN_GOLDEN"):
        GOLDEN.write_text(text)
    assert GOLDEN.exists(), f"golden file missing; create it with: {REGEN}"
    assert text == GOLDEN.read_text(), f"leaderboard differs from {GOLDEN}; if the change is intended, regenerate: {REGEN}"
    assert (tmp_path / "lb" / "README.md").read_text().count(p.id) >= 1
    csv = Path(paths["csv"]).read_text().splitlines()
    assert len(csv) == 3 and csv[0].startswith("rank,algorithm,runs")
    assert "\\begin{tabular}" in Path(paths["tex"]).read_text()


def test_leaderboard_rows_carry_cis_and_ranks(tmp_path):
    p, records = _small_sweep()
    board, _ = make(p, records, str(tmp_path / "lb"), resamples=500, seed=0, plots=False)
    h = board.headers
    for row in board.rows:
        mean = float(row[h.index("best @40 (mean ± std)")].split("±")[0])
        lo, hi = (float(x) for x in row[h.index("95% CI @40")].strip("[]").split(","))
        assert lo <= mean <= hi
    ranks = [float(r[0].rstrip("*")) for r in board.rows]
    assert ranks == sorted(ranks)


def test_leaderboard_command_with_a_user_algorithm(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--protocol", "nb201-analog", "--algorithm", "random", USER, "--seeds", "3",
                 "--budget", "30", "--workers", "1", "--no-progress"]) == 0
    assert main(["leaderboard", "--protocol", "nb201-analog", "--budget", "30", "--resamples", "200"]) == 0
    out = capsys.readouterr().out
    assert "| Greedy" in out and "| random" in out
    md = tmp_path / "leaderboards" / "nb201-analog-budget30-v2.md"
    assert md.exists() and (tmp_path / "leaderboards" / "README.md").exists()
    assert "![" in md.read_text()  # plots linked beside the table


def test_paper_command_prints_ours_beside_published(tmp_path, monkeypatch, capsys, nb201_csv):
    monkeypatch.chdir(tmp_path)
    assert main(["paper", "l2nas", "--data", nb201_csv, "--seeds", "2", "--algorithm", "random", "--no-log",
                 "--resamples", "200", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "94.37" in out and "93.70 ± 0.36" in out and "RS (same budget) @500" in out


def test_paper_command_names_missing_files_and_goes_on(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["paper", "apex", "--table", "1", "--no-log"]) == 0
    out = capsys.readouterr().out
    assert "skipped" in out and "nb101" in out.lower()


def test_paper_data_files_go_to_their_own_benchmark(tmp_path, monkeypatch, capsys, nb201_csv):
    """A NB201 table given to a paper whose tables also need NB101 is not fed to NB101."""
    monkeypatch.chdir(tmp_path)
    assert main(["paper", "bonas", "--data", nb201_csv, "--seeds", "1", "--algorithm", "random", "--no-log",
                 "--resamples", "100", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "found 1/1" in out  # the NB201 column ran
    assert "nb101" in out.lower() and "corrupt" not in out and "tfrecord" in out.lower()
    assert main(["paper", "bonas", "--data", str(tmp_path / "mystery.bin"), "--no-log"]) == 2
    assert "nb101=PATH" in capsys.readouterr().err


def test_seed_ranges_write_what_seeds_reads():
    from harness.leaderboard import seed_ranges
    from harness.protocol import parse_seeds

    assert seed_ranges([1002, 1000, 1001, 1007, 1009, 1008]) == "1000-1002,1007-1009"
    assert seed_ranges([5]) == "5"
    for text in ("1000-1024", "3,5,7-9", "0-4,1000"):
        assert seed_ranges(parse_seeds(text)) == text


def test_board_names_its_seeds_commands_and_the_algorithms_it_lacks(tmp_path):
    """A cited board says which seeds each row ran, by which commit, how to remake it, and which
    registered algorithms have no row (not run, or refused on this protocol, with the reason)."""
    p = Protocol.adhoc("nb201-analog", 40, 2, checkpoints=(10, 40))
    jobs = [Job(p, "random", s) for s in (1000, 1001, 1002)] + [Job(p, "local-search", s) for s in (1000, 1005)]
    res = run_sweep(jobs, log=False)
    board, paths = make(p, res.records, str(tmp_path / "lb"), resamples=200, seed=0, plots=False)
    notes = " ".join(board.notes)
    assert "seeds 1000,1005 for local-search" in notes and "seeds 1000-1002 for random" in notes
    assert "Made by commit" in notes
    assert board.regenerate[:2] == [f"nas-harness run --protocol {p.name} --algorithm local-search --seeds 1000,1005",
                                    f"nas-harness run --protocol {p.name} --algorithm random --seeds 1000-1002"]
    assert board.regenerate[-1] == f"nas-harness leaderboard --protocol {p.name}"
    md = Path(paths["md"]).read_text()
    assert "Regenerate: `nas-harness run --protocol" in md and "--seeds 1000-1002`, then `nas-harness leaderboard" in md
    lacks = next(n for n in board.notes if n.startswith("Registered algorithms without a row"))
    assert "bonas" in lacks.split("refused")[0]  # applies, not run
    assert "lanas-paper (warm-up of 2,000 queries over the cap)" in lacks  # refused: 2,000 > half of 40
    assert "random," not in lacks and "local-search," not in lacks


def test_regenerate_writes_each_setting_out_so_that_it_remakes_the_rows(tmp_path):
    """Two settings of one algorithm (the default and ``sample_size=5``) are two rows; the
    board's Regenerate command names the second as ``'evolution(sample_size=5)'``, and its
    ``--algorithm`` and ``--seeds`` arguments, read as ``nas-harness run`` reads them, give
    jobs with exactly the rows' run keys (so the command remakes, or reuses, those very runs)."""
    import shlex

    from harness.commands.run import specs_of
    from harness.protocol import parse_seeds

    p = Protocol.adhoc("nb201-analog", 30, 2, checkpoints=(10, 30))
    jobs = [Job(p, "evolution", s) for s in (1000, 1001)] + [Job(p, "evolution", s, {"sample_size": 5}) for s in (1000, 1001)]
    res = run_sweep(jobs, log=False)
    board, _ = make(p, res.records, str(tmp_path / "lb"), resamples=200, seed=0, plots=False)
    (cmd,) = [c for c in board.regenerate if c.startswith("nas-harness run")]
    assert "'evolution(sample_size=5)'" in cmd
    assert not any("settings" in n for n in board.notes if n.startswith("Runs:"))
    args = shlex.split(cmd)
    algos = args[args.index("--algorithm") + 1: args.index("--seeds")]
    seeds = parse_seeds(args[args.index("--seeds") + 1])
    assert {Job(p, n, s, hp).key() for n, hp in specs_of(algos) for s in seeds} == {r.run_key for r in res.records}


def test_a_board_ships_its_runs_and_its_statistics_are_theirs(tmp_path):
    """``<id>.runs.csv``: one row per run (seed, run key, counted queries, the incumbent's report
    value and found-at query at every checkpoint, queries to the optimum, anytime regret);
    each board mean is the mean of its runs' values, so a reader can re-test or pair them."""
    import numpy as np
    import pandas as pd

    p = Protocol.adhoc("nb201-analog", 40, 3, checkpoints=(10, 40))
    jobs = [Job(p, a, s) for a in ("random", "local-search") for s in (1000, 1001, 1002)]
    res = run_sweep(jobs, log=False)
    _, paths = make(p, res.records, str(tmp_path / "lb"), resamples=200, seed=0, plots=False)
    runs = pd.read_csv(paths["runs_csv"])
    tidy = pd.read_csv(paths["tidy_csv"])
    assert len(runs) == 6 and set(runs.run_key) == {r.run_key for r in res.records}
    assert sorted(runs[runs.algorithm == "random"].seed) == [1000, 1001, 1002]
    assert set(runs.setting) == {"random", "local-search"}  # the --algorithm text that remakes each run
    for _, row in tidy.iterrows():
        mine = runs[runs.algorithm == row.algorithm]
        assert len(mine) == row.n_runs
        assert np.isclose(mine[f"best@{int(row.checkpoint)}"].mean(), row["mean"], rtol=0, atol=1e-12)
        assert np.isclose(mine[f"best@{int(row.checkpoint)}"].std(ddof=1), row["std"], rtol=0, atol=1e-12)
        assert mine[f"found@{int(row.checkpoint)}"].max() == row.queries
    by_key = {r.run_key: r for r in res.records}
    for _, row in runs.iterrows():  # each value is that run's own
        inc = by_key[row.run_key].trajectory["incumbent_report"]
        assert row["best@40"] == inc[min(40, len(inc)) - 1] and row.queries == by_key[row.run_key].n_queries
    assert runs.anytime.notna().all() and (runs.anytime >= 0).all()
