"""The nb301 surrogate benchmark: genotype conversion, batching and caching (stand-in models),
the model-folder layout and registration, the direct backend's feature rows, and (only when
``NAS_HARNESS_NB301`` points at the official model folder) the real surrogate."""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import harness.benchmarks as benchmarks
from harness.benchmarks import get_benchmark, nb301
from harness.benchmarks.nb301 import (
    APIEnsemble,
    ConfigEncoder,
    DirectEnsemble,
    NB301Benchmark,
    genotype_config,
    inspect_model_dir,
    prepare_nb301,
)
from harness.conformance import check_algorithm
from harness.errors import ConfigError, DataError
from harness.oracle import Oracle
from harness.spaces import get_space
from harness.spaces.darts import OPS

S = get_space("darts")
P = "NetworkSelectorDatasetInfo:darts:"
EXAMPLE = (
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
    "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], "
    "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
    "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])"
)


def swapped(a):
    return type(a)(*(tuple(x for k in range(4) for x in (c[2 * k + 1], c[2 * k])) for c in a))


def samples(n, seed=0):
    rng = np.random.default_rng(seed)
    return [S.sample(rng) for _ in range(n)]


def score(genotype_like) -> float:
    """A deterministic stand-in 'accuracy' of a genotype: depends on ops and sources."""
    a = S.canonical(genotype_like) if not hasattr(genotype_like, "normal_concat") else S.canonical(S.from_genotype(genotype_like))
    return 90.0 + sum((i + 1) * (3 * s + o) for c in a for i, (s, o) in enumerate(c)) % 97 / 20.0


# --- stand-ins with the official interfaces -----------------------------------------------------
class StandInAPI:
    """Only ``SurrogateAPI.predict(config, representation, with_noise)``."""

    def __init__(self):
        self.calls = []

    def predict(self, config, representation, with_noise=True):
        self.calls.append((config, representation, with_noise))
        return score(config)


class StandInLoader:
    """``ConfigLoader.query_config_dict(...).get_array()``: the official config dict -> row."""

    def __init__(self, encoder):
        self.encoder = encoder
        self.calls = 0

    def query_config_dict(self, config_dict):
        self.calls += 1
        row = np.full(self.encoder.dim, np.nan)
        for name, value in config_dict.items():
            if name in self.encoder.column:
                row[self.encoder.column[name]] = self.encoder.choices[name].index(value) if name in self.encoder.choices else 0.5
        return type("Config", (), {"get_array": lambda self_: row.copy()})()


class StandInBooster:
    """``predict(X)`` on feature rows: a fixed linear function of the columns, counting calls."""

    def __init__(self, weights, bias=90.0):
        self.w, self.b = np.asarray(weights, dtype=float), bias
        self.calls, self.rows = 0, 0

    def predict(self, X):
        self.calls += 1
        self.rows += len(X)
        return np.asarray(X) @ self.w / 50.0 + self.b


class XGBModel:  # same class name as the official XGBoost member: its query is model.predict(array)
    def __init__(self, loader, booster):
        self.config_loader, self.model = loader, booster


class GNNSurrogateModel:  # a member that only answers one configuration at a time
    def __init__(self):
        self.queries = 0

    def query(self, config_dict):
        self.queries += 1
        return np.array([91.0 + len(config_dict) / 100.0])


class StandInEnsembleAPI:
    """The shape of the official ``SurrogateAPI``: ``.model.ensemble_members`` + ``predict``."""

    def __init__(self, members):
        self.model = type("Ensemble", (), {})()
        self.model.ensemble_members = members
        self.predict_calls = 0

    def predict(self, config, representation, with_noise=True):
        self.predict_calls += 1
        raise AssertionError("the batched path must not call predict")


