"""Trained agents as files (harness.agents): save, load, transfer, run keys, bad files.

Select with ``-k checkpoint``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from algorithms.apex import ApeX
from algorithms.apex.artifact import load_apex_agent
from algorithms.l2nas import L2NAS, L2NASDarts
from harness import agents
from harness.cli import main
from harness.errors import BudgetExhausted, ConfigError, DataError
from harness.oracle import Oracle

TINY = ApeX.test_hyperparameters


def _run(algo, bench, budget=40, seed=0):
    oracle = Oracle(bench, budget=budget)
    try:
        algo.run(oracle.view(), np.random.default_rng(seed))
    except BudgetExhausted:
        pass
    return oracle


def test_checkpoint_apex_round_trip_gives_identical_actions(analog, tmp_path):
    path = tmp_path / "apex.pt"
    src = ApeX(**TINY, save_agent=str(path))
    o1 = _run(src, analog)
    assert path.is_file() and o1.training_queries > 0
    state, meta = agents.load(str(path), "apex", analog.space.id)
    assert meta["training_queries"] == o1.training_queries and meta["network"]["latent"] == TINY["latent"]
    net, table, n = load_apex_agent(state, meta, analog.space, src.config)
    assert n == src.config.n_neighbours
    # the same observations (real ones: start states and their neighbours) -> the same Q-values and actions
    from algorithms.apex.env import IncrementalNAS

    env = IncrementalNAS(analog.space, Oracle(analog, budget=1).training(), 16, n, 8, table=table, rng=np.random.default_rng(5))
    env.reset()
    x, m = torch.from_numpy(table.encode(env.obs_ids)), torch.from_numpy(env.obs_ids > 0)
    with torch.no_grad():
        q_src, q_dst = src.net_(x, m), net(x, m)
    assert torch.equal(q_src, q_dst)
    assert torch.equal(q_src.argmax(1), q_dst.argmax(1))
    assert not torch.allclose(q_src, torch.zeros_like(q_src))
    # the same seed with the loaded agent: no training, the same evaluation queries
    dst = ApeX(**TINY, agent=str(path))
    o2 = _run(dst, analog)
    assert o2.training_queries == 0
    np.testing.assert_array_equal(o1.trajectory()["index"], o2.trajectory()["index"])
    assert dst.run_meta()["source_training_queries"] == o1.training_queries
    assert dst.run_meta()["agent"]["checksum"] == agents.checksum(str(path))


def test_checkpoint_file_is_tensors_and_json_only(analog, tmp_path):
    path = tmp_path / "a.pt"
    _run(ApeX(**TINY, save_agent=str(path)), analog)
    d = torch.load(path, weights_only=True)  # no pickled objects
    assert d["format"] == agents.FORMAT and isinstance(d["meta"], str)
    meta = json.loads(d["meta"])
    assert meta["algorithm"] == "apex" and meta["space"] == analog.space.id and meta["config"]["train_steps"] == 96
    assert all(isinstance(v, torch.Tensor) for v in d["state"]["net"].values())


def test_checkpoint_l2nas_round_trip_and_fine_tune_on_another_dataset(analog, tmp_path):
    from harness.benchmarks import get_benchmark

    path = tmp_path / "l2.pt"
    src = L2NAS(**L2NAS.test_hyperparameters, save_agent=str(path))
    o1 = _run(src, analog)
    state, meta = agents.load(str(path), "l2nas", analog.space.id)
    assert meta["training_queries"] == o1.used and meta["network"]["hidden"] == 16
    # another registered configuration of the family loads it; before fine-tuning its actor is the source's
    dst = L2NASDarts(**L2NASDarts.test_hyperparameters, agent=str(path), max_steps=1)
    gen = torch.Generator().manual_seed(0)
    agent = dst._start_agent(meta["network"]["dim"], 99, analog.space, gen)
    s = torch.rand(4, meta["network"]["dim"])
    with torch.no_grad():
        assert torch.equal(agent.actor(s), src.agent_.actor(s))
        assert torch.equal(agent.critic(s), src.agent_.critic(s))
    o2 = _run(dst, get_benchmark("nb201", "cifar100"))
    assert o2.training_queries == 0 and dst.run_meta()["source_training_queries"] == o1.used


def _protocols(tmp_path) -> tuple[Path, Path]:
    tiny = "\n".join(f"{k} = {v}" for k, v in TINY.items())
    text = f"""name = "{{name}}"
version = 1
description = "checkpoint test"
benchmark = "nb201"
dataset = "{{dataset}}"
search_metric = "valid_accuracy"
report_metric = "valid_accuracy"
budget = 30
checkpoints = [30]
counting = "unique"
noise = "mean"
seeds = 2

