"""Benchmarks: embedded data loads with the expected sizes; the analog mapping is right; user
tables are validated with clear errors."""

import numpy as np
import pytest
from scipy.stats import spearmanr

from harness.benchmarks import get_benchmark, list_benchmarks, resolve
from harness.errors import ConfigError, DataError


def test_nb201_analog_loads_all_cells(analog):
    assert analog.space.size == 15625
    for m in ("baseline_accuracy", "ptq_accuracy", "qat_accuracy", "noisy_accuracy", "analog_accuracy"):
        col = analog.mean(m)
        assert col.shape == (15625,) and not np.isnan(col).any()
        assert 0 <= col.min() and col.max() <= 100
    # the all-none cell cannot learn: chance accuracy on CIFAR-10
    assert analog.mean("baseline_accuracy")[analog.space.index((0,) * 6)] == pytest.approx(10.0, abs=0.5)


def test_nb201_analog_cell_mapping_agrees_with_official_table(analog, nb201_cifar10):
    rho = spearmanr(analog.mean("baseline_accuracy"), nb201_cifar10.mean("test_accuracy")).statistic
    assert rho > 0.95, f"Spearman {rho:.3f}: the analog-nasbench cell mapping is wrong"


def test_nasbench_graph_loads(graph_cora):
    assert graph_cora.space.size == 26206
    assert set(graph_cora.metrics) == {"valid_accuracy", "test_accuracy", "latency", "parameters"}
    assert not np.isnan(graph_cora.mean("valid_accuracy")).any()
    assert 50 < graph_cora.optimum("test_accuracy")[0] <= 100
    assert graph_cora.maximize("latency") is False
    prot = get_benchmark("nasbench-graph-proteins")
    assert prot.space.size == 2021


def test_official_nb201_table_optima(nb201_csv):
    expected = {"cifar10": (94.3733, 6111), "cifar100": (73.5133, 9930), "imagenet16-120": (47.3111, 857)}
    for ds, (value, index) in expected.items():
        b = get_benchmark("nb201", ds, data=nb201_csv)
        v, i = b.optimum("test_accuracy")
        assert i == index and v == pytest.approx(value, abs=1e-3)


def test_benchmark_names_resolve():
    assert resolve("nasbench-graph-cora") == ("nasbench-graph", "cora")
    assert resolve("nb201-imagenet16") == ("nb201", "imagenet16-120")
    assert resolve("nb201") == ("nb201", "cifar10")
    assert "nb201-analog" in list_benchmarks()
    with pytest.raises(ConfigError, match="choose one of"):
        resolve("nasbench-graph", "mnist")


def test_official_data_or_a_test_table_is_needed_beyond_the_embedded_numbers():
    """Without data nb201 is the embedded benchmark (tests/harness/benchmarks/test_nb201_embedded.py):
    it has no test accuracy, and cifar10-valid needs the official data; both errors say --data."""
    with pytest.raises(ConfigError, match="--data"):
        get_benchmark("nb201", "cifar100").check_metric("test_accuracy")
    with pytest.raises(ConfigError, match="--data"):
        get_benchmark("nb201", "cifar10-valid")
    with pytest.raises(DataError, match="does not exist"):
        get_benchmark("nb201", "cifar100", data="/nonexistent/table.csv")


def test_user_table_errors_name_the_problem(tmp_path, nb201_csv):
    import pandas as pd

    df = pd.read_csv(nb201_csv)
    short = tmp_path / "short.csv"
    df.iloc[:100].to_csv(short, index=False)
    with pytest.raises(DataError, match="100 rows, expected 15625"):
        get_benchmark("nb201", "cifar10", data=str(short))
    nocol = tmp_path / "nocol.csv"
    df.drop(columns=["CIFAR100TestAccuracy200Epochs"]).to_csv(nocol, index=False)
    with pytest.raises(DataError, match="lacks column"):
        get_benchmark("nb201", "cifar100", data=str(nocol))
    dup = tmp_path / "dup.csv"
    d2 = df.copy()
    d2.loc[1, "ArchitectureString"] = d2.loc[0, "ArchitectureString"]
    d2.to_csv(dup, index=False)
    with pytest.raises(DataError, match="exactly once"):
        get_benchmark("nb201", "cifar10", data=str(dup))
    pq = tmp_path / "t.parquet"
    df.to_parquet(pq)
    b = get_benchmark("nb201", "cifar10", data=str(pq))
    assert b.optimum("test_accuracy")[1] == 6111
