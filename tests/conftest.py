"""Shared fixtures. Reference data beside the project (../shared/data) is optional: tests that
need it skip with a clear reason when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NAS_HARNESS_SHARED", ROOT.parent / "shared"))
NB201_CSV = SHARED / "data" / "nb201" / "nats_tss_200ep_test_accuracy.csv"


@pytest.fixture(scope="session")
def nb201_csv() -> str:
    """Path of the official NB201 table, or skip."""
    if not NB201_CSV.exists():
        pytest.skip(f"reference data absent: {NB201_CSV} (official NB201 table) not found")
    return str(NB201_CSV)


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
