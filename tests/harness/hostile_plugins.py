"""Test helper: user "algorithms" that misbehave (``--algorithm tests.harness.hostile_plugins:X``)."""

from __future__ import annotations

from dataclasses import dataclass

from algorithms.base import Algorithm, field


class NotAnAlgorithm:
    """A class that does not follow the Algorithm contract."""

    def run(self, oracle, rng):  # pragma: no cover - never reached
        oracle.query(oracle.space.sample(rng))


@dataclass
class _Config:
    steps: int = field(1, "unused")


class RaisingInit(Algorithm):
    """``__init__`` fails with a plain exception."""

    name = "raising-init"
    Config = _Config

    def __init__(self, **hp):
        raise RuntimeError("cannot configure myself")


class ExitsInRun(Algorithm):
    """``run`` makes one query, then calls ``sys.exit(3)``."""

    name = "exits-in-run"
    Config = _Config

    def run(self, oracle, rng):
        import sys

        oracle.query(oracle.space.sample(rng))
        sys.exit(3)


def a_function():  # pragma: no cover - never called
    """Not a class at all."""
