"""Monte Carlo tree search over a hand-designed sequential action space: the MCTS baseline of
LaNAS (docs/references.md) §4.2 (LaNAS), in the style of AlphaX (Wang et al. 2019) without its meta-DNN.

The action space is the space's ``decisions`` view: level ``i`` of the tree fixes decision
``i`` (for NB201 the op of edge ``i``; for NAS-Bench-Graph the links, then the ops), so a
path from the root to depth ``D = len(decisions)`` is one architecture. One iteration:

1. *Select*: from the root, while the current node has every child expanded, go to the child
   with the largest UCB score ``q + 2c * sqrt(2 ln n_parent / n_child)`` with ``c = 0.5``
   (LaNAS Algorithm 1's ``get_ucb``; ties go to the lowest choice). ``q`` is the child's mean
   value rescaled to [0, 1] by the smallest and largest value seen so far, so that the
   exploration constant does not depend on the metric's unit (percent or fraction).
2. *Expand*: at the first node with unexpanded children, add one of them, chosen uniformly.
3. *Roll out*: complete the remaining decisions uniformly at random and query the resulting
   architecture. Where ``from_decisions`` rejects a completion (``InvalidArchitecture``,
   e.g. NAS-Bench-Graph's all-``skip`` cell), another completion is drawn, up to
   ``max_resample`` times; a node with no valid completion found is marked dead and never
   selected again.
4. *Back up*: add the queried value to the visit count and value sum of every node on the
   path.

A fully specified path (depth ``D``) is queried again when selected: the counting rule prices
the repeat (free under ``unique``) and the visit is backed up as usual. Requires
``decisions``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from algorithms.base import Algorithm, field
from harness.errors import ConfigError, InvalidArchitecture


@dataclass
class MCTSConfig:
    c: float = field(0.5, "exploration constant c of UCB q + 2c*sqrt(2 ln N / n) (LaNAS Alg. 1: 0.5)")
    max_resample: int = field(100, "random completions tried before a node counts as dead")

    def __post_init__(self):
        if self.c < 0 or self.max_resample < 1:
            raise ConfigError("mcts needs c >= 0 and max_resample >= 1")


class _Node:
    __slots__ = ("children", "n", "w", "dead", "open")

    def __init__(self, k: int):
        self.children: list = [None] * k  # child per choice; None until expanded
        self.n = 0  # visits
        self.w = 0.0  # sum of (signed) values
        self.dead = False
        self.open = k  # children not yet expanded


class MCTS(Algorithm):
    """UCB tree search over the categorical decisions, random-completion rollouts (AlphaX-style)."""

    name = "mcts"
    Config = MCTSConfig
    requires = ("decisions",)
    test_hyperparameters = {}

    def run(self, oracle, rng) -> None:
        space = oracle.space
        sign = 1.0 if oracle.maximize else -1.0
        ks = [int(k) for k in space.decisions]
        depth_max = len(ks)
        explore = 2.0 * self.config.c
        root = _Node(ks[0]) if ks else None
        lo, hi = math.inf, -math.inf  # range of signed values seen, for the UCB rescaling
        while True:
            # 1-2. select and expand
            path, choices = [root], []
            node = root
            while len(choices) < depth_max:
                if node.open:
                    unexpanded = [c for c, ch in enumerate(node.children) if ch is None]
                    c = unexpanded[int(rng.integers(len(unexpanded)))] if len(unexpanded) > 1 else unexpanded[0]
                    d = len(choices) + 1
                    child = _Node(ks[d] if d < depth_max else 0)
                    node.children[c] = child
                    node.open -= 1
                    path.append(child)
                    choices.append(c)
                    break
                c = self._ucb_child(node, lo, hi, explore)
                if c < 0:  # every child dead
                    node.dead = True
                    break
                node = node.children[c]
                path.append(node)
                choices.append(c)
            if path[-1].dead:
                if root.dead:
                    return  # no valid architecture left to reach
                self._propagate_dead(path)
                continue
            # 3. roll out
            arch = self._complete(space, choices, ks, rng)
            if arch is None:
                path[-1].dead = True
                self._propagate_dead(path)
                if root.dead:
                    return
                continue
            v = sign * oracle.query(arch)
            lo, hi = min(lo, v), max(hi, v)
            # 4. back up
            for nd in path:
                nd.n += 1
                nd.w += v

    @staticmethod
    def _ucb_child(node: _Node, lo: float, hi: float, explore: float) -> int:
        """Index of the live child with the largest UCB score (-1 if all are dead)."""
        span = hi - lo
        log_n = math.log(node.n) if node.n > 0 else 0.0
        best, best_c = -math.inf, -1
        for c, ch in enumerate(node.children):
            if ch.dead:
                continue
            if ch.n == 0:
                return c  # not reached in practice: an expanded child is backed up or marked dead
            q = (ch.w / ch.n - lo) / span if span > 0 else 0.5
            score = q + explore * math.sqrt(2.0 * log_n / ch.n)
            if score > best:
                best, best_c = score, c
        return best_c

    def _complete(self, space, choices, ks, rng):
        """A member from ``choices`` completed at random, or None if no try is valid."""
        rest = ks[len(choices):]
        tries = self.config.max_resample if rest else 1
        for _ in range(tries):
            tail = [int(x) for x in rng.integers(0, rest)] if rest else []
            try:
                return space.from_decisions(choices + tail)
            except InvalidArchitecture:
                continue
        return None

    @staticmethod
    def _propagate_dead(path) -> None:
        """Mark ancestors dead whose children are all expanded and dead."""
        for nd in reversed(path[:-1]):
            if nd.open == 0 and all(ch.dead for ch in nd.children):
                nd.dead = True
            else:
                break
