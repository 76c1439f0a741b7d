"""CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord framing uses it.

``crc32c(data)`` is a plain table-driven implementation for single buffers; ``crc32c_batch``
computes the CRCs of many buffers at once with numpy (the buffers are right-aligned in a
matrix and processed one byte column at a time, each row starting at its own column).
``mask`` is TFRecord's masking: ``((crc >> 15) | (crc << 17)) + 0xA282EAD8`` modulo 2^32.
Check value: ``crc32c(b"123456789") == 0xE3069283``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

_POLY = 0x82F63B78
_MASK_DELTA = 0xA282EAD8


def _make_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        table.append(c)
    return table


TABLE = _make_table()
_NP_TABLE = np.array(TABLE, dtype=np.uint32)


def crc32c(data: bytes, crc: int = 0) -> int:
    """CRC-32C of ``data`` (continuing from ``crc``)."""
    c = crc ^ 0xFFFFFFFF
    t = TABLE
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def mask(crc: int) -> int:
    """TFRecord's masked CRC."""
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def mask_array(crc: np.ndarray) -> np.ndarray:
    c = crc.astype(np.uint64)
    return ((((c >> np.uint64(15)) | (c << np.uint64(17))) + np.uint64(_MASK_DELTA)) & np.uint64(0xFFFFFFFF)).astype(np.uint32)


_POS_TABLES = np.zeros((0, 256), dtype=np.uint32)  # row d: contribution of a byte d places before the end
_ZERO_CRC = np.zeros(1, dtype=np.uint32)  # [n]: CRC-32C of n zero bytes


def _tables(width: int):
    """Grow the position tables to ``width``. CRC-32C is affine over GF(2): with ``A`` the
    register update for a zero byte, a byte ``b`` at distance ``d`` from the end contributes
    ``A^d(TABLE[b])``, and the message length contributes the CRC of that many zero bytes."""
    global _POS_TABLES, _ZERO_CRC
    if _POS_TABLES.shape[0] < width:
        have = _POS_TABLES.shape[0]
        rows = [_POS_TABLES[i] for i in range(have)] or [_NP_TABLE.copy()]
        eight, ff = np.uint32(8), np.uint32(0xFF)
        while len(rows) < width:
            r = rows[-1]
            rows.append(_NP_TABLE[r & ff] ^ (r >> eight))
        _POS_TABLES = np.stack(rows)
        zero = [0]
        reg = 0xFFFFFFFF
        for _ in range(width):
            reg = TABLE[reg & 0xFF] ^ (reg >> 8)
            zero.append(reg ^ 0xFFFFFFFF)
        _ZERO_CRC = np.array(zero, dtype=np.uint32)
    return _POS_TABLES, _ZERO_CRC


def crc32c_batch(buffers: Sequence[bytes]) -> np.ndarray:
    """CRC-32C of each buffer: shape ``(len(buffers),)``, uint32 (vectorized; see ``_tables``)."""
    k = len(buffers)
    if k == 0:
        return np.empty(0, dtype=np.uint32)
    lengths = np.fromiter((len(b) for b in buffers), dtype=np.int64, count=k)
    width = max(int(lengths.max()), 1)
    pos, zero = _tables(width)
    joined = np.frombuffer(b"".join(buffers), dtype=np.uint8)
    # byte i of buffer r lies at distance lengths[r] - 1 - i from its end
    ends = np.cumsum(lengths)
    idx = np.repeat((ends - 1).astype(np.int64) * 256, lengths)  # (end - 1 - i) * 256 + byte
    idx -= np.arange(0, 256 * joined.size, 256, dtype=np.int64)
    idx += joined
    contrib = np.take(pos.reshape(-1), idx)
    out = zero[lengths].copy()
    nonempty = lengths > 0
    if joined.size:
        out[nonempty] ^= np.bitwise_xor.reduceat(contrib, (ends - lengths)[nonempty])
    return out
