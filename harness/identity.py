"""Run identity and provenance: what makes two runs the same experiment.

A run's **key** is a content hash of everything that can change its trajectory (DESIGN.md,
"Invariants"):

* the *resolved protocol* (:func:`protocol_identity`): every field of
  :class:`harness.protocol.Protocol` — name, version, benchmark, dataset, metrics, budget(s),
  counting, noise, episode settings (start states), stop rule and any field added later —
  except those that cannot change a trajectory: ``seeds`` (the seed enters on its own),
  ``checkpoints`` (reporting only), ``description``, ``source`` (where the file lies),
  ``algorithms`` (the per-algorithm overrides enter as this run's resolved hyperparameters)
  and ``data`` (a *path*: its *content* enters instead, below);
* the benchmark's id, its space's id and the **content checksum of its numbers**
  (:func:`data_checksum`: the sha256 of every metric column, or of the files of a surrogate),
  so a different data file gives a different key even under the same path, and the same file
  under another path the same key;
* the algorithm's identity (:func:`algorithm_identity`): its import path, its declared
  ``version`` (class attribute, default 1) and a sha256 of the **source** of its module and of
  the modules of its own package that it uses (transitively: through its globals and through
  every import statement in its source, imports inside functions included), so an edited
  algorithm is a new experiment. (The import statements were added after Ape-X's training code,
  imported inside its ``run``, was found outside its hash; only Ape-X's keys changed with that,
  every other algorithm hashes the same files as before, so KEY_VERSION stayed);
* all its hyperparameters (defaults resolved) and the seed;
* the **content checksum of the files it reads** through hyperparameters its class names in
  ``input_files`` (e.g. a trained agent, ``agent``; :func:`input_files_identity`), added only
  when there are any, so the keys of all other runs are unchanged.

Same key: the finished record is reused; any change: a new run. :data:`KEY_VERSION` is part of
the hash, so a change of these rules never matches keys made under the old ones.

The **experiment** of a run is the same hash without the algorithm and the seed; reports use it
(and the algorithm's current source) to keep only the records of exactly the experiment asked
for (:func:`select_current`).

**Provenance** (:func:`provenance`) is stored in every record and MLflow run: record schema
version, package version, git commit and dirty flag when the package runs from a git checkout,
Python / numpy / torch / ... versions.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import inspect
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

KEY_VERSION = 2
# Protocol fields that cannot change a trajectory (see the module docstring).
NOT_IDENTITY = ("seeds", "checkpoints", "description", "source", "algorithms", "data")


def _hash(obj: Any, n: int = 16) -> str:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:n]


# --- the protocol ------------------------------------------------------------------------------
def protocol_identity(protocol) -> dict[str, Any]:
    """The fields of ``protocol`` that can change a trajectory (plain JSON types)."""
    d = protocol.to_dict()
    return {k: v for k, v in sorted(d.items()) if k not in NOT_IDENTITY}


def protocol_hash(protocol) -> str:
    return _hash(protocol_identity(protocol))


# --- the numbers -------------------------------------------------------------------------------
def data_checksum(benchmark) -> str:
    """sha256 of the benchmark's numbers: its ``checksum`` attribute when it has one (tabular
    benchmarks hash their columns), else the content of its data file or folder, else its id."""
    c = getattr(benchmark, "checksum", None)
    if isinstance(c, str) and c:
        return c
    path = getattr(benchmark, "data_path", None)
    if path:  # a surrogate's model files (+ the backend that evaluates them, when it has a choice)
        backend = getattr(benchmark, "backend", None)
        return path_checksum(path) + (f"+{backend}" if backend else "")
    return "sha256:" + hashlib.sha256(str(getattr(benchmark, "version", benchmark)).encode()).hexdigest()


def columns_checksum(columns: dict) -> str:
    """sha256 over metric columns (name, dtype, shape and bytes, in name order)."""
    import numpy as np

    h = hashlib.sha256()
    for name in sorted(columns):
        a = np.ascontiguousarray(columns[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(memoryview(a).cast("B"))
    return "sha256:" + h.hexdigest()


@functools.lru_cache(maxsize=64)
def _path_checksum(path: str, stamp: tuple) -> str:
    h = hashlib.sha256()
    p = Path(path)
    files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.is_file())
    for f in files:
        h.update(str(f.relative_to(p) if f != p else f.name).encode() + b"\0")
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return "sha256:" + h.hexdigest()


def path_checksum(path) -> str:
    """sha256 of a file's bytes, or of every file (relative name and bytes) under a folder;
    memoized per process on (path, size, modification time) of the files."""
    p = Path(path).absolute()
    files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.is_file())
    stamp = tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files)
    return _path_checksum(str(p), stamp)


# --- the algorithm -----------------------------------------------------------------------------
def _module_file(mod) -> str | None:
    f = getattr(mod, "__file__", None)
    return f if f and f.endswith(".py") and os.path.isfile(f) else None


def _static_imports(mod, top: str) -> list[str]:
    """Names in package ``top`` that ``mod``'s source imports anywhere, inside functions too
    (``import a.b``; ``from a.b import c`` gives ``a.b`` and ``a.b.c``, which is a module or an
    attribute: the caller keeps those that import; relative imports resolved). Imports done lazily, in a function, leave no trace in the
    module's globals until they run; without this an algorithm whose training code is imported
    on first use (Ape-X) hashed only its package's ``__init__``, and editing that code kept
    the run keys."""
    import ast

    f = _module_file(mod)
    if f is None:
        return []
    try:
        with open(f, "rb") as fh:
            tree = ast.parse(fh.read(), filename=f)
    except (OSError, SyntaxError, ValueError):
        return []
    package = mod.__name__ if hasattr(mod, "__path__") else mod.__name__.rpartition(".")[0]
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[:len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            names.append(base)
            names += [f"{base}.{a.name}" for a in node.names if a.name != "*"]
    return [n for n in dict.fromkeys(names) if n.split(".")[0] == top]


def _used_modules(mod, top: str) -> list:
    """``mod`` and the modules of package ``top`` it uses, transitively: through its globals
    (imported modules, and the modules that define the functions and classes it imported) and
    through every import statement in its source, lazy ones in functions included
    (:func:`_static_imports`; such a module is imported here to be hashed)."""
    seen, order, stack = set(), [], [mod]
    while stack:
        m = stack.pop()
        if m.__name__ in seen:
            continue
        seen.add(m.__name__)
        order.append(m)
        deps = []
        for v in list(vars(m).values()):
            if inspect.ismodule(v):
                deps.append(v)
            else:
                name = getattr(v, "__module__", None)
                dep = sys.modules.get(name) if isinstance(name, str) else None
                if dep is not None:
                    deps.append(dep)
        for name in _static_imports(m, top):
            if name not in seen:
                try:
                    deps.append(importlib.import_module(name))
                except Exception:  # not a module (an attribute), or an optional dependency missing
                    continue
        for dep in deps:
            if dep.__name__.split(".")[0] == top and dep.__name__ not in seen:
                stack.append(dep)
    return sorted(order, key=lambda m: m.__name__)


@functools.lru_cache(maxsize=256)
def _source_hash(cls) -> str:
    mod = sys.modules.get(cls.__module__)
    if mod is None or _module_file(mod) is None:
        try:  # a class defined in __main__, a notebook, ...: its own source
            return "sha256:" + hashlib.sha256(inspect.getsource(cls).encode()).hexdigest()
        except (OSError, TypeError):
            return "unavailable"
    h = hashlib.sha256()
    for m in _used_modules(mod, cls.__module__.split(".")[0]):
        f = _module_file(m)
        if f is None:
            continue
        h.update(m.__name__.encode() + b"\0")
        with open(f, "rb") as fh:
            h.update(fh.read())
    return "sha256:" + h.hexdigest()


def algorithm_identity(cls) -> dict[str, Any]:
    """``{"class": "module:Class", "version": declared, "source": sha256}`` of an algorithm class.

    ``source`` hashes the class's module and the modules of the same top-level package it uses,
    transitively (e.g. ``algorithms.bonas`` with ``algorithms.bonas_gcn`` and
    ``algorithms.base``); for a class without a source file, its own source; ``"unavailable"``
    when Python cannot see any (the key then rests on name, version and hyperparameters)."""
    return {
        "class": f"{cls.__module__}:{cls.__qualname__}",
        "version": getattr(cls, "version", 1),
        "source": _source_hash(cls),
    }


# --- the key -----------------------------------------------------------------------------------
def experiment_key(protocol_ident: dict, benchmark_ident: dict) -> str:
    """Hash of what all runs of one experiment share (protocol identity + numbers)."""
    return _hash({"key_version": KEY_VERSION, "protocol": protocol_ident, "benchmark": benchmark_ident})


def run_key(protocol_ident: dict, benchmark_ident: dict, algorithm: str, algorithm_ident: dict,
            hyperparameters: dict, seed: int) -> str:
    """The run key (16 hex digits of a sha256); see the module docstring."""
    d = {
        "key_version": KEY_VERSION,
        "protocol": protocol_ident,
        "benchmark": benchmark_ident,
        "algorithm": algorithm,
        "algorithm_identity": algorithm_ident,
        "hyperparameters": hyperparameters,
        "seed": int(seed),
    }
    files = input_files_identity(algorithm, hyperparameters, seed)
    if files:  # only then: the keys of runs that read no file are unchanged
        d["input_files"] = files
    return _hash(d)


def input_files_identity(algorithm: str, hyperparameters: dict, seed: int) -> dict[str, str]:
    """Content checksums of the files a run reads through its hyperparameters: those the
    algorithm class names in ``input_files`` (e.g. a trained agent, ``agent``; paths resolved
    by :func:`harness.agents.resolve_path` for this seed). A path alone is not an identity:
    the key changes when the file's content does. A missing file is a one-line error."""
    try:
        from algorithms.registry import get_algorithm_class

        names = tuple(getattr(get_algorithm_class(algorithm), "input_files", ()) or ())
    except Exception:  # an algorithm that cannot be imported here: its hyperparameters alone
        return {}
    out = {}
    for name in names:
        value = hyperparameters.get(name)
        if isinstance(value, str) and value:
            from harness.agents import resolve_path
            from harness.errors import ConfigError

            path = resolve_path(value, seed)
            if not os.path.isfile(path):
                raise ConfigError(f"{algorithm}: {name} file {path} (seed {seed}) not found: make it first "
                                  f"(e.g. `nas-harness run --save-agent`), or fix the path")
            out[name] = path_checksum(path)
    return out


