"""Two toy episodic algorithms, written as a user would write a plug-in (``module:Class``).

They exist to demonstrate and test the episode statistics (improvement histograms, initial
value vs improvement) of ``nas-harness report``; they are *not* the faithful baselines of the
papers (those live in ``algorithms/``). Use them like any algorithm::

    nas-harness run --protocol nb201-analog \\
        --algorithm random examples.toy_episodic:ToyRandomWalk examples.toy_episodic:ToyHillClimb

Both take their episode start states from the protocol (``[episodes] start_states``, in
order, cycling) or, when it has none, sample them with the run's ``rng``.

* ``ToyRandomWalk``: ``length`` random mutations from the start state; the end state is
  queried (one counted query per episode, as Ape-X counts its random-walk episodes).
* ``ToyHillClimb``: first-improvement hill climbing on the search metric: query the start
  state, then its neighbours in random order, move to the first better one, until no
  neighbour is better or ``length`` moves were made (every neighbour queried is counted).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from algorithms.base import Algorithm, field


def _starts(oracle, rng):
    k = 0
    while True:
        if oracle.start_states:
            yield oracle.start_states[k % len(oracle.start_states)]
            k += 1
        else:
            yield oracle.space.sample(rng)


@dataclass
class ToyRandomWalkConfig:
    length: int = field(8, "random mutations per episode")


class ToyRandomWalk(Algorithm):
    """Toy random walk: one counted query (the end state) per episode."""

    name = "toy-random-walk"
    Config = ToyRandomWalkConfig
    requires = ("mutate",)
    episodic = True
    test_hyperparameters: ClassVar[dict] = {"length": 4}

    def run(self, oracle, rng) -> None:
        for start in _starts(oracle, rng):
            a = start
            for _ in range(self.config.length):
                a = oracle.space.mutate(a, rng)
            v = oracle.query(a)
            oracle.record_episode(start, a, self.config.length, end_value=v)


@dataclass
class ToyHillClimbConfig:
    length: int = field(32, "maximum moves per episode")


class ToyHillClimb(Algorithm):
    """Toy first-improvement hill climbing (every neighbour queried is counted)."""

    name = "toy-hill-climb"
    Config = ToyHillClimbConfig
    requires = ("neighbours",)
    episodic = True
    test_hyperparameters: ClassVar[dict] = {"length": 8}

    def run(self, oracle, rng) -> None:
        sign = 1.0 if oracle.maximize else -1.0
        for start in _starts(oracle, rng):
            a, va = start, oracle.query(start)
            v0, steps = va, 0
            while steps < self.config.length:
                nbrs = oracle.space.neighbours(a)
                for i in rng.permutation(len(nbrs)):
                    vb = oracle.query(nbrs[i])
                    if sign * vb > sign * va:
                        a, va = nbrs[i], vb
                        steps += 1
                        break
                else:
                    break  # a local optimum
            oracle.record_episode(start, a, steps, start_value=v0, end_value=va)
