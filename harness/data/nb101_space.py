"""The enumerated NAS-Bench-101 space in the cache, and NB101 tables keyed by official hash.

Cache ``nb101-space-v1`` (see :mod:`harness.data.cache`): ``hashes`` (``S32``, sorted) and
``codes`` (int64 :func:`harness.spaces.nb101.cell_code` of each hash's canonical cell), the
423,624 cells that :func:`harness.spaces.nb101_enumerate.enumerate_space` finds. It has no
source file: it is computed (well under a minute on two cores, :func:`load_index` says so on
stderr) the first time it is needed and read afterwards (about 17 MB, a fraction of a second).
A cache that does not check out (checksum, format, cell count) is computed again.

A *table* (:func:`read_table`) is a CSV or JSON file with one row per cell: a key column
(``key``, ``hash`` or ``module_hash``: the official 32-hex ``hash_module`` of the cell) and
metric columns, in either naming:

* the official API's (as in an export of ``nasbench_full``): ``{E}_final_validation_accuracy``,
  ``{E}_final_test_accuracy`` (fractions, stored as %), ``{E}_final_training_time`` (s) for
  ``E`` in 4/12/36/108, ``final_training_time`` (= 108 epochs) and ``trainable_parameters``;
* the harness's metric names: ``valid_accuracy``, ``test_accuracy`` (%), ``training_time``,
  ``parameters``, and ``valid_accuracy_{4,12,36}ep``, ``test_accuracy_...ep``,
  ``training_time_...ep``.

JSON: an object of parallel lists (``{"key": [...], "108_final_validation_accuracy": [...]}``)
or a list of row objects. Columns ``module_adjacency`` / ``module_operations`` are ignored
(the cell comes from the hash); any other column is an error, as are a key that is not the
hash of an NB101 cell, a repeated key and a value out of its unit's range.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import numpy as np

from harness.data import cache as _cache
from harness.errors import DataError

CACHE_NAME = "nb101-space-v1"
N_CELLS = 423_624
EPOCHS = (4, 12, 36, 108)
KEY_COLUMNS = ("key", "hash", "module_hash")
IGNORED = ("module_adjacency", "module_operations")
HOW_TABLE = ("pass a CSV or JSON table with a 'key' column of official NB101 module hashes and metric "
             "columns such as 108_final_validation_accuracy (see docs/data.md)")


# --- the enumerated space -----------------------------------------------------------------
def load_index(workers: int = 2, root=None, announce=sys.stderr) -> _cache.Cache:
    """The cache of the whole space (hashes sorted, codes), computed with ``workers``
    processes on first use."""
    reason = None
    try:
        c = _cache.read(CACHE_NAME, root)
        if c.arrays.get("hashes") is not None and c.arrays["hashes"].shape == (N_CELLS,) and c.arrays["codes"].shape == (N_CELLS,):
            return c
        reason = f"cache {c.path} does not hold {N_CELLS:,} cells"
    except _cache.CorruptCache as e:
        reason = str(e)
    except DataError:
        pass  # no cache yet
    if announce is not None:
        why = f"{reason}; " if reason else ""
        print(f"nas-harness: {why}enumerating the NB101 space into the cache (one time; under a minute)",
              file=announce, flush=True)
    arrays, meta = build(workers)
    _cache.write(CACHE_NAME, arrays, meta, root=root)
    return _cache.read(CACHE_NAME, root)


def build(workers: int = 2) -> tuple[dict, dict]:
    """Enumerate the space: the cache arrays and metadata."""
    from harness.spaces.nb101_enumerate import enumerate_space

    t0 = time.perf_counter()
    hashes, codes = enumerate_space(workers=workers)
    secs = time.perf_counter() - t0
    if hashes.size != N_CELLS:  # the official count; anything else is a bug, never cached
        raise DataError(f"the NB101 enumeration found {hashes.size:,} cells, not {N_CELLS:,}: please report this")
    meta = {"space": "nb101-v1", "cells": int(hashes.size), "seconds": round(secs, 2), "workers": workers}
    return {"hashes": hashes, "codes": codes}, meta


def rows_of_hashes(index_hashes: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Positions of ``keys`` (``S32``) in the sorted ``index_hashes``; -1 where absent."""
    pos = np.searchsorted(index_hashes, keys)
    pos = np.minimum(pos, index_hashes.size - 1)
    return np.where(index_hashes[pos] == keys, pos, -1)


# --- tables keyed by hash -----------------------------------------------------------------
_OFFICIAL = re.compile(r"^(4|12|36|108)_final_(validation_accuracy|test_accuracy|training_time)$")
_OWN = re.compile(r"^(valid_accuracy|test_accuracy|training_time)(?:_(4|12|36)ep)?$")
_KIND = {"validation_accuracy": "valid_accuracy", "test_accuracy": "test_accuracy", "training_time": "training_time"}


