"""Benchmarks by name: where the numbers of a search space come from.

``get_benchmark(name, dataset=None, data=None)`` resolves a family name (``nb201``,
``nasbench-graph``) with a dataset, or a combined name (``nasbench-graph-cora``,
``nb201-cifar100``). Loaded benchmarks are cached per process.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from harness.errors import ConfigError


@dataclass(frozen=True)
class Entry:
    loader: str  # "module:function" taking (dataset, data)
    datasets: tuple[str, ...] = ()
    needs_data: bool = False
    aliases: tuple[tuple[str, str], ...] = ()
    summary: str = ""
    label: str = ""  # how boards and reports must name the numbers' source, where the name alone could mislead


BENCHMARKS: dict[str, Entry] = {
    "nb201-analog": Entry("harness.benchmarks.analog:load", summary="AnalogNAS-Bench, NB201 cells on CIFAR-10 (embedded)"),
    "nasbench-graph": Entry(
        "harness.benchmarks.nasbench_graph:load",
        datasets=("cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv", "proteins"),
        summary="NAS-Bench-Graph, 26,206 GNNs per dataset (embedded)",
    ),
    "nb201": Entry(
        "harness.benchmarks.nb201:load",
        datasets=("cifar10", "cifar100", "imagenet16-120", "cifar10-valid"),
        aliases=(("imagenet16", "imagenet16-120"),),
        summary="NAS-Bench-201/NATS-Bench TSS: embedded validation + costs; test with --data TABLE; "
        "official data (--data PATH or the prepared cache) as is",
    ),
    "nb101": Entry(
        "harness.benchmarks.nb101:load",
        needs_data=True,
        summary="official NAS-Bench-101 numbers, CIFAR-10 (--data nasbench_only108.tfrecord, or the prepared cache; "
        "or --data a CSV/JSON table keyed by official hash)",
    ),
    "nb301": Entry(
        "harness.benchmarks.nb301:load",
        needs_data=True,
        summary="NAS-Bench-301 surrogate ensemble mean, DARTS space (--data MODEL_DIR or `data prepare nb301`)",
    ),
    "nb301-yahpo": Entry(
        "harness.benchmarks.nb301_yahpo:load",
        needs_data=True,
        summary="YAHPO surrogate of NB301 (YAHPO Gym's ONNX model, not the official ensemble), DARTS space, "
        "epochs 1..98 (--data DIR; extra [nb301-yahpo])",
        label="YAHPO surrogate of NB301",
    ),
}

_CACHE: dict = {}


def list_benchmarks() -> list[str]:
    """Every selectable name (family-dataset combinations spelled out)."""
    out = []
    for name, e in BENCHMARKS.items():
        out.append(name)
        out.extend(f"{name}-{d}" for d in e.datasets)
    return out


def resolve(name: str, dataset: str | None = None) -> tuple[str, str | None]:
    """``(family, dataset)`` for a benchmark name; a ConfigError lists the choices."""
    if name in BENCHMARKS:
        e = BENCHMARKS[name]
        ds = dict(e.aliases).get(dataset, dataset) if dataset else (e.datasets[0] if e.datasets else None)
        if e.datasets and ds not in e.datasets:
            raise ConfigError(f"benchmark {name} has no dataset {dataset!r}; choose one of: {', '.join(e.datasets)}")
        if not e.datasets and dataset not in (None, "cifar10"):
            raise ConfigError(f"benchmark {name} has no datasets to choose (got {dataset!r})")
        return name, ds
    for family, e in BENCHMARKS.items():
        options = list(e.datasets) + [a for a, _ in e.aliases]
        for ds in options:
            if name == f"{family}-{ds}":
                return resolve(family, ds)
    raise ConfigError(f"unknown benchmark {name!r}; choose one of: {', '.join(list_benchmarks())}")


def get_benchmark(name: str, dataset: str | None = None, data: str | None = None):
    """The loaded benchmark (cached per process by name, dataset and data path)."""
    family, ds = resolve(name, dataset)
    key = (family, ds, str(data) if data else None)
    if key not in _CACHE:
        mod, fn = BENCHMARKS[family].loader.split(":")
        _CACHE[key] = getattr(importlib.import_module(mod), fn)(dataset=ds, data=data)
    return _CACHE[key]
