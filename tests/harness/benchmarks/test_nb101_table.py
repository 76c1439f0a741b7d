"""The NB101 benchmark from a table keyed by official hash (``--data table.json|csv``): parsing
and its errors, mapping to cells through the enumerated space, the multi-fidelity columns, the
checksum, and the partial-table rule (a cell outside the table is never given a value)."""

import json

import numpy as np
import pytest

from harness.data import nb101_space
from harness.errors import DataError


def _write(path, cols):
    path.write_text(json.dumps(cols))
    return str(path)


# --- parsing (no enumeration needed) -------------------------------------------------------
def test_read_table_maps_official_columns_to_metrics(tmp_path):
    p = _write(tmp_path / "t.json", {"key": ["0" * 32, "f" * 32], "108_final_validation_accuracy": [0.9, 0.8],
                                     "4_final_validation_accuracy": [0.5, 0.4], "final_training_time": [10.0, 20.0],
                                     "trainable_parameters": [100, 200], "module_operations": [["x"], ["y"]]})
    keys, m = nb101_space.read_table(p)
    assert keys.tolist() == [b"0" * 32, b"f" * 32]
    assert set(m) == {"valid_accuracy", "valid_accuracy_4ep", "training_time", "parameters"}
    assert m["valid_accuracy"].tolist() == pytest.approx([90.0, 80.0]) and m["training_time"].tolist() == [10.0, 20.0]
    csv = tmp_path / "t.csv"
    csv.write_text("hash,valid_accuracy,test_accuracy_12ep\n" + "a" * 32 + ",91.5,80\n")
    keys, m = nb101_space.read_table(str(csv))
    assert keys.tolist() == [b"a" * 32] and m["valid_accuracy"].tolist() == [91.5] and set(m) == {"valid_accuracy", "test_accuracy_12ep"}


@pytest.mark.parametrize("cols, match", [
    ({"key": ["xyz"], "valid_accuracy": [90]}, "is not a 32-hex-digit NB101 module hash"),
    ({"key": ["a" * 32, "a" * 32], "valid_accuracy": [90, 91]}, "appears 2 times"),
    ({"key": ["a" * 32], "accuracy": [90]}, "unknown column 'accuracy'"),
    ({"key": ["a" * 32], "108_final_validation_accuracy": [93.0]}, "must lie in \\[0, 1\\]"),
    ({"key": ["a" * 32], "valid_accuracy": ["high"]}, "is not a number"),
    ({"hashes": ["a" * 32], "valid_accuracy": [90]}, "no key column"),
    ({"key": ["a" * 32, "b" * 32], "valid_accuracy": [90]}, "different lengths"),
])
def test_bad_tables_are_one_line_errors(tmp_path, cols, match):
    with pytest.raises(DataError, match=match) as e:
        nb101_space.read_table(_write(tmp_path / "bad.json", cols))
    assert "\n" not in str(e.value)


# --- the benchmark (enumerated space, once per session) -------------------------------------
def test_unknown_hash_is_a_one_line_data_error(tmp_path, nb101_index):
    from harness.benchmarks.nb101 import from_table

    good = nb101_index.arrays["hashes"][5].decode()
    p = _write(tmp_path / "t.json", {"key": [good, "0123456789abcdef" * 2], "valid_accuracy": [90.0, 91.0]})
    with pytest.raises(DataError, match=r"row 2: 0123456789abcdef0123456789abcdef is not the official hash of any NB101 cell") as e:
        from_table(p)
    assert "\n" not in str(e.value)


