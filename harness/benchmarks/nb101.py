"""``nb101``: the official NAS-Bench-101 numbers (CIFAR-10), from the user's tfrecord via the cache.

``get_benchmark("nb101", data=PATH)`` converts ``PATH`` (``nasbench_only108.tfrecord`` or
``nasbench_full.tfrecord``) into the cache on first use (minutes, once) and loads the cache
afterwards; without ``data`` the prepared cache is used (``nas-harness data prepare nb101 PATH``).
See :mod:`harness.data.nb101` for the format and :mod:`harness.spaces.nb101` for the space.

Metrics (rows = cells, sorted by module hash):

* ``valid_accuracy``, ``test_accuracy``: % after 108 epochs, the 3 training runs kept as
  ``(N, 3)`` columns (the oracle's ``noise="mean"`` averages them, ``noise="sample"`` draws
  one run per query, as the official API's ``query`` does);
* ``training_time``: seconds of training for 108 epochs, per run ``(N, 3)``;
* ``parameters``: trainable parameters;
* from the full file also ``valid_accuracy_{4,12,36}ep``, ``test_accuracy_{...}ep`` and
  ``training_time_{...}ep``.

The space is :class:`harness.spaces.nb101.NB101TableSpace` (``nb101-v1`` made finite by the
table: ``index`` = row). The oracle's tabular fast path looks cells up through its
``index_of`` mapping (canonical cell -> row), so the oracle needs no change for NB101.

**A table keyed by official hash** (``data=`` a ``.csv``/``.json``, e.g. an export of the
official data; format in :mod:`harness.data.nb101_space`): each key is mapped to its cell
through the cached enumeration of the whole space (computed once, under a minute; an unknown
key is a one-line DataError). Version ``nb101-table-v1``; metrics are the table's columns
(one value per cell, no training-run repeats), multi-fidelity ones as
``valid_accuracy_{4,12,36}ep`` etc. where present; search and report default to
``valid_accuracy`` and ``test_accuracy`` when the table has them (else the report falls back
to ``valid_accuracy``). The checksum covers the table's hashes and values.

*A partial table* (fewer than the 423,624 cells, like the public 20,001-cell file) defines a
smaller benchmark: its space holds the table's cells only. ``sample`` draws a row uniformly
(not NB101's random spec), ``mutate`` retries until the mutant is in the table and
``neighbours`` keeps the in-table neighbours (mutation gives up after 1,000 tries: tables
of a few percent of the space or more), so an algorithm that uses the space's operations
never leaves the table; a cell built otherwise (``space.cell``,
``from_decisions``) outside it is rejected by the oracle (InvalidArchitecture, "not an
architecture of search space"), never given a made-up value. Results on a partial table
are not comparable with results on the full benchmark; its notes say how many cells it has.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.benchmarks.base import TabularBenchmark
from harness.data import nb101 as nb101_data
from harness.errors import DataError
from harness.spaces import get_space


def from_cache(cache, name: str = "nb101") -> TabularBenchmark:
    """The benchmark over a loaded NB101 cache."""
    a = cache.arrays
    space = get_space("nb101").with_table(a["hashes"], a["codes"])
    cols: dict[str, np.ndarray] = {}
    lower = {"parameters": False}
    for e in nb101_data.EPOCHS:
        if f"test_accuracy_{e}" not in a:
            continue
        suffix = "" if e == 108 else f"_{e}ep"
        cols[f"valid_accuracy{suffix}"] = a[f"valid_accuracy_{e}"]
        cols[f"test_accuracy{suffix}"] = a[f"test_accuracy_{e}"]
        cols[f"training_time{suffix}"] = a[f"training_time_{e}"]
        lower[f"training_time{suffix}"] = False
    cols["parameters"] = a["parameters"].astype(np.float64)
    if "valid_accuracy" not in cols:
        raise DataError(f"the NB101 cache {cache.path} has no 108-epoch results; {nb101_data.HOW}")
    ep = cache.meta.get("meta", {}).get("epochs", [108])
    return TabularBenchmark(
        name=name,
        version="nb101-v1",
        space=space,
        columns=cols,
        default_search="valid_accuracy",
        default_report="test_accuracy",
        higher_is_better=lower,
        dataset=None,
        notes=f"NAS-Bench-101 (CIFAR-10): {space.size:,} cells, accuracy % of 3 runs at epochs {ep}",
    )


TABLE_SUFFIXES = (".csv", ".csv.gz", ".json", ".json.gz")


class NB101TableBenchmark(TabularBenchmark):
    """An NB101 benchmark from a table keyed by hash: its checksum covers which cells (their
    hashes) as well as the values."""

    @property
    def checksum(self) -> str:
        c = self.__dict__.get("_checksum")
        if c is None:
            from harness.identity import columns_checksum

            c = self.__dict__["_checksum"] = columns_checksum({**self.columns, "cell_hashes": self.space.hashes})
        return c


def from_table(path: str, name: str = "nb101") -> NB101TableBenchmark:
    """The benchmark over a table keyed by official module hash (module docstring)."""
    from harness.data import nb101_space

    keys, metrics = nb101_space.read_table(path)
    index = nb101_space.load_index()
    all_hashes, all_codes = index.arrays["hashes"], index.arrays["codes"]
    pos = nb101_space.rows_of_hashes(all_hashes, keys)
    if (pos < 0).any():
        r = int(np.flatnonzero(pos < 0)[0])
        raise DataError(f"{path}: row {r + 1}: {keys[r].decode()} is not the official hash of any NB101 cell "
                        f"({int((pos < 0).sum()):,} such keys); the table must be keyed by NB101's module hash")
    order = np.argsort(keys, kind="stable")  # rows sorted by hash, like the official cache
    space = get_space("nb101").with_table(keys[order], all_codes[pos[order]])
    cols = {m: v[order] for m, v in metrics.items()}
    if "valid_accuracy" not in cols:
        raise DataError(f"{path} has no 108-epoch validation accuracy (108_final_validation_accuracy or "
                        f"valid_accuracy); it has: {', '.join(cols)}")
    lower = {m: False for m in cols if m.startswith("training_time") or m == "parameters"}
    fid = [e for e in nb101_data.EPOCHS if f"valid_accuracy{'' if e == 108 else f'_{e}ep'}" in cols]
    part = "complete" if space.size == nb101_data.N_CELLS else f"PARTIAL: {space.size:,} of {nb101_data.N_CELLS:,} cells"
    hints = {} if "test_accuracy" in cols else {
        "test_accuracy": "this NB101 table has no test accuracy: give a table with 108_final_test_accuracy, "
        "or the official tfrecord (--data nasbench_only108.tfrecord)"}
    return NB101TableBenchmark(
        name=name,
        version="nb101-table-v1",
        space=space,
        columns=cols,
        default_search="valid_accuracy",
        default_report="test_accuracy" if "test_accuracy" in cols else "valid_accuracy",
        higher_is_better=lower,
        dataset=None,
        notes=f"NAS-Bench-101 (CIFAR-10) from the table {Path(path).name} ({part}; one value per cell; "
        f"epochs {fid}; metrics {', '.join(cols)})",
        hints=hints,
    )


def load(dataset: str | None = None, data: str | None = None) -> TabularBenchmark:
    """The benchmark from ``data`` (an official tfrecord, or a CSV/JSON table keyed by
    hash) or, without it, the prepared cache."""
    if data is not None and str(data).lower().endswith(TABLE_SUFFIXES):
        return from_table(str(data))
    return from_cache(nb101_data.load(data))
