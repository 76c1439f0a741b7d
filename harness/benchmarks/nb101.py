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
"""

from __future__ import annotations

import numpy as np

from harness.benchmarks.base import TabularBenchmark
from harness.data import nb101 as nb101_data
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
        from harness.errors import DataError

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


def load(dataset: str | None = None, data: str | None = None) -> TabularBenchmark:
    """The benchmark from ``data`` (an official tfrecord) or, without it, the prepared cache."""
    return from_cache(nb101_data.load(data))
