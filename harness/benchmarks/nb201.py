"""``nb201``: the official NAS-Bench-201 / NATS-Bench (TSS) numbers, from a user-given file.

Datasets: ``cifar10``, ``cifar100``, ``imagenet16-120`` and (official data only)
``cifar10-valid``. Accepted ``data``:

* a table with one row per cell (CSV/parquet) in the layout of the NATS-Bench export
  (``ArchitectureString`` plus ``CIFAR10TestAccuracy200Epochs``, ``CIFAR100TestAccuracy200Epochs``,
  ``ImageNetTestAccuracy200Epochs``: test accuracy in % after 200 epochs, mean over seeds).
  Such a table has no validation column, so ``test_accuracy`` is both the search and the
  report metric (say so in protocols that use it).
* the official benchmark ``NATS-tss-v1_0-3ffb9`` (the ``-simple`` directory or the
  ``.pickle.pbz2`` file), converted once into the cache (:mod:`harness.data.nb201`); without
  ``data`` the prepared cache is used (``nas-harness data prepare nb201 PATH``). Metrics:

  - ``valid_accuracy``, ``test_accuracy``: % after the 200-epoch schedule, one column per
    training seed (``noise="sample"`` draws one); the mean is the package's own mean;
  - ``valid_accuracy_12ep``, ``test_accuracy_12ep``: the same for the 12-epoch schedule;
  - ``parameters`` (MB), ``flops`` (M), ``latency`` (s), ``training_time`` /
    ``training_time_12ep`` (total training seconds, mean over seeds).

  Sets: ``cifar10`` validates on ``cifar10-valid``'s ``x-valid`` (trained on the train split,
  the standard NB201 protocol) and tests on ``cifar10``'s ``ori-test`` (trained on
  train+valid); ``cifar10-valid`` uses its own ``x-valid`` and ``ori-test``; ``cifar100`` and
  ``imagenet16-120`` use ``x-valid`` and ``x-test``. Costs come from the dataset of the test
  numbers. On the columns both have, the CSV and the official data agree exactly.
"""

from __future__ import annotations


import numpy as np

from harness.benchmarks.base import TabularBenchmark
from harness.benchmarks.tabular_file import load_table
from harness.errors import ConfigError, DataError
from harness.spaces import get_space

DATASETS = ("cifar10", "cifar100", "imagenet16-120", "cifar10-valid")
ALIASES = {"imagenet16": "imagenet16-120", "imagenet": "imagenet16-120", "ImageNet16-120": "imagenet16-120"}
CSV_COLUMNS = {
    "cifar10": "CIFAR10TestAccuracy200Epochs",
    "cifar100": "CIFAR100TestAccuracy200Epochs",
    "imagenet16-120": "ImageNetTestAccuracy200Epochs",
}
# harness dataset -> (NATS dataset of the validation numbers, NATS dataset of the test numbers)
OFFICIAL = {
    "cifar10": ("cifar10-valid", "cifar10"),
    "cifar10-valid": ("cifar10-valid", "cifar10-valid"),
    "cifar100": ("cifar100", "cifar100"),
    "imagenet16-120": ("ImageNet16-120", "ImageNet16-120"),
}
TABLE_SUFFIXES = (".csv", ".csv.gz", ".parquet")


def load(dataset: str = "cifar10", data: str | None = None):
    from harness.data import nb201 as nb201_data

    dataset = ALIASES.get(dataset, dataset)
    if data is not None and str(data).endswith(TABLE_SUFFIXES):
        return _load_csv(dataset, str(data))
    if data is None:
        try:
            cache = nb201_data.load(None)
        except DataError as e:
            if "no prepared data" not in str(e):
                raise
            raise ConfigError(
                "benchmark nb201 needs the official NB201/NATS-Bench numbers: pass --data PATH "
                "(a NATS-Bench TSS table such as nats_tss_200ep_test_accuracy.csv, or the official "
                f"{nb201_data.BASE_NAME}-simple directory) or run: nas-harness data prepare nb201 PATH"
            ) from None
    else:
        cache = nb201_data.load(data)
    return from_cache(cache, dataset)


def _load_csv(dataset: str, path: str) -> TabularBenchmark:
    if dataset not in CSV_COLUMNS:
        raise ConfigError(f"the NB201 table {path} has no {dataset} column; use the official NATS-Bench data for it")
    return load_table(
        path,
        get_space("nb201"),
        {"test_accuracy": CSV_COLUMNS[dataset]},
        arch_column="ArchitectureString",
        name=f"nb201-{dataset}",
        version=f"nb201-{dataset}-v1",
        default_search="test_accuracy",
        default_report="test_accuracy",
        dataset=dataset,
        notes=f"NAS-Bench-201 {dataset}: official test accuracy (%), 200 epochs, mean over seeds",
    )


def from_cache(cache, dataset: str = "cifar10") -> TabularBenchmark:
    """The benchmark of one dataset over a loaded NB201 cache."""
    from harness.data import nb201 as nb201_data

    dataset = ALIASES.get(dataset, dataset)
    if dataset not in OFFICIAL:
        raise ConfigError(f"benchmark nb201 has no dataset {dataset!r}; choose one of: {', '.join(DATASETS)}")
    vset, tset = OFFICIAL[dataset]
    a = cache.arrays
    cols, means = {}, {}
    for hp, suffix in (("200", ""), ("12", "_12ep")):
        for metric, d, part in (("valid_accuracy", vset, "valid"), ("test_accuracy", tset, "test")):
            key = f"{d}__{hp}__{part}"
            if key in a:
                cols[metric + suffix] = a[key]
                means[metric + suffix] = a[f"{key}_mean"]
        if f"{tset}__{hp}__train_time" in a:
            cols["training_time" + suffix] = a[f"{tset}__{hp}__train_time"]
    if "test_accuracy" not in cols:
        raise DataError(f"the NB201 cache {cache.path} has no 200-epoch results for {tset}; {nb201_data.HOW}")
    for name in ("params", "flops", "latency"):
        if f"{tset}__{name}" in a:
            cols["parameters" if name == "params" else name] = a[f"{tset}__{name}"]
    bench = TabularBenchmark(
        name=f"nb201-{dataset}",
        version=f"nb201-{dataset}-v1",
        space=get_space("nb201"),
        columns=cols,
        default_search="valid_accuracy" if "valid_accuracy" in cols else "test_accuracy",
        default_report="test_accuracy",
        higher_is_better={"parameters": False, "flops": False, "latency": False, "training_time": False, "training_time_12ep": False},
        dataset=dataset,
        notes=f"NAS-Bench-201 {dataset}: official accuracy (%) per seed after 12 and 200 epochs, costs (NATS-Bench TSS)",
    )
    bench._means.update({m: np.asarray(v, dtype=float) for m, v in means.items()})  # the package's own means
    return bench
