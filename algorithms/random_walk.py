"""Random walk, the episodic random baseline of Ape-X NAS (docs/references.md) §3.2.3 ("Random Walk").

An episode starts from a uniformly random architecture (or from the protocol's fixed start
states, one episode each, in order, after which the search ends). At every step the walker is
shown ``m = min(n, N)`` of the current architecture's ``n`` neighbours (``N =
max_neighbours``; a uniformly random subset when ``n > N``, as in 004's MDP) plus, with
``terminate=True``, one action that ends the episode, and picks one of these ``m + 1`` actions
uniformly. An episode also ends after ``max_steps`` moves (Ape-X NAS evaluates with 32-step
episodes).

Implementation: a uniform pick from a uniformly random subset is a uniform pick among all
``n`` neighbours, so each step draws "terminate" with probability ``1 / (m + 1)`` and otherwise
a uniform neighbour through ``space.pick_neighbour`` (one uniform number per choice; the
space need not list the neighbourhood). Same distribution, no subset drawn.

What is queried (``query``):

* ``"all"`` (default): the start and every architecture moved to (repeats priced by the
  counting rule), the *strict rule* under which the harness also counts Ape-X's evaluation
  episodes (:mod:`algorithms.apex.evaluate`), so the two are comparable on one leaderboard.
* ``"end"``: only the final architecture of each episode, one query per episode. The walk never
  looks at a value, so this is 004's own counting ("1 episode is considered to be 1 query",
  §4.1.2); under ``"all"`` the same curve is derived from the recorded episodes
  (``algorithms.apex.evaluate.paper_rule_curve``).

Each finished episode is recorded with ``oracle.record_episode`` (start and end architecture,
moves, the search values that were queried — ``None`` for the start under ``"end"`` — and
``terminated``: whether the walk chose to stop rather than run into ``max_steps``); an episode
cut short by the budget is not recorded (as for Ape-X). The harness adds the report values of
start and end for the improvement histograms. Requires ``space.neighbours``.
"""

from __future__ import annotations

from dataclasses import dataclass

from algorithms.base import Algorithm, episode_starts, field
from harness.errors import ConfigError

QUERY_MODES = ("end", "all")
_BLOCK = 64


@dataclass
class RandomWalkConfig:
    max_steps: int = field(32, "maximum moves per episode (Ape-X NAS evaluation: 32)")
    max_neighbours: int = field(50, "N: neighbours offered per step, a random subset when there are more (0: all; 004: 50)")
    terminate: bool = field(True, "offer the extra action that ends the episode")
    query: str = field("all", "what is queried: 'all' (start and every move, the strict rule) or 'end' (final architecture only, 004's paper rule)")

    def __post_init__(self):
        if self.query not in QUERY_MODES:
            raise ConfigError(f"random-walk query must be one of {', '.join(QUERY_MODES)}, got {self.query!r}")
        if self.max_steps < 0 or self.max_neighbours < 0:
            raise ConfigError("random-walk needs max_steps >= 0 and max_neighbours >= 0")


class RandomWalk(Algorithm):
    """Uniform random walk over neighbours with a termination action (Ape-X NAS §3.2.3)."""

    name = "random-walk"
    Config = RandomWalkConfig
    requires = ("neighbours",)
    episodic = True
    test_hyperparameters = {"max_steps": 8}

    def run(self, oracle, rng) -> None:
        cfg = self.config
        space = oracle.space
        every = cfg.query == "all"
        cap, extra, steps_max = cfg.max_neighbours, int(cfg.terminate), cfg.max_steps
        pick = space.pick_neighbour
        for start in episode_starts(oracle, rng):
            current, steps, stopped = start, 0, False
            start_value = value = oracle.query(start) if every else None
            for t in range(steps_max):
                b = t % _BLOCK
                if b == 0:  # two uniforms per step, drawn a block of steps at a time
                    u_pick, u_stop = rng.random((2, min(_BLOCK, steps_max - t))).tolist()
                nb, n = pick(current, u_pick[b])
                m = min(n, cap) if cap else n  # actions shown: m neighbours (+ terminate)
                if m == 0 or u_stop[b] * (m + extra) >= m:
                    stopped = True  # the termination action, or a dead end
                    break
                if every:
                    value = oracle.query(nb)
                current = nb
                steps += 1
            if not every:
                value = oracle.query(current)
            oracle.record_episode(start, current, steps, start_value, value, terminated=stopped)
