"""RunRecord: everything one (protocol, algorithm, seed) run produced; the source of truth.

Serializable without pickle. A record is stored as ONE compact columnar file, a NumPy ``.npz``
archive (a zip; ``np.load(path)`` reads it with ``allow_pickle=False``), which is both the raw
record (``results/runs/<protocol id>/<run key>.npz``) and the MLflow artifact ``record.npz``:

* ``record.json``: ``{"format", "meta", "episodes", "columns", "diagnostics"}`` (plain JSON:
  the metadata, the episodes, the names of the trajectory columns stored and of the
  diagnostics, in order);
* ``<column>.npy`` per trajectory column (``index`` in the smallest integer type that holds
  it, ``key`` as UTF-8 bytes, the others float64); the ``incumbent_*`` columns are a pure
  function of ``search`` and are rebuilt on read, not stored;
* ``diag<i>.step.npy`` / ``diag<i>.value.npy``: diagnostic ``i`` (int64 steps, float64
  values; :meth:`harness.oracle.Oracle.log_diagnostic`).

:meth:`RunRecord.read` also reads the JSON files of schema 2 and older (``<run key>.json``):
existing results folders and MLflow stores stay readable. ``to_dict``/``from_dict`` give the
same record as plain JSON types.

The metadata is a typed structure (:class:`RunMeta`) with a schema version
(:data:`SCHEMA_VERSION`); reading checks it: a record older than :data:`IDENTITY_SCHEMA`
is read (it carries no run identity that can be verified, see :mod:`harness.identity`, so
reports leave it out and say so), one of a newer schema or with a missing or mistyped field is
refused with one line (:class:`harness.errors.DataError`). Schema 3 changed the storage (one
``.npz`` file, diagnostics), not the identity: schema-2 records count as current.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from typing import Any, TypedDict

import numpy as np

from harness.errors import DataError

SCHEMA_VERSION = 3
IDENTITY_SCHEMA = 2  # the first schema whose run key covers the data and the algorithm's source
SUFFIX = ".npz"  # a record file: <run key>.npz
LEGACY_SUFFIX = ".json"  # schema 2 and older: <run key>.json
HEADER = "record.json"  # the zip member holding metadata, episodes and the column list
FORMAT = "nas-harness run record"


class RunMeta(TypedDict, total=False):
    """The metadata of a record (schema :data:`SCHEMA_VERSION`). Identity (what the run key
    hashes, :mod:`harness.identity`) and provenance (what made it) are both here."""

    schema_version: int
    run_key: str
    experiment_key: str  # the run key without algorithm and seed: one experiment's runs share it
    protocol: str  # protocol name
    protocol_id: str  # name-v<version>
    protocol_hash: str  # hash of harness.identity.protocol_identity
    protocol_settings: dict  # that identity itself (plain JSON)
    algorithm: str  # the name it was asked for (registry name or module:Class)
    algorithm_class: str  # module:Class
    algorithm_version: Any  # the class's declared version
    algorithm_source: str  # sha256 of its source (harness.identity.algorithm_identity)
    variant: str  # label of this setting, e.g. "bonas(sampler=rl)"
    hyperparameters: dict
    seed: int
    benchmark: str
    benchmark_version: str
    dataset: str | None
    space: str
    data_checksum: str  # sha256 of the benchmark's numbers
    data: str | None  # the data path given (informative; the checksum is the identity)
    search_metric: str
    report_metric: str
    maximize: bool
    maximize_report: bool
    budget: int
    counting: str
    noise: str
    until_optimum: Any
    status: str  # "finished" or "failed"
    error: str
    stalled: bool
    found_optimum: bool
    wall_time: float
    training_queries: int
    optimum_search: float
    optimum_search_index: int
    optimum_report: float
    provenance: dict  # package version, git commit/dirty, library versions (harness.identity.provenance)


# field -> accepted types, checked on read (schemas 2 and 3)
_REQUIRED: dict[str, tuple] = {
    "schema_version": (int,), "run_key": (str,), "experiment_key": (str,), "protocol": (str,), "protocol_id": (str,),
    "protocol_hash": (str,), "algorithm": (str,), "algorithm_source": (str,), "hyperparameters": (dict,),
    "seed": (int,), "benchmark": (str,), "data_checksum": (str,), "search_metric": (str,), "report_metric": (str,),
    "maximize": (bool,), "budget": (int,), "status": (str,), "provenance": (dict,),
}


def check_meta(meta: Any, where: str = "record") -> None:
    """Raise :class:`DataError` (one line) unless ``meta`` is valid metadata of a readable schema."""
    if not isinstance(meta, dict):
        raise DataError(f"{where}: not a run record (no metadata table)")
    v = meta.get("schema_version", 1)
    if not isinstance(v, int) or isinstance(v, bool):
        raise DataError(f"{where}: schema_version must be an integer, got {v!r}")
    if v > SCHEMA_VERSION:
        raise DataError(f"{where}: record schema {v} is newer than this nas-harness reads ({SCHEMA_VERSION}): "
                        "upgrade nas-harness to read it")
    if v < IDENTITY_SCHEMA:
        return  # older: read as it is; reports leave it out (harness.identity.select_current)
    for k, types in _REQUIRED.items():
        if k not in meta:
            raise DataError(f"{where}: record schema {v} needs the field {k!r}, which is missing")
        x = meta[k]
        if not isinstance(x, types) or (isinstance(x, bool) and bool not in types):
            raise DataError(f"{where}: field {k!r} must be {' or '.join(t.__name__ for t in types)}, "
                            f"got {type(x).__name__}")
    if meta["status"] not in ("finished", "failed"):
        raise DataError(f"{where}: status must be 'finished' or 'failed', got {meta['status']!r}")


TRAJECTORY_FLOAT = ("search", "report", "incumbent_search", "incumbent_report", "time", "sim_time")
# also float: ``cost_<metric>`` (report-only cost metrics of a protocol's ``cost_metrics``)
COST_PREFIX = "cost_"
TRAJECTORY_INT = ("index", "incumbent_index")
TRAJECTORY_STR = ("key", "incumbent_key")
_ORDER = ("index", "key", "search", "report", "incumbent_search", "incumbent_report", "incumbent_index",
          "incumbent_key", "time", "sim_time")
# ``incumbent_<c>`` is column ``c`` at the incumbent's position, a pure function of ``search``
# (and ``meta["maximize"]``): not stored in the JSON file, rebuilt on read
_INCUMBENT_OF = ("search", "report", "index", "key")


@dataclass
class RunRecord:
    """One run.

    Attributes:
        meta: protocol, algorithm, hyperparameters, seed, benchmark, metrics, budget, counting,
            noise, code version, run key, status (``finished``/``failed``), error text, wall
            time (s), training queries, optimum values, ...
        trajectory: per counted query arrays (see :meth:`harness.oracle.Oracle.trajectory`).
        episodes: per-episode dicts for episodic algorithms (start/end keys and values).
        diagnostics: what the algorithm logged with ``oracle.log_diagnostic(name, value, step)``:
            ``{name: {"step": int64 array, "value": float64 array}}`` in logging order.
    """

    meta: dict[str, Any]
    trajectory: dict[str, np.ndarray] = field(default_factory=dict)
    episodes: list[dict[str, Any]] = field(default_factory=list)
    diagnostics: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    @property
    def n_queries(self) -> int:
        return int(len(self.trajectory.get("search", ())))

    @property
    def run_key(self) -> str:
        return self.meta.get("run_key", "")

    def _stored_columns(self) -> list[str]:
        """The trajectory columns a file stores: all but the incumbent columns, which are the
        per-query columns at the incumbent's position, a pure function of ``search``."""
        t = self.trajectory
        derived = {f"incumbent_{c}" for c in _INCUMBENT_OF if c in t} if "search" in t else set()
        return [k for k in t if k not in derived]

    def to_dict(self) -> dict:
        """The record as plain JSON types (the incumbent columns left out, rebuilt on read)."""
        traj = {k: np.asarray(self.trajectory[k]).tolist() for k in self._stored_columns()}
        d = {"meta": _plain(self.meta), "trajectory": traj, "episodes": _plain(self.episodes)}
        if self.diagnostics:
            d["diagnostics"] = {n: {"step": np.asarray(c["step"]).tolist(), "value": np.asarray(c["value"]).tolist()}
                                for n, c in self.diagnostics.items()}
        return d

    def encode(self) -> bytes:
        """The bytes of the record's ``.npz`` file (what :meth:`write` stores; see the module
        docstring for the layout). Deterministic for a given record."""
        cols = self._stored_columns()
        names = list(self.diagnostics)
        header = {"format": FORMAT, "meta": _plain(self.meta), "episodes": _plain(self.episodes),
                  "columns": cols, "diagnostics": names}
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=LEVEL) as z:
            _put(z, HEADER, json.dumps(header, separators=(",", ":"), allow_nan=True).encode())
            for c in cols:
                _put(z, f"{c}.npy", _npy(_pack_column(c, self.trajectory[c])))
            for i, n in enumerate(names):
                d = self.diagnostics[n]
                _put(z, f"diag{i}.step.npy", _npy(np.asarray(d["step"], dtype=np.int64)))
                _put(z, f"diag{i}.value.npy", _npy(np.asarray(d["value"], dtype=np.float64)))
        return buf.getvalue()

    @classmethod
    def decode(cls, data: bytes, where: str = "record") -> "RunRecord":
        """The record stored in ``data`` (the bytes of a ``.npz`` record, or of a JSON record of
        schema 2 and older); :class:`DataError` (one line) when it is not a valid record."""
        if data[:2] != b"PK":  # not a zip: a JSON record of an older schema
            try:
                d = json.loads(data)
            except (ValueError, UnicodeDecodeError) as e:
                raise DataError(f"{where}: not a run record (neither .npz nor JSON: {type(e).__name__})") from None
            try:
                return cls.from_dict(d, where)
            except (TypeError, ValueError, KeyError, AttributeError) as e:
                raise DataError(f"{where}: malformed run record ({type(e).__name__}: {e})") from None
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                header = json.loads(z.read(HEADER))
                if not isinstance(header, dict) or header.get("format") != FORMAT:
                    raise DataError(f"{where}: a zip file but not a nas-harness run record (no {HEADER} header)")
                check_meta(header.get("meta"), where)
                traj = {c: _unpack_column(c, _read_npy(z, f"{c}.npy")) for c in header.get("columns", [])}
                diags = {n: {"step": _read_npy(z, f"diag{i}.step.npy").astype(np.int64, copy=False),
                             "value": _read_npy(z, f"diag{i}.value.npy").astype(np.float64, copy=False)}
                         for i, n in enumerate(header.get("diagnostics", []))}
        except DataError:
            raise
        except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError, EOFError) as e:
            raise DataError(f"{where}: malformed run record ({type(e).__name__}: {e})") from None
        meta = header["meta"]
        return cls(meta=dict(meta), trajectory=_with_incumbents(traj, meta), episodes=list(header.get("episodes", [])),
                   diagnostics=diags)

    @classmethod
    def from_dict(cls, d: dict, where: str = "record") -> "RunRecord":
        if not isinstance(d, dict):
            raise DataError(f"{where}: not a run record (the JSON is not an object)")
        check_meta(d.get("meta"), where)
        traj = {}
        for k, v in d.get("trajectory", {}).items():
            if k in TRAJECTORY_INT:
                traj[k] = np.asarray(v, dtype=np.int64)
            elif k in TRAJECTORY_STR:
                traj[k] = np.asarray(v, dtype=object)
            else:
                traj[k] = np.asarray(v, dtype=float)
        diags = {str(n): {"step": np.asarray(c["step"], dtype=np.int64), "value": np.asarray(c["value"], dtype=float)}
                 for n, c in (d.get("diagnostics") or {}).items()}
        return cls(meta=dict(d["meta"]), trajectory=_with_incumbents(traj, d["meta"]), episodes=list(d.get("episodes", [])),
                   diagnostics=diags)

    def write(self, path: str, data: bytes | None = None) -> str:
        """Write atomically (temp file + rename) so a crash never leaves half a record.

        ``data``: this record's :meth:`encode`, when already made (a sweep worker encodes the
        record in parallel so that the single writer only writes bytes)."""
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        tmp = f"{path}.tmp{os.getpid()}"
        if data is None:
            data = self.encode()
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        return path

    @classmethod
    def read(cls, path: str) -> "RunRecord":
        """Read one record file (``.npz``, or JSON of schema 2 and older); a file that is not a
        valid record raises :class:`DataError`."""
        with open(path, "rb") as f:
            data = f.read()
        return cls.decode(data, str(path))

    def trajectory_frame(self):
        """The trajectory as a pandas DataFrame (one row per counted query)."""
        import pandas as pd

        df = pd.DataFrame({k: np.asarray(v) for k, v in self.trajectory.items()})
        df.insert(0, "query", np.arange(1, len(df) + 1))
        return df