# --- an official-format configspace.json (NB301's hyperparameters and conditions) -------------------
def configspace_json() -> dict:
    hps = [
        {"name": "CreateImageDataLoader:batch_size", "type": "uniform_int", "log": True, "lower": 64, "upper": 128, "default": 96},
        {"name": "ImageAugmentation:augment", "type": "categorical", "choices": ["True"], "default": "True"},
        {"name": f"{P}layers", "type": "constant", "value": 20},
        {"name": "OptimizerSelector:sgd:momentum", "type": "uniform_float", "log": False, "lower": 0.1, "upper": 0.99, "default": 0.9},
    ]
    conditions = []
    starts = [0, 2, 5, 9]
    for cell in ("normal", "reduce"):
        for k in range(4):
            pairs = [f"{a}_{b}" for a in range(k + 2) for b in range(a + 1, k + 2)]
            if k:
                hps.append({"name": f"{P}inputs_node_{cell}_{k + 2}", "type": "categorical", "choices": pairs, "default": pairs[0]})
            for s in range(k + 2):
                edge = f"{P}edge_{cell}_{starts[k] + s}"
                hps.append({"name": edge, "type": "categorical", "choices": list(OPS), "default": OPS[0]})
                if k:
                    conditions.append({"child": edge, "parent": f"{P}inputs_node_{cell}_{k + 2}", "type": "IN",
                                       "values": [p for p in pairs if str(s) in p.split("_")]})
    rng = np.random.default_rng(0)
    order = rng.permutation(len(hps))  # the encoder must not depend on the file's order
    return {"hyperparameters": [hps[i] for i in order], "conditions": conditions, "forbiddens": [],
            "python_module_version": "0.4.12", "json_format_version": 0.1}


ENCODER = ConfigEncoder(configspace_json())


def write_model_dir(root: Path, ensembles=(("xgb_v1.0", "xgb", 3), ("lgb_runtime_v1.0", "lgb_time", 2), ("gnn_gin_v1.0", "gnn_gin", 2)),
                    member=lambda i, model: pickle.dumps({"member": i})) -> Path:
    """A model folder in the layout of the official nb_models_1.0 (stand-in model files)."""
    for name, model, n in ensembles:
        for i in range(n):
            d = root / name / f"surrogate_model_{i}"
            d.mkdir(parents=True)
            (d / "surrogate_model.model").write_bytes(member(i, model))
            (d / "model_config.json").write_text(json.dumps({"model": model}))
            (d / "data_config.json").write_text(json.dumps({"seed": i}))
    (root / "configspace.json").write_text(json.dumps(configspace_json()))
    return root


# --- genotype -> NB301 configuration ----------------------------------------------------------------
def test_genotype_config_of_the_nb301_example():
    g = S.parse(EXAMPLE)
    cfg = genotype_config(g)
    assert cfg[f"{P}edge_normal_0"] == "sep_conv_3x3" and cfg[f"{P}edge_normal_1"] == "sep_conv_3x3"
    # normal node 4 (k = 2, rows 5..8): ('sep_conv_3x3', 1), ('skip_connect', 0) -> rows 6 and 5
    assert cfg[f"{P}edge_normal_6"] == "sep_conv_3x3" and cfg[f"{P}edge_normal_5"] == "skip_connect"
    assert cfg[f"{P}inputs_node_normal_4"] == "0_1"
    # reduce node 5 (rows 9..13): ('skip_connect', 2), ('max_pool_3x3', 1)
    assert cfg[f"{P}edge_reduce_11"] == "skip_connect" and cfg[f"{P}edge_reduce_10"] == "max_pool_3x3"
    assert cfg[f"{P}inputs_node_reduce_5"] == "1_2"
    assert len(cfg) == 2 * (8 + 3) and f"{P}inputs_node_normal_2" not in cfg
    assert genotype_config(swapped(g)) == cfg


def _official_representations():
    spec = importlib.util.find_spec("nasbench301")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the nasbench301 package is not installed (optional extra [nb301])")
    path = Path(list(spec.submodule_search_locations)[0]) / "representations.py"
    s = importlib.util.spec_from_file_location("_nb301_representations", path)
    mod = importlib.util.module_from_spec(s)
    s.loader.exec_module(mod)  # this module imports only collections; the package is never imported
    return mod


