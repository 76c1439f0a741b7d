"""The benchmark data cache: one uncompressed numpy ``.npz`` per benchmark, never pickle.

Layout under :func:`harness.paths.cache_dir` (``$NAS_HARNESS_CACHE`` or ``~/.cache/nas-harness``)::

    <name>.npz    the arrays (np.savez, loaded with allow_pickle=False)
    <name>.json   sidecar: format version, sha256 of the .npz, row count, the source file
                  (absolute path, size, modification time) and free-form metadata

A cache is used only when its sidecar parses, its format version is :data:`FORMAT_VERSION`,
the sha256 of the ``.npz`` matches and the arrays load. Anything else makes it *corrupt*:
:func:`open_cache` then rebuilds it from its source file (saying so on stderr) or, when no
source file is at hand, raises :class:`harness.errors.DataError` naming the command to run.
Writes are atomic (temporary files beside the cache, then ``os.replace``; the sidecar last),
and a rebuild writes nothing until the new arrays are complete and validated.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from harness.errors import DataError
from harness.paths import cache_dir

FORMAT_VERSION = 1


@dataclass
class Cache:
    """A loaded cache: ``arrays`` by name and the sidecar ``meta``."""

    name: str
    arrays: dict[str, np.ndarray]
    meta: dict = field(default_factory=dict)
    path: Path | None = None


class CorruptCache(DataError):
    """A cache file that exists but cannot be trusted (checksum, version, unreadable)."""


def paths(name: str, root: Path | None = None) -> tuple[Path, Path]:
    root = Path(root) if root is not None else cache_dir()
    return root / f"{name}.npz", root / f"{name}.json"


def source_identity(path) -> dict:
    """What identifies a source file: absolute path, size and modification time."""
    p = Path(path).absolute()
    st = p.stat()
    return {"path": str(p), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 24), b""):
            h.update(block)
    return h.hexdigest()


def write(name: str, arrays: dict[str, np.ndarray], meta: dict | None = None, source=None, root: Path | None = None) -> Path:
    """Write ``arrays`` (+ ``meta``, + the identity of ``source``) atomically; return the .npz path."""
    npz, side = paths(name, root)
    npz.parent.mkdir(parents=True, exist_ok=True)
    for k, a in arrays.items():
        if np.asarray(a).dtype == object:
            raise ValueError(f"cache {name}: array {k} has dtype object (would need pickle)")
    tmp = npz.with_name(f".{npz.name}.{os.getpid()}.tmp")
    tmp_side = side.with_name(f".{side.name}.{os.getpid()}.tmp")
    try:
        return _write_beside(name, arrays, meta, source, npz, side, tmp, tmp_side)
    finally:  # after a failure (disk full, ...) no temporary file stays; the old cache is untouched
        tmp.unlink(missing_ok=True)
        tmp_side.unlink(missing_ok=True)


def _write_beside(name, arrays, meta, source, npz: Path, side: Path, tmp: Path, tmp_side: Path) -> Path:
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    digest = _sha256_file(tmp)
    rows = {k: int(np.asarray(a).shape[0]) if np.asarray(a).ndim else 1 for k, a in arrays.items()}
    sidecar = {
        "format_version": FORMAT_VERSION,
        "name": name,
        "sha256": digest,
        "bytes": tmp.stat().st_size,
        "rows": rows,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "source": source_identity(source) if source is not None else None,
        "meta": meta or {},
    }
    tmp_side.write_text(json.dumps(sidecar, indent=1))
    os.replace(tmp, npz)
    os.replace(tmp_side, side)
    return npz


def read_sidecar(name: str, root: Path | None = None) -> dict | None:
    """The parsed sidecar, or ``None`` when there is no cache of that name."""
    npz, side = paths(name, root)
    if not side.exists() and not npz.exists():
        return None
    if not side.exists():
        raise CorruptCache(f"cache {npz} has no sidecar {side.name} (interrupted write?)")
    try:
        return json.loads(side.read_text())
    except (OSError, ValueError) as e:
        raise CorruptCache(f"cache sidecar {side} is unreadable: {e}") from None


def read(name: str, root: Path | None = None) -> Cache:
    """Load and verify a cache. Raises :class:`CorruptCache` (a DataError) if it cannot be
    trusted and a plain :class:`DataError` if it does not exist."""
    npz, side = paths(name, root)
    meta = read_sidecar(name, root)
    if meta is None:
        raise DataError(f"no cache {npz}")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CorruptCache(
            f"cache {npz} has format version {meta.get('format_version')}, this harness reads version {FORMAT_VERSION}"
        )
    try:
        data = npz.read_bytes()
    except OSError as e:
        raise CorruptCache(f"cache {npz} is unreadable: {e}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != meta.get("sha256"):
        raise CorruptCache(
            f"cache {npz} is corrupt: sha256 {digest[:12]}... != {str(meta.get('sha256'))[:12]}... recorded "
            f"({len(data):,} bytes, {meta.get('bytes', 0):,} expected)"
        )
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as e:  # zipfile/np raise many kinds
        raise CorruptCache(f"cache {npz} does not load: {e}") from None
    del data
    return Cache(name, arrays, meta, npz)


def open_cache(
    name: str,
    build: Callable[[str], tuple[dict, dict]] | None = None,
    source=None,
    what: str = "",
    root: Path | None = None,
    force: bool = False,
) -> Cache:
    """The cache ``name``, (re)built with ``build(source_path) -> (arrays, meta)`` when needed.

    * ``source`` given: the cache is used if it was built from that very file (same path,
      size and modification time); otherwise it is rebuilt from ``source``.
    * ``source`` not given: the cache is used if it is sound; a corrupt cache is rebuilt from
      the source recorded in its sidecar when that file still exists.
    * ``what``: how to obtain the source, used in the error when nothing can be done.
    * ``force``: rebuild from ``source`` even when the cache is up to date. The new arrays are
      built (which validates the whole file) before anything is written, and then swapped in
      with ``os.replace``: a bad file leaves the previous cache as it was.
    """
    npz, _ = paths(name, root)
    reason = None
    try:
        cache = read(name, root)
    except CorruptCache as e:
        cache, reason = None, str(e)
    except DataError:
        cache = None
    if cache is not None and not force:
        if source is None:
            return cache
        recorded = cache.meta.get("source") or {}
        try:
            if recorded and recorded == source_identity(source):
                return cache
        except OSError:
            raise DataError(f"data file {source} does not exist; {what}".rstrip("; ")) from None
    if source is None:
        try:
            side = read_sidecar(name, root) or {}
        except CorruptCache:
            side = {}
        recorded = (side.get("source") or {}).get("path")
        if recorded and Path(recorded).exists():
            source = recorded
    if build is None or source is None:
        if reason:
            raise DataError(f"{reason}; its source file is not available to rebuild it: {what}".rstrip(": "))
        raise DataError(f"no prepared data for {name} (expected {npz}): {what}".rstrip(": "))
    if reason:
        print(f"nas-harness: {reason}; rebuilding it from {source}", file=sys.stderr)
    if not Path(source).exists():
        raise DataError(f"data file {source} does not exist; {what}".rstrip("; "))
    arrays, meta = build(str(source))
    write(name, arrays, meta, source=source, root=root)
    return read(name, root)


def prepare_from(name: str, path, load, how: str, force: bool = False) -> str:
    """Shared ``prepare`` of the ``nas-harness data`` preparers: convert ``path`` into cache
    ``name`` with ``load(path)`` (afresh with ``force``); ``how`` says where to get the file."""
    if not Path(path).exists():
        raise DataError(f"data file {path} does not exist; {how}")
    try:
        c = load(path, force=force, announce=sys.stdout)  # force: validate fully, then swap atomically
    except OSError as e:
        raise DataError(
            f"cannot prepare {name} from {path}: {e.strerror or e}{f' ({e.filename})' if e.filename else ''}; "
            "check that the file is readable and the cache folder writable (NAS_HARNESS_CACHE)"
        ) from None
    return f"{name}: cache {c.path} ({c.path.stat().st_size / 1e6:.0f} MB) from {path}"


def check_with(name: str, verify) -> list | None:
    """Shared ``check``: ``None`` without a cache, else its checksum line plus ``verify(cache)``."""
    if read_sidecar(name) is None:
        return None
    c = read(name)
    return [("checksum", True, f"sha256 {c.meta['sha256'][:12]}... ok")] + verify(c)
