"""RunRecord: everything one (protocol, algorithm, seed) run produced; the source of truth.

Serializable without pickle: ``to_dict``/``from_dict`` give plain JSON types, and
``write``/``read`` store one JSON file per run. Tables, plots and leaderboards are derived from
these records and can be rebuilt at any time.

The metadata is a typed structure (:class:`RunMeta`) with a schema version
(:data:`SCHEMA_VERSION`); :meth:`RunRecord.from_dict` checks it: a record of an older schema is
read (it carries no run identity that can be verified, see :mod:`harness.identity`, so reports
leave it out and say so), one of a newer schema or with a missing or mistyped field is refused
with one line (:class:`harness.errors.DataError`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, TypedDict

import numpy as np

from harness.errors import DataError

SCHEMA_VERSION = 2


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


# field -> accepted types, checked on read (schema 2)
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
    if v < SCHEMA_VERSION:
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
    """

    meta: dict[str, Any]
    trajectory: dict[str, np.ndarray] = field(default_factory=dict)
    episodes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def n_queries(self) -> int:
        return int(len(self.trajectory.get("search", ())))

    @property
    def run_key(self) -> str:
        return self.meta.get("run_key", "")

    def to_dict(self) -> dict:
        # the incumbent columns are the per-query columns at the incumbent's position, a pure
        # function of ``search``: not stored (a third of the encoding time), rebuilt on read
        t = self.trajectory
        derived = {f"incumbent_{c}" for c in _INCUMBENT_OF if c in t} if "search" in t else set()
        traj = {k: np.asarray(v).tolist() for k, v in t.items() if k not in derived}
        return {"meta": _plain(self.meta), "trajectory": traj, "episodes": _plain(self.episodes)}

    def encode(self) -> str:
        """The JSON text that :meth:`write` stores (compact separators)."""
        return json.dumps(self.to_dict(), separators=(",", ":"))  # dumps: C encoder, ~10x json.dump

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
        missing = [c for c in _INCUMBENT_OF if c in traj and f"incumbent_{c}" not in traj]
        if missing and "search" in traj:  # files of older versions stored some of them
            pos = best_positions(traj["search"], bool(d["meta"].get("maximize", True)))
            for c in missing:
                traj[f"incumbent_{c}"] = traj[c][pos]
            traj = {k: traj[k] for k in _ORDER if k in traj} | {k: v for k, v in traj.items() if k not in _ORDER}
        return cls(meta=dict(d["meta"]), trajectory=traj, episodes=list(d.get("episodes", [])))

    def write(self, path: str, text: str | None = None) -> str:
        """Write atomically (temp file + rename) so a crash never leaves half a record.

        ``text``: this record's :meth:`encode`, when already made (a sweep worker encodes the
        record in parallel so that the single writer only writes bytes)."""
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        tmp = f"{path}.tmp{os.getpid()}"
        if text is None:
            text = self.encode()
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)
        return path

    @classmethod
    def read(cls, path: str) -> "RunRecord":
        """Read one record file; a file that is not a valid record raises :class:`DataError`."""
        try:
            with open(path) as f:
                d = json.load(f)
        except (ValueError, UnicodeDecodeError) as e:
            raise DataError(f"{path}: not a JSON run record ({type(e).__name__})") from None
        try:
            return cls.from_dict(d, str(path))
        except (TypeError, ValueError, KeyError, AttributeError) as e:
            raise DataError(f"{path}: malformed run record ({type(e).__name__}: {e})") from None

    def trajectory_frame(self):
        """The trajectory as a pandas DataFrame (one row per counted query)."""
        import pandas as pd

        df = pd.DataFrame({k: np.asarray(v) for k, v in self.trajectory.items()})
        df.insert(0, "query", np.arange(1, len(df) + 1))
        return df


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
