"""The NAS-Bench-201 / NATS-Bench topology search space (``nb201-v1``).

A cell is a DAG on 4 nodes; each of its 6 edges ``(j -> i)``, ``j < i``, carries one of 5
operations. An architecture is a tuple of 6 op indices in the standard edge order of the
NB201 string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``, i.e. edges
``(0->1), (0->2), (1->2), (0->3), (1->3), (2->3)``, with ops indexed as
``none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3``.

Index order: ``index(arch)`` is the official NATS-Bench / NAS-Bench-201 architecture index.
The benchmark enumerated the 5^6 cells in product order (first edge most significant, ops in
the order above) and shuffled that list once with Python's ``random.Random(88)``; we rebuild
the same permutation (checked against all 15,625 rows of the official table in the tests).

Canonical key (``canonical_key``): two cells are functionally equivalent here when they agree
on every *live* edge, where an edge is live iff its op is not ``none`` and it lies on a path
from the input node 0 to the output node 3 made of non-``none`` edges. Dead edges are written
as ``none``. (This is coarser than identity and finer than the official "unique string",
which also merges cells that differ only by commuted sums.)
"""

from __future__ import annotations

import itertools
import random
from functools import cached_property

import numpy as np

from harness.errors import InvalidArchitecture
from harness.spaces.base import SearchSpace

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))  # (source, target), standard order
N_EDGES = len(EDGES)
N_OPS = len(OPS)
SIZE = N_OPS**N_EDGES
_N_NEIGHBOURS = N_EDGES * (N_OPS - 1)
_OP_INDEX = {name: i for i, name in enumerate(OPS)}
_SHUFFLE_SEED = 88  # fixed by NAS-Bench-201's generator of its architecture list


