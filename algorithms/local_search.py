"""Local search with restarts, in two variants; both count every evaluated neighbour as a query.

``local-search`` (:class:`LocalSearch`), best improvement, the baseline of Ape-X NAS (docs/references.md)
§3.2.3 ("Local Search"): from a start architecture (queried), evaluate up to
``max_neighbours`` = N of its neighbours (all of them when there are at most N; otherwise a
uniformly random subset of N, kept in the space's neighbour order), move to the best one if it
is strictly better than the current architecture, and stop at a local optimum (no neighbour
better). Then a new episode starts from a new uniformly random architecture, until the budget
is spent. N = 50 as in Ape-X NAS (an NB201 cell has 24 neighbours, so all are evaluated there).

``local-search-first`` (:class:`FirstImprovementLocalSearch`), first improvement, after White,
Nolen & Savani, "Exploring the Loss Landscape in Neural Architecture Search" (UAI 2021): the
neighbours are evaluated in a uniformly random order and the search moves to the *first* one
that is strictly better; a local optimum is reached when none of them is; then restart.

Both are episodic: each descent is one episode, recorded with ``oracle.record_episode`` (start
and end architecture and search values, number of moves, ``terminated``: whether it ended at a
local optimum rather than at ``max_steps``); a descent cut short by the budget is not recorded
(as for Ape-X's episodes). When the protocol fixes start states (``oracle.start_states``), one
descent is run from each, in order, and the search then ends. ``max_steps`` (0 = unlimited)
caps the moves per episode. Neighbours already queried are queried again and priced by the
counting rule (free under ``unique``). Requires ``space.neighbours``.
"""

from __future__ import annotations

from dataclasses import dataclass

from algorithms.base import Algorithm, episode_starts, field
from harness.errors import ConfigError


@dataclass
class LocalSearchConfig:
    max_neighbours: int = field(50, "N: neighbours evaluated per step, a random subset when there are more (0: all; 004: 50)")
    max_steps: int = field(0, "maximum moves per episode (0: until a local optimum)")

    def __post_init__(self):
        if self.max_neighbours < 0 or self.max_steps < 0:
            raise ConfigError("local search needs max_neighbours >= 0 and max_steps >= 0")


@dataclass
class FirstImprovementConfig(LocalSearchConfig):
    max_neighbours: int = field(0, "neighbours considered per step, a random subset when there are more (0: all)")


class LocalSearch(Algorithm):
    """Best-improvement local search with random restarts (Ape-X NAS §3.2.3)."""

    name = "local-search"
    Config = LocalSearchConfig
    requires = ("neighbours",)
    episodic = True
    test_hyperparameters = {}

    first_improvement = False

    def run(self, oracle, rng) -> None:
        for start in episode_starts(oracle, rng):
            self._descend(oracle, rng, start)

    def _candidates(self, space, arch, rng) -> list:
        nbs = space.neighbours(arch)
        n = self.config.max_neighbours
        if self.first_improvement:
            order = rng.permutation(len(nbs)).tolist()
            if n and len(order) > n:
                order = order[:n]
            return [nbs[i] for i in order]
        if n and len(nbs) > n:
            keep = sorted(rng.choice(len(nbs), size=n, replace=False).tolist())
            return [nbs[i] for i in keep]
        return nbs

    def _descend(self, oracle, rng, start) -> None:
        """One episode: descend from ``start`` to a local optimum (or the step limit)."""
        space = oracle.space
        sign = 1.0 if oracle.maximize else -1.0
        limit = self.config.max_steps
        first = self.first_improvement
        current, steps = start, 0
        start_value = value = oracle.query(start)
        at_optimum = False
        while not limit or steps < limit:
            move, move_value, best = None, value, sign * value
            for nb in self._candidates(space, current, rng):
                v = oracle.query(nb)
                if sign * v > best:
                    move, move_value, best = nb, v, sign * v
                    if first:
                        break
            if move is None:
                at_optimum = True
                break
            current, value = move, move_value
            steps += 1
        oracle.record_episode(start, current, steps, start_value, value, terminated=at_optimum)


class FirstImprovementLocalSearch(LocalSearch):
    """First-improvement local search in random neighbour order, with restarts (White et al.)."""

    name = "local-search-first"
    Config = FirstImprovementConfig
    first_improvement = True
    test_hyperparameters = {}
