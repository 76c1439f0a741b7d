"""``--seeds``: one parser (harness.protocol.parse_seeds) for every command that runs or reads seeds."""

import pytest

from harness.cli import main
from harness.errors import ConfigError
from harness.protocol import parse_seeds
from harness.record import RunRecord


@pytest.mark.parametrize("text, seeds", [
    ("3", (0, 1, 2)),
    ("1000-1004", (1000, 1001, 1002, 1003, 1004)),
    ("1000,1003,1010-1012", (1000, 1003, 1010, 1011, 1012)),
    ("7-7", (7,)),
    ("5,", None), ("", None), ("0", None), ("-3", None), ("5-2", None), ("a", None), ("1,1", None),
    ("1-3,2", None), ("1.5", None), ("1--3", None),
])
def test_parse_seeds(text, seeds):
    if seeds is None:
        with pytest.raises(ConfigError) as e:
            parse_seeds(text)
        assert "\n" not in str(e.value) and "--seeds" in str(e.value)
    else:
        assert parse_seeds(text) == seeds


def test_run_seeds_range_runs_exactly_those_seeds(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--benchmark", "nb201-analog", "--seeds", "1000-1004", "--budget", "20", "--no-progress"]) == 0
    (folder,) = (tmp_path / "results" / "runs").iterdir()
    seeds = sorted(RunRecord.read(str(f)).meta["seed"] for f in folder.glob("*.npz"))
    assert seeds == [1000, 1001, 1002, 1003, 1004]
    capsys.readouterr()
    # report restricted to two of them
    assert main(["report", "--protocol", folder.name, "--seeds", "1000,1003", "--no-plots", "--resamples", "200"]) == 0
    out = capsys.readouterr().out
    assert "random" in out


@pytest.mark.parametrize("cmd", [["run"], ["paper", "lanas"], ["report"], ["leaderboard"],
                                 ["bench", "algorithms"]])
def test_bad_seeds_is_one_line_exit_2(cmd, capsys):
    with pytest.raises(SystemExit) as e:
        main([*cmd, "--seeds", "9-3"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "reversed" in err and "Traceback" not in err


def test_a_large_bare_count_says_it_is_a_count(capsys):
    """`--seeds 1000` reads like "seed 1000" but means 1,000 seeds: the CLI says so before the runs."""
    from harness.protocol import seeds_arg

    assert seeds_arg("1000") == tuple(range(1000))
    err = capsys.readouterr().err
    assert "--seeds 1000 is a count: seeds 0..999" in err and "--seeds 1000-1000" in err
    for text in ("999", "1000-1000", "1000,1001"):
        seeds_arg(text)
        assert capsys.readouterr().err == ""