class NB201Space(SearchSpace):
    """NAS-Bench-201 cell space: 15,625 cells, tuples of 6 op indices."""

    id = "nb201-v1"
    finite = True
    encodings = ("vector", "onehot", "graph")
    decisions = (N_OPS,) * N_EDGES
    vector_dim = N_EDGES * N_OPS
    size = SIZE
    ops = OPS
    edges = EDGES

    # --- index <-> cell ---------------------------------------------------------------
    @cached_property
    def _tables(self):
        cells = list(itertools.product(range(N_OPS), repeat=N_EDGES))
        random.Random(_SHUFFLE_SEED).shuffle(cells)  # private generator, global RNG untouched
        order = np.array([_product_index(c) for c in cells], dtype=np.int64)
        to_index = np.empty(SIZE, dtype=np.int64)
        to_index[order] = np.arange(SIZE)
        cell_of = {c: i for i, c in enumerate(cells)}
        return cells, cell_of, to_index

    @property
    def cells(self) -> list[tuple[int, ...]]:
        """All cells, ``cells[i]`` being official index ``i``."""
        return self._tables[0]

    @property
    def index_of(self) -> dict:
        """Dict cell -> official index (also a fast membership test)."""
        return self._tables[1]

    def index(self, arch) -> int:
        try:
            return self._tables[1][arch]
        except (KeyError, TypeError):
            raise InvalidArchitecture(
                f"{arch!r} is not an NB201 cell (a tuple of 6 op indices in 0..4)"
            ) from None

    def indices(self, archs) -> np.ndarray:
        """Official indices of an array of cells, shape (n, 6) -> (n,)."""
        a = np.asarray(archs, dtype=np.int64).reshape(-1, N_EDGES)
        if a.size and (a.min() < 0 or a.max() >= N_OPS):
            raise InvalidArchitecture("NB201 op indices must lie in 0..4")
        prod = a @ (N_OPS ** np.arange(N_EDGES - 1, -1, -1))
        return self._tables[2][prod]

    def arch_at(self, i: int) -> tuple[int, ...]:
        if not 0 <= int(i) < SIZE:
            raise InvalidArchitecture(f"NB201 index {i} out of range 0..{SIZE - 1}")
        return self._tables[0][int(i)]

    # --- core -------------------------------------------------------------------------
    def contains(self, arch) -> bool:
        try:
            return arch in self._tables[1]
        except TypeError:
            return False

    def sample(self, rng: np.random.Generator) -> tuple[int, ...]:
        return tuple(rng.integers(0, N_OPS, size=N_EDGES).tolist())

    def mutate(self, arch, rng: np.random.Generator) -> tuple[int, ...]:
        """Change the op of one uniformly chosen edge to a different, uniformly chosen op."""
        self.validate(arch)
        e = int(rng.integers(N_EDGES))
        new = int(rng.integers(N_OPS - 1))
        new += new >= arch[e]
        return arch[:e] + (new,) + arch[e + 1 :]

    def mutate_many(self, archs, rng: np.random.Generator) -> list[tuple[int, ...]]:
        """``[mutate(a, rng) for a in archs]`` in one vectorised step. ``mutate`` draws
        ``rng.integers(6)`` then ``rng.integers(4)`` per cell; one ``rng.integers`` call with the
        bounds ``6, 4, 6, 4, ...`` draws the same numbers from the same stream (numpy draws
        bounded integers element by element, each bound with its own rejection), so the children
        and the generator's state afterwards are identical (tested)."""
        archs = list(archs)
        try:
            distinct = dict.fromkeys(archs)
        except TypeError:  # an unhashable item: validate names it
            distinct = archs
        for a in distinct:
            if not self.contains(a):
                self.validate(a)
        if not archs:
            return []
        m = len(archs)
        bounds = np.empty(2 * m, dtype=np.int64)
        bounds[0::2], bounds[1::2] = N_EDGES, N_OPS - 1
        draws = rng.integers(0, bounds).reshape(m, 2)
        a = np.array(archs, dtype=np.int64)
        rows, e = np.arange(m), draws[:, 0]
        new = draws[:, 1]
        a[rows, e] = new + (new >= a[rows, e])
        return list(map(tuple, a.tolist()))

    def neighbours(self, arch) -> list[tuple[int, ...]]:
        """The 24 cells that differ in one edge: edges in standard order, ops ascending."""
        self.validate(arch)
        out = []
        for e in range(N_EDGES):
            for o in range(N_OPS):
                if o != arch[e]:
                    out.append(arch[:e] + (o,) + arch[e + 1 :])
        return out

    def pick_neighbour(self, arch, u: float):
        """``neighbours(arch)[floor(24 u)]`` and 24, without building the list."""
        if arch not in self._tables[1]:
            self.validate(arch)
        i = min(int(u * _N_NEIGHBOURS), _N_NEIGHBOURS - 1)
        e, r = divmod(i, N_OPS - 1)
        return arch[:e] + (r + (r >= arch[e]),) + arch[e + 1 :], _N_NEIGHBOURS

    def edit_distance(self, a, b) -> int:
        """Number of edges whose ops differ."""
        return sum(x != y for x, y in zip(a, b))

    def key(self, arch) -> str:
        return self.format(arch)

    def format(self, arch) -> str:
        self.validate(arch)
        names = [f"{OPS[o]}~{src}" for o, (src, _) in zip(arch, EDGES)]
        return "|" + names[0] + "|+|" + "|".join(names[1:3]) + "|+|" + "|".join(names[3:]) + "|"

    def parse(self, text: str) -> tuple[int, ...]:
        """Parse the standard string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``."""
        try:
            nodes = str(text).strip().split("+")
            if len(nodes) != 3:
                raise ValueError
            ops = []
            for target, node in enumerate(nodes, start=1):
                parts = [p for p in node.split("|") if p]
                if len(parts) != target:
                    raise ValueError
                for src, part in enumerate(parts):
                    name, s = part.split("~")
                    if int(s) != src:
                        raise ValueError
                    ops.append(_OP_INDEX[name])
            return tuple(ops)
        except (ValueError, KeyError):
            raise InvalidArchitecture(
                f"{text!r} is not an NB201 cell string like "
                "'|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|avg_pool_3x3~2|'"
            ) from None

    # --- equivalence ------------------------------------------------------------------
    def live_edges(self, arch) -> tuple[bool, ...]:
        """Whether each edge is non-``none`` and on an input->output path of non-none edges."""
        on = [o != 0 for o in arch]
        reach_fwd = {0}
        for (s, t), e in zip(EDGES, on):  # EDGES are in topological order of targets
            if e and s in reach_fwd:
                reach_fwd.add(t)
        reach_bwd = {3}
        for (s, t), e in sorted(zip(EDGES, on), key=lambda x: -x[0][0]):
            if e and t in reach_bwd:
                reach_bwd.add(s)
        return tuple(e and s in reach_fwd and t in reach_bwd for (s, t), e in zip(EDGES, on))

    def canonical(self, arch) -> tuple[int, ...]:
        """``arch`` with every dead edge set to ``none`` (see the module docstring)."""
        return tuple(o if live else 0 for o, live in zip(arch, self.live_edges(arch)))

    def canonical_key(self, arch) -> str:
        return self.format(self.canonical(arch))

    # --- encodings --------------------------------------------------------------------
    def vector(self, arch) -> np.ndarray:
        """One-hot ops per edge, flattened: shape (30,), float32."""
        return self.onehot(arch).reshape(-1)

    def vectors(self, archs) -> np.ndarray:
        a = np.asarray(archs, dtype=np.int64).reshape(-1, N_EDGES)
        out = np.zeros((a.shape[0], N_EDGES, N_OPS), dtype=np.float32)
        np.put_along_axis(out, a[:, :, None], 1.0, axis=2)
        return out.reshape(a.shape[0], -1)

    def onehot(self, arch) -> np.ndarray:
        """α matrix of shape (6 edges, 5 ops) with a single 1 per row."""
        out = np.zeros((N_EDGES, N_OPS), dtype=np.float32)
        out[np.arange(N_EDGES), list(arch)] = 1.0
        return out

    def discretize(self, alpha) -> tuple[int, ...]:
        """Row-wise argmax of a (6, 5) α matrix (ties go to the lower op index)."""
        a = np.asarray(alpha, dtype=float).reshape(N_EDGES, N_OPS)
        return tuple(int(x) for x in a.argmax(axis=1))

    def to_decisions(self, arch) -> list[int]:
        return list(arch)

    def from_decisions(self, choices) -> tuple[int, ...]:
        arch = tuple(map(int, choices))
        return arch if arch in self._tables[1] else self.validate(arch)

    # Graph form with operations as nodes: node 0 = input, nodes 1..6 = the 6 edges' ops in
    # standard order, node 7 = output. Op node (j->i) takes input from every op node that
    # ends in j (or from the input node when j = 0) and feeds every op node leaving i, or
    # the output node when i = 3. The topology is fixed; only node features vary.
    NODE_TYPES = ("input", "output") + OPS

    @cached_property
    def _graph_adjacency(self) -> np.ndarray:
        n = N_EDGES + 2
        adj = np.zeros((n, n), dtype=np.float32)
        for k, (s, t) in enumerate(EDGES):
            node = k + 1
            if s == 0:
                adj[0, node] = 1
            for k2, (s2, t2) in enumerate(EDGES):
                if t2 == s:
                    adj[k2 + 1, node] = 1
            if t == 3:
                adj[node, n - 1] = 1
        return adj

    def graph(self, arch):
        """``(adjacency (8, 8), node features (8, 7))``: directed adjacency, one-hot node types
        over ``NODE_TYPES`` (input, output, then the 5 ops)."""
        self.validate(arch)
        feats = np.zeros((N_EDGES + 2, len(self.NODE_TYPES)), dtype=np.float32)
        feats[0, 0] = 1
        feats[-1, 1] = 1
        for k, o in enumerate(arch):
            feats[k + 1, 2 + o] = 1
        return self._graph_adjacency.copy(), feats


def _product_index(cell) -> int:
    i = 0
    for o in cell:
        i = i * N_OPS + o
    return i