def test_genotype_config_matches_the_official_conversion():
    rep = _official_representations()
    for a in samples(300, seed=1):
        assert rep.convert_genotype_to_config(S.to_genotype(a)) == genotype_config(a)


def test_configspace_encoder_rows():
    enc = ENCODER
    assert enc.dim == 4 + 2 * (14 + 3)
    # ConfigSpace order: unconditional hyperparameters by name, then the conditional ones by name
    assert enc.names[0] == "CreateImageDataLoader:batch_size" and enc.names[-1] == f"{P}edge_reduce_9"
    assert enc.names.index(f"{P}edge_normal_10") < enc.names.index(f"{P}edge_normal_2")
    g = S.parse(EXAMPLE)
    row = enc.encode([g])[0]
    cfg = genotype_config(g)
    for name in enc.names:
        v = row[enc.column[name]]
        if name in cfg:
            assert v == enc.choices[name].index(cfg[name])
        elif "edge_" in name:
            assert v == -1.0  # inactive
    assert np.array_equal(enc.encode([swapped(g)]), enc.encode([g]))
    with pytest.raises(DataError):
        ConfigEncoder({"hyperparameters": configspace_json()["hyperparameters"][:5], "conditions": []})


# --- the benchmark over stand-in surrogates -------------------------------------------------------------
def test_plain_api_cache_and_genotype_objects():
    api = StandInAPI()
    bench = NB301Benchmark({"valid_accuracy": api})
    archs = samples(7, seed=2)
    batch = archs + [swapped(archs[0]), archs[3], swapped(archs[5])]
    v = bench.predict(batch, "valid_accuracy")
    assert v.shape == (10,) and len(api.calls) == 7  # duplicates (in either input order) predicted once
    assert np.allclose(v, [score(a) for a in batch])
    config, representation, with_noise = api.calls[0]
    assert representation == "genotype" and with_noise is False
    assert type(config).__name__ == "Genotype" and config._fields == ("normal", "normal_concat", "reduce", "reduce_concat")
    assert config.normal_concat == [2, 3, 4, 5] and all(isinstance(op, str) and isinstance(s, int) for op, s in config.reduce)
    assert np.array_equal(bench.predict(list(reversed(batch)), "valid_accuracy"), v[::-1])
    assert len(api.calls) == 7 and bench.surrogate_calls == 1  # all from the cache
    with pytest.raises(ConfigError, match="members"):
        bench.predict(archs, "valid_accuracy", rng=np.random.default_rng(0))
    with pytest.raises(ConfigError, match="no metric"):
        bench.predict(archs, "test_accuracy")


def _ensemble_bench():
    boosters = [StandInBooster(np.random.default_rng(i).normal(size=ENCODER.dim)) for i in range(3)]
    loader = StandInLoader(ENCODER)
    gnn = GNNSurrogateModel()
    api = StandInEnsembleAPI([XGBModel(loader, b) for b in boosters] + [gnn])
    return NB301Benchmark({"valid_accuracy": api}), boosters, loader, gnn, api


def test_batched_member_predictions_mean_and_noise():
    bench, boosters, loader, gnn, api = _ensemble_bench()
    archs = samples(12, seed=3)
    v = bench.predict(archs + archs[:4], "valid_accuracy")
    # one batch: each array member called once on 12 rows, the rows built once, the GNN queried per genotype
    assert [(b.calls, b.rows) for b in boosters] == [(1, 12)] * 3
    assert loader.calls == 12 and gnn.queries == 12 and api.predict_calls == 0
    X = np.stack([loader.query_config_dict(genotype_config(a)).get_array() for a in archs])
    X[np.isnan(X)] = -1
    members = np.stack([b.predict(X) for b in boosters] + [[91.0 + 22 / 100.0] * 12])
    assert np.allclose(v[:12], members.mean(axis=0)) and np.array_equal(v[12:], v[:4])
    calls = [b.calls for b in boosters]
    bench.predict(archs, "valid_accuracy")  # all cached: the surrogate is not called again
    assert [b.calls for b in boosters] == calls and bench.surrogate_calls == 1 and bench.predicted == 12
    # official noisy mode: mean + N(0, std of the members), drawn from the given rng only
    n1 = bench.predict(archs, "valid_accuracy", rng=np.random.default_rng(5))
    n2 = bench.predict(archs, "valid_accuracy", rng=np.random.default_rng(5))
    assert np.array_equal(n1, n2) and not np.allclose(n1, v[:12])
    draws = np.stack([bench.predict(archs[:2], "valid_accuracy", rng=np.random.default_rng(s)) for s in range(400)])
    assert np.allclose(draws.mean(axis=0), v[:2], atol=4 * members[:, :2].std(axis=0).max() / 20)
    assert np.allclose(draws.std(axis=0), members[:, :2].std(axis=0), rtol=0.15)


