"""Run identity: a result is reused only for exactly the same experiment (harness.identity).

Every setting that can change a trajectory changes the run key: budget, counting, metric, the
data file's *content*, start states, a hyperparameter, the algorithm's source; an identical
command reuses. Records carry their provenance; reports keep only the experiment asked for.
"""

from __future__ import annotations

import importlib
import json
import sys
from dataclasses import replace

import numpy as np
import pytest

from harness.cli import main
from harness.protocol import EpisodeSettings, Protocol, load_protocol
from harness.runner import Job, execute
from harness.sweep import read_records, run_sweep


def _nb201_table(path, analog, scale=1.0):
    """An NB201 per-cell table (the NATS export's layout) made of the analog numbers."""
    import pandas as pd

    space = analog.space
    pd.DataFrame({
        "ArchitectureString": [space.format(space.arch_at(i)) for i in range(space.size)],
        "CIFAR10TestAccuracy200Epochs": analog.mean("baseline_accuracy") * scale,
    }).to_csv(path, index=False)
    return str(path)


def test_every_trajectory_setting_changes_the_run_key():
    p = Protocol.adhoc("nb201-analog", 50, 1)
    base = Job(p, "evolution", 0).key()
    assert Job(p, "evolution", 0).key() == base  # identical: the same run
    changed = {
        "budget": Job(replace(p, budget=60), "evolution", 0),
        "counting": Job(replace(p, counting="all"), "evolution", 0),
        "search metric": Job(replace(p, search_metric="analog_accuracy"), "evolution", 0),
        "report metric": Job(replace(p, report_metric="baseline_accuracy"), "evolution", 0),
        "noise": Job(replace(p, noise="sample"), "evolution", 0),
        "start states": Job(replace(p, episodes=EpisodeSettings(start_states=10, start_seed=3)), "evolution", 0),
        "stop rule": Job(replace(p, until_optimum=True), "evolution", 0),
        "hyperparameter": Job(p, "evolution", 0, {"population": 11}),
        "protocol override": Job(replace(p, algorithms={"evolution": {"sample_size": 4}}), "evolution", 0),
        "seed": Job(p, "evolution", 1),
        "algorithm": Job(p, "random", 0),
    }
    keys = {what: j.key() for what, j in changed.items()}
    assert base not in keys.values(), [w for w, k in keys.items() if k == base]
    assert len(set(keys.values())) == len(keys)
    # what cannot change a trajectory does not change the key
    same = [replace(p, checkpoints=(10, 50)), replace(p, description="other words"), replace(p, seeds=(0, 5)),
            replace(p, algorithms={"random": {"replace": True}})]
    assert {Job(q, "evolution", 0).key() for q in same} == {base}
    # an explicit hyperparameter equal to the default is the same run
    assert Job(p, "evolution", 0, {"population": Job(p, "evolution", 0).resolved_hyperparameters()["population"]}).key() == base


def test_the_data_files_content_not_its_path_is_in_the_key(tmp_path, analog):
    a = _nb201_table(tmp_path / "a.csv", analog)
    (tmp_path / "copy").mkdir()
    b = _nb201_table(tmp_path / "copy" / "b.csv", analog)
    scaled = _nb201_table(tmp_path / "scaled.csv", analog, scale=0.01)  # accuracies as fractions
    p = load_protocol("nb201-cifar10")
    key = {name: Job(replace(p, data=path), "random", 0).key() for name, path in
           (("a", a), ("b", b), ("scaled", scaled))}
    assert key["a"] == key["b"]  # same numbers under another path: the same experiment
    assert key["scaled"] != key["a"]


