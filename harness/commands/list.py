"""``nas-harness list benchmarks|algorithms|spaces|protocols``."""

from __future__ import annotations

import dataclasses

from tabulate import tabulate

WHAT = ("benchmarks", "algorithms", "spaces")


def register(sub) -> None:
    p = sub.add_parser("list", help="list benchmarks, algorithms, spaces, protocols")
    p.add_argument("what", choices=WHAT + tuple(_extra()), help="what to list")
    p.set_defaults(func=main)


def _extra():
    """Further listings provided by other modules (e.g. protocols)."""
    try:
        from harness.protocol import list_protocols  # noqa: F401
    except ImportError:
        return []
    return ["protocols"]


def main(args) -> int:
    if args.what == "benchmarks":
        from harness.benchmarks import BENCHMARKS

        rows = [[n, ", ".join(e.datasets) or "-", "yes" if e.needs_data else "no", e.summary] for n, e in BENCHMARKS.items()]
        print(tabulate(rows, headers=["benchmark", "datasets", "needs --data", "what"]))
    elif args.what == "algorithms":
        from algorithms.registry import get_algorithm_class, list_algorithms

        rows = []
        for name in list_algorithms():
            cls = get_algorithm_class(name)
            hp = ", ".join(f"{f.name}={f.default!r}" for f in dataclasses.fields(cls.Config) if f.default is not dataclasses.MISSING)
            rows.append([name, (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else "", hp])
        print(tabulate(rows, headers=["algorithm", "what", "hyperparameters (defaults)"], maxcolwidths=[None, 40, 60]))
    elif args.what == "spaces":
        from harness.spaces import SPACES

        print(tabulate([[vid, fam] for fam, (vid, _) in SPACES.items()], headers=["space id", "family"]))
    elif args.what == "protocols":
        from harness.protocol import list_protocols

        def budget(p):  # a time-budgeted protocol shows its simulated seconds beside the query cap
            return f"{p.budget}" + (f" / {p.time_budget:,g} s" if p.time_budget is not None else "")

        def cps(p):
            return " ".join([str(c) for c in p.checkpoints] + [f"{c:g}s" for c in p.time_checkpoints]) or "-"

        rows = [[p.name, p.version, p.benchmark, p.dataset or "-", budget(p), cps(p), len(p.seeds), p.description]
                for p in list_protocols()]
        print(tabulate(rows, headers=["protocol", "v", "benchmark", "dataset", "budget", "checkpoints", "seeds", "what"],
                       maxcolwidths=[None, None, None, None, None, 16, None, 56]))
    return 0
