"""The Python API (harness.api): docs/api.md runs as written; results, classes, benchmark lookups."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import harness
from harness.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_import_harness_stays_light():
    code = "import sys, harness; print(any(m in sys.modules for m in ('harness.api', 'pandas', 'matplotlib', 'torch')))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_docs_api_page_runs(tmp_path, monkeypatch):
    """Every ```python block of docs/api.md, in order, in one namespace (offline, seconds)."""
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "api.md").read_text(), re.S)
    assert len(blocks) >= 4
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    ns: dict = {}
    for i, block in enumerate(blocks):
        exec(compile(block, f"docs/api.md block {i + 1}", "exec"), ns)
    sys.modules.pop("my_search", None)


def test_results_tables_match_records():
    res = harness.run("nb201-analog", algorithms=["random"], seeds=[3, 5], budget=15, log=False)
    runs = res.runs
    assert list(runs.seed) == [3, 5]
    for rec, (_, row) in zip(sorted(res.records, key=lambda r: r.meta["seed"]), runs.iterrows()):
        inc = rec.trajectory["incumbent_search"]
        assert row.final_search == pytest.approx(float(np.max(rec.trajectory["search"])))
        assert row.final_search == inc[-1] == inc[row.queries_to_best - 1]
        assert row.queries_to_best == 1 or inc[row.queries_to_best - 2] < inc[-1]
        assert row.run_key == rec.run_key
    curves = res.curves()
    assert curves.groupby("seed")["query"].max().tolist() == [15, 15]
    assert (curves.groupby("seed")["incumbent_search"].diff().dropna() >= 0).all()
    summ = res.summary()
    assert summ.loc[0, "n_runs"] == 2 and summ.loc[0, "mean"] == pytest.approx(runs.final_report.mean())
    for c in ("mean", "ci_low", "ci_high", "rank", "std"):
        assert pd.api.types.is_float_dtype(summ[c])
    assert summ.tied_with_best.dtype == bool
    # resumable: the same call reuses every run key
    again = harness.run("nb201-analog", algorithms=["random"], seeds=[3, 5], budget=15, log=False)
    assert again.sweep.ran == 0 and again.sweep.skipped == 2


def test_plot_kinds_and_bad_kind():
    res = harness.run("nb201-analog", algorithms=["random"], seeds=2, budget=10, log=False)
    from matplotlib.figure import Figure

    assert isinstance(res.plot("best_so_far"), Figure)
    assert isinstance(res.plot("samples_to_optimum"), Figure)
    with pytest.raises(ConfigError, match="unknown plot kind"):
        res.plot("pie")


def test_algorithm_class_normalised_to_its_import_path():
    from algorithms.random_search import RandomSearch
    from algorithms.registry import algorithm_name, get_algorithm_class
    from harness.protocol import Protocol
    from harness.runner import Job
    from tests.harness.plugin_algorithms import Greedy

    assert algorithm_name(RandomSearch) == "algorithms.random_search:RandomSearch"
    assert get_algorithm_class(Greedy) is Greedy
    p = Protocol.adhoc("nb201-analog", 10, 1)
    j = Job(p, Greedy, 0)
    assert j.algorithm == "tests.harness.plugin_algorithms:Greedy"
    assert j.key() == Job(p, "tests.harness.plugin_algorithms:Greedy", 0).key()


def test_unimportable_class_is_one_line_error():
    from dataclasses import dataclass

    from algorithms.base import Algorithm
    from harness.runner import Job
    from harness.protocol import Protocol

    @dataclass
    class C:
        pass

    class Local(Algorithm):
        Config = C

        def run(self, oracle, rng):
            pass

    with pytest.raises(ConfigError, match="importable module") as e:
        Job(Protocol.adhoc("nb201-analog", 10, 1), Local, 0)
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="subclass of algorithms.base.Algorithm"):
        harness.run("nb201-analog", algorithms=[dict], seeds=1, budget=5, log=False)


def test_load_results_keeps_only_current_protocol_runs():
    res = harness.run("nb201-analog", algorithms=["random"], seeds=2, budget=12, log=False)
    other = harness.run("nb201-analog", algorithms=["random"], seeds=2, budget=13, log=False)
    assert res.protocol.id != other.protocol.id
    loaded = harness.load_results(res.protocol.id)
    assert sorted(loaded.runs.run_key) == sorted(res.runs.run_key)
    assert harness.load_results(res.protocol).runs.queries.tolist() == [12, 12]


def test_benchmark_lookup_is_the_table():
    b = harness.benchmark("nb201-analog")
    from harness.benchmarks import get_benchmark

    raw = get_benchmark("nb201-analog")
    arch = b.space.arch_at(123)
    assert b.query(arch) == pytest.approx(float(raw.mean(raw.default_search)[123]))
    assert b.query(arch, "analog_accuracy") == pytest.approx(float(raw.mean("analog_accuracy")[123]))
    with pytest.raises(ConfigError):
        b.query(arch, "no_such_metric")
    with pytest.raises(ValueError):
        b.query((9, 9, 9))


def test_shipped_protocol_with_overrides():
    res = harness.run("nb201-analog", algorithms=["random"], seeds=1, budget=5, log=False)
    assert res.protocol.name.startswith("adhoc-nb201-analog")
    from harness.protocol import list_protocols

    name = next(p.name for p in list_protocols() if p.benchmark == "nb201-analog")
    r = harness.run(name, algorithms=["random"], seeds=[7], budget=8, log=False)
    assert r.protocol.budget == 8 and r.protocol.seeds == (7,) and r.runs.queries.tolist() == [8]
