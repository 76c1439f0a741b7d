"""Benchmark commands (``nas-harness bench NAME``): print figures measured in one run, as
ratios against a baseline measured in the same run. One module per NAME (``-`` written as
``_`` in the module name) with ``add_arguments(parser)`` and ``main(args) -> int``; modules are
discovered, so adding a file adds the command."""

import pkgutil
from pathlib import Path

BENCHES = tuple(sorted(m.name.replace("_", "-") for m in pkgutil.iter_modules([str(Path(__file__).parent)])))
