"""Random search, the reference plug-in and the baseline every method must beat.

``replace=False`` (default): architectures are drawn uniformly *without* replacement, so every
counted query is new. On a finite space this is a uniform random permutation of the indices
(its expected samples-to-optimum for a unique optimum is (N + 1) / 2). On an infinite space,
uniform samples are drawn and already-queried ones skipped.

``replace=True``: uniform sampling with replacement (repeats are then priced by the protocol's
counting rule: free under ``unique``, counted under ``all``).
"""

from __future__ import annotations

from dataclasses import dataclass

from algorithms.base import Algorithm, field


@dataclass
class RandomSearchConfig:
    replace: bool = field(False, "draw with replacement (repeats priced by the counting rule)")


class RandomSearch(Algorithm):
    """Uniform random search, without (default) or with replacement."""

    name = "random"
    Config = RandomSearchConfig
    test_hyperparameters = {}

    def run(self, oracle, rng) -> None:
        space = oracle.space
        if self.config.replace:
            while True:
                oracle.query(space.sample(rng))
        if space.finite:
            for i in rng.permutation(space.size):
                oracle.query(space.arch_at(int(i)))
            return  # every architecture queried
        seen = set()
        while True:
            a = space.sample(rng)
            k = space.key(a)
            if k not in seen:
                seen.add(k)
                oracle.query(a)