def _with_incumbents(traj: dict, meta: dict) -> dict:
    """``traj`` with the incumbent columns rebuilt from ``search`` (files do not store them;
    files of older versions stored some), in the oracle's column order."""
    missing = [c for c in _INCUMBENT_OF if c in traj and f"incumbent_{c}" not in traj]
    if not missing or "search" not in traj:
        return traj
    pos = best_positions(traj["search"], bool(meta.get("maximize", True)))
    for c in missing:
        traj[f"incumbent_{c}"] = traj[c][pos]
    return {k: traj[k] for k in _ORDER if k in traj} | {k: v for k, v in traj.items() if k not in _ORDER}


def _pack_column(name: str, v) -> np.ndarray:
    """A trajectory column as stored: keys as UTF-8 bytes, indices in the smallest integer type
    that holds them (lossless; read back as int64), everything else float64."""
    if name in TRAJECTORY_STR:
        return np.array([str(k).encode() for k in np.asarray(v, dtype=object).tolist()], dtype="S")
    if name in TRAJECTORY_INT:
        a = np.asarray(v, dtype=np.int64)
        if a.size:
            for t in (np.int8, np.int16, np.int32):
                info = np.iinfo(t)
                if info.min <= a.min() and a.max() <= info.max:
                    return a.astype(t)
        return a
    return np.asarray(v, dtype=np.float64)


