"""NB201/NATS-Bench official data (the ``-simple`` archive layout) through ``nats_bench``, into the
cache, and agreement with the shared CSV. Fixtures cover a few architectures only (a complete
archive takes minutes to write and convert)."""

import pickle

import numpy as np
import pytest

from harness.data import cache, nb201 as nb201_data
from harness.errors import ConfigError, DataError
from harness.spaces import get_space
from tests.harness.data.nats_writer import dump, simple_arch, write_simple_dir

ROWS = (6111, 9930, 857, 0, 1, 12345)


@pytest.fixture(scope="module")
def arch_strs():
    sp = get_space("nb201")
    return [sp.format(sp.arch_at(i)) for i in range(nb201_data.N_ARCHS)]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory, arch_strs):
    """A partial archive with made-up numbers, 3 seeds, training times."""
    root = tmp_path_factory.mktemp("nats") / "NATS-tss-v1_0-3ffb9-simple"
    per = {}
    for k, i in enumerate(ROWS):
        acc = {"cifar10-valid": (80.0 + k, 81.0 + k), "cifar10": (None, 90.0 + k), "cifar100": (60.0 + k, 61.5 + k), "ImageNet16-120": (30.0 + k, 31.25 + k)}
        per[i] = simple_arch(i, arch_strs[i], acc, seeds=(777, 888, 999), with_times=True)
    return write_simple_dir(root, arch_strs, per)


def test_values_match_the_nats_bench_api(synthetic):
    import nats_bench

    arrays, meta = nb201_data.build(synthetic, allow_missing=True)
    assert meta["covered"] == len(ROWS) and meta["hps"] == ["12", "200"]
    api = nats_bench.create(str(synthetic), "tss", fast_mode=True, verbose=False)
    for i in ROWS[:3]:
        for d in nb201_data.NATS_DATASETS:
            for hp in ("12", "200"):
                info = api.get_more_info(i, d, hp=hp, is_random=False)
                assert arrays[f"{d}__{hp}__test_mean"][i] == info["test-accuracy"]
                if d != "cifar10":
                    assert arrays[f"{d}__{hp}__valid_mean"][i] == info["valid-accuracy"]
                for k, seed in enumerate((777, 888, 999)):
                    one = api.get_more_info(i, d, hp=hp, is_random=seed)
                    assert arrays[f"{d}__{hp}__test"][i, k] == one["test-accuracy"]
                    assert arrays[f"{d}__{hp}__seeds"][i, k] == seed
            costs = api.get_cost_info(i, d, hp="200")
            assert arrays[f"{d}__params"][i] == costs["params"] and arrays[f"{d}__flops"][i] == costs["flops"]
            assert arrays[f"{d}__latency"][i] == costs["latency"]
            assert arrays[f"{d}__200__train_time"][i] == costs["T-train@total"] == 400.0
    missing = [i for i in range(20) if i not in ROWS]
    assert np.isnan(arrays["cifar100__200__test_mean"][missing]).all()


def test_benchmark_from_cache_and_oracle(synthetic):
    from harness.benchmarks.nb201 import from_cache, load
    from harness.oracle import Oracle

    arrays, meta = nb201_data.build(synthetic, allow_missing=True)
    cache.write("nb201", arrays, meta, source=synthetic / "meta.pickle.pbz2")
    b = load("cifar10")  # no --data: the prepared cache
    assert b.version == "nb201-cifar10-v1"  # the official numbers, not the embedded ones
    assert {"valid_accuracy", "test_accuracy", "valid_accuracy_12ep", "test_accuracy_12ep", "parameters", "flops",
            "latency", "training_time", "training_time_12ep"} <= set(b.metrics)
    sp = b.space
    arch = sp.arch_at(6111)
    # cifar10: validation from cifar10-valid, test from cifar10 (train+valid)
    assert b.mean("valid_accuracy")[6111] == 80.0 and b.mean("test_accuracy")[6111] == 90.0
    assert b.columns["valid_accuracy"].shape == (nb201_data.N_ARCHS, 3)
    o = Oracle(b, budget=5, noise="sample", rng=np.random.default_rng(0))
    assert o.query(arch) in {79.5, 80.0, 80.5}
    c100 = from_cache(cache.read("nb201"), "cifar100")
    assert c100.mean("test_accuracy")[9930] == 62.5 and c100.default_search == "valid_accuracy"
    img = load("imagenet16-120")
    assert img.mean("valid_accuracy")[857] == 32.0
    with pytest.raises(ConfigError):
        from_cache(cache.read("nb201"), "mnist")


