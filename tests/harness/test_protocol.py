"""Protocol files: every shipped one loads; each bad field gives an error naming file and key;
``run --protocol`` and ``report`` work end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.cli import main
from harness.errors import ConfigError
from harness.protocol import Protocol, list_protocols, load_protocol, protocol_from_dict
from harness.record import RunRecord

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = ["nb201-cifar10", "nb201-cifar100", "nb201-imagenet16", "nb201-cifar10-l2nas", "nb201-cifar100-l2nas",
            "nb201-imagenet16-l2nas", "nb201-cifar10-optimum", "nb201-analog", "nb101", "nb101-optimum", "nb301"] + [
    f"nasbench-graph-{d}" for d in ("cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv", "proteins")]


def test_every_shipped_protocol_loads():
    shipped = {p.name: p for p in list_protocols()}
    assert set(REQUIRED) <= set(shipped)
    assert len(shipped) == len(list((ROOT / "protocols").glob("*.toml")))
    for p in shipped.values():
        assert p.id == f"{p.name}-v{p.version}" and p.description and p.source.endswith(f"{p.name}.toml")
        assert all(c <= p.budget for c in p.checkpoints)


def test_paper_settings():
    l2 = load_protocol("nb201-cifar10-l2nas")
    assert (l2.budget, l2.checkpoints, l2.seeds) == (1000, (500, 1000), tuple(range(10)))
    opt = load_protocol("nb201-cifar10-optimum")
    assert opt.until_optimum and opt.budget == 15625 and len(opt.seeds) == 100
    assert load_protocol("nb101").checkpoints == (50, 100, 150, 300)
    assert load_protocol("nb301").checkpoints == (150, 200, 300, 400, 800, 1000)
    img = load_protocol("nb201-imagenet16-test")
    assert img.dataset == "imagenet16-120" and img.search_metric == img.report_metric == "test_accuracy"
    assert "not a held-out evaluation" in Path(img.source).read_text().lower().replace("\n#", "")
    for name, ds in (("nb201-cifar10", "cifar10"), ("nb201-cifar100", "cifar100"), ("nb201-imagenet16", "imagenet16-120")):
        held = load_protocol(name)  # search on validation, report test (or mean validation without it)
        assert held.version == 2 and held.dataset == ds
        assert (held.search_metric, held.report_metric, held.report_fallback) == ("valid_accuracy", "test_accuracy", "valid_accuracy")


def test_load_by_name_version_and_path(tmp_path):
    p = load_protocol("nb201-analog")
    assert load_protocol("nb201-analog-v2") == p
    assert load_protocol(p.source) == p
    with pytest.raises(ConfigError, match="version 2, not 7"):
        load_protocol("nb201-analog-v7")
    with pytest.raises(ConfigError, match="unknown protocol 'nope'.*nb201-analog"):
        load_protocol("nope")
    with pytest.raises(ConfigError, match="does not exist"):
        load_protocol(tmp_path / "missing.toml")


GOOD = {"name": "mine", "benchmark": "nb201-analog", "budget": 100, "checkpoints": [10, 100], "seeds": 3}


@pytest.mark.parametrize("change, key, message", [
    ({"colour": "red"}, "colour", "unknown key"),
    ({"budget": "100"}, "budget", "must be int"),
    ({"budget": True}, "budget", "must be int"),
    ({"budget": 0}, "budget", "positive"),
    ({"budget": -5, "checkpoints": []}, "budget", "positive"),
    ({"checkpoints": [10, 200]}, "checkpoints", "beyond the budget 100"),
    ({"checkpoints": [50, 10]}, "checkpoints", "increasing"),
    ({"checkpoints": [0]}, "checkpoints", "positive"),
    ({"checkpoints": "10"}, "checkpoints", "must be list"),
    ({"benchmark": "nb999"}, "benchmark", "unknown benchmark 'nb999'"),
    ({"benchmark": "nb201", "dataset": "mnist"}, "dataset", "no dataset 'mnist'"),
    ({"benchmark": "nasbench-graph-cora", "dataset": "pubmed"}, "dataset", "already names dataset"),
    ({"dataset": "cifar100"}, "dataset", "no datasets to choose"),
    ({"counting": "some"}, "counting", "unknown counting rule 'some'"),
    ({"noise": "loud"}, "noise", "unknown noise mode 'loud'"),
    ({"search_metric": "valid_accuracy"}, "search_metric", "no metric 'valid_accuracy'"),
    ({"report_metric": "test_acc"}, "report_metric", "no metric 'test_acc'"),
    ({"seeds": 0}, "seeds", "positive"),
    ({"seeds": []}, "seeds", "empty"),
    ({"seeds": [1, -2]}, "seeds", "non-negative"),
    ({"seeds": [1, 1]}, "seeds", "repeated"),
    ({"seeds": 2.5}, "seeds", "must be int or list"),
    ({"version": 0}, "version", ">= 1"),
    ({"name": "my protocol"}, "name", "without spaces"),
    ({"until_optimum": "yes"}, "until_optimum", "must be true, false or \"index\""),
    ({"until_optimum": 3}, "until_optimum", "must be bool or str"),
    ({"benchmark": "nb301", "until_optimum": True, "checkpoints": []}, "until_optimum", "surrogate"),
    ({"algorithms": {"random": 3}}, "algorithms.random", "table of hyperparameters"),
    ({"episodes": {"lenght": 3}}, "episodes.lenght", "unknown key"),
    ({"episodes": {"length": 0}}, "episodes.length", ">= 1"),
    ({"episodes": {"start_states": -1}}, "episodes.start_states", ">= 0"),
])
def test_validation_error_names_file_and_key(tmp_path, change, key, message):
    import tomllib  # noqa: F401  (the files below are written as TOML by hand)

    d = {**GOOD, **change}
    path = tmp_path / "bad.toml"
    path.write_text(_toml(d))
    with pytest.raises(ConfigError) as e:
        load_protocol(path)
    text = str(e.value)
    assert str(path) in text and f"key {key!r}" in text and message in text, text


def test_missing_required_key_and_bad_toml(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('name = "x"\nbudget = 5\n')
    with pytest.raises(ConfigError, match="key 'benchmark': missing"):
        load_protocol(path)
    path.write_text('name = "x\n')
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_protocol(path)


def _toml(d: dict) -> str:
    def val(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(val(x) for x in v) + "]"
        return repr(v)

    lines, tables = [], []
    for k, v in d.items():
        if isinstance(v, dict):
            tables.append((k, v))
        else:
            lines.append(f"{k} = {val(v)}")
    for k, v in tables:
        if any(isinstance(x, dict) for x in v.values()):
            for sub, hp in v.items():
                lines.append(f"[{k}.{sub}]")
                lines += [f"{a} = {val(b)}" for a, b in hp.items()]
        else:
            lines.append(f"[{k}]")
            lines += [f"{a} = {val(b)}" for a, b in v.items()]
    return "\n".join(lines) + "\n"


def test_fields_are_read(tmp_path):
    d = {**GOOD, "benchmark": "nasbench-graph-cora", "search_metric": "valid_accuracy", "report_metric": "test_accuracy",
         "counting": "all", "seeds": [3, 5], "data": "tables/x.csv", "until_optimum": True,
         "algorithms": {"random": {"replace": True}}, "episodes": {"start_states": 7, "length": 5}}
    path = tmp_path / "sub" / "mine.toml"
    path.parent.mkdir()
    path.write_text(_toml(d))
    p = load_protocol(str(path))
    assert (p.benchmark, p.dataset, p.counting, p.seeds, p.until_optimum) == ("nasbench-graph", "cora", "all", (3, 5), True)
    assert p.data == str((tmp_path / "sub" / "tables" / "x.csv").resolve())  # relative to the file
    assert p.overrides("random") == {"replace": True} and p.episodes.start_states == 7 and p.episodes.length == 5
    assert protocol_from_dict({**GOOD, "benchmark": "nb201-imagenet16"}).dataset == "imagenet16-120"


def test_with_budget_derives_a_separate_protocol():
    p = load_protocol("nb201-analog")
    q = p.with_budget(120)
    assert q.name == "nb201-analog-budget120" and q.id != p.id and q.checkpoints == (50, 100, 120)
    assert p.with_budget(p.budget) is p
    a = Protocol.adhoc("nb201-analog", 50, 2)  # ad-hoc: the name carries a hash of the settings
    assert a.name.startswith("adhoc-nb201-analog-") and (a.seeds, a.budget) == ((0, 1), 50)
    assert Protocol.adhoc("nb201-analog", 50, 5).name == a.name  # the seeds are not a setting
    others = [Protocol.adhoc("nb201-analog", 300, 2), Protocol.adhoc("nb201-analog", 50, 2, counting="all"),
              Protocol.adhoc("nb201-analog", 50, 2, search_metric="analog_accuracy")]
    assert len({a.name, *(o.name for o in others)}) == 4


def test_until_optimum_stops_at_the_global_optimum(analog):
    from harness.runner import Job, execute

    p = Protocol(name="opt", benchmark="nb201-analog", budget=analog.space.size, until_optimum=True)
    rec = execute(Job(p, "random", 1))
    opt, _ = analog.optimum(analog.default_search)
    assert rec.meta["found_optimum"] and rec.trajectory["search"][-1] == opt
    assert (rec.trajectory["search"][:-1] < opt).all() and rec.n_queries < analog.space.size


# --- command line -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mlflow_uri(tmp_path_factory):
    """One SQLite MLflow store for the command-line tests of this module (creating one costs seconds)."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