def test_direct_ensemble_checks_members():
    good = [StandInBooster(np.zeros(ENCODER.dim)) for _ in range(2)]
    DirectEnsemble(good, ENCODER)
    wrong_width = StandInBooster(np.zeros(ENCODER.dim))
    wrong_width.n_features = ENCODER.dim + 1
    with pytest.raises(DataError, match="features"):
        DirectEnsemble([wrong_width], ENCODER)
    fixed_col = ENCODER.column["OptimizerSelector:sgd:momentum"]
    splits_on_hp = StandInBooster(np.zeros(ENCODER.dim))
    splits_on_hp.used_features = [ENCODER.arch_columns[0], fixed_col]
    with pytest.raises(DataError, match="momentum"):
        DirectEnsemble([splits_on_hp], ENCODER)


def test_oracle_and_algorithm_conformance_on_nb301():
    from algorithms.random_search import RandomSearch

    bench = NB301Benchmark({"valid_accuracy": DirectEnsemble([StandInBooster(np.random.default_rng(i).normal(size=ENCODER.dim)) for i in range(3)], ENCODER)})
    oracle = Oracle(bench, budget=30)
    archs = samples(20, seed=4)
    oracle.query_batch(archs[:10] + [swapped(a) for a in archs[:5]])
    assert oracle.used == 10 and bench.predicted == 10
    oracle.query_batch(archs[10:])
    t = oracle.trajectory()
    assert list(t["key"]) == [S.key(a) for a in archs] and np.array_equal(t["search"], t["report"])
    assert np.all(np.diff(t["incumbent_search"]) >= 0)
    check_algorithm(lambda: RandomSearch(), bench, budget=40)
    noisy = Oracle(bench, budget=5, noise="sample", rng=np.random.default_rng(0))
    s = noisy.query_batch(archs[:5])
    tr = noisy.trajectory()
    assert not np.allclose(s, tr["report"]) and np.allclose(tr["report"], bench.predict(archs[:5], "valid_accuracy"))