def metric_of_column(col: str) -> tuple[str, float] | None:
    """``(harness metric name, scale to the harness unit)`` of a table column, else ``None``."""
    m = _OFFICIAL.match(col)
    if m:
        e, kind = int(m.group(1)), _KIND[m.group(2)]
        return kind + ("" if e == 108 else f"_{e}ep"), (100.0 if "accuracy" in kind else 1.0)
    if col == "final_training_time":
        return "training_time", 1.0
    if col in ("trainable_parameters", "parameters"):
        return "parameters", 1.0
    if _OWN.match(col):
        return col, 1.0
    return None


def _frame(path: str) -> dict[str, list]:
    """Column name -> list of values, from a CSV or JSON table."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"data file {path} does not exist; {HOW_TABLE}")
    if p.is_dir():
        raise DataError(f"data file {path} is a directory; {HOW_TABLE}")
    name = p.name.lower()
    if name.endswith(".json") or name.endswith(".json.gz"):
        import gzip

        opener = gzip.open if name.endswith(".gz") else open
        try:
            with opener(p, "rt", encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError, EOFError) as e:
            raise DataError(f"cannot read {path} as JSON ({type(e).__name__}: {str(e)[:120]}); {HOW_TABLE}") from None
        if isinstance(data, list) and all(isinstance(r, dict) for r in data):
            cols = list(dict.fromkeys(k for r in data for k in r))
            return {c: [r.get(c) for r in data] for c in cols}
        if isinstance(data, dict) and all(isinstance(v, list) for v in data.values()):
            lengths = {len(v) for v in data.values()}
            if len(lengths) > 1:
                raise DataError(f"{path}: the columns have different lengths ({sorted(lengths)}); they must be parallel lists")
            return dict(data)
        raise DataError(f"{path}: expected an object of parallel lists or a list of row objects; {HOW_TABLE}")
    from harness.benchmarks.tabular_file import read_frame

    df = read_frame(str(path))
    return {str(c): df[c].tolist() for c in df.columns}


def read_table(path: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``(keys (N,) S32 in file order, {metric: float64 (N,)})`` of an NB101 table (see the
    module docstring); values in harness units (accuracy %), each checked against its unit."""
    from harness.benchmarks.base import check_column, unit_of

    cols = _frame(path)
    key_col = next((c for c in KEY_COLUMNS if c in cols), None)
    if key_col is None:
        raise DataError(f"{path} has no key column ({' or '.join(KEY_COLUMNS)}: the official module hash); "
                        f"it has: {', '.join(cols)}"[:400])
    raw = cols[key_col]
    if not raw:
        raise DataError(f"{path} has no rows")
    keys = []
    for r, k in enumerate(raw):
        if not isinstance(k, str) or not re.fullmatch(r"[0-9a-f]{32}", k):
            raise DataError(f"{path}: row {r + 1}, column {key_col!r}: {str(k)[:60]!r} is not a 32-hex-digit NB101 module hash")
        keys.append(k)
    keys = np.array(keys, dtype="S32")
    uniq, counts = np.unique(keys, return_counts=True)
    if uniq.size != keys.size:
        dup = uniq[counts > 1][0].decode()
        raise DataError(f"{path}: the key {dup} appears {int(counts[counts > 1][0])} times; keep one row per cell")
    metrics: dict[str, np.ndarray] = {}
    for c, values in cols.items():
        if c == key_col or c in IGNORED:
            continue
        got = metric_of_column(c)
        if got is None:
            raise DataError(f"{path}: unknown column {c!r}; NB101 tables take the official API's columns "
                            "({4,12,36,108}_final_validation_accuracy, ..._test_accuracy, ..._training_time, "
                            "final_training_time, trainable_parameters) or the harness's metric names")
        metric, scale = got
        if metric in metrics:
            raise DataError(f"{path}: columns for the metric {metric!r} given twice (e.g. {c!r}); keep one")
        try:
            num = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
        except (TypeError, ValueError):
            bad = next(i for i, v in enumerate(values) if not _is_number(v))
            raise DataError(f"{path}: row {bad + 1}, column {c!r}: {str(values[bad])[:60]!r} is not a number; fix the file") from None
        check_column(num, where=path, column=c, unit="fraction" if scale == 100.0 else unit_of(metric),
                     row_name=lambda r: f"row {r + 1} (cell {keys[r].decode()})")
        metrics[metric] = num * scale
    if not metrics:
        raise DataError(f"{path} has no metric columns; {HOW_TABLE}")
    return keys, metrics


def _is_number(v) -> bool:
    try:
        float(v)
        return v is not None
    except (TypeError, ValueError):
        return False
