"""NAS-Bench-101 official data (``nasbench_only108.tfrecord``, ``nasbench_full.tfrecord``) into
the cache, without TensorFlow.

Each TFRecord record (see :mod:`harness.data.tfrecord`) is one training run: the UTF-8 JSON list
``[module_hash, epochs, adjacency, operations, metrics]`` where ``adjacency`` is the V*V matrix
as a string of 0/1 digits (row-major), ``operations`` the V labels joined by commas and
``metrics`` a base64 ``nasbench.ModelMetrics`` protocol buffer. Field numbers, from the
release's ``model_metrics.proto`` (proto2)::

    message ModelMetrics {
      repeated EvaluationData evaluation_data = 1;   // length-delimited
      optional int32 trainable_parameters = 2;       // varint
      optional double total_time = 3;                // 64-bit
    }
    message EvaluationData {
      optional double current_epoch = 1;
      optional double training_time = 2;             // seconds of training up to this point
      optional double train_accuracy = 3;
      optional double validation_accuracy = 4;
      optional double test_accuracy = 5;
      optional string checkpoint_path = 6;
    }

As in the official API, ``evaluation_data[2]`` is the end of training (``[0]`` at
initialization, ``[1]`` halfway). Each cell has 3 runs (repeats) per epoch budget: 108 in the
``only108`` file; 4, 12, 36 and 108 in the ``full`` file.

Cache ``nb101`` (rows sorted by module hash): ``hashes`` (S32), ``codes`` (int64 canonical cell
codes, :func:`harness.spaces.nb101.cell_code`), ``parameters`` (int64), and per epoch budget
``E`` present: ``valid_accuracy_E``, ``test_accuracy_E`` (%, shape (N, 3)), ``training_time_E``
(seconds, (N, 3)); a missing repeat is NaN. Every record's cell is pruned, its hash recomputed
and compared with the file's ``module_hash`` (a mismatch is a DataError): the conversion also
checks our hash against the official one on every cell.
"""

from __future__ import annotations

import base64
import json
import math
import struct
import sys
import time
from pathlib import Path

import numpy as np

from harness.benchmarks.base import check_column
from harness.data import cache as _cache
from harness.data.protobuf import double, fields, int32
from harness.data.tfrecord import iter_batches
from harness.errors import DataError, InvalidArchitecture

CACHE_NAME = "nb101"
EPOCHS = (4, 12, 36, 108)
N_REPEATS = 3
N_CELLS = 423_624
OPTIMUM_TEST_108 = 94.32  # best mean test accuracy (%) at 108 epochs, rounded as published
HOW = (
    "obtain nasbench_only108.tfrecord (or nasbench_full.tfrecord for 4/12/36 epochs too) from the "
    "NAS-Bench-101 release and run: nas-harness data prepare nb101 PATH (or pass --data PATH)"
)


def decode_metrics(raw: bytes) -> dict:
    """``ModelMetrics`` as a dict: ``evaluation_data`` (list of dicts), ``trainable_parameters``,
    ``total_time``."""
    out = {"evaluation_data": [], "trainable_parameters": 0, "total_time": 0.0}
    names = {1: "current_epoch", 2: "training_time", 3: "train_accuracy", 4: "validation_accuracy", 5: "test_accuracy"}
    for num, wt, v in fields(raw):
        if num == 1 and wt == 2:
            ev = {}
            for n2, wt2, v2 in fields(v):
                if n2 in names and wt2 == 1:
                    ev[names[n2]] = double(v2)
                elif n2 == 6 and wt2 == 2:
                    ev["checkpoint_path"] = v2.decode("utf-8", "replace")
            out["evaluation_data"].append(ev)
        elif num == 2 and wt == 0:
            out["trainable_parameters"] = int32(v)
        elif num == 3 and wt == 1:
            out["total_time"] = double(v)
    return out


