"""Benchmark commands (``nas-harness bench NAME``): performance figures of the product's own
components (oracle, sweep, metrics, data loading, algorithm overhead, Ape-X throughput, the
BONAS predictor), measured in one run, as ratios against a baseline measured in the same run.

They reproduce no paper and re-implement no product feature (no oracle subclass, statistics,
search algorithm, process pool or published figures: tests/harness/bench/ checks it); paper
figures come only from ``nas-harness paper NAME`` (protocols run through the sweep). One module
per NAME (``-`` written as ``_`` in the module name) with ``add_arguments(parser)`` and
``main(args) -> int``; modules are discovered, so adding a file adds the command, and each
module has a smoke test in tests/harness/bench/."""

import pkgutil
from pathlib import Path

BENCHES = tuple(sorted(m.name.replace("_", "-") for m in pkgutil.iter_modules([str(Path(__file__).parent)])))
