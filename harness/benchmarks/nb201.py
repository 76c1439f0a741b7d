"""``nb201``: the official NAS-Bench-201 / NATS-Bench (TSS) numbers, from a user-given file.

Datasets: ``cifar10``, ``cifar100``, ``imagenet16-120``. Accepted files:

* a table with one row per cell (CSV/parquet) in the layout of the NATS-Bench export
  (``ArchitectureString`` plus ``CIFAR10TestAccuracy200Epochs``, ``CIFAR100TestAccuracy200Epochs``,
  ``ImageNetTestAccuracy200Epochs``: test accuracy in % after 200 epochs, mean over seeds).
  Such a table has no validation column, so ``test_accuracy`` is both the search and the
  report metric (say so in protocols that use it).
"""

from __future__ import annotations

from harness.benchmarks.tabular_file import load_table
from harness.errors import ConfigError
from harness.spaces import get_space

DATASETS = ("cifar10", "cifar100", "imagenet16-120")
ALIASES = {"imagenet16": "imagenet16-120", "imagenet": "imagenet16-120", "ImageNet16-120": "imagenet16-120"}
CSV_COLUMNS = {
    "cifar10": "CIFAR10TestAccuracy200Epochs",
    "cifar100": "CIFAR100TestAccuracy200Epochs",
    "imagenet16-120": "ImageNetTestAccuracy200Epochs",
}


def load(dataset: str = "cifar10", data: str | None = None):
    dataset = ALIASES.get(dataset, dataset)
    if data is None:
        raise ConfigError(
            "benchmark nb201 needs the official NB201/NATS-Bench numbers: pass --data PATH "
            "(e.g. a NATS-Bench TSS table such as nats_tss_200ep_test_accuracy.csv)"
        )
    return load_table(
        str(data),
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
