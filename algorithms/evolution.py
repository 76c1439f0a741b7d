"""Regularized (aging) evolution, Real et al., "Regularized Evolution for Image Classifier
Architecture Search" (AAAI 2019), Algorithm 1 — the evolution baseline of NAS-Bench-101/201,
LaNAS (LaNAS (docs/references.md) §4.2) and BONAS (BONAS (docs/references.md) Table 2).

1. Fill a population of ``population`` uniformly random architectures (each one queried).
2. Repeat: draw ``sample_size`` members of the population uniformly *with* replacement (as in
   the paper's reference code and NAS-Bench-201's baseline); the best of them (by the search
   metric; ties go to the earliest drawn) is the parent; its child is ``space.mutate(parent)``
   (one edit, never the parent itself); query the child, append it, and remove the *oldest*
   member (aging), whatever its value.

Defaults: ``population=10, sample_size=3``, the settings of NAS-Bench-201's REA baseline
(Dong & Yang 2020, script ``R-EA.sh``). Both are exposed: larger settings (e.g. population
50-100 with tournament 10) are one override away; ``docs/baselines.md`` lists their figures.

Repeats: a child that was queried before is queried again; the protocol's counting rule
prices it (free under ``unique``, counted under ``all``) and it joins the population either
way, as in the paper. Requires ``space.mutate``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from algorithms.base import Algorithm, field
from harness.errors import ConfigError


@dataclass
class EvolutionConfig:
    population: int = field(10, "population size P (NAS-Bench-201 REA baseline: 10)")
    sample_size: int = field(3, "tournament size S, drawn with replacement (NAS-Bench-201: 3)")

    def __post_init__(self):
        if self.population < 1 or self.sample_size < 1:
            raise ConfigError(
                f"evolution needs population >= 1 and sample_size >= 1, got {self.population}, {self.sample_size}"
            )


class RegularizedEvolution(Algorithm):
    """Regularized (aging) evolution with tournament selection (Real et al. 2019)."""

    name = "evolution"
    Config = EvolutionConfig
    requires = ("mutate",)
    test_hyperparameters = {"population": 10, "sample_size": 3}

    def warmup(self, budget: int, space) -> int:
        """The random initial population (step 1), at most half the budget (algorithms.base.WARMUP_CAP)."""
        return int(self.config.population)

    def run(self, oracle, rng) -> None:
        space = oracle.space
        sign = 1.0 if oracle.maximize else -1.0
        P, S = self.config.population, self.config.sample_size
        population: deque = deque()  # (arch, signed value), oldest on the left
        while len(population) < P:
            a = space.sample(rng)
            population.append((a, sign * oracle.query(a)))
        while True:
            picks = rng.integers(0, P, size=S).tolist()
            parent, best = population[picks[0]]
            for i in picks[1:]:
                a, v = population[i]
                if v > best:
                    parent, best = a, v
            child = space.mutate(parent, rng)
            population.append((child, sign * oracle.query(child)))
            population.popleft()
