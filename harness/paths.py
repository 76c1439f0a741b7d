"""Where things live: the results folder (raw records, default MLflow store) and the data cache."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def env_override(**values: str | None):
    """Set (``None``: unset) environment variables for the block, then restore them; e.g.
    ``env_override(NAS_HARNESS_RESULTS=folder)`` points the results folder elsewhere."""
    old = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = str(v)
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def results_dir() -> Path:
    """``$NAS_HARNESS_RESULTS`` or ``./results`` (created on demand)."""
    p = Path(os.environ.get("NAS_HARNESS_RESULTS", "results")).absolute()
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        from harness.errors import ConfigError

        raise ConfigError(f"the results folder {p} is not writable ({e.strerror}): fix its permissions or set "
                          "NAS_HARNESS_RESULTS to a writable folder") from None
    return p


def runs_dir(protocol_id: str) -> Path:
    """Raw run records of one protocol: ``results/runs/<protocol id>/<run key>.npz``."""
    p = results_dir() / "runs" / protocol_id
    p.mkdir(parents=True, exist_ok=True)
    return p


def default_tracking_uri() -> str:
    """The embedded SQLite MLflow store under the results folder."""
    return f"sqlite:///{results_dir() / 'mlflow.db'}"


def cache_dir() -> Path:
    """``$NAS_HARNESS_CACHE`` or ``~/.cache/nas-harness``."""
    p = Path(os.environ.get("NAS_HARNESS_CACHE", Path.home() / ".cache" / "nas-harness"))
    p.mkdir(parents=True, exist_ok=True)
    return p


def check_writable_dir(path, what: str, how: str) -> Path:
    """Create ``path`` if needed and write and remove a probe file in it; any failure is one
    :class:`harness.errors.ConfigError` line (``what`` is the folder's role, ``how`` the fix)."""
    import tempfile

    from harness.errors import ConfigError

    p = Path(path).absolute()
    try:
        p.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=p, prefix=".write-check-"):
            pass
    except OSError as e:
        why = e.strerror or type(e).__name__
        raise ConfigError(f"{what} {p} is not writable ({why}); {how}") from None
    return p


def check_results_writable() -> Path:
    """The results folder, after checking that raw records can be written there (call it
    before computing anything: a run must not be computed and then lost).

    Creates ``results/runs`` if needed and writes and removes a probe file in it; any
    failure is one :class:`harness.errors.ConfigError` line saying what to do.
    """
    where = Path(os.environ.get("NAS_HARNESS_RESULTS", "results")).absolute()
    check_writable_dir(where / "runs", "the results folder",
                       "fix its permissions or set NAS_HARNESS_RESULTS to a writable folder")
    return where
