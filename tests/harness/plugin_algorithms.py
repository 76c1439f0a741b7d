"""Algorithms defined outside the package, used as ``module:Class`` plug-ins by the tests."""

from dataclasses import dataclass

from algorithms.base import Algorithm, field


@dataclass
class BoomConfig:
    fail_seed_parity: int = field(1, "raise on runs whose first random draw has this parity")


class Boom(Algorithm):
    """Queries a few random architectures, then raises on some seeds (a crashing run)."""

    name = "boom"
    Config = BoomConfig

    def run(self, oracle, rng):
        for _ in range(3):
            oracle.query(oracle.space.sample(rng))
        if int(rng.integers(2)) == self.config.fail_seed_parity:
            raise RuntimeError("boom: a bug inside the algorithm")
        while True:
            oracle.query(oracle.space.sample(rng))


@dataclass
class GreedyConfig:
    restarts: int = field(5, "random samples before mutating the incumbent")


class Greedy(Algorithm):
    """The README's example: mutate the best architecture found so far."""

    name = "greedy"
    Config = GreedyConfig
    requires = ("mutate",)

    def run(self, oracle, rng):
        space = oracle.space
        best = space.sample(rng)
        best_value = oracle.query(best)
        for _ in range(self.config.restarts):
            a = space.sample(rng)
            if (v := oracle.query(a)) > best_value:
                best, best_value = a, v
        while True:
            a = space.mutate(best, rng)
            if (v := oracle.query(a)) > best_value:
                best, best_value = a, v


@dataclass
class DiagnosingConfig:
    pass


class Diagnosing(Algorithm):
    """Random search that logs a diagnostic curve (one point per query) and a one-point curve
    through the oracle's diagnostics channel."""

    name = "diagnosing"
    Config = DiagnosingConfig

    def run(self, oracle, rng):
        oracle.log_diagnostic("fit/r2", 0.5, step=0)
        i = 0
        while True:
            oracle.query(oracle.space.sample(rng))
            oracle.log_diagnostic("loss", 1.0 / (i + 1), step=i)
            i += 1