[algorithms.apex]
{tiny}
"""
    src, dst = tmp_path / "src.toml", tmp_path / "dst.toml"
    src.write_text(text.format(name="ck-src", dataset="cifar10"))
    dst.write_text(text.format(name="ck-dst", dataset="cifar100"))
    return src, dst


def _records(results: Path, protocol_id: str) -> list[dict]:
    from harness.record import RunRecord

    return [RunRecord.read(str(p)).meta for p in sorted((results / "runs" / protocol_id).glob("*.npz"))]


def test_checkpoint_transfer_run_charges_no_training_queries(tmp_path, monkeypatch, capsys):
    import os

    results = Path(os.environ["NAS_HARNESS_RESULTS"])
    src, dst = _protocols(tmp_path)
    assert main(["run", "--protocol", str(src), "--algorithm", "apex", "--save-agent", "--workers", "1",
                 "--no-progress"]) == 0
    made = _records(results, "ck-src-v1")
    assert len(made) == 2 and all(m["training_queries"] > 0 for m in made)
    files = {m["seed"]: m["saved_agent"]["path"] for m in made}
    assert files[0] != files[1] and all(Path(f).is_file() for f in files.values())
    # every seed trained its own agent (its own seed stream): different weights
    assert agents.checksum(files[0]) != agents.checksum(files[1])
    # the agent is an MLflow artifact of the run that made it
    assert any(p.name == Path(files[0]).name for p in (results / "mlartifacts").rglob("*.pt"))

    template = "{results}/agents/ck-src-v1/apex-s{seed}.pt"
    assert main(["run", "--protocol", str(dst), "--algorithm", "apex", "--agent", template, "--workers", "1",
                 "--no-progress"]) == 0
    used = {m["seed"]: m for m in _records(results, "ck-dst-v1")}
    src_q = {m["seed"]: m["training_queries"] for m in made}
    for seed, m in used.items():
        assert m["training_queries"] == 0  # nothing trained on the target
        assert m["source_training_queries"] == src_q[seed]  # the source's cost, recorded apart
        assert m["agent"]["source"]["seed"] == seed and m["agent"]["source"]["dataset"] == "cifar10"
        assert m["agent"]["checksum"] == agents.checksum(files[seed])
        assert m["hyperparameters"]["agent"] == template  # one setting for every seed (one variant)


def test_checkpoint_content_enters_the_run_key(analog, tmp_path):
    from harness.protocol import Protocol
    from harness.runner import Job

    path = tmp_path / "agent.pt"
    _run(ApeX(**TINY, save_agent=str(path)), analog, seed=0)
    p = Protocol.adhoc("nb201-analog", 30, 1)
    job = lambda: Job(p, "apex", 0, {**TINY, "agent": str(path)})  # noqa: E731
    k1 = job().key()
    assert job().key() == k1  # same file, same key
    _run(ApeX(**TINY, save_agent=str(path)), analog, seed=1)  # retrained under the same name
    assert job().key() != k1
    # runs that read no file keep their keys: no input_files entry in the hash
    from harness import identity

    assert identity.input_files_identity("random", {}, 0) == {}


def test_checkpoint_bad_paths_and_files_give_one_line(analog, tmp_path, capsys):
    src, dst = _protocols(tmp_path)
    assert main(["run", "--protocol", str(dst), "--algorithm", "apex", "--agent", str(tmp_path / "none-s{seed}.pt"),
                 "--workers", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not found" in err[0]
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(DataError, match="not a readable nas-harness agent file"):
        agents.load(str(junk))
    other = tmp_path / "other.pt"
    torch.save({"net": {"w": torch.zeros(2)}}, other)  # a torch file, not an agent
    with pytest.raises(DataError, match="not a nas-harness agent file"):
        agents.load(str(other))
    l2 = tmp_path / "l2.pt"
    _run(L2NAS(**L2NAS.test_hyperparameters, save_agent=str(l2)), analog, budget=20)
    with pytest.raises(ConfigError, match="holds a 'l2nas' agent"):
        ApeX(**TINY, agent=str(l2)).run(Oracle(analog, budget=5).view(), np.random.default_rng(0))
    with pytest.raises(ConfigError, match="space"):
        agents.load(str(l2), "l2nas", "nb101-v1")
    assert main(["run", "--protocol", str(src), "--algorithm", "apex", "--save-agent", str(tmp_path / "one.pt"),
                 "--workers", "1", "--no-progress"]) == 2
    assert "{seed}" in capsys.readouterr().err
    assert main(["run", "--protocol", str(src), "--algorithm", "random", "--agent", str(l2), "--no-progress"]) == 2
    assert "none of the algorithms" in capsys.readouterr().err


def test_checkpoint_statistics_are_over_agents_not_evaluation_seeds():
    from harness.record import RunRecord

    def rec(key, best, agent=None):
        meta = {"run_key": key, **({"agent": {"checksum": agent}} if agent else {})}
        return RunRecord(meta=meta, trajectory={"incumbent_report": np.array([best])})

    # one agent evaluated with three seeds, two agents that trained in their own runs
    recs = [rec("a", 1.0, "sha256:x"), rec("b", 3.0, "sha256:x"), rec("c", 2.0, "sha256:x"), rec("d", 5.0), rec("e", 7.0)]
    vals = agents.per_agent(recs, lambda r: r.trajectory["incumbent_report"][-1])
    np.testing.assert_array_equal(vals, [2.0, 5.0, 7.0])
    assert list(agents.by_agent(recs)) == ["sha256:x", "d", "e"]
