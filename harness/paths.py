"""Where things live: the results folder (raw records, default MLflow store) and the data cache."""

from __future__ import annotations

import os
from pathlib import Path


def results_dir() -> Path:
    """``$NAS_HARNESS_RESULTS`` or ``./results`` (created on demand)."""
    p = Path(os.environ.get("NAS_HARNESS_RESULTS", "results")).absolute()
    p.mkdir(parents=True, exist_ok=True)
    return p


def runs_dir(protocol_id: str) -> Path:
    """Raw run records of one protocol: ``results/runs/<protocol id>/<run key>.json``."""
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
