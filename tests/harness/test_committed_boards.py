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