# --- model folder, registration, get_benchmark ---------------------------------------------------------------
def test_inspect_model_dir(tmp_path):
    root = write_model_dir(tmp_path / "nb_models_1.0")
    lay = inspect_model_dir(root)
    assert lay["ensembles"]["valid_accuracy"]["label"] == "xgb_v1.0"  # preferred over gnn_gin
    assert lay["ensembles"]["runtime"]["model"] == "lgb_time"
    assert lay["ensembles"]["valid_accuracy"]["members"] == ["surrogate_model_0", "surrogate_model_1", "surrogate_model_2"]
    assert len(lay["files"]) == (3 + 2 + 2) + (3 + 2)  # data_config.json is read from the first member only
    only = inspect_model_dir(root / "xgb_v1.0")  # one ensemble folder directly
    assert list(only["ensembles"]) == ["valid_accuracy"]
    (root / "xgb_v1.0" / "surrogate_model_0" / "data_config.json").unlink()
    with pytest.raises(DataError, match="surrogate_model_0 lacks a non-empty data_config.json"):
        inspect_model_dir(root)
    (root / "xgb_v1.0" / "surrogate_model_0" / "data_config.json").write_text("{}")
    (root / "xgb_v1.0" / "surrogate_model_1" / "model_config.json").write_text("[]")
    with pytest.raises(DataError, match="surrogate_model_1/model_config.json is not a NB301 model config"):
        inspect_model_dir(root)
    (root / "xgb_v1.0" / "surrogate_model_1" / "model_config.json").write_text('{"model": "xgb"}')
    (root / "xgb_v1.0" / "surrogate_model_2" / "surrogate_model.model").write_bytes(b"")
    with pytest.raises(DataError, match="surrogate_model.model"):
        inspect_model_dir(root)
    with pytest.raises(DataError, match="does not exist"):
        inspect_model_dir(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no NB301 surrogate ensemble"):
        inspect_model_dir(tmp_path / "empty")
    # members nested deeper, configs kept at the ensemble level: found as nasbench301.load_ensemble finds them
    nested = tmp_path / "nested" / "xgb_v1.0"
    for i in range(2):
        (nested / "run" / f"m{i}").mkdir(parents=True)
        (nested / "run" / f"m{i}" / "surrogate_model.model").write_bytes(b"x")
    (nested / "model_config.json").write_text('{"model": "xgb"}')
    with pytest.raises(DataError, match="lacks a non-empty data_config.json"):
        inspect_model_dir(nested.parent)
    (nested / "data_config.json").write_text("{}")
    lay = inspect_model_dir(nested.parent)["ensembles"]["valid_accuracy"]
    assert lay["label"] == "xgb_v1.0" and lay["members"] == ["run/m0", "run/m1"]
    rt = write_model_dir(tmp_path / "rt", ensembles=(("lgb_runtime_v1.0", "lgb_time", 1),))
    with pytest.raises(DataError, match="accuracy ensemble"):
        inspect_model_dir(rt)


def test_member_files_are_read_with_a_restricted_unpickler(tmp_path):
    root = write_model_dir(tmp_path / "m", ensembles=(("xgb_v1.0", "xgb", 1),),
                           member=lambda i, model: pickle.dumps(Counter(a=1)))
    info = inspect_model_dir(root)["ensembles"]["valid_accuracy"]
    with pytest.raises(DataError, match="refusing to load collections.Counter"):
        nb301.load_direct(info, str(root))


@pytest.fixture
def fresh_registry(monkeypatch):
    monkeypatch.setattr(benchmarks, "_CACHE", {})


def test_prepare_registers_and_get_benchmark_uses_it(tmp_path, monkeypatch, fresh_registry):
    with pytest.raises(ConfigError, match="data prepare nb301"):
        get_benchmark("nb301")
    root = write_model_dir(tmp_path / "nb_models_1.0")
    msg = prepare_nb301(root)
    reg_file = nb301.registration_path()
    assert str(reg_file) in msg and "xgb_v1.0" in msg and reg_file.parent == Path(os.environ["NAS_HARNESS_CACHE"])
    assert json.loads(reg_file.read_text())["root"] == str(root.resolve())
    loaded = []

    def fake_direct(info, model_dir):
        loaded.append((info["label"], model_dir))
        return DirectEnsemble([StandInBooster(np.ones(ENCODER.dim))] * 2, ENCODER)

    monkeypatch.setattr(nb301, "load_direct", fake_direct)
    bench = get_benchmark("nb301")
    assert sorted(loaded) == [("lgb_runtime_v1.0", str(root.resolve())), ("xgb_v1.0", str(root.resolve()))]
    assert bench.name == "nb301" and bench.version == "nb301-xgb_v1.0-v1" and bench.dataset == "cifar10"
    assert bench.metrics == ("valid_accuracy", "runtime") and not bench.maximize("runtime")
    assert bench.space.id == "darts-v1" and not hasattr(bench, "optimum")
    checks = nb301.check_nb301()
    assert [(c, ok) for c, ok, _ in checks] == [("model folder", True), ("files unchanged since registration", True),
                                                ("configspace.json", True)]
    (root / "xgb_v1.0" / "surrogate_model_0" / "data_config.json").write_text('{"seed": 12345}')
    assert nb301.check_nb301()[1][:2] == ("files unchanged since registration", False)
    assert "surrogate_model_0/data_config.json changed" in nb301.check_nb301()[1][2]
    reg_file.write_text("{not json")
    with pytest.raises(DataError, match="corrupt"):
        nb301.registration()
    monkeypatch.setenv("NAS_HARNESS_NB301_BACKEND", "nope")
    with pytest.raises(ConfigError, match="NAS_HARNESS_NB301_BACKEND"):
        get_benchmark("nb301", data=str(root))


def test_official_backend_restores_global_rngs():
    np.random.seed(123)
    before = np.random.random()
    np.random.seed(123)
    with nb301._global_rngs_preserved():
        np.random.seed(0)  # what the official loader does
        np.random.random()
    assert np.random.random() == before


# --- with xgboost installed: real boosters in the official layout ------------------------------------------------
def test_direct_backend_with_real_xgboost_models(tmp_path, fresh_registry):
    xgb = pytest.importorskip("xgboost", reason="xgboost not installed (optional extra [nb301])")
    rng = np.random.default_rng(0)
    train = samples(300, seed=7)
    X = ENCODER.encode(train)
    y = np.array([score(a) for a in train])
    boosters = [xgb.train({"max_depth": 3, "seed": i, "nthread": 1}, xgb.DMatrix(X, label=y + rng.normal(0, 0.1, len(y))), 20) for i in range(3)]
    root = write_model_dir(tmp_path / "nb_models_1.0", ensembles=(("xgb_v1.0", "xgb", 3),),
                           member=lambda i, model: pickle.dumps(boosters[i]))
    bench = get_benchmark("nb301", data=str(root))
    test = samples(50, seed=8)
    expect = np.mean([b.predict(xgb.DMatrix(ENCODER.encode(test))) for b in boosters], axis=0)
    assert np.allclose(bench.predict(test, "valid_accuracy"), expect)
    assert bench.surrogate_calls == 1


# --- the real surrogate ---------------------------------------------------------------------------------------
def test_real_nb301_surrogate(fresh_registry):
    root = os.environ.get("NAS_HARNESS_NB301")
    if not root:
        pytest.skip("NAS_HARNESS_NB301 is not set (path of the official NB301 model folder, e.g. nb_models_1.0)")
    bench = get_benchmark("nb301", data=root)
    archs = [S.parse(EXAMPLE)] + samples(100, seed=9)
    v = bench.predict(archs, "valid_accuracy")
    assert np.all((v > 80) & (v < 100)), v
    one_by_one = nb301.load(data=root)
    assert np.allclose([one_by_one.predict([a], "valid_accuracy")[0] for a in archs[:10]], v[:10])
    print(f"\nNB301 example genotype: {v[0]:.3f}% validation accuracy; 100 random: mean {v[1:].mean():.3f}, max {v[1:].max():.3f}")


def test_bench_command_reports_identical_batched_values(monkeypatch, capsys):
    import argparse

    from harness.bench import nb301 as bench_nb301

    monkeypatch.setattr(nb301, "load", lambda data=None: NB301Benchmark(
        {"valid_accuracy": DirectEnsemble([StandInBooster(np.random.default_rng(i).normal(size=ENCODER.dim)) for i in range(2)], ENCODER)}))
    p = argparse.ArgumentParser()
    bench_nb301.add_arguments(p)
    assert bench_nb301.main(p.parse_args(["--n", "30"])) == 0
    out = capsys.readouterr().out
    assert "max |batched - one by one| = 0;" in out and "cached identical: True" in out


def test_data_cli_prepare_and_verify_nb301(tmp_path, capsys):
    from harness.cli import main

    assert main(["data", "verify", "nb301"]) == 0
    assert "nb301: missing" in capsys.readouterr().out
    root = write_model_dir(tmp_path / "nb_models_1.0")
    assert main(["data", "prepare", "nb301", str(root)]) == 0
    out = capsys.readouterr().out
    assert "nb301: registered NB-301 surrogate models" in out and "ok   files unchanged since registration" in out
    assert main(["data", "prepare", "nb301", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
