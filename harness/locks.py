"""Claims and locks that keep concurrent or killed launchers from duplicating work.

* :func:`claim` / :func:`release`: a per-run-key claim file ``<key>.claim`` beside the raw
  record, created with ``O_EXCL`` and holding the owner's host, pid and process start time.
  Whoever holds a run key's claim is the only one who computes that run, writes its record
  and logs it to MLflow. A claim whose owner is dead (same host, pid gone or reused) is stale
  and is taken over; so a SIGKILL never blocks a resume.
* :func:`file_lock`: an exclusive ``fcntl`` lock on a file (released by the kernel when the
  process dies), used around the creation of the default SQLite store.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path

HOST = socket.gethostname()


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _me() -> dict:
    return {"host": HOST, "pid": os.getpid(), "start": _start_time(os.getpid()), "time": time.time()}


def owner_alive(info: dict) -> bool:
    """Whether the process that wrote claim ``info`` still runs (claims of other hosts are
    assumed alive: a shared results folder on several machines needs its owner to be live)."""
    if info.get("host") != HOST:
        return True
    pid = info.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    start = _start_time(pid)
    return start is None or info.get("start") in (None, start)


def claim_path(record_path) -> Path:
    """``<key>.claim`` for a record ``<key>.npz`` (or ``<key>.json``, the record of versions
    before record schema 3: both name one claim, so launchers of either version exclude each
    other)."""
    p = Path(record_path)
    for suffix in (".npz", ".json"):
        if p.name.endswith(suffix):
            return p.with_name(p.name[: -len(suffix)] + ".claim")
    return p.with_name(p.name + ".claim")


def read_claim(path) -> dict | None:
    try:
        with open(path) as f:
            info = json.load(f)
        return info if isinstance(info, dict) else {}
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # half-written by a killed owner: stale


def claim(record_path) -> bool:
    """Claim the run whose record lives at ``record_path``; False if a live process holds it."""
    path = claim_path(record_path)
    # The claim appears with its content in one step (hard link of a written temporary file):
    # a reader never sees an empty claim of a live owner (an O_EXCL create then write had a
    # window in which a loaded machine's other launcher read "{}" as stale and took it over).
    tmp = path.with_name(f".{path.name}.{HOST}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        json.dump(_me(), f)
    try:
        for _ in range(3):
            try:
                os.link(tmp, path)
                return True
            except FileExistsError:
                info = read_claim(path)
                if info is None:
                    continue  # released meanwhile: try again
                if info and (info.get("pid") == os.getpid() and info.get("host") == HOST):
                    return True  # ours already
                if info and owner_alive(info):
                    return False
                if not info and _age(path) < 60.0:
                    return False  # unreadable but fresh: not ours to judge yet
                # stale (owner dead, or unreadable for a minute): take it over
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
                continue
        return False
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


def is_dead_claim_temp(path) -> bool:
    """Whether ``path`` is the temporary file of a :func:`claim` (``.<key>.claim.<host>.<pid>.tmp``)
    left by a process of this host that no longer runs (killed between writing it and removing
    it); a live owner's, another host's or anything else's: False."""
    name = os.path.basename(str(path))
    head, sep, pid = name.removesuffix(".tmp").rpartition(".")
    if not (name.startswith(".") and name.endswith(".tmp") and head.endswith(f".claim.{HOST}") and pid.isdigit()):
        return False
    info = read_claim(path) or {}
    return not owner_alive({"host": HOST, "pid": int(pid), "start": info.get("start")})


def _age(path) -> float:
    try:
        return time.time() - os.stat(path).st_mtime
    except FileNotFoundError:
        return float("inf")


def release(record_path) -> None:
    """Remove our claim of a run (no-op when it is not ours or gone)."""
    path = claim_path(record_path)
    info = read_claim(path)
    if info is not None and info.get("pid") == os.getpid() and info.get("host") == HOST:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def claimed_by_other(record_path) -> bool:
    """Whether a live process other than this one holds the run's claim."""
    info = read_claim(claim_path(record_path))
    if not info:
        return False
    if info.get("pid") == os.getpid() and info.get("host") == HOST:
        return False
    return owner_alive(info)


@contextlib.contextmanager
def file_lock(path, timeout: float = 600.0):
    """Hold an exclusive lock on ``path`` (created if needed) for the ``with`` body."""
    import fcntl

    from harness.errors import HarnessError

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise HarnessError(f"timed out after {timeout:.0f} s waiting for the lock {path} "
                                       "(another nas-harness process holds it)") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing releases the lock
