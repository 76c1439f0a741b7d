"""Test helper: write NAS-Bench-101 tfrecords in the official encoding (TFRecord framing with
masked CRC-32C, JSON records, base64 ``ModelMetrics`` protocol buffers), written independently
of the reader under test (own varint/field encoder)."""

from __future__ import annotations

import base64
import json
import struct

import numpy as np

from harness.data.crc32c import crc32c, mask
from harness.spaces.nb101 import NB101Space


def _varint(v: int) -> bytes:
    v &= 0xFFFFFFFFFFFFFFFF
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(num: int, wt: int) -> bytes:
    return _varint(num << 3 | wt)


def _double(num: int, x: float) -> bytes:
    return _key(num, 1) + struct.pack("<d", x)


def _len(num: int, payload: bytes) -> bytes:
    return _key(num, 2) + _varint(len(payload)) + payload


def evaluation_data(epoch, training_time, train_acc, valid_acc, test_acc, checkpoint=""):
    msg = _double(1, epoch) + _double(2, training_time) + _double(3, train_acc) + _double(4, valid_acc) + _double(5, test_acc)
    if checkpoint:
        msg += _len(6, checkpoint.encode())
    return msg


def model_metrics(evals: list[bytes], params: int, total_time: float) -> bytes:
    return b"".join(_len(1, e) for e in evals) + _key(2, 0) + _varint(params) + _double(3, total_time)


def frame(data: bytes) -> bytes:
    head = struct.pack("<Q", len(data))
    return head + struct.pack("<I", mask(crc32c(head))) + data + struct.pack("<I", mask(crc32c(data)))


def relabel(cell, rng):
    """The cell under a uniformly random topological order (random Kahn's algorithm)."""
    n = len(cell.ops)
    preds = [{i for i in range(n) if cell.matrix[i][j]} for j in range(n)]
    order, placed = [], set()
    while len(order) < n:
        avail = [v for v in range(n) if v not in placed and preds[v] <= placed]
        v = avail[int(rng.integers(len(avail)))]
        order.append(v)
        placed.add(v)
    perm = {v: i for i, v in enumerate(order)}
    m = [[0] * n for _ in range(n)]
    ops = [None] * n
    for i in range(n):
        ops[perm[i]] = cell.ops[i]
        for j in range(n):
            if cell.matrix[i][j]:
                m[perm[i]][perm[j]] = 1
    return m, ops


def make_cells(n: int, seed: int = 0):
    """``n`` distinct valid cells with their hashes."""
    space = NB101Space()
    rng = np.random.default_rng(seed)
    cells = {}
    while len(cells) < n:
        c = space.sample(rng)
        cells.setdefault(space.key(c), c)
    return cells


def write_tfrecord(path, cells: dict, epochs=(108,), seed: int = 0) -> dict:
    """Write 3 runs per cell and epoch budget; return the truth ``{hash: {epochs: [(valid, test,
    time), ...], "params": p}}`` (accuracies as fractions, as in the file)."""
    rng = np.random.default_rng(seed)
    truth = {}
    records = []
    for h, cell in cells.items():
        params = int(rng.integers(200_000, 40_000_000))
        t = truth[h] = {"params": params}
        for e in epochs:
            runs = []
            for _ in range(3):
                va, te = float(rng.uniform(0.1, 0.95)), float(rng.uniform(0.1, 0.95))
                tt = float(rng.uniform(100, 5000))
                evals = [
                    evaluation_data(0.0, 0.0, 0.1, 0.1, 0.1),
                    evaluation_data(e / 2, tt / 2, 0.5, va / 2, te / 2, "/tmp/model.ckpt-1"),
                    evaluation_data(float(e), tt, 0.99, va, te, "/tmp/model.ckpt-2"),
                ]
                raw = model_metrics(evals, params, tt * 1.1)
                m, ops = relabel(cell, rng)
                rec = [h, e, "".join(str(x) for r in m for x in r), ",".join(ops), base64.b64encode(raw).decode()]
                records.append(json.dumps(rec).encode())
                runs.append((va, te, tt))
            t[e] = runs
    order = rng.permutation(len(records))  # the official files are not grouped by cell
    with open(path, "wb") as f:
        for i in order:
            f.write(frame(records[i]))
    return truth
