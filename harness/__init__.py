"""nas-harness: a benchmark-and-leaderboard evaluation harness for sample-based NAS.

The engine behind the ``nas-harness`` command. Search algorithms (package ``algorithms``)
query architecture performance through one budgeted :class:`harness.oracle.Oracle` over
tabular and surrogate NAS benchmarks (:mod:`harness.benchmarks`), whose architectures live in
search spaces (:mod:`harness.spaces`). Runs produce :class:`harness.record.RunRecord` objects,
written as raw files under ``results/`` and logged to MLflow (:mod:`harness.tracking`).

Heavy libraries (torch, torch-geometric, mlflow, ray) are imported lazily, where used.
"""

__version__ = "0.1.0"

# The Python API (harness.api), loaded on first use so that ``import harness`` stays light.
_API = ("run", "load_results", "benchmark", "Results", "Benchmark", "summary_frame")


def __getattr__(name):
    if name in _API:
        from harness import api

        return getattr(api, name)
    raise AttributeError(f"module 'harness' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_API))
