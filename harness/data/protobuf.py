"""A minimal protocol-buffers wire-format decoder (no generated code, no protobuf package).

``fields(buf)`` yields ``(field_number, wire_type, value)``: varints as ``int``, 64-bit and
32-bit fields as raw ``bytes`` (8 or 4), length-delimited fields as ``bytes``. Groups
(wire types 3/4) are not supported. Malformed input raises ``ValueError``.
"""

from __future__ import annotations

import struct
from typing import Iterator

_DOUBLE = struct.Struct("<d")


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def fields(buf: bytes) -> Iterator[tuple[int, int, object]]:
    i, n = 0, len(buf)
    while i < n:
        key, i = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if num == 0:
            raise ValueError("field number 0")
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 1:
            if i + 8 > n:
                raise ValueError("truncated 64-bit field")
            v, i = buf[i : i + 8], i + 8
        elif wt == 2:
            ln, i = _varint(buf, i)
            if i + ln > n:
                raise ValueError("truncated length-delimited field")
            v, i = buf[i : i + ln], i + ln
        elif wt == 5:
            if i + 4 > n:
                raise ValueError("truncated 32-bit field")
            v, i = buf[i : i + 4], i + 4
        else:
            raise ValueError(f"unsupported wire type {wt}")
        yield num, wt, v


def double(raw: bytes) -> float:
    return _DOUBLE.unpack(raw)[0]


def int32(v: int) -> int:
    """A varint read as a (possibly negative, sign-extended) int32."""
    v &= 0xFFFFFFFFFFFFFFFF
    if v >= 1 << 63:
        v -= 1 << 64
    return int(v)
