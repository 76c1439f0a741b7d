"""``nas-harness bench tracking``: a small logged sweep prints its figures, and every run's
MLflow best-so-far chart equals its staircase (the command exits 1 otherwise)."""

from harness.cli import main


def test_bench_tracking_prints_its_figures(nb201_csv, capsys, tmp_path):
    assert main(["bench", "tracking", "--data", nb201_csv, "--runs", "2", "--workers", "1",
                 "--keep", str(tmp_path / "kept")]) == 0
    out = capsys.readouterr().out
    assert "of wall (target <= 10%)" in out and "bytes per run on disk: SQLite store" in out
    assert "equals the record's staircase at every query: yes" in out
    assert "logged through MLflow's client" in out and "x its logging time" in out  # the writer before, same run
    assert "tracking adds" in out  # against the same sweep without MLflow
    assert "--source raw" in out and "(exit 0)" in out
    assert sorted(f.suffix for f in (tmp_path / "kept" / "runs" / "nb201-cifar10-optimum-v1").iterdir()) == [".npz"] * 2


def test_bench_tracking_needs_the_table(capsys):
    assert main(["bench", "tracking"]) == 2
    assert "--data PATH" in capsys.readouterr().err
