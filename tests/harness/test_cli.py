"""The command line: the default job end to end, listings, and bad input (exit 2, one line)."""

import os
import subprocess
import sys

import pytest

from harness.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_cli(*args):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, env=env, cwd=ROOT)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["run", "--benchmark", "nb999"], "unknown benchmark 'nb999'; choose one of"),
        (["run", "--algorithm", "nope"], "unknown algorithm 'nope'; choose one of"),
        (["run", "--seeds", "0"], "--seeds"),
        (["run", "--budget", "-5"], "--budget"),
        (["run", "--benchmark", "nb201", "--dataset", "cifar10-valid"], "--data"),
        (["run", "--benchmark", "nb201", "--report-metric", "test_accuracy"], "--data"),
        (["run", "--benchmark", "nb201", "--data", "/no/such/file.csv"], "does not exist"),
        (["run", "--search-metric", "speed"], "no metric 'speed'"),
        (["list", "nothing"], "invalid choice"),
        (["run", "--algorithm", "evolution", "evolution(population=10)"], "are the same setting of evolution"),
        (["run", "--algorithm", "evolution(population=big)"], "hyperparameter population must be int"),
        (["run", "--algorithm", "evolution(population=10"], "write one setting as NAME(key=value"),
        (["run", "--algorithm", "evolution(pop=3)"], "has no hyperparameter(s) pop"),
    ],
)
def test_bad_input_exits_2_with_one_clear_line(args, needle):
    r = run_cli(*args)
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) <= 3  # usage + message at most


def test_run_logs_to_the_default_store_and_prints_a_summary(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--seeds", "2", "--budget", "50", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "random" in out and "best valid_accuracy" in out
    assert "searched metric valid_accuracy" in out and "reported metric valid_accuracy" in out
    import mlflow

    (folder,) = (tmp_path / "results" / "runs").iterdir()  # adhoc-<benchmark>-<settings hash>-v1
    assert folder.name.startswith("adhoc-") and f"report --protocol {folder.name}" in out
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'results' / 'mlflow.db'}")
    df = mlflow.search_runs(experiment_names=[f"nas-harness/{folder.name[:-3]}"])
    assert len(df) == 2
    runs = list(folder.glob("*.npz"))
    assert len(runs) == 2


def test_list_commands(capsys):
    assert main(["list", "benchmarks"]) == 0
    assert "nb201-analog" in capsys.readouterr().out
    assert main(["list", "algorithms"]) == 0
    assert "random" in capsys.readouterr().out
    assert main(["list", "spaces"]) == 0
    assert "nb201-v1" in capsys.readouterr().out


def test_run_takes_settings_as_the_boards_label_rows(tmp_path, monkeypatch, capsys):
    """``--algorithm evolution 'evolution(sample_size=5)'``: two settings, two rows, and the
    records hold the setting asked for."""
    from harness.record import RunRecord

    monkeypatch.chdir(tmp_path)
    assert main(["run", "--benchmark", "nb201-analog", "--seeds", "2", "--budget", "20", "--no-progress",
                 "--algorithm", "evolution", "evolution(sample_size=5)"]) == 0
    out = capsys.readouterr().out
    assert "evolution(sample_size=3)" in out and "evolution(sample_size=5)" in out
    (folder,) = (tmp_path / "results" / "runs").iterdir()
    sizes = sorted(RunRecord.read(str(f)).meta["hyperparameters"]["sample_size"] for f in folder.glob("*.npz"))
    assert sizes == [3, 3, 5, 5]
