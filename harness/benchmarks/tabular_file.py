"""A generic loader for a user's tabular benchmark file (CSV or parquet).

The file has one row per architecture: either an architecture column written in the space's
string form (``space.parse``) or an integer index column, plus metric columns. A column map
renames file columns to metric names. The table must cover every member of the finite space
exactly once; otherwise the error names the file and what is wrong.
"""

from __future__ import annotations

import os

import numpy as np

from harness.benchmarks.base import TabularBenchmark
from harness.errors import DataError, InvalidArchitecture
from harness.spaces.base import SearchSpace


def read_frame(path: str):
    """The file as a pandas DataFrame (``.csv``/``.csv.gz``/``.parquet``)."""
    import pandas as pd

    if not os.path.exists(path):
        raise DataError(f"data file {path} does not exist; pass --data with the path of your copy")
    try:
        if str(path).endswith(".parquet"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except Exception as e:  # pandas raises many kinds for a bad file
        raise DataError(f"cannot read {path} as a table: {e}") from e


def load_table(
    path: str,
    space: SearchSpace,
    columns: dict[str, str],
    *,
    name: str,
    version: str,
    arch_column: str | None = None,
    index_column: str | None = None,
    default_search: str | None = None,
    default_report: str | None = None,
    dataset: str | None = None,
    higher_is_better: dict[str, bool] | None = None,
    notes: str = "",
) -> TabularBenchmark:
    """Load ``path`` into a :class:`TabularBenchmark` over ``space``.

    Args:
        columns: metric name -> file column name.
        arch_column: column holding architecture strings (parsed with ``space.parse``).
        index_column: alternatively, a column with ``space.index`` values.
    """
    if (arch_column is None) == (index_column is None):
        raise ValueError("give exactly one of arch_column and index_column")
    df = read_frame(path)
    needed = [arch_column or index_column] + list(columns.values())
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise DataError(
            f"{path} lacks column(s) {', '.join(missing)}; it has: {', '.join(map(str, df.columns))}"
        )
    if len(df) != space.size:
        raise DataError(f"{path} has {len(df)} rows, expected {space.size} (one per architecture of {space.id})")
    try:
        if arch_column is not None:
            idx = np.array([space.index(space.parse(s)) for s in df[arch_column]], dtype=np.int64)
        else:
            idx = df[index_column].to_numpy(dtype=np.int64)
    except InvalidArchitecture as e:
        raise DataError(f"{path}: {e}") from None
    if idx.min() < 0 or idx.max() >= space.size or len(np.unique(idx)) != space.size:
        raise DataError(f"{path}: the architectures do not cover {space.id} exactly once")
    cols = {}
    for metric, col in columns.items():
        values = np.full(space.size, np.nan)
        values[idx] = df[col].to_numpy(dtype=float)
        cols[metric] = values
    first = next(iter(columns))
    return TabularBenchmark(
        name=name,
        version=version,
        space=space,
        columns=cols,
        default_search=default_search or first,
        default_report=default_report or default_search or first,
        higher_is_better=higher_is_better or {},
        dataset=dataset,
        notes=notes,
    )
