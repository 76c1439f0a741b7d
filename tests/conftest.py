"""Shared fixtures. Reference data beside the project (../shared/data) is optional: tests that
need it skip with a clear reason when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NAS_HARNESS_SHARED", ROOT.parent / "shared"))
NB201_CSV = SHARED / "data" / "nb201" / "nats_tss_200ep_test_accuracy.csv"
NB101_JSON = SHARED / "data" / "nb101" / "nb101_first20001_hashes.json"


@pytest.fixture(scope="session")
def nb201_csv() -> str:
    """Path of the official NB201 table, or skip."""
    if not NB201_CSV.exists():
        pytest.skip(f"reference data absent: {NB201_CSV} (official NB201 table) not found")
    return str(NB201_CSV)


@pytest.fixture(scope="session")
def nb101_json() -> str:
    """Path of the public table of the first 20,001 NB101 cells (official hashes), or skip."""
    if not NB101_JSON.exists():
        pytest.skip(f"reference data absent: {NB101_JSON} (NB101 hashes of the first 20,001 cells) not found")
    return str(NB101_JSON)


@pytest.fixture(scope="session")
def nb101_index_dir(tmp_path_factory):
    """A cache folder holding the enumerated NB101 space: computed once per test session (about
    a minute on 2 cores), copied into each test's cache by ``nb101_index``."""
    from harness.data import nb101_space

    root = tmp_path_factory.mktemp("nb101-index")
    nb101_space.load_index(root=root, announce=None)
    return root


@pytest.fixture
def nb101_index(nb101_index_dir, _isolated_results):
    """The enumerated NB101 space in this test's cache folder (``load_index()`` finds it)."""
    import shutil

    from harness.data import cache, nb101_space

    dest = Path(os.environ["NAS_HARNESS_CACHE"])
    dest.mkdir(parents=True, exist_ok=True)
    for f in cache.paths(nb101_space.CACHE_NAME, nb101_index_dir):
        shutil.copy(f, dest / f.name)
    return nb101_space.load_index(announce=None)


@pytest.fixture(scope="session")
def nb201_cifar10(nb201_csv):
    from harness.benchmarks import get_benchmark

    return get_benchmark("nb201", "cifar10", data=nb201_csv)


@pytest.fixture(scope="session")
def analog():
    from harness.benchmarks import get_benchmark

    return get_benchmark("nb201-analog")


@pytest.fixture(scope="session")
def graph_cora():
    from harness.benchmarks import get_benchmark

    return get_benchmark("nasbench-graph-cora")


@pytest.fixture(autouse=True)
def _isolated_results(tmp_path, monkeypatch):
    """Every test writes results and caches into its own temporary folders."""
    monkeypatch.setenv("NAS_HARNESS_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("NAS_HARNESS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
