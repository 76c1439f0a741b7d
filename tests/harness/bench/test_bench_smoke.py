"""Every ``nas-harness bench NAME`` runs with tiny settings and prints its figures (seconds each),
and ``harness/bench/`` re-implements no product feature (issue 18): no Oracle subclass, no
bootstrap, no search algorithm, no private process pool, no published figures table."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from harness.bench import BENCHES
from harness.cli import main

BENCH_DIR = Path(__file__).resolve().parents[3] / "harness" / "bench"

# NAME -> (arguments, texts the output must hold); "nb301" is smoke-tested with a stand-in
# ensemble in tests/harness/benchmarks/test_nb301.py (test_bench_command_reports_identical_batched_values).
SMOKE = {
    "algorithms": (["--algorithms", "random", "lanas", "--budget", "60", "--seeds", "2", "--phases"],
                   ["own us/query", "\nrandom ", "\nlanas ", "phases", "learn"]),
    "oracle": (["--repeats", "1"], ["queries/s", "bare lookup", "ratio oracle/bare"]),
    "metrics": (["--runs", "4", "--queries", "200", "--resamples", "50", "--episodes", "10", "--repeats", "1"],
                ["metrics for 4 runs"]),
    "data": (["--synthetic", "--cells", "2000", "--repeats", "1"], ["SYNTHETIC cache of 2,000 cells", "peak RSS"]),
    "sweep": (["--runs", "4", "--budget", "50", "--repeat", "1"], ["speed-up 2 vs 1 workers", "machine ceiling"]),
    "apex": (["--seconds", "0.05", "--train-steps", "64", "--starts", "4", "--actors", "1", "--executors", "inline",
              "--train-seeds", "0,1", "--speed-ratio", "0"],
             ["ceiling", "env steps/s", "achieved ratio", "updates / bare", "2 training seed(s) 0,1", "per agent",
              "reference"]),
}
ELSEWHERE = {"nb301", "tracking"}  # tracking: tests/harness/test_bench_tracking.py


def test_every_bench_module_has_a_smoke_test():
    assert set(BENCHES) == set(SMOKE) | ELSEWHERE | {"bonas-gcn"}


@pytest.mark.parametrize("name", sorted(SMOKE))
def test_bench_runs_with_tiny_settings(name, capsys):
    args, texts = SMOKE[name]
    assert main(["bench", name, *args]) == 0
    out = capsys.readouterr().out
    for t in texts:
        assert t in out, (t, out)


def test_bench_oracle_on_nasbench_graph(capsys):
    """Was an AttributeError: the graph space has no ``index_of`` mapping."""
    assert main(["bench", "oracle", "--benchmark", "nasbench-graph-cora", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "nasbench-graph-cora" in out and "queries/s" in out


def test_bench_oracle_refuses_a_surrogate_in_one_line(capsys):
    assert main(["bench", "oracle", "--benchmark", "nb301"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_bench_algorithms_profile_prints_the_top_functions(capsys):
    assert main(["bench", "algorithms", "--algorithms", "evolution", "--budget", "50", "--seeds", "1", "--profile"]) == 0
    out = capsys.readouterr().out
    assert "profile of evolution, seed 0" in out and "tottime" in out


def test_bench_bonas_gcn_with_tiny_settings(nb201_csv, capsys):
    args = ["bench", "bonas-gcn", "--data", nb201_csv, "--train-fraction", "0.01", "--epochs", "2",
            "--edges", "undirected"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "GCN undirected" in out and "MLP one-hot (baseline)" in out and "Spearman" in out


def _bench_modules():
    return sorted(p for p in BENCH_DIR.glob("*.py") if p.name != "__init__.py")


@pytest.mark.parametrize("path", _bench_modules(), ids=lambda p: p.name)
def test_bench_module_reimplements_no_product_feature(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
            assert not bases & {"Oracle", "Algorithm"}, f"{path.name}: class {node.name} subclasses {bases}"
            assert not hasattr_method(node, "run"), f"{path.name}: class {node.name} looks like a search algorithm"
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            assert "bootstrap" not in node.name, f"{path.name}: {node.name} (statistics belong in harness.metrics)"
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            assert node.id != "PUBLISHED", f"{path.name}: published figures belong in protocols/papers/*.toml"
        if isinstance(node, ast.Attribute | ast.Name):
            name = node.attr if isinstance(node, ast.Attribute) else node.id
            assert name not in ("ProcessPoolExecutor", "Pool"), f"{path.name}: a private process pool ({name})"


def hasattr_method(cls: ast.ClassDef, name: str) -> bool:
    return any(isinstance(n, ast.FunctionDef) and n.name == name for n in cls.body)


def test_bench_apex_only_learner_prints_the_learner_table_alone(capsys):
    assert main(["bench", "apex", "--only", "learner", "--seconds", "0.05"]) == 0
    out = capsys.readouterr().out
    assert "updates / bare" in out and "bare + 2 no-grad fwd" in out
    assert "ceiling" not in out and "executors" not in out


def test_bench_apex_speed_table_is_the_steady_state_rate(capsys):
    """The actor-speed table logs at every learner update and measures between the first and the
    last one, so process start-up (torch imported in each actor) is not counted; it once was, and
    the table showed 2 actors slower than 1 on an idle machine."""
    assert main(["bench", "apex", "--seconds", "0.05", "--train-steps", "64", "--starts", "2", "--actors", "1",
                 "--executors", "process", "--train-seeds", "0-0", "--speed-ratio", "1/100", "--speed-repeats", "1",
                 "--speed-steps", "1600"]) == 0
    out = capsys.readouterr().out
    assert "actor speed (the actors, not the learner, bound the rate), 1,600 env steps per run, steady state" in out
    table = out.split("actor speed")[1].splitlines()
    row = next(line for line in table if line.startswith("process")).split()
    assert row[1] == "1/100" and row[2] == "4" and row[3] == "1"  # ratio, credits (automatic: 100 / 32), actors
    assert float(row[4].replace(",", "")) > 0 and row[5] == "1.00x"
    assert 0 < float(row[9]) < 2  # the learner process's CPU share, in cores


def test_bench_apex_speed_up_pairs_runs_side_by_side_and_gives_the_cores_bound(monkeypatch):
    """On a machine whose speed drifts, the speed-up is taken between runs side by side in time
    (the actor counts' order reversed every other repeat), and the bound says what the learner's
    CPU share leaves: 0.3 of a core beside 1 actor caps 2 actors on 2 cores at 2 / 1.3."""
    import harness.bench.apex as bench_apex

    calls, seen_credits = [], []

    def fake(bench, executor, actors, steps, starts, address=None, replay_ratio=None, seed=0, log_every=None,
             credits=None):
        calls.append(actors)
        seen_credits.append(credits)
        drift = 0.5 ** (len(calls) - 1)  # the machine halves its speed at every run
        return {"env_steps_per_s": 1000.0 * actors * drift, "updates_per_s": 2.0, "ratio": replay_ratio,
                "learner_cores": 0.3}

    monkeypatch.setattr(bench_apex, "bench_executor", fake)
    monkeypatch.setattr(bench_apex.os, "cpu_count", lambda: 2)
    rows = bench_apex.speed_table_rows(None, "process", [1, 2], 100, 1 / 512, 3, 0)
    assert calls == [1, 2, 2, 1, 1, 2] and seen_credits == [None] * 6 and rows[0][2] == 8  # automatic at 1/512
    assert bench_apex.speed_table_rows(None, "process", [1, 2], 100, 1 / 512, 1, 0, credits=8)[0][2] == 8
    assert seen_credits[-2:] == [8, 8]
    calls.clear()
    # runs (actors, env steps/s): (1, 1000) (2, 1000) | (2, 500) (1, 125) | (1, 62.5) (2, 62.5):
    # paired ratios 1, 4, 1, median 1.00x; the medians of the rates would give 500 / 125 = 4.00x
    assert rows[1][5] == "1.00x [1.00, 4.00]"
    assert rows[0][6] == "1.00x" and rows[1][6] == f"{2 / 1.3:.2f}x" and rows[1][7] == "0.30"


def test_bench_apex_ceiling_is_the_median_paired_ratio_and_flags_one_above_the_cores(monkeypatch):
    """The ceiling probes run side by side in time (order reversed every other repeat) and the
    figure is the median of the paired ratios, not the best of each side (which gave 2.51x on 2
    cores when one probe ran slow); a ratio above the core count is said to be no speed-up."""
    import subprocess

    import numpy as np

    import harness.bench.apex as bench_apex

    # env steps/s of each probe process in the order started: repeat 1 one (1000) then two (950 +
    # 950); repeat 2 two (500 + 500) then one (400: the machine slowed); repeat 3 one (1000), two
    rates = iter([1000.0, 950.0, 950.0, 500.0, 500.0, 400.0, 1000.0, 1000.0, 1000.0])
    started = []

    class Probe:
        returncode = 0

        def __init__(self, rate):
            self.rate = rate

        def communicate(self):
            return (f"{600 * 8 / self.rate}\n", "")

    def popen(args, **kw):
        started.append(args[-2])  # the probe's index among those side by side
        return Probe(next(rates))

    monkeypatch.setattr(subprocess, "Popen", popen)
    c = bench_apex.bench_ceiling("nb201-analog")
    assert started == ["0", "0", "1", "0", "1", "0", "0", "0", "1"]
    np.testing.assert_allclose(c["pairs"], [1.9, 2.5, 2.0])
    assert c["ceiling"] == pytest.approx(2.0) and c["one"] == pytest.approx(1000) and c["two"] == pytest.approx(1900)
    flagged = bench_apex.ceiling_line({**c, "ceiling": 2.5, "pairs": np.array([2.5, 2.4, 2.6])}, 2)
    assert "2.50x [2.40, 2.60] over 3 paired repeats" in flagged and "above the 2 cores" in flagged
    line = bench_apex.ceiling_line(c, 2)
    assert "2.00x [1.90, 2.50]" in line and "above" not in line


@pytest.mark.parametrize("bad", ["-1", "two", ""])
def test_bench_apex_refuses_bad_speed_credits(capsys, bad):
    assert main(["bench", "apex", "--speed-credits", bad]) == 2
    err = capsys.readouterr().err
    assert "--speed-credits: give comma-separated integers >= 1 (0: automatic)" in err and "Traceback" not in err


def test_bench_apex_refuses_a_non_positive_speed_steps(capsys):
    assert main(["bench", "apex", "--speed-steps", "0"]) == 2
    err = capsys.readouterr().err
    assert "--speed-steps must be a positive number" in err and "Traceback" not in err


@pytest.mark.parametrize("bad", ["0", "1,-2"])
def test_bench_apex_refuses_a_non_positive_actor_count_before_starting_anything(capsys, bad):
    """Refused in one line before any runtime starts (it used to start Ray first, then fail)."""
    import sys

    ray_before = "ray" in sys.modules
    assert main(["bench", "apex", "--actors", bad]) == 2
    err = capsys.readouterr().err
    assert "--actors: every actor count must be >= 1" in err and "Traceback" not in err
    assert ray_before or "ray" not in sys.modules
