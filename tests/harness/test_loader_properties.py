"""Property-based tests (hypothesis) of the loaders a user feeds files to: the CSV/parquet
table loader and the protocol TOML loader, on random bytes and on random mutations of valid
files. Whatever the bytes: never an uncaught exception, always either a HarnessError (one
line) or a correct load."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.errors import HarnessError
from tests.harness.test_hostile_input import TinySpace, load_tiny, tiny_csv

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
VALID_CSV = tiny_csv().encode()


@st.composite
def mutations(draw, data: bytes):
    """``data`` with 1-4 random edits: replace, insert or delete a short run of bytes
    (bytes drawn from the file's own alphabet half of the time, so edits stay plausible)."""
    out = bytearray(data)
    alphabet = sorted(set(data))
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, max(len(out) - 1, 0)))
        n = draw(st.integers(1, 6))
        own = draw(st.booleans())
        chunk = bytes(draw(st.lists(st.sampled_from(alphabet), min_size=1, max_size=n))) if own else draw(st.binary(min_size=1, max_size=n))
        kind = draw(st.sampled_from(["replace", "insert", "delete"]))
        if kind == "replace":
            out[pos:pos + len(chunk)] = chunk
        elif kind == "insert":
            out[pos:pos] = chunk
        else:
            del out[pos:pos + n]
    return bytes(out)


def _check_table(path: Path):
    try:
        b = load_tiny(path)
    except HarnessError as e:
        assert "\n" not in str(e) and str(e)
        return
    acc, t = b.columns["valid_accuracy"], b.columns["training_time"]
    assert acc.shape == t.shape == (TinySpace.size,)
    assert np.isfinite(acc).all() and ((0 <= acc) & (acc <= 100)).all()
    assert np.isfinite(t).all() and (t >= 0).all()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("props")


@SETTINGS
@given(data=st.binary(max_size=400))
def test_csv_random_bytes(folder, data):
    p = folder / "random.csv"
    p.write_bytes(data)
    _check_table(p)


@SETTINGS
@given(data=mutations(VALID_CSV))
def test_csv_mutations(folder, data):
    p = folder / "mutated.csv"
    p.write_bytes(data)
    _check_table(p)


def test_unmutated_csv_loads_exactly(folder):
    p = folder / "valid.csv"
    p.write_bytes(VALID_CSV)
    b = load_tiny(p)
    assert b.columns["training_time"].tolist() == [10.0 * i for i in range(TinySpace.size)]


def _valid_parquet() -> bytes:
    import pandas as pd

    df = pd.read_csv(io.BytesIO(VALID_CSV))
    buf = io.BytesIO()
    df.to_parquet(buf)
    return buf.getvalue()


VALID_PARQUET = _valid_parquet()


@SETTINGS
@given(data=st.binary(max_size=400))
def test_parquet_random_bytes(folder, data):
    p = folder / "random.parquet"
    p.write_bytes(data)
    _check_table(p)


@SETTINGS
@given(data=mutations(VALID_PARQUET))
def test_parquet_mutations(folder, data):
    p = folder / "mutated.parquet"
    p.write_bytes(data)
    _check_table(p)


# --- protocol TOML ------------------------------------------------------------------------------------
VALID_TOML = b'''name = "props"
version = 2
description = "a protocol to mutate"
benchmark = "nb201"
dataset = "cifar100"
data = "tables/nb201.csv"
search_metric = "test_accuracy"
report_metric = "test_accuracy"
budget = 100
checkpoints = [10, 50, 100]
counting = "unique"
noise = "mean"
seeds = [0, 3, 7]
until_optimum = "index"

[algorithms.evolution]
population = 20
sample_size = 5

[episodes]
start_states = 10
start_seed = 1
length = 8
episodes = 0
'''


def _check_protocol(path: Path):
    from harness.protocol import Protocol, load_protocol_file

    try:
        p = load_protocol_file(path)
    except HarnessError as e:
        assert "\n" not in str(e) and str(e)
        return
    assert isinstance(p, Protocol) and p.budget > 0 and p.seeds and all(c <= p.budget for c in p.checkpoints)
    assert p.id.endswith(f"-v{p.version}") and p.name.isprintable()
    p.to_dict()


@SETTINGS
@given(data=st.binary(max_size=300))
def test_protocol_random_bytes(folder, data):
    p = folder / "random.toml"
    p.write_bytes(data)
    _check_protocol(p)


@SETTINGS
@given(data=mutations(VALID_TOML))
def test_protocol_mutations(folder, data):
    p = folder / "mutated.toml"
    p.write_bytes(data)
    _check_protocol(p)


def test_unmutated_protocol_loads(folder):
    from harness.protocol import load_protocol_file

    p = folder / "valid.toml"
    p.write_bytes(VALID_TOML)
    prot = load_protocol_file(p)
    assert prot.id == "props-v2" and prot.seeds == (0, 3, 7) and prot.algorithms == {"evolution": {"population": 20, "sample_size": 5}}


NASTY = ["", " ", "inf", "-inf", "Infinity", "nan", "NaN", "NA", "null", "1e309", "-0", "5e-400", "1e9", "-1",
         "100.0000001", "0x10", "1_000", "true", "+5", "\"7\"", "1,5", "é", "a3", "a99", "-a1"]


@SETTINGS
@given(row=st.integers(0, TinySpace.size - 1), col=st.integers(0, 2),
       cell=st.one_of(st.sampled_from(NASTY), st.text(max_size=8)))
def test_csv_one_nasty_cell(folder, row, col, cell):
    rows = [[f"a{i}", f"{50 + i}.5", f"{i * 10}"] for i in range(TinySpace.size)]
    rows[row][col] = cell
    p = folder / "nasty.csv"
    p.write_bytes(tiny_csv(rows).encode("utf-8", "surrogatepass"))
    _check_table(p)


@SETTINGS
@given(key=st.sampled_from(["name", "data", "dataset", "benchmark", "search_metric", "description", "counting"]),
       value=st.text(max_size=12))
def test_protocol_any_string_value(folder, key, value):
    import json

    lines = [ln for ln in VALID_TOML.decode().splitlines() if not ln.startswith(f"{key} =")]
    lines.insert(0, f"{key} = {json.dumps(value)}")  # a JSON string is a valid TOML basic string
    p = folder / "strings.toml"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    _check_protocol(p)