def test_a_changed_data_file_makes_new_runs_and_the_report_picks_by_data(tmp_path, analog, capsys):
    good = _nb201_table(tmp_path / "good.csv", analog)
    bad = _nb201_table(tmp_path / "bad.csv", analog, scale=0.01)
    argv = ["run", "--protocol", "nb201-cifar10", "--budget", "30", "--seeds", "2", "--no-progress", "--workers", "1"]
    assert main(argv + ["--data", bad]) == 0
    assert main(argv + ["--data", good]) == 0
    out = capsys.readouterr().out
    assert "2 runs done, 0 reused" in out.split("raw records")[1]  # the second command made new runs
    assert main(argv + ["--data", good]) == 0
    assert "0 runs done, 2 reused" in capsys.readouterr().out
    p = load_protocol("nb201-cifar10").with_budget(30)
    assert len(read_records(p.id)) == 4
    # the report must not pool the two experiments: without --data it asks which
    assert main(["report", "--protocol", "nb201-cifar10", "--budget", "30", "--no-plots",
                 "--out", str(tmp_path / "r")]) == 2
    assert "pass --data PATH" in capsys.readouterr().err
    assert main(["report", "--protocol", "nb201-cifar10", "--budget", "30", "--no-plots", "--data", good,
                 "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "2 runs (0 failed" in out and "0.9" not in out.split("checkpoint")[-1][:200]


_ALGORITHM_HEAD = '''
from dataclasses import dataclass
from algorithms.base import Algorithm, field

@dataclass
class Cfg:
    n: int = field(3, "unused")
'''  # a plugin algorithm's imports and config, for the tests below


def test_editing_a_module_the_algorithm_imports_lazily_is_a_new_experiment(tmp_path, monkeypatch):
    """An algorithm package whose search code is imported inside ``run`` (as Ape-X imports its
    training code on first use, to list without torch): editing that code must change the run
    key. The key once hashed only the package's ``__init__``, and a rerun reused the old
    records."""
    pkg = tmp_path / "mylazy_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(_ALGORITHM_HEAD + '''
class Lazy(Algorithm):
    name = "lazy"
    Config = Cfg

    def run(self, oracle, rng):
        from .search import go

        go(oracle, rng)
''')
    impl = pkg / "search.py"
    impl.write_text("def go(oracle, rng):\n    while True:\n        oracle.query(oracle.space.sample(rng))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    p = Protocol.adhoc("nb201-analog", 20, 2)
    jobs = lambda: [Job(p, "mylazy_pkg:Lazy", s) for s in p.seeds]  # noqa: E731
    from harness import identity

    assert run_sweep(jobs(), log=False).ran == 2
    identity._source_hash.cache_clear()  # now that .search has been imported: the same key
    assert run_sweep(jobs(), log=False).skipped == 2
    impl.write_text(impl.read_text() + "# edited\n")
    importlib.reload(sys.modules["mylazy_pkg.search"])
    identity._source_hash.cache_clear()
    res = run_sweep(jobs(), log=False)
    assert res.ran == 2 and res.skipped == 0


def test_apex_run_keys_cover_its_training_code():
    """Ape-X imports train/evaluate/artifact inside its run: all its modules are hashed."""
    from algorithms.registry import get_algorithm_class
    from harness import identity

    mod = sys.modules[get_algorithm_class("apex").__module__]
    names = {m.__name__ for m in identity._used_modules(mod, "algorithms")}
    assert {"algorithms.apex.train", "algorithms.apex.agent", "algorithms.apex.replay", "algorithms.apex.env",
            "algorithms.apex.evaluate", "algorithms.apex.artifact"} <= names


def test_an_edited_algorithm_is_a_new_experiment(tmp_path, monkeypatch):
    mod = tmp_path / "myalgos_edit.py"
    src = _ALGORITHM_HEAD + '''
class Mine(Algorithm):
    name = "mine"
    Config = Cfg

    def run(self, oracle, rng):
        while True:
            oracle.query(oracle.space.sample(rng))
'''
    mod.write_text(src)
    monkeypatch.syspath_prepend(str(tmp_path))
    p = Protocol.adhoc("nb201-analog", 20, 2)
    jobs = [Job(p, "myalgos_edit:Mine", s) for s in p.seeds]
    assert run_sweep(jobs, log=False).ran == 2
    assert run_sweep([Job(p, "myalgos_edit:Mine", s) for s in p.seeds], log=False).skipped == 2
    mod.write_text(src.replace("oracle.query(oracle.space.sample(rng))", "oracle.query(oracle.space.sample(rng))  # v2"))
    importlib.reload(sys.modules["myalgos_edit"])
    res = run_sweep([Job(p, "myalgos_edit:Mine", s) for s in p.seeds], log=False)
    assert res.ran == 2 and res.skipped == 0
    # the report keeps the records of the current source only, and says why the others are out
    kept, notes = __import__("harness.identity", fromlist=["x"]).select_current(read_records(p.id), p)
    assert len(kept) == 2 and any("earlier version of its source" in n for n in notes)


def test_rerun_makes_the_runs_again(tmp_path):
    p = Protocol.adhoc("nb201-analog", 20, 2)
    jobs = [Job(p, "random", s) for s in p.seeds]
    first = run_sweep(jobs, log=False)
    again = run_sweep(jobs, log=False, rerun=True)
    assert (first.ran, again.ran, again.skipped) == (2, 2, 0)
    a = {r.run_key: r.trajectory["index"].tolist() for r in first.records}
    assert a == {r.run_key: r.trajectory["index"].tolist() for r in again.records}  # same identity, same run


def test_records_carry_provenance_and_identity(analog):
    p = Protocol.adhoc("nb201-analog", 10, 1)
    rec = execute(Job(p, "random", 0))
    m = rec.meta
    from harness.record import SCHEMA_VERSION

    assert m["schema_version"] == SCHEMA_VERSION
    assert m["data_checksum"] == analog.checksum and m["data_checksum"].startswith("sha256:")
    assert m["algorithm_class"] == "algorithms.random_search:RandomSearch" and m["algorithm_source"].startswith("sha256:")
    prov = m["provenance"]
    assert prov["package_version"] and prov["libraries"]["numpy"] == np.__version__
    assert len(prov["git_commit"]) in (0, 40) and prov["git_dirty"] in (True, False, None)


def test_records_of_another_schema_are_refused_or_left_out_with_one_line(tmp_path):
    from harness.errors import DataError
    from harness.identity import select_current
    from harness.record import RunRecord

    p = Protocol.adhoc("nb201-analog", 10, 1)
    rec = execute(Job(p, "random", 0))
    d = json.loads(json.dumps(rec.to_dict()))
    newer = dict(d, meta={**d["meta"], "schema_version": 99})
    with pytest.raises(DataError, match="newer than this nas-harness"):
        RunRecord.from_dict(newer)
    with pytest.raises(DataError, match="newer than this nas-harness"):  # the same in the npz file
        RunRecord.decode(RunRecord(meta=newer["meta"], trajectory=rec.trajectory).encode())
    with pytest.raises(DataError, match="not a run record"):
        RunRecord.decode(b"\x00garbage")
    broken = dict(d, meta={k: v for k, v in d["meta"].items() if k != "data_checksum"})
    with pytest.raises(DataError, match="'data_checksum'"):
        RunRecord.from_dict(broken)
    old = RunRecord.from_dict(dict(d, meta={k: v for k, v in d["meta"].items() if k != "schema_version"}))
    kept, notes = select_current([old, rec], p)
    assert kept == [rec] and "older record schema" in notes[0]


def test_bonas_with_two_samplers_gives_two_named_mlflow_runs(tmp_path):
    from harness import tracking

    p = Protocol.adhoc("nb201-analog", 12, 1, description="two BONAS samplers")
    small = {"n_init": 5, "epochs": 2, "pool_size": 20, "retrain_every": 5, "rl_samples": 20}
    jobs = [Job(p, "bonas", 0, {**small, "sampler": s}) for s in ("ea", "rl")]
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    res = run_sweep(jobs, tracking_uri=uri)
    assert res.ran == 2 and res.logged == 2
    df = tracking.search_runs(p.name, uri)
    assert df["tags.mlflow.runName"].nunique() == 2
    assert all(n.startswith("bonas(") and "sampler=" in n and n.endswith("-s0") for n in df["tags.mlflow.runName"])
    assert set(df["tags.variant"]) == {n[:-3] for n in df["tags.mlflow.runName"]}
    for tag in ("algorithm", "benchmark", "protocol", "seed", "run_key", "git_commit", "experiment_key"):
        assert f"tags.{tag}" in df, tag
    from mlflow.tracking import MlflowClient

    exp = MlflowClient(uri).get_experiment_by_name(tracking.experiment_name(p.name))
    assert exp.tags["mlflow.note.content"] == "two BONAS samplers"
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"  # the UI opens on the runs