def test_list_protocols(capsys):
    assert main(["list", "protocols"]) == 0
    out = capsys.readouterr().out
    assert "nb201-cifar10-l2nas" in out and "nasbench-graph-proteins" in out and "nb301" in out


def test_run_and_report_end_to_end(tmp_path, capsys, mlflow_uri):
    argv = ["run", "--protocol", "nb201-analog", "--budget", "150", "--seeds", "2", "--no-progress", "--tracking-uri", mlflow_uri,
            "--algorithm", "random", "examples.toy_episodic:ToyHillClimb"]
    assert main(argv) == 0
    runs = tmp_path / "results" / "runs" / "nb201-analog-budget150-v2"
    files = sorted(runs.glob("*.npz"))
    assert len(files) == 4
    meta = RunRecord.read(str(files[0])).meta
    assert meta["protocol"] == "nb201-analog-budget150" and meta["search_metric"] == "baseline_accuracy"
    assert meta["report_metric"] == "analog_accuracy" and meta["budget"] == 150
    capsys.readouterr()

    out_dir = tmp_path / "report"
    assert main(["report", "--protocol", "nb201-analog", "--budget", "150", "--resamples", "300", "--out", str(out_dir),
                 "--log-mlflow", "--tracking-uri", mlflow_uri]) == 0
    out = capsys.readouterr().out
    assert "4 runs (0 failed" in out and "ToyHillClimb" in out and "random" in out and "#Q" in out
    assert "ERT" in out and "normaltest p" in out and "plots logged to MLflow run" in out
    for f in ("best_so_far.png", "samples_to_optimum.png", "improvement_histograms.png", "initial_vs_improvement.png",
              "checkpoints.csv", "samples_to_optimum.csv", "improvements.csv"):
        assert (out_dir / f).stat().st_size > 0, f
    rows = (out_dir / "checkpoints.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["50", "50", "100", "100", "150", "150"]  # 150 replaces 300

    # the same statistics from the MLflow store (no raw records)
    for f in files:
        f.unlink()
    assert main(["report", "--protocol", "nb201-analog", "--budget", "150", "--resamples", "300", "--source", "mlflow",
                 "--no-plots", "--out", str(tmp_path / "r2"), "--tracking-uri", mlflow_uri, "--algorithm", "ToyHillClimb"]) == 0
    out = capsys.readouterr().out
    assert "2 runs (0 failed" in out and "random" not in out.split("bootstrap resamples")[1]


def test_run_protocol_file_and_option_conflicts(tmp_path, capsys, mlflow_uri):
    path = tmp_path / "tiny.toml"
    path.write_text(_toml({"name": "tiny", "benchmark": "nb201-analog", "budget": 12, "checkpoints": [6, 12], "seeds": [4],
                           "search_metric": "qat_accuracy", "algorithms": {"random": {"replace": True}}}))
    assert main(["run", "--protocol", str(path), "--no-progress", "--tracking-uri", mlflow_uri]) == 0
    (rec,) = [RunRecord.read(str(f)).to_dict() for f in (tmp_path / "results" / "runs" / "tiny-v1").glob("*.npz")]
    assert rec["meta"]["seed"] == 4 and rec["meta"]["hyperparameters"] == {"replace": True}
    assert rec["meta"]["search_metric"] == "qat_accuracy" and len(rec["trajectory"]["search"]) == 12
    capsys.readouterr()
    assert main(["run", "--protocol", str(path), "--counting", "all"]) == 2
    assert "--counting cannot be combined with --protocol" in capsys.readouterr().err
    assert main(["report", "--protocol", "nb201-analog", "--budget", "7"]) == 2
    err = capsys.readouterr().err
    assert "no runs of protocol nb201-analog-budget7-v2" in err and "nas-harness run --protocol nb201-analog --budget 7" in err


def test_protocol_files_are_in_the_built_package():
    """setup.py copies protocols/ into harness/_protocols of the wheel (checked without building)."""
    import ast

    src = (ROOT / "setup.py").read_text()
    assert "BuildPyWithProtocols" in src and '"_protocols"' in src
    ast.parse(src)
    assert "recursive-include protocols *.toml" in (ROOT / "MANIFEST.in").read_text()


def test_installed_copy_is_found(tmp_path, monkeypatch):
    """An installed package (no checkout beside it) finds harness/_protocols."""
    import shutil

    import harness.protocol as hp

    pkg = tmp_path / "site" / "harness"
    (pkg / "_protocols").mkdir(parents=True)
    shutil.copy(ROOT / "protocols" / "nb201-analog.toml", pkg / "_protocols")
    monkeypatch.setattr(hp, "__file__", str(pkg / "protocol.py"))
    assert [d.name for d in hp.protocol_dirs()] == ["_protocols"]
    assert [p.name for p in hp.list_protocols()] == ["nb201-analog"]
    monkeypatch.setenv("NAS_HARNESS_PROTOCOLS", str(ROOT / "protocols"))
    assert len(hp.list_protocols()) == len(list((ROOT / "protocols").glob("*.toml")))
    assert np.all([p.budget > 0 for p in hp.list_protocols()])
