"""``nas-harness bench NAME``: performance figures (not tests; machines are noisy)."""

from __future__ import annotations

import importlib

from harness.bench import BENCHES


def register(sub) -> None:
    p = sub.add_parser("bench", help="print performance figures measured in one run")
    bs = p.add_subparsers(dest="bench", metavar="NAME", parser_class=type(p))
    bs.required = True
    for name in BENCHES:
        mod = importlib.import_module(f"harness.bench.{name.replace('-', '_')}")
        bp = bs.add_parser(name, help=(mod.__doc__ or "").strip().splitlines()[0])
        mod.add_arguments(bp)
        bp.set_defaults(func=mod.main)