def test_missing_seed_is_never_drawn(synthetic, tmp_path, arch_strs):
    from harness.benchmarks.nb201 import from_cache
    from harness.oracle import Oracle

    root = tmp_path / "two"
    per = {5: simple_arch(5, arch_strs[5], {"cifar100": (60.0, 61.0)}, seeds=(777, 888, 999)),
           6: simple_arch(6, arch_strs[6], {"cifar100": (50.0, 51.0)}, seeds=(777,))}
    write_simple_dir(root, arch_strs, per)
    b = from_cache(cache.Cache("nb201", *nb201_data.build(root, allow_missing=True)), "cifar100")
    o = Oracle(b, budget=400, noise="sample", counting="all", rng=np.random.default_rng(0))
    vals = [o.query(b.space.arch_at(6)) for _ in range(200)]
    assert set(vals) == {50.0}  # one seed: its value, never NaN


def test_csv_and_official_agree(nb201_csv, tmp_path, arch_strs):
    """The shared CSV and an official-layout archive built from its rows give identical test values."""
    import pandas as pd

    from harness.benchmarks import get_benchmark
    from harness.benchmarks.nb201 import from_cache

    df = pd.read_csv(nb201_csv)
    per = {}
    for i in ROWS:
        r = df.iloc[i]
        assert r["ArchitectureString"] == arch_strs[i]
        acc = {"cifar10-valid": (85.0, 86.0), "cifar10": (None, float(r["CIFAR10TestAccuracy200Epochs"])),
               "cifar100": (70.0, float(r["CIFAR100TestAccuracy200Epochs"])),
               "ImageNet16-120": (40.0, float(r["ImageNetTestAccuracy200Epochs"]))}
        per[i] = simple_arch(i, arch_strs[i], acc, seeds=(777, 888))
    root = write_simple_dir(tmp_path / "NATS-tss-v1_0-3ffb9-simple", arch_strs, per)
    c = cache.Cache("nb201", *nb201_data.build(root, allow_missing=True))
    rows = list(ROWS)
    for ds in ("cifar10", "cifar100", "imagenet16-120"):
        official = from_cache(c, ds).mean("test_accuracy")[rows]
        shared = get_benchmark("nb201", ds, data=nb201_csv).mean("test_accuracy")[rows]
        np.testing.assert_array_equal(official, shared)


def test_bad_archives_give_clear_errors(tmp_path, arch_strs):
    root = write_simple_dir(tmp_path / "a", arch_strs, {0: simple_arch(0, arch_strs[0], {"cifar10": (None, 90.0)})})
    with pytest.raises(DataError, match=r"lacks 000001.pickle.pbz2 \(architecture 1\): incomplete copy"):
        nb201_data.build(root)
    short = write_simple_dir(tmp_path / "b", arch_strs[:100], {})
    with pytest.raises(DataError, match="lists 100 architectures, expected 15,625"):
        nb201_data.build(short)
    with pytest.raises(DataError, match="no meta.pickle.pbz2"):
        nb201_data.load(tmp_path)
    (root / "000000.pickle.pbz2").write_bytes(b"BZh9 truncated")
    with pytest.raises(DataError, match="cannot read NATS-Bench file .*000000.pickle.pbz2"):
        nb201_data.build(root, allow_missing=True)

    class Evil:
        def __reduce__(self):
            import os

            return (os.getcwd, ())

    dump({"200": Evil()}, root / "000000.pickle.pbz2")
    with pytest.raises(DataError, match="refusing to load posix.getcwd"):
        nb201_data.build(root, allow_missing=True)


def test_no_data_no_cache():
    """Without data and without a prepared official cache: the embedded numbers, never the
    official version string (and cifar10-valid, which only the official data has, says how)."""
    from harness.benchmarks.nb201 import load

    assert load("cifar10").version == "nb201-cifar10-embedded-v1"
    with pytest.raises(ConfigError, match="data prepare nb201"):
        load("cifar10-valid")


def test_get_benchmark_with_a_nats_directory(synthetic, monkeypatch, capsys):
    """``get_benchmark("nb201", ds, data=DIR)`` converts the directory once, then reuses the cache
    (the fixture is partial, so the conversion is told to accept missing architectures)."""
    import functools

    from harness.benchmarks import get_benchmark

    calls = []
    real_build = nb201_data.build

    def build(path, progress=None):
        calls.append(path)
        return real_build(path, progress=progress, allow_missing=True)

    monkeypatch.setattr(nb201_data, "build", build)
    b = get_benchmark("nb201", "cifar100", data=str(synthetic))
    assert b.mean("test_accuracy")[9930] == 62.5 and len(calls) == 1
    assert "converting" in capsys.readouterr().err
    again = nb201_data.load(str(synthetic))  # same archive: the cache, no conversion
    assert len(calls) == 1 and again.meta["source"]["path"].endswith("meta.pickle.pbz2")
    monkeypatch.setattr(nb201_data, "build", functools.partial(real_build, allow_missing=True))
