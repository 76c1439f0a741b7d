"""Tidy, numeric outputs: leaderboard .tidy.csv/.json, paper files, no silent overwrite."""

import json

import pandas as pd
import pytest

import harness
from harness.cli import main

STATS = ("checkpoint", "n_runs", "failed", "mean", "std", "ci_low", "ci_high", "median", "queries", "rank",
         "training_queries", "success_rate", "queries_to_optimum", "ert")


def _board(tmp_path, monkeypatch, seeds, budget=20, extra=()):
    monkeypatch.chdir(tmp_path)
    harness.run("nb201-analog", algorithms=["random", "evolution"], seeds=seeds, budget=budget, log=False)
    return main(["leaderboard", "--resamples", "200", *extra])


def test_leaderboard_tidy_csv_and_json_are_numeric(tmp_path, monkeypatch, capsys):
    assert _board(tmp_path, monkeypatch, 3) == 0
    (csv,) = (tmp_path / "leaderboards").glob("*.tidy.csv")
    df = pd.read_csv(csv)
    assert len(df) == 2 and set(df.algorithm) == {"random", "evolution"}
    for c in STATS:
        assert pd.api.types.is_numeric_dtype(df[c]), (c, df[c].dtype)
    assert df.tied_with_best.dtype == bool and df.tied_with_best.any()
    assert (df.ci_low <= df["mean"]).all() and (df["mean"] <= df.ci_high).all()
    assert sorted(df["rank"]) == [1.0, 2.0]
    assert (df.success_rate.between(0, 1)).all()
    doc = json.loads(csv.with_name(csv.name.replace(".tidy.csv", ".json")).read_text())
    assert doc["n_runs"] == 6 and len(doc["rows"]) == 2
    assert {r["algorithm"]: r["mean"] for r in doc["rows"]} == pytest.approx(dict(zip(df.algorithm, df["mean"])))
    # the same numbers as the API's summary (same bootstrap seed and resamples)
    res = harness.load_results(doc["protocol_id"])
    api = res.summary(resamples=200).set_index("algorithm")
    assert dict(zip(df.algorithm, df.ci_low)) == pytest.approx(api.ci_low.to_dict())


def test_leaderboard_refuses_to_overwrite_a_bigger_board(tmp_path, monkeypatch, capsys):
    assert _board(tmp_path, monkeypatch, 4) == 0
    lb = tmp_path / "leaderboards"
    (md,) = [p for p in lb.glob("*.md") if p.name != "README.md"]
    before = md.read_text()
    for f in lb.glob("*.json"):  # the board was made by a version without the JSON: the CSV's runs count
        f.unlink()
    import shutil

    shutil.rmtree(tmp_path / "results" / "runs")
    assert _board(tmp_path, monkeypatch, 2) == 2
    assert "made from 8 runs" in capsys.readouterr().err and md.read_text() == before
    assert main(["leaderboard", "--resamples", "200", "--force"]) == 0
    assert md.read_text() != before
    assert json.loads(md.with_suffix(".json").read_text())["n_runs"] == 4


def test_leaderboard_removes_stale_plots(tmp_path, monkeypatch):
    assert _board(tmp_path, monkeypatch, 2) == 0
    (folder,) = [p for p in (tmp_path / "leaderboards").iterdir() if p.is_dir()]
    stale = folder / "pareto_fronts.png"
    stale.write_bytes(b"old")
    assert main(["leaderboard", "--resamples", "100"]) == 0
    assert not stale.exists() and (folder / "best_so_far.png").exists()
    assert main(["leaderboard", "--resamples", "100", "--no-plots"]) == 0
    assert not list(folder.glob("*.png"))


def test_paper_writes_markdown_csv_and_json(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["paper", "l2nas", "--seeds", "2", "--algorithm", "random", "--no-log", "--resamples", "100",
                 "--workers", "1", "--out", str(tmp_path / "p")]) == 0
    out = capsys.readouterr().out
    md, csv, js = (tmp_path / "p" / f"l2nas.{e}" for e in ("md", "csv", "json"))
    assert "written:" in out and md.exists()
    assert "| method" in md.read_text()
    df = pd.read_csv(csv)
    ran = df[df.n_runs.notna()]
    assert len(ran) >= 1 and (ran.n_runs == 2).all()
    for c in ("published_mean", "mean", "ci_low", "ci_high", "n_runs"):
        assert pd.api.types.is_float_dtype(df[c]), c
    assert df.outside_ci.dtype == bool
    assert len(json.loads(js.read_text())["rows"]) == len(df)
