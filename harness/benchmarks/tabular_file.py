"""A generic loader for a user's tabular benchmark file (CSV or parquet).

The file has one row per architecture: either an architecture column written in the space's
string form (``space.parse``) or an integer index column, plus metric columns. A column map
renames file columns to metric names. The table must cover every member of the finite space
exactly once, and every metric value must be a finite number in its unit's range (an
accuracy in % in [0, 100], a time or size >= 0); otherwise the one-line error names the file,
the row and the column.
"""

from __future__ import annotations

import os

import numpy as np

from harness.benchmarks.base import TabularBenchmark, check_column, unit_of
from harness.errors import DataError, InvalidArchitecture, first_line
from harness.spaces.base import SearchSpace


def read_frame(path: str):
    """The file as a pandas DataFrame (``.csv``/``.csv.gz``/``.parquet``)."""
    import pandas as pd

    if not os.path.exists(path):
        raise DataError(f"data file {path} does not exist; pass --data with the path of your copy")
    if os.path.isdir(path):
        raise DataError(f"data file {path} is a directory; pass --data with the path of the table file")
    try:
        if str(path).endswith(".parquet"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except Exception as e:  # pandas/pyarrow raise many kinds for a bad file
        raise DataError(f"cannot read {path} as a table ({type(e).__name__}: {first_line(e, 200)}); "
                        "pass a CSV or parquet file with a header row") from None


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
    units: dict[str, str] | None = None,
    notes: str = "",
) -> TabularBenchmark:
    """Load ``path`` into a :class:`TabularBenchmark` over ``space``.

    Every metric value is validated: a non-numeric, empty, non-finite or out-of-range cell
    is a one-line :class:`DataError` naming the file, the row (1-based, after the header) and
    the column.

    Args:
        columns: metric name -> file column name.
        arch_column: column holding architecture strings (parsed with ``space.parse``).
        index_column: alternatively, a column with ``space.index`` values.
        units: metric name -> unit (a key of :data:`harness.benchmarks.base.UNITS`; default
            by name, :func:`harness.benchmarks.base.unit_of`: accuracies in %).
    """
    import pandas as pd

    if (arch_column is None) == (index_column is None):
        raise ValueError("give exactly one of arch_column and index_column")
    df = read_frame(path)
    needed = [arch_column or index_column] + list(columns.values())
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise DataError(
            f"{path} lacks column(s) {', '.join(missing)}; it has: {', '.join(map(str, df.columns))}"[:500]
        )
    dup = [c for c in needed if list(df.columns).count(c) > 1]
    if dup:
        raise DataError(f"{path} has the column {dup[0]!r} more than once; keep one")
    if len(df) != space.size:
        raise DataError(f"{path} has {len(df)} rows, expected {space.size} (one per architecture of {space.id})")
    key = arch_column or index_column
    idx = np.empty(len(df), dtype=np.int64)
    for r, s in enumerate(df[key].tolist()):
        try:
            if arch_column is not None:
                if not isinstance(s, str):
                    raise InvalidArchitecture(f"{s!r} is not an architecture string")
                idx[r] = space.index(space.parse(s))
            else:
                f = float(s)
                if not f.is_integer():
                    raise InvalidArchitecture(f"{s!r} is not an integer index")
                idx[r] = int(f)
        except (InvalidArchitecture, TypeError, ValueError, OverflowError) as e:
            raise DataError(f"{path}: row {r + 1}, column {key!r}: {first_line(e, 200)}") from None
    if idx.min() < 0 or idx.max() >= space.size or len(np.unique(idx)) != space.size:
        raise DataError(f"{path}: the architectures do not cover {space.id} exactly once")
    cols = {}
    units = units or {}
    for metric, col in columns.items():
        raw = df[col]
        num = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(np.isnan(num) & raw.notna().to_numpy())
        if bad.size:
            r = int(bad[0])
            raise DataError(f"{path}: row {r + 1}, column {col!r}: {str(raw.iloc[r])[:80]!r} is not a number; fix the file")
        check_column(num, where=path, column=col, unit=units.get(metric, unit_of(metric)))
        values = np.full(space.size, np.nan)
        values[idx] = num
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