def _unpack_column(name: str, a: np.ndarray) -> np.ndarray:
    if name in TRAJECTORY_STR:
        if a.dtype.kind != "S":
            raise DataError(f"column {name!r} must hold bytes, got {a.dtype}")
        return np.array([b.decode() for b in a.tolist()], dtype=object)
    if name in TRAJECTORY_INT:
        return a.astype(np.int64, copy=False)
    return a.astype(np.float64, copy=False)


def _npy(a: np.ndarray) -> bytes:
    b = io.BytesIO()
    np.lib.format.write_array(b, np.ascontiguousarray(a), allow_pickle=False)
    return b.getvalue()


def _read_npy(z: zipfile.ZipFile, member: str) -> np.ndarray:
    return np.lib.format.read_array(io.BytesIO(z.read(member)), allow_pickle=False)


_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed zip timestamps: the same record gives the same bytes
LEVEL = 1  # deflate level: 1 encodes ~2.5x faster than 6 for ~40% more bytes (workers encode every record)


def _put(z: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    z.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=LEVEL)


def best_positions(search, maximize: bool = True) -> np.ndarray:
    """Position of the incumbent after each query: the last strict improvement of ``search``
    (ties keep the earlier architecture), as :meth:`harness.oracle.Oracle.trajectory` defines it.

    NaN-safe: a NaN value is never an improvement and never blocks a later real value (until
    the first real value the position is 0, whatever it holds)."""
    v = np.asarray(search, dtype=float)
    n = len(v)
    if not n:
        return np.zeros(0, dtype=np.int64)
    signed = np.where(np.isnan(v), -np.inf, v if maximize else -v)
    run_max = np.maximum.accumulate(signed)
    new = np.empty(n, dtype=bool)
    new[0] = True
    new[1:] = signed[1:] > run_max[:-1]
    return np.maximum.accumulate(np.where(new, np.arange(n), 0))


def _plain(x):
    """Convert numpy scalars/arrays and tuples to JSON types, recursively."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    return x
