"""Reading TFRecord files without TensorFlow.

A TFRecord file is a sequence of records, each framed as::

    uint64 length (little endian)
    uint32 masked crc32c of the 8 length bytes
    byte   data[length]
    uint32 masked crc32c of data

Both CRCs are verified (the data CRCs in numpy batches). A file that ends inside a record, a
bad length CRC or a bad data CRC raises :class:`harness.errors.DataError` naming the file, the
record number and its byte offset.
"""

from __future__ import annotations

import mmap
import os
import struct
from typing import Iterator

import numpy as np

from harness.data.crc32c import crc32c, crc32c_batch, mask, mask_array
from harness.errors import DataError

_HEADER = struct.Struct("<QI")
_U32 = struct.Struct("<I")


def iter_batches(path, batch_size: int = 8192, verify: bool = True) -> Iterator[list[bytes]]:
    """Yield the records' data in lists of up to ``batch_size``, in file order, verified."""
    path = str(path)
    if not os.path.exists(path):
        raise DataError(f"data file {path} does not exist")
    if os.path.isdir(path):
        raise DataError(f"{path} is a directory, expected a TFRecord file (e.g. nasbench_only108.tfrecord)")
    if not os.access(path, os.R_OK):
        raise DataError(f"{path} is not readable (permission denied); check its permissions")
    size = os.path.getsize(path)
    if size == 0:
        raise DataError(f"{path} is empty, expected TFRecord data")
    header_crc: dict[bytes, int] = {}  # lengths repeat: memoize their CRCs
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        off, n = 0, 0
        datas: list[bytes] = []
        crcs: list[int] = []
        offs: list[int] = []
        while off < size:
            if size - off < _HEADER.size:
                raise DataError(
                    f"{path} is truncated at byte offset {off:,} (record {n}): "
                    f"{size - off} bytes left, a record header needs {_HEADER.size}"
                )
            length, lcrc = _HEADER.unpack_from(mm, off)
            if verify:
                raw = mm[off : off + 8]
                c = header_crc.get(raw)
                if c is None:
                    c = header_crc[raw] = mask(crc32c(raw))
                if c != lcrc:
                    raise DataError(
                        f"{path} is corrupt at byte offset {off:,} (record {n}): the length CRC does not match "
                        "(not a TFRecord file, or damaged)"
                    )
            end = off + _HEADER.size + length + 4
            if end > size:
                raise DataError(
                    f"{path} is truncated at byte offset {off:,} (record {n}): the record needs {length + 16:,} bytes, "
                    f"{size - off:,} remain"
                )
            datas.append(mm[off + 12 : off + 12 + length])
            crcs.append(_U32.unpack_from(mm, off + 12 + length)[0])
            offs.append(off)
            off = end
            n += 1
            if len(datas) >= batch_size:
                if verify:
                    _check(path, datas, crcs, offs, n - len(datas))
                yield datas
                datas, crcs, offs = [], [], []
        if datas:
            if verify:
                _check(path, datas, crcs, offs, n - len(datas))
            yield datas


def _check(path, datas, crcs, offs, first: int) -> None:
    got = mask_array(crc32c_batch(datas))
    bad = np.flatnonzero(got != np.asarray(crcs, dtype=np.uint32))
    if bad.size:
        i = int(bad[0])
        raise DataError(
            f"{path} is corrupt at byte offset {offs[i]:,} (record {first + i}): the data CRC does not match"
        )


def iter_records(path, verify: bool = True) -> Iterator[bytes]:
    """Every record's data, in file order."""
    for batch in iter_batches(path, verify=verify):
        yield from batch


def frame(data: bytes) -> bytes:
    """One record framed as TFRecord (length, masked CRCs)."""
    head = struct.pack("<Q", len(data))
    return head + _U32.pack(mask(crc32c(head))) + data + _U32.pack(mask(crc32c(data)))
