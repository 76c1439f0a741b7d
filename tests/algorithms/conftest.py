"""Small synthetic benchmarks for the algorithm tests.

* ``onemax`` / ``onemin``: NB201 cells scored by how many edges carry ``nor_conv_3x3``
  (maximized), or minus that (minimized). The unique optimum is the all-conv3x3 cell; every
  non-optimal cell has a strictly better neighbour, so a working optimizer gets there fast.
* ``gappy``: a 27-cell decision space (3 decisions x 3 choices) whose ``from_decisions``
  rejects every vector with first decision 0, leaving 18 members: algorithms over
  ``decisions`` must redraw instead of querying non-members.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from harness.benchmarks.base import TabularBenchmark
from harness.errors import InvalidArchitecture
from harness.spaces import get_space
from harness.spaces.base import SearchSpace

CONV3 = 3
OPTIMUM = (CONV3,) * 6


def _onemax(maximize: bool) -> TabularBenchmark:
    space = get_space("nb201")
    score = (np.asarray(space.cells) == CONV3).sum(axis=1).astype(float)
    return TabularBenchmark(
        name="onemax" if maximize else "onemin", version="test-v1", space=space,
        columns={"score": score if maximize else -score}, default_search="score", default_report="score",
        higher_is_better={"score": maximize},
    )


@pytest.fixture(scope="session")
def onemax():
    return _onemax(True)


@pytest.fixture(scope="session")
def onemin():
    return _onemax(False)


class GappySpace(SearchSpace):
    """Cells ``(a, b, c)`` with ``a in {1, 2}``, ``b, c in {0, 1, 2}``; decisions ``(3, 3, 3)``."""

    id = "gappy-test-v1"
    finite = True
    decisions = (3, 3, 3)
    vector_dim = 3

    def __init__(self):
        self.members = [c for c in itertools.product(range(3), repeat=3) if c[0] != 0]
        self.index_of = {c: i for i, c in enumerate(self.members)}
        self.size = len(self.members)

    def index(self, arch):
        return self.index_of[self.validate(arch)]

    def arch_at(self, i):
        return self.members[int(i)]

    def contains(self, arch):
        try:
            return arch in self.index_of
        except TypeError:
            return False

    def sample(self, rng):
        return self.members[int(rng.integers(self.size))]

    def neighbours(self, arch):
        self.validate(arch)
        out = []
        for i in range(3):
            for v in range(3):
                if v != arch[i]:
                    c = arch[:i] + (v,) + arch[i + 1 :]
                    if c in self.index_of:
                        out.append(c)
        return out

    def mutate(self, arch, rng):
        nbs = self.neighbours(arch)
        return nbs[int(rng.integers(len(nbs)))]

    def key(self, arch):
        return "".join(map(str, self.validate(arch)))

    def parse(self, text):
        return self.validate(tuple(int(c) for c in text))

    def vector(self, arch):
        return np.asarray(arch, dtype=np.float32)

    def to_decisions(self, arch):
        return list(arch)

    def from_decisions(self, choices):
        c = tuple(int(x) for x in choices)
        if c not in self.index_of:
            raise InvalidArchitecture(f"{c} is not a member of {self.id}")
        return c


@pytest.fixture(scope="session")
def gappy():
    space = GappySpace()
    values = np.array([sum(c) for c in space.members], dtype=float)
    return TabularBenchmark(name="gappy", version="test-v1", space=space, columns={"score": values},
                            default_search="score", default_report="score")


def queries_to(bench, make, target, budget: int, seed: int) -> int:
    """Counted queries until ``target`` is first queried (the run stops there), or ``budget + 1``
    if it never is. Stopping early keeps converged searches from spinning on free repeats."""
    from harness.errors import BudgetExhausted
    from harness.oracle import Oracle

    class _Found(BudgetExhausted):
        pass

    target_index = bench.space.index(target)

    class UntilTarget(Oracle):
        def query(self, arch):
            v = super().query(arch)
            if self._t_ref and self._t_ref[-1] == target_index:
                raise _Found
            return v

    oracle = UntilTarget(bench, budget=budget)
    try:
        make().run(oracle, np.random.default_rng(seed))
    except _Found:
        return oracle.used
    except BudgetExhausted:
        pass
    return budget + 1
