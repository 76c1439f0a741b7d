"""``nas-harness paper``'s measured value and ``!`` mark, checked against a small run computed
independently here (embedded nb201-analog data: no ../shared needed)."""

import re
from dataclasses import replace

import numpy as np

from harness.cli import main
from harness.protocol import load_protocol
from harness.record import RunRecord


def _incumbent_report_at(traj, at):
    best, rep = -np.inf, None
    for s, r in list(zip(traj["search"], traj["report"]))[:at]:
        if s > best:  # ties keep the earlier architecture
            best, rep = s, r
    return rep


def test_paper_value_and_mark_match_an_independent_computation(tmp_path, monkeypatch, capsys):
    from harness.commands import paper

    monkeypatch.chdir(tmp_path)
    at = 40
    seeds = 4
    # first run the protocol, so the published values can be planted around our own numbers
    assert main(["run", "--protocol", "nb201-analog", "--budget", "80", "--seeds", str(seeds), "--algorithm", "random",
                 "--no-progress", "--workers", "1"]) == 0
    (folder,) = (tmp_path / "results" / "runs").iterdir()
    trajs = [RunRecord.read(str(f)).to_dict()["trajectory"] for f in sorted(folder.glob("*.npz"))]
    vals = np.array([_incumbent_report_at(t, at) for t in trajs], dtype=float)
    assert len(vals) == seeds
    mean, std = vals.mean(), vals.std(ddof=1)
    far_below, inside = float(vals.min() - 5.0), float(round(mean, 2))
    capsys.readouterr()
    pub = {"paper": "planted", "source": "a test", "value": [{
        "table": "1", "column": "c", "protocol": "nb201-analog", "statistic": "best_report",
        "rows": [{"method": "far", "algorithm": "random", "at": at, "mean": far_below},
                 {"method": "inside", "algorithm": "random", "at": at, "mean": inside}]}]}
    monkeypatch.setattr(paper, "published", lambda name: pub)
    def protocol(name, data, s):  # the protocol of the run above (budget 80, seeds 0..3)
        return replace(load_protocol(name).with_budget(80), seeds=tuple(range(seeds)))

    monkeypatch.setattr(paper, "_protocol", protocol)
    assert main(["paper", "l2nas", "--no-log", "--resamples", "500", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    rows = {m: line for line in out.splitlines() for m in ("far", "inside") if line.startswith(m + " @")}
    for m, line in rows.items():
        got = re.search(r"(\d+\.\d\d) ± (\d+\.\d\d) \[", line)
        assert got, line
        assert float(got.group(1)) == round(mean, 2) and float(got.group(2)) == round(std, 2)
        assert "(n=4)" in line
    assert rows["far"].rstrip().endswith("!")  # far below every run: outside any CI of the mean
    assert not rows["inside"].rstrip().endswith("!")  # the mean itself is inside its CI
    assert "0 runs made, 4 reused" in out