def _final(raw: bytes) -> tuple[int, float, float, float]:
    """``(parameters, training_time, validation_accuracy, test_accuracy)`` at the end of training."""
    evals, params = [], 0
    for num, wt, v in fields(raw):
        if num == 1 and wt == 2:
            evals.append(v)
        elif num == 2 and wt == 0:
            params = int32(v)
    if len(evals) < 3:
        raise ValueError(f"{len(evals)} evaluation_data entries, expected 3 (init, halfway, final)")
    t = va = te = math.nan
    for n2, wt2, v2 in fields(evals[2]):
        if wt2 == 1:
            if n2 == 2:
                t = double(v2)
            elif n2 == 4:
                va = double(v2)
            elif n2 == 5:
                te = double(v2)
    return params, t, va, te


def parse_record(data: bytes):
    """``(module_hash, epochs, matrix rows, ops, metrics bytes)`` of one record."""
    h, epochs, adj, ops, metrics = json.loads(data.decode("utf-8"))
    dim = math.isqrt(len(adj))
    if dim * dim != len(adj):
        raise ValueError(f"adjacency string of length {len(adj)} is not a square matrix")
    rows = [adj[i * dim : (i + 1) * dim] for i in range(dim)]
    return str(h), int(epochs), rows, ops.split(","), base64.b64decode(metrics)


def build(path, progress=None) -> tuple[dict, dict]:
    """Convert an official NB101 tfrecord into the cache arrays and metadata."""
    from harness.spaces.nb101 import NB101Space, _canonical, _prune, cell_code

    space = NB101Space()
    path = str(path)
    ep_index = {e: i for i, e in enumerate(EPOCHS)}
    cap = 1 << 16
    vals = np.full((cap, len(EPOCHS), N_REPEATS, 3), np.nan)  # (time, valid, test)
    count = np.zeros((cap, len(EPOCHS)), dtype=np.int8)
    params = np.zeros(cap, dtype=np.int64)
    codes = np.zeros(cap, dtype=np.int64)
    row_of: dict[str, int] = {}
    hashes: list[str] = []
    n = 0
    t0 = time.time()
    next_report = 100_000
    for batch in iter_batches(path):
        for data in batch:
            try:
                h, e, rows, ops, raw = parse_record(data)
                p, t, va, te = _final(raw)
            except (ValueError, TypeError, KeyError, IndexError, AttributeError, struct.error, UnicodeDecodeError) as err:
                raise DataError(f"{path}: record {n} is not a NAS-Bench-101 record ({err})") from None
            if e not in ep_index:
                raise DataError(f"{path}: record {n} has {e} epochs, expected one of {EPOCHS}")
            r = row_of.get(h)
            if r is None:
                try:
                    nv, succ, ops2 = space._raw(rows, ops)
                    pr = _prune(nv, succ, ops2)
                    if pr is None:
                        raise InvalidArchitecture("the input does not reach the output")
                    cell, mine = _canonical(*pr)
                except InvalidArchitecture as err:
                    raise DataError(f"{path}: record {n} holds an invalid cell ({err})") from None
                if mine != h:
                    raise DataError(
                        f"{path}: record {n}: the cell's NB101 hash is {mine} but the file says {h} "
                        "(damaged or not an official NAS-Bench-101 file)"
                    )
                r = row_of[h] = len(hashes)
                hashes.append(h)
                if r >= cap:
                    cap *= 2
                    vals = _grow(vals, cap, np.nan)
                    count = _grow(count, cap, 0)
                    params = _grow(params, cap, 0)
                    codes = _grow(codes, cap, 0)
                codes[r] = cell_code(cell)
                params[r] = p
            ei = ep_index[e]
            k = count[r, ei]
            if k >= N_REPEATS:
                raise DataError(f"{path}: cell {h} has more than {N_REPEATS} runs at {e} epochs (record {n})")
            vals[r, ei, k] = (t, va, te)
            count[r, ei] = k + 1
            n += 1
        if progress and n >= next_report:
            progress(n, len(hashes), time.time() - t0)
            next_report += 100_000
    if n == 0:
        raise DataError(f"{path} holds no records")
    N = len(hashes)
    h_arr = np.array(hashes, dtype="S32")
    order = np.argsort(h_arr, kind="stable")
    present = [i for i, e in enumerate(EPOCHS) if count[:N, i].any()]
    arrays = {"hashes": h_arr[order], "codes": codes[:N][order], "parameters": params[:N][order]}
    sorted_hashes = h_arr[order]
    for i in present:
        e = EPOCHS[i]
        v = vals[:N, i][order]
        absent = np.arange(N_REPEATS)[None, :] >= count[:N, i][order][:, None]  # runs the file lacks
        arrays[f"training_time_{e}"] = v[..., 0].copy()
        arrays[f"valid_accuracy_{e}"] = v[..., 1] * 100.0
        arrays[f"test_accuracy_{e}"] = v[..., 2] * 100.0
        for name, unit in ((f"training_time_{e}", "nonnegative"), (f"valid_accuracy_{e}", "%"), (f"test_accuracy_{e}", "%")):
            check_column(arrays[name], where=path, column=name, unit=unit, missing=absent,
                         row_name=lambda r: f"cell {sorted_hashes[r].decode()}",
                         how="the file is damaged or not an official NAS-Bench-101 file")
    check_column(arrays["parameters"], where=path, column="parameters", unit="nonnegative",
                 row_name=lambda r: f"cell {sorted_hashes[r].decode()}")
    complete = {str(EPOCHS[i]): int((count[:N, i] == N_REPEATS).sum()) for i in present}
    meta = {
        "benchmark": "nb101",
        "records": n,
        "cells": N,
        "epochs": [EPOCHS[i] for i in present],
        "repeats": N_REPEATS,
        "complete_rows": complete,
        "units": {"accuracy": "%", "training_time": "s"},
    }
    return arrays, meta


