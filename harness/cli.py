"""The ``nas-harness`` command line.

Each subcommand lives in its own module under :mod:`harness.commands` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (returning an exit code).
Benchmark commands (``nas-harness bench NAME``) live in :mod:`harness.bench`, one module per
NAME with ``add_arguments(parser)`` and ``main(args) -> int``.

Bad input never shows a traceback: a :class:`harness.errors.HarnessError` becomes one line on
stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from harness.errors import HarnessError

# subcommand modules under harness.commands, in help order
COMMANDS = ("run", "report", "leaderboard", "aggregate", "paper", "list", "sync", "bench", "data")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse's own convention too)
        self.exit(2, f"nas-harness: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nas-harness", description="Benchmark-and-leaderboard harness for sample-based NAS.")
    from harness import __version__

    parser.add_argument("--version", action="version", version=f"nas-harness {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"harness.commands.{name}").register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except HarnessError as e:
        print(f"nas-harness: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`: not an error
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("nas-harness: interrupted; finished runs are kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
