"""The YAHPO surrogate of NB301 (``nb301-yahpo``) on the real published files.

Needs ``../shared/data/nb301-yahpo`` (YAHPO Gym's nb301 v2 files) and onnxruntime (extra
``[nb301-yahpo]``); each test that needs them skips with the reason otherwise. Checked: the
encoding of DARTS genotypes (valid inputs, round trip through config_space_v2.json, the column
order against the model itself), determinism, batched = one-by-one, documented ranges, the
DARTS-V2 cell against random cells, and that the search algorithms run on the protocol.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace

import numpy as np
import pytest

from harness.benchmarks import nb301_yahpo as Y
from harness.errors import ConfigError, DataError
from harness.spaces import get_space
from tests.conftest import SHARED

DIR = SHARED / "data" / "nb301-yahpo"
S = get_space("darts")
# DARTS (second order) genotype of the DARTS paper (Liu et al. 2019), its published genotypes.py
DARTS_V2 = (
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
    "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], "
    "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
    "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])"
)


@pytest.fixture(scope="module")
def folder():
    if not (DIR / "model_v2.onnx").is_file():
        pytest.skip(f"reference data absent: {DIR} (YAHPO Gym's nb301 surrogate files) not found")
    pytest.importorskip("onnxruntime", reason="onnxruntime not installed (optional extra [nb301-yahpo])")
    return str(DIR)


@pytest.fixture(scope="module")
def bench(folder):
    return Y.YahpoNB301Benchmark(folder)


def samples(n, seed=0):
    rng = np.random.default_rng(seed)
    return [S.sample(rng) for _ in range(n)]


def edge_cases():
    """Cells at the corners of the space: every op on every edge; every node fed by the two
    inputs; every node fed by its two nearest predecessors; mixed."""
    out = []
    low = lambda op: tuple((s, op) for k in range(4) for s in (0, 1))  # noqa: E731
    high = lambda op: tuple((s, op) for k in range(4) for s in (k, k + 1))  # noqa: E731
    for op in range(7):
        out += [(low(op), low(op)), (high(op), high(op)), (low(op), high(6 - op)), (high(op), low((op + 3) % 7))]
    return out


# --- no data needed ----------------------------------------------------------------------------------
def test_metric_names_and_epochs():
    assert Y.parse_metric("val_accuracy") == ("val_accuracy", 98)
    assert Y.parse_metric("runtime_12ep") == ("runtime", 12)
    assert Y.parse_metric("model_parameters_1ep") == ("model_parameters", 1)
    names = Y.metric_names()
    assert len(names) == 4 * 98 and len(set(names)) == len(names) and names[:4] == Y.OUTPUTS
    for bad in ("valid_accuracy", "val_accuracy_98ep", "val_accuracy_0ep", "runtime_99ep", "test_accuracy"):
        with pytest.raises(ConfigError, match="val_accuracy_12ep"):
            Y.parse_metric(bad)


def test_missing_files_and_folder_are_one_line_errors(tmp_path):
    with pytest.raises(DataError, match="is not a folder"):
        Y.YahpoNB301Benchmark(tmp_path / "nope")
    (tmp_path / "model_v2.onnx").write_bytes(b"x")
    with pytest.raises(DataError, match="lacks encoding_v2.json, param_set_v2.R, config_space_v2.json"):
        Y.YahpoNB301Benchmark(tmp_path)
    with pytest.raises(ConfigError, match="needs its files: pass --data DIR"):
        Y.load()


def test_protocol_and_registry_know_the_benchmark():
    from harness.benchmarks import list_benchmarks
    from harness.protocol import load_protocol

    assert "nb301-yahpo" in list_benchmarks()
    p = load_protocol("nb301-yahpo")
    assert (p.benchmark, p.search_metric, p.report_metric, p.noise) == ("nb301-yahpo", "val_accuracy", "val_accuracy", "mean")
    assert p.checkpoints == (150, 200, 300, 400, 800, 1000) and p.episodes.start_states == 10000 and p.episodes.length == 32
    assert "YAHPO surrogate of NB301" in p.description and "no test metric" in p.description


# --- the files ------------------------------------------------------------------------------------------
def test_onnxruntime_missing_names_the_extra(folder, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ConfigError, match=r"pip install 'nas-harness\[nb301-yahpo\]'"):
        Y.YahpoNB301Benchmark(folder)


def test_column_order_is_the_models(bench):
    """The model's embedding tables: 8 codes (7 ops + #na#) for the 28 edge columns, then 4, 7,
    11, 4, 7, 11 for the input-node columns; a code past a table is refused. This is the order of
    param_set_v2.R (and excludes config_space_v2.json's, whose 5th column is an input node)."""
    enc = bench.encoder
    sizes = [len(enc.codes[n]) for n in enc.columns]
    assert sizes == [8] * 28 + [4, 7, 11] * 2
    base = enc.encode([S.sample(np.random.default_rng(0))])
    for j, n in enumerate(sizes):
        x = base.copy()
        x[0, j] = n - 1
        bench.run_model(x, [98])
        x[0, j] = n
        with pytest.raises(Exception, match="out of data bounds|indices"):
            bench.run_model(x, [98])
    cs = json.loads((DIR / "config_space_v2.json").read_text())
    cs_order = [h["name"] for h in cs["hyperparameters"] if h["name"] != "epoch"]
    assert [len(enc.codes[n]) for n in cs_order] != sizes


def test_column_order_explains_parameter_counts_better_than_sorted_names(bench):
    """Parameter counts of a DARTS network are (almost) a linear function of its cells' op
    counts; the surrogate's ``model_parameters`` follows them far better with the columns in
    param_set_v2.R order than with the names sorted (encoding_v2.json's order), where edges
    10..13 and 2..9 trade places."""
    archs = samples(2000, seed=3)
    F = np.zeros((len(archs), 15))
    for r, a in enumerate(archs):
        for c, cell in enumerate(a):
            for _, op in cell:
                F[r, 7 * c + op] += 1
    F[:, 14] = 1.0
    enc = bench.encoder
    X = enc.encode(archs)
    r2 = {}
    for name, order in (("param_set", enc.columns), ("sorted", sorted(enc.columns))):
        perm = [enc.column[n] for n in order]  # model column j reads our column perm[j]
        y = bench.run_model(X[:, perm], np.full(len(archs), 98))[:, 3].astype(float)
        coef, *_ = np.linalg.lstsq(F, y, rcond=None)
        r2[name] = 1 - np.sum((F @ coef - y) ** 2) / np.sum((y - y.mean()) ** 2)
    print(f"R^2 of model_parameters on op counts: {r2}")
    assert r2["param_set"] > r2["sorted"] + 0.1


def test_every_cell_encodes_to_valid_inputs_and_round_trips(bench):
    enc = bench.encoder
    archs = samples(1000, seed=1) + edge_cases()
    X = enc.encode(archs)
    assert X.dtype == np.int32 and X.shape == (len(archs), 34)
    highs = np.array([len(enc.codes[n]) for n in enc.columns])
    assert np.all(X >= 0) and np.all(X < highs)
    edges = np.array([":" not in n and "_edge_" in n for n in enc.columns])
    assert edges.sum() == 28
    # per cell exactly 8 of the 14 edges active; the input-node columns are always set
    assert np.all((X[:, :14] > 0).sum(1) == 8) and np.all((X[:, 14:28] > 0).sum(1) == 8)
    assert np.all(X[:, 28:] > 0)
    for a, row in zip(archs, X):
        cfg = {n: enc.values[n][c] for n, c in zip(enc.columns, row) if c}
        assert cfg == enc.config(a)
        enc.check_config(cfg)  # valid configuration of config_space_v2.json (conditions included)
        assert enc.decode(row) == S.canonical(a)
    # the other input order of a node is the same genotype and the same row
    swapped = [type(a)(*[tuple(c[i ^ 1] for i in range(8)) for c in a]) for a in archs[:50]]
    assert np.array_equal(enc.encode(swapped), X[:50])
    y = bench.run_model(X, np.full(len(X), 98))
    assert np.all(np.isfinite(y))


def test_decode_refuses_invalid_rows(bench):
    enc = bench.encoder
    row = enc.encode([S.sample(np.random.default_rng(5))])[0]
    bad = row.copy()
    bad[0] = 0  # edge normal_0 is always active
    with pytest.raises(DataError, match="edge_normal_0"):
        enc.decode(bad)
    inactive = int(np.flatnonzero(row[:14] == 0)[0])
    bad = row.copy()
    bad[inactive] = 1
    with pytest.raises(DataError, match="inactive"):
        enc.decode(bad)


# --- predictions --------------------------------------------------------------------------------------------
def test_deterministic_across_loads_and_calls(folder, bench):
    archs = samples(200, seed=2)
    a = bench.predict_all(archs)
    b = Y.YahpoNB301Benchmark(folder).predict_all(archs)
    assert np.array_equal(a, b) and np.array_equal(bench.predict_all(archs), a)


def test_batch_equals_one_by_one_and_is_one_call(folder):
    archs = samples(100, seed=7)
    batched = Y.YahpoNB301Benchmark(folder)
    many = batched.predict_all(archs, epoch=50)
    assert batched.surrogate_calls == 1 and batched.predicted == 100
    single = Y.YahpoNB301Benchmark(folder)
    one = np.stack([single.predict_all([a], epoch=50)[0] for a in archs])
    assert single.surrogate_calls == 100
    np.testing.assert_allclose(many, one, rtol=1e-6, atol=0)
    assert np.array_equal(batched.predict(archs, "val_accuracy_50ep"), many[:, 0])
    assert np.array_equal(batched.predict(archs, "runtime_50ep"), many[:, 2])


def test_oracle_query_batch_is_one_onnx_call(folder):
    from harness.oracle import Oracle

    b = Y.YahpoNB301Benchmark(folder)
    oracle = Oracle(b, budget=100, search_metric="val_accuracy", report_metric="val_accuracy")
    archs = samples(60, seed=8)
    v = oracle.query_batch(archs)
    assert b.surrogate_calls == 1 and oracle.used == 60
    assert np.array_equal(v, b.predict(archs, "val_accuracy"))
    with pytest.raises(ConfigError, match="deterministic"):
        b.predict(archs[:2], "val_accuracy", rng=np.random.default_rng(0))


def test_values_inside_the_documented_ranges(bench):
    archs = samples(500, seed=4) + edge_cases()
    means = {}
    for epoch in (1, 12, 50, 98):
        y = bench.predict_all(archs, epoch)
        acc, ce, rt, params = y.T
        assert np.all((acc >= 0) & (acc <= 100)), epoch
        assert np.all(ce >= 0) and np.all(rt >= 0) and np.all(params >= 0), epoch
        means[epoch] = y[:500].mean(0)
    acc98 = bench.predict_all(archs[:500])[:, 0]
    assert 85 <= acc98.min() and acc98.max() <= 95  # random cells at the last epoch
    assert means[98][0] > means[12][0] > means[1][0]  # accuracy grows with training
    assert means[98][1] < means[1][1]  # cross-entropy falls
    assert means[98][2] > means[12][2] > means[1][2]  # training time accumulates
    with pytest.raises(ConfigError, match="epoch must be in 1..98"):
        bench.predict_all(archs[:1], epoch=99)


def test_darts_v2_ranks_above_most_random_cells(bench):
    """The NB301 paper places DARTS-found cells well above random ones; a percentile below 50
    would point to a wrong encoding."""
    darts = S.parse(DARTS_V2)
    rand = bench.predict(samples(1000, seed=0), "val_accuracy")
    v = bench.predict([darts], "val_accuracy")[0]
    pct = 100 * np.mean(rand < v)
    print(f"DARTS-V2: {v:.3f} % at epoch 98, percentile {pct:.1f} among 1,000 random cells "
          f"(random mean {rand.mean():.3f}, max {rand.max():.3f})")
    assert pct >= 50


def test_public_api_and_checksum(folder, bench):
    import harness
    from harness.identity import data_checksum

    b = harness.benchmark("nb301-yahpo", data=folder)
    a = S.sample(np.random.default_rng(9))
    assert b.query(a) == pytest.approx(bench.predict([a], "val_accuracy")[0])
    assert data_checksum(bench) == Y.files_checksum(DIR) and bench.checksum.startswith("sha256:")
    assert "YAHPO surrogate of NB301" in bench.describe()


@pytest.mark.parametrize("algorithm", ["random", "evolution", "local-search", "lanas", "bonas", "apex"])
def test_algorithms_run_on_the_protocol(folder, algorithm):
    from algorithms.registry import make_algorithm
    from harness.protocol import load_protocol
    from harness.runner import Job, execute

    p = load_protocol("nb301-yahpo")
    small = dict(getattr(type(make_algorithm(algorithm)), "test_hyperparameters", {}))  # the registry's fast settings
    p = replace(p, data=folder, budget=30, checkpoints=(10, 30), episodes=replace(p.episodes, start_states=20),
                algorithms={algorithm: small} if small else {})
    rec = execute(Job(p, algorithm, 1000))
    t = rec.trajectory
    assert rec.meta["status"] == "finished", rec.meta["error"]
    assert 0 < len(t["search"]) <= 30 and np.array_equal(t["search"], t["report"])
    assert rec.meta["benchmark"] == "nb301-yahpo" and rec.meta["data_checksum"] == Y.files_checksum(DIR)
    assert np.all((85 <= t["search"]) & (t["search"] <= 95))


def test_bench_nb301_prints_queries_per_second_for_yahpo(folder, capsys):
    import argparse

    from harness.bench import nb301 as bench_nb301

    p = argparse.ArgumentParser()
    bench_nb301.add_arguments(p)
    assert bench_nb301.main(p.parse_args(["--benchmark", "nb301-yahpo", "--data", folder, "--n", "30"])) == 0
    out = capsys.readouterr().out
    assert "nb301-yahpo-v1 (YAHPO surrogate of NB301" in out and "oracle queries/s:" in out
    assert "max |batched - one by one|" in out


def test_board_header_names_the_yahpo_surrogate(folder, tmp_path):
    from harness.commands.leaderboard import make
    from harness.metrics import collapse_duplicates
    from harness.protocol import load_protocol
    from harness.runner import Job, execute

    p = load_protocol("nb301-yahpo")
    p = replace(p, data=folder, budget=20, checkpoints=(10, 20), seeds=(1000, 1001),
                episodes=replace(p.episodes, start_states=20))
    recs = [execute(Job(p, "random", s)) for s in p.seeds]
    assert list(recs[0].trajectory["index"]) == [-1] * 20  # a surrogate's cells have no index ...
    kept, notes = collapse_duplicates(recs)  # ... so copies are told by their keys
    assert len(kept) == 2 and notes == []
    assert len(collapse_duplicates([recs[0], replace(recs[0], meta={**recs[0].meta, "seed": 1005})])[0]) == 1
    board, paths = make(p, recs, str(tmp_path), resamples=200, plots=False)
    md = open(paths["md"]).read()
    assert md.splitlines()[0] == "# Leaderboard: nb301-yahpo-v1 (YAHPO surrogate of NB301)"
    assert "Benchmark nb301-yahpo: YAHPO surrogate of NB301" in md
    row = next(line for line in md.splitlines() if line.startswith("|") and " random " in line)
    assert row.split("|")[3].strip() == "2"  # both seeds counted: different runs