def _grow(a: np.ndarray, cap: int, fill) -> np.ndarray:
    out = np.full((cap,) + a.shape[1:], fill, dtype=a.dtype)
    out[: a.shape[0]] = a
    return out


def _stderr_progress(n, cells, secs):
    print(f"  {n:,} records, {cells:,} cells, {secs:.0f} s", file=sys.stderr, flush=True)


def load(source=None, progress=None, force: bool = False, announce=None) -> _cache.Cache:
    """The NB101 cache, converted from ``source`` first when needed (see :func:`cache.open_cache`)."""

    def _build(path):
        # announced on stderr, or on ``announce`` (``data prepare``: stdout, so that stderr holds errors only)
        print(f"nas-harness: converting {path} into the NB101 cache (one time; minutes)", file=announce or sys.stderr, flush=True)
        return build(path, progress=progress or _stderr_progress)

    if source is not None and Path(source).is_dir():
        raise DataError(f"{source} is a directory; NB101 needs the tfrecord file itself ({HOW})")
    return _cache.open_cache(CACHE_NAME, _build, source=source, what=HOW, force=force)


def verify(c: _cache.Cache) -> list[tuple[str, bool, str]]:
    """Checks of a loaded NB101 cache against the known facts of the official data."""
    a, out = c.arrays, []
    n = int(a["hashes"].shape[0])
    out.append(("cells", n == N_CELLS, f"{n:,} unique cells (official: {N_CELLS:,})"))
    if "test_accuracy_108" in a:
        mean = np.nanmean(a["test_accuracy_108"], axis=1)
        best = float(np.nanmax(mean))
        out.append(("optimum", round(best, 2) == OPTIMUM_TEST_108, f"best mean test accuracy at 108 epochs {best:.4f}% (official: {OPTIMUM_TEST_108}%)"))
        full = int((~np.isnan(a["test_accuracy_108"])).all(axis=1).sum())
        out.append(("repeats", full == n, f"{full:,} of {n:,} cells have {N_REPEATS} runs at 108 epochs"))
    else:
        out.append(("optimum", False, "no 108-epoch results"))
    epochs = c.meta.get("meta", {}).get("epochs", [])
    if epochs and set(epochs) != set(EPOCHS):
        out.append(("epochs", True, f"epochs {epochs} (prepare nasbench_full.tfrecord for 4/12/36 as well)"))
    else:
        out.append(("epochs", True, f"epochs {epochs}"))
    return out


# --- the ``nas-harness data`` protocol (see :mod:`harness.data`) -----------------------------
def prepare(path, force: bool = False) -> str:
    """Convert the official data at ``path`` into the cache (again with ``force``)."""
    return _cache.prepare_from(CACHE_NAME, path, load, HOW, force)


def check():
    """``None`` when there is no cache, else :func:`verify` of it plus its checksum."""
    return _cache.check_with(CACHE_NAME, verify)