def benchmark_identity(benchmark) -> dict[str, Any]:
    """``{"version", "space", "data_checksum"}`` of a loaded benchmark."""
    return {
        "version": getattr(benchmark, "version", getattr(benchmark, "name", "?")),
        "space": benchmark.space.id,
        "data_checksum": data_checksum(benchmark),
    }


# --- provenance --------------------------------------------------------------------------------
LIBRARIES = ("numpy", "scipy", "pandas", "torch", "torch_geometric", "mlflow", "ray", "optuna")


@functools.lru_cache(maxsize=1)
def git_state() -> dict[str, Any]:
    """``{"commit", "dirty"}`` of the checkout the package runs from, or ``{}`` when none."""
    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        return {}
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10).stdout.strip()
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"commit": commit, "dirty": bool(status.strip())} if commit else {}


@functools.lru_cache(maxsize=1)
def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name.replace("_", "-"))
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def provenance() -> dict[str, Any]:
    """What made a record: package version, git commit/dirty flag, library versions."""
    import harness

    g = git_state()
    return {
        "package_version": harness.__version__,
        "git_commit": g.get("commit", ""),
        "git_dirty": g.get("dirty"),
        "libraries": library_versions(),
        "platform": f"{platform.system()}-{platform.machine()}",
    }


# --- choosing the records of one experiment ----------------------------------------------------
def select_current(records: list, protocol, data_checksum_: str | None = None) -> tuple[list, list[str]]:
    """The records of exactly the experiment ``protocol`` (+ data) asks for, and notes (one
    line each) about the records left out.

    Kept: records whose protocol identity equals ``protocol``'s, whose data checksum equals
    ``data_checksum_`` (when ``None``: the one data checksum the records share; several raise a
    :class:`~harness.errors.ConfigError` asking for ``--data``), and whose algorithm source is
    the algorithm's current source (when the class can be imported). Failed records are kept
    (statistics count them apart); one record per run key.
    """
    from harness.errors import ConfigError
    from harness.record import IDENTITY_SCHEMA

    notes: list[str] = []
    old = [r for r in records if int(r.meta.get("schema_version", 1)) < IDENTITY_SCHEMA]
    if old:
        notes.append(f"{len(old)} record(s) of an older record schema left out (their run keys do not cover the "
                     "data and the algorithm's source): run the same command again to remake them")
    recs = [r for r in records if int(r.meta.get("schema_version", 1)) >= IDENTITY_SCHEMA]
    want = protocol_hash(protocol)
    other = [r for r in recs if r.meta.get("protocol_hash") != want]
    if other:
        notes.append(f"{len(other)} record(s) made with other settings of protocol {protocol.id} left out "
                     "(the protocol file changed since): run it again to remake them")
    recs = [r for r in recs if r.meta.get("protocol_hash") == want]
    sums = sorted({r.meta.get("data_checksum", "") for r in recs})
    if data_checksum_ is None and len(sums) > 1:
        counts = ", ".join(f"{s[7:19]}… ({sum(r.meta.get('data_checksum') == s for r in recs)} runs)" for s in sums)
        raise ConfigError(f"the runs of protocol {protocol.id} were made on {len(sums)} different data files "
                          f"(checksums {counts}): pass --data PATH to say which")
    if data_checksum_ is not None:
        n = sum(r.meta.get("data_checksum") != data_checksum_ for r in recs)
        if n:
            notes.append(f"{n} record(s) made on other data (another data file's content) left out")
        recs = [r for r in recs if r.meta.get("data_checksum") == data_checksum_]
    from algorithms.registry import get_algorithm_class

    current: dict[str, str | None] = {}
    kept, stale = [], {}
    for r in recs:
        name = r.meta.get("algorithm", "")
        if name not in current:
            try:
                current[name] = algorithm_identity(get_algorithm_class(name))["source"]
            except Exception:
                current[name] = None
                notes.append(f"cannot import algorithm {name} to check its source: its records are used as recorded")
        src = current[name]
        if src is not None and src != "unavailable" and r.meta.get("algorithm_source") not in (src,):
            stale[name] = stale.get(name, 0) + 1
            continue
        kept.append(r)
    for name, n in stale.items():
        notes.append(f"{n} record(s) of {name} made with an earlier version of its source left out: "
                     "run the same command again to remake them")
    seen, out = set(), []
    for r in kept:
        if r.run_key in seen:
            continue
        seen.add(r.run_key)
        out.append(r)
    return out, notes
