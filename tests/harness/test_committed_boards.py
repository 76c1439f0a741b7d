"""The committed leaderboards say where their numbers come from: every protocol board is of the
shipped protocol's current version, names the seeds of its rows and the commits that made
them, gives the commands that remake it, lists the registered algorithms it lacks, and has
only registered algorithms as rows."""

import re
from pathlib import Path

import pytest

from algorithms.registry import list_algorithms
from harness.protocol import load_protocol

ROOT = Path(__file__).resolve().parents[2]
BOARDS = sorted((ROOT / "leaderboards").glob("*-v[0-9]*.md"))


def _rows(text: str) -> list[str]:
    return re.findall(r"^\| *[0-9.]+\*? *\| *([^|]+?) *\|", text, re.M)


@pytest.mark.parametrize("md", BOARDS, ids=[b.stem for b in BOARDS])
def test_a_committed_board_says_which_runs_it_holds(md):
    text = md.read_text()
    name, _, version = md.stem.rpartition("-v")
    assert load_protocol(name).id == md.stem, f"{md.name} is not of the shipped protocol's current version"
    assert re.search(r"^- Runs: seeds [0-9]", text, re.M), f"{md.name} does not say its seeds"
    assert "Made by commit" in text
    assert re.search(rf"^Regenerate: `nas-harness run --protocol {re.escape(name)} --algorithm [^`]+ --seeds [0-9,-]+", text,
                     re.M) or "ran with settings other than" in text
    assert "Registered algorithms without a row" in text or set(list_algorithms()) <= {r.split("(")[0] for r in _rows(text)}
    known = set(list_algorithms())
    rows = _rows(text)
    assert rows
    for r in rows:
        assert re.split(r"[(#]", r)[0] in known, f"{md.name}: row {r!r} is not a registered algorithm"


@pytest.mark.parametrize("md", BOARDS, ids=[b.stem for b in BOARDS])
def test_no_committed_row_is_of_an_algorithm_run_refuses_there(md):
    """A row ``run`` would refuse (a warm-up over the cap of the budget, or filling the queries a
    time budget affords) is random sampling under another name: the board must not hold it."""
    import numpy as np

    from algorithms.registry import make_algorithm
    from harness.commands.run import refusal
    from harness.runner import make_oracle

    import dataclasses

    from harness.errors import HarnessError
    from tests.conftest import NB201_CSV, SHARED

    p = load_protocol(md.stem.rpartition("-v")[0])
    try:
        oracle = make_oracle(p, np.random.default_rng(0))
    except HarnessError:  # a protocol that needs the official data (test accuracies, the surrogate)
        data = {"nb201": NB201_CSV, "nb301-yahpo": SHARED / "data" / "nb301-yahpo"}.get(p.benchmark)
        if data is None or not data.exists():
            pytest.skip(f"reference data absent: protocol {p.name} needs its data ({data}) to be opened")
        oracle = make_oracle(dataclasses.replace(p, data=str(data)), np.random.default_rng(0))
    for r in {re.split(r"[(#]", r)[0] for r in _rows(md.read_text())}:
        if "(" in r:
            continue
        verdict = refusal(make_algorithm(r, **p.overrides(r)), p.budget, oracle.space, oracle.expected_queries)
        assert verdict is None or verdict[0] == "warn", f"{md.name}: row {r} is refused on its protocol: {verdict}"


def test_there_are_boards():
    assert len(BOARDS) >= 15


def _regenerate_runs(text: str) -> list[tuple[str, tuple[int, ...]]]:
    """``(--algorithm argument, seeds)`` of every ``nas-harness run`` command in a board's
    Regenerate line, read as ``nas-harness run`` reads them."""
    import shlex

    from harness.protocol import parse_seeds

    line = next(x for x in text.splitlines() if x.startswith("Regenerate: "))
    out = []
    for cmd in re.findall(r"`(nas-harness run [^`]+)`", line):
        args = shlex.split(cmd)
        seeds = tuple(parse_seeds(args[args.index("--seeds") + 1]))
        out += [(a, seeds) for a in args[args.index("--algorithm") + 1: args.index("--seeds")]]
    return out


# boards whose rows of these algorithms take seconds to remake (the first two on embedded data)
RECOMPUTED = [("nasbench-graph-cora-v1", ("random", "evolution", "local-search", "mcts", "tpe")),
              ("nb201-analog-v2", ("random", "local-search-first")),
              ("nb201-cifar10-optimum-v1", ("random", "evolution"))]


@pytest.mark.parametrize("board, algorithms", RECOMPUTED, ids=[b for b, _ in RECOMPUTED])
def test_committed_rows_are_what_their_regenerate_line_computes_now(board, algorithms, tmp_path, request):
    """Rows of a committed board, remade from its own Regenerate line with today's code: the
    same number of runs and, at every checkpoint, the same mean, std, median and median
    queries, to 1e-9 (queries to the optimum and ERT too, on the until-optimum board). A change
    to an algorithm, the oracle, the seeding or the data that moves a published number fails
    here: regenerate the boards with it. (Bootstrap CIs and ranks are left out: the CIs of the
    committed boards come from an earlier resampling stream, the ranks from every row.)"""
    import pandas as pd

    import harness
    from dataclasses import replace

    from harness.commands.leaderboard import make

    name = board.rsplit("-v", 1)[0]
    p = load_protocol(name)
    if p.data is None and "--data PATH" in (ROOT / "leaderboards" / f"{board}.md").read_text():
        p = replace(p, data=request.getfixturevalue("nb201_csv"))
    runs = [(a, s) for a, s in _regenerate_runs((ROOT / "leaderboards" / f"{board}.md").read_text()) if a in algorithms]
    assert sorted(a for a, _ in runs) == sorted(algorithms), f"{board}: its Regenerate line lacks some of {algorithms}"
    records = []
    for a, seeds in runs:
        records += harness.run(replace(p, seeds=seeds), [a], workers=2, log=False).records
    _, paths = make(p, records, str(tmp_path / "lb"), resamples=200, seed=0, plots=False)
    cols = ["n_runs", "failed", "mean", "std", "median", "queries", "success_rate", "queries_to_optimum", "ert"]
    old = pd.read_csv(ROOT / "leaderboards" / f"{board}.tidy.csv")
    new = pd.read_csv(paths["tidy_csv"])
    for a in algorithms:
        o = old[old.algorithm == a].set_index(["unit", "checkpoint"])[cols]
        n = new[new.algorithm == a].set_index(["unit", "checkpoint"])[cols]
        assert len(o), f"{board} has no row {a}"
        pd.testing.assert_frame_equal(n, o, check_exact=False, rtol=0, atol=1e-9, check_dtype=False,
                                      obj=f"{board}, row {a}")
        hits = pd.read_csv(paths["runs_csv"]).query("algorithm == @a").queries_to_optimum
        if o.queries_to_optimum.notna().any():  # the board's runs file holds the runs of its statistics
            assert abs(hits.mean() - o.queries_to_optimum.iloc[0]) < 1e-9 and hits.notna().mean() == o.success_rate.iloc[0]
