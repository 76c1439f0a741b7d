"""The README's own-algorithm example, copied verbatim, and `run` then `report` (the last run)."""

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _shim(tmp_path) -> dict:
    """A `nas-harness` on PATH that runs this worktree's code the way the installed console
    script does: `-P`, so the current folder is NOT put on sys.path by Python itself."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "nas-harness"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" -P -m harness "$@"\n')
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=str(ROOT))


def test_readme_own_algorithm_commands_verbatim(tmp_path):
    text = (ROOT / "README.md").read_text()
    section = text.split("### Add your own algorithm", 1)[1].split("\n### ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    (commands,) = re.findall(r"```bash\n(.*?)```", section, re.S)
    path = code.splitlines()[0].lstrip("# ").strip()
    assert path == "mypackage/greedy.py"
    work = tmp_path / "work"
    (work / "mypackage").mkdir(parents=True)
    (work / path).write_text(code)
    env = _shim(tmp_path)
    env["NAS_HARNESS_RESULTS"] = str(tmp_path / "results")
    r = subprocess.run(["bash", "-e", "-c", commands], cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "greedy" in r.stdout.lower() and "no runs" not in r.stderr
    report = r.stdout.split("protocol ", 1)[-1]
    assert "Greedy" in report and "random" in report


def test_run_then_report_reports_the_last_run(tmp_path):
    env = _shim(tmp_path)
    env["NAS_HARNESS_RESULTS"] = str(tmp_path / "results")
    for args in (["run", "--seeds", "2", "--budget", "20", "--no-progress"], ["report"]):
        r = subprocess.run(["nas-harness", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, (args, r.stderr[-2000:])
    assert "2 runs" in r.stdout and "random" in r.stdout


def test_report_algorithm_accepts_the_declared_name(tmp_path, monkeypatch, capsys):
    from harness.cli import main

    monkeypatch.chdir(tmp_path)
    algo = "tests.harness.plugin_algorithms:Greedy"
    import harness

    harness.run("nb201-analog", algorithms=[algo, "random"], seeds=2, budget=15, log=False)  # the last run
    capsys.readouterr()
    for name in ("greedy", "Greedy", algo):
        assert main(["report", "--algorithm", name]) == 0
        out = capsys.readouterr().out
        assert "2 runs (0 failed, left out) of 1 algorithm(s)" in out, out
    assert main(["report", "--algorithm", "random"]) == 0
    assert "of 1 algorithm(s)" in capsys.readouterr().out
    assert main(["report", "--algorithm", "nonesuch"]) == 2