def test_table_benchmark_returns_the_files_values(nb101_index, nb101_json):
    import harness
    from harness.spaces.nb101 import cell_from_code

    with open(nb101_json) as f:
        d = json.load(f)
    from harness.benchmarks import get_benchmark

    api = harness.benchmark("nb101", data=nb101_json)
    bench = get_benchmark("nb101", data=nb101_json)
    assert bench.version == "nb101-table-v1" and bench.space.size == 20_001 and not bench.space.complete
    assert set(bench.metrics) == {"valid_accuracy", "valid_accuracy_4ep", "valid_accuracy_12ep", "valid_accuracy_36ep",
                                  "training_time", "parameters"}
    assert bench.default_search == bench.default_report == "valid_accuracy"
    rng = np.random.default_rng(0)
    codes = nb101_index.arrays["codes"]
    for i in [0, 1, 6992, 19_999, 20_000, *rng.integers(0, 20_001, size=20).tolist()]:
        cell = cell_from_code(int(codes[i]))  # row i of the full index is row i of the file (hash order)
        r = bench.space.index(cell)
        assert bench.space.key(cell) == d["key"][i]
        for metric, col, scale in [("valid_accuracy", "108_final_validation_accuracy", 100), ("valid_accuracy_4ep", "4_final_validation_accuracy", 100),
                                   ("valid_accuracy_36ep", "36_final_validation_accuracy", 100), ("training_time", "final_training_time", 1),
                                   ("parameters", "trainable_parameters", 1)]:
            assert bench.mean(metric)[r] == pytest.approx(d[col][i] * scale, rel=1e-12)
        assert api.query(cell) == pytest.approx(d["108_final_validation_accuracy"][i] * 100, rel=1e-12)
        assert api.query(cell, "valid_accuracy_12ep") == pytest.approx(d["12_final_validation_accuracy"][i] * 100, rel=1e-12)
    with pytest.raises(Exception, match="no test accuracy"):
        bench.check_metric("test_accuracy")
    # the file's first row, as published
    assert bench.mean("valid_accuracy")[0] == pytest.approx(93.04887652397156) and bench.mean("parameters")[0] == 8_555_530


def test_partial_table_stays_inside_and_rejects_outside_cells(tmp_path, nb101_index):
    from harness.benchmarks.nb101 import from_table
    from harness.errors import InvalidArchitecture
    from harness.oracle import Oracle
    from harness.spaces.nb101 import NB101Space, cell_from_code

    a = nb101_index.arrays
    rows = np.arange(0, 423_624, 20)  # 5% of the space, like the public 20,001-cell table
    p = _write(tmp_path / "part.json", {"key": [a["hashes"][r].decode() for r in rows],
                                        "108_final_validation_accuracy": np.linspace(0.5, 0.95, rows.size).tolist()})
    bench = from_table(p)
    space = bench.space
    assert space.size == rows.size and "PARTIAL" in bench.notes
    rng = np.random.default_rng(3)
    cells = [space.sample(rng) for _ in range(20)]
    cells += [space.mutate(c, rng) for c in cells[:5]]
    assert all(space.contains(c) for c in cells)
    assert all(space.contains(n) for n in space.neighbours(cells[0]))
    outside = cell_from_code(int(a["codes"][1]))  # row 1 is not in the table
    assert NB101Space().contains(outside) and not space.contains(outside)
    with pytest.raises(InvalidArchitecture):
        space.index(outside)
    oracle = Oracle(bench, budget=5)
    assert oracle.query(cells[0]) == pytest.approx(bench.mean("valid_accuracy")[space.index(cells[0])])
    with pytest.raises(InvalidArchitecture):
        oracle.query(outside)  # never a made-up value


def test_checksum_covers_values_and_cells(tmp_path, nb101_index):
    from harness.benchmarks.nb101 import from_table

    h = [x.decode() for x in nb101_index.arrays["hashes"][:3]]
    other = nb101_index.arrays["hashes"][3].decode()
    base = from_table(_write(tmp_path / "a.json", {"key": h, "valid_accuracy": [90.0, 91.0, 92.0]}))
    same = from_table(_write(tmp_path / "b.json", {"key": h[::-1], "valid_accuracy": [92.0, 91.0, 90.0]}))
    value = from_table(_write(tmp_path / "c.json", {"key": h, "valid_accuracy": [90.0, 91.0, 92.5]}))
    cells = from_table(_write(tmp_path / "d.json", {"key": h[:2] + [other], "valid_accuracy": [90.0, 91.0, 92.0]}))
    assert base.checksum == same.checksum  # row order in the file does not matter
    assert len({base.checksum, value.checksum, cells.checksum}) == 3
