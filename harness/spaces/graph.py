"""The NAS-Bench-Graph search space (``nasbench-graph-v1``; Qin et al., NeurIPS 2022).

A GNN architecture is a chain of 4 computing nodes. Node ``i`` (0-based) takes its input from
``link[i]`` (0 = the input, ``k`` = the output of node ``k``; ``link[0] = 0``) and applies one of
9 operations (``gat, gcn, gin, cheb, sage, arma, graph, fc, skip``). An architecture is the
tuple ``(l0, l1, l2, l3, o0, o1, o2, o3)`` with ops indexed in that order.

Isomorphic variants are identified with the package's own canonicalization (``regularize``,
``move_skip_op``, ``equalpart_sort`` of ``nas_bench_graph.architecture.Arch``) and keyed with its
own ``hash_arch``; the members of the space are the canonical forms, 26,206 of them (the
all-skip cell is excluded, as in the benchmark). The ``proteins`` dataset was run on 5 ops only
(``gcn, sage, arma, fc, skip``): ``NASBenchGraphSpace(proteins=True)`` (``nasbench-graph-proteins-v1``)
is that 2,021-member subspace.

Mutation and neighbourhood edit one link or one op of the canonical form and canonicalize the
result; edits that canonicalize back to the same architecture, or out of the space, are dropped.
"""

from __future__ import annotations

import itertools
from functools import cached_property

import numpy as np

from harness.errors import InvalidArchitecture
from harness.spaces.base import SearchSpace

OPS = ("gat", "gcn", "gin", "cheb", "sage", "arma", "graph", "fc", "skip")
PROTEIN_OPS = ("gcn", "sage", "arma", "fc", "skip")
SKIP = OPS.index("skip")
N_NODES = 4


def _package_arch():
    from nas_bench_graph.architecture import Arch  # light: pure Python module

    return Arch


class NASBenchGraphSpace(SearchSpace):
    """NAS-Bench-Graph: canonical (link, ops) tuples; ``index`` = rank of the package hash."""

    finite = True
    encodings = ("vector", "graph")
    ops = OPS

    def __init__(self, proteins: bool = False):
        self.proteins = proteins
        self.allowed_ops = tuple(OPS.index(o) for o in (PROTEIN_OPS if proteins else OPS))
        self.id = "nasbench-graph-proteins-v1" if proteins else "nasbench-graph-v1"
        self.decisions = (2, 3, 4) + (len(self.allowed_ops),) * N_NODES
        self.vector_dim = len(self.link_patterns) + N_NODES * len(OPS)

    @cached_property
    def link_patterns(self) -> tuple[tuple[int, ...], ...]:
        from nas_bench_graph.architecture import link_list

        return tuple(tuple(lk) for lk in link_list)

    @cached_property
    def _tables(self):
        Arch = _package_arch()
        members = []
        for lk in self.link_patterns:
            for ops in itertools.product(self.allowed_ops, repeat=N_NODES):
                if all(o == SKIP for o in ops):
                    continue
                names = [OPS[o] for o in ops]
                if Arch(list(lk), list(names)).check_isomorph():
                    members.append(lk + ops)
        members.sort(key=self.hash)
        return members, {a: i for i, a in enumerate(members)}

    @property
    def size(self) -> int:
        return len(self._tables[0])

    def hash(self, arch) -> int:
        """The package's ``hash_arch`` of a canonical architecture (the benchmark's key)."""
        Arch = _package_arch()
        return Arch(list(arch[:N_NODES]), [OPS[o] for o in arch[N_NODES:]]).hash_arch()

    def canonicalize(self, link, ops):
        """Canonical member for any link/op assignment, or ``None`` if it is not in the space."""
        Arch = _package_arch()
        b = Arch(list(link), [OPS[o] for o in ops]).regularize()
        b.move_skip_op()
        b.equalpart_sort()
        arch = tuple(b.link) + tuple(OPS.index(o) for o in b.ops)
        return arch if arch in self._tables[1] else None

    # --- finite ----------------------------------------------------------------------
    def index(self, arch) -> int:
        try:
            return self._tables[1][arch]
        except (KeyError, TypeError):
            raise InvalidArchitecture(
                f"{arch!r} is not a canonical architecture of {self.id} "
                "(a tuple of 4 links and 4 op indices)"
            ) from None

    def arch_at(self, i: int):
        if not 0 <= int(i) < self.size:
            raise InvalidArchitecture(f"{self.id} index {i} out of range 0..{self.size - 1}")
        return self._tables[0][int(i)]

    def contains(self, arch) -> bool:
        try:
            return arch in self._tables[1]
        except TypeError:
            return False

    # --- core ------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator):
        return self._tables[0][int(rng.integers(self.size))]

    def _edits(self, arch):
        link, ops = list(arch[:N_NODES]), list(arch[N_NODES:])
        for i in range(1, N_NODES):
            for src in range(i + 1):
                if src != link[i]:
                    yield link[:i] + [src] + link[i + 1 :], ops
        for i in range(N_NODES):
            for o in self.allowed_ops:
                if o != ops[i]:
                    yield link, ops[:i] + [o] + ops[i + 1 :]

    def neighbours(self, arch) -> list:
        """Canonical forms of all one-link or one-op edits, first-seen order, no repeats."""
        return list(self._neighbours(arch))

    def _neighbours(self, arch) -> tuple:
        """:meth:`neighbours` as a tuple, memoized per architecture (canonicalizing the ~38 edits
        of a cell with the package's code costs about a millisecond; ``mutate`` is called a
        thousand times per BONAS(EA) iteration on a population of a hundred)."""
        memo = self.__dict__.setdefault("_neighbour_memo", {})
        try:
            nbs = memo.get(arch)
        except TypeError:  # unhashable: not an architecture
            nbs = None
        if nbs is None:
            self.validate(arch)
            members, index = self._tables
            seen, out = {arch}, []
            for link, ops in self._edits(arch):
                c = self.canonicalize(link, ops)
                if c is not None and c not in seen:
                    seen.add(c)
                    out.append(members[index[c]])  # the member itself: the memo holds references only
            if len(memo) >= 30_000:
                memo.clear()
            nbs = memo[arch] = tuple(out)
        return nbs

    def mutate(self, arch, rng: np.random.Generator):
        """A uniformly chosen edit among those that change the architecture."""
        nbs = self._neighbours(arch)
        return nbs[int(rng.integers(len(nbs)))]

    def key(self, arch) -> str:
        self.validate(arch)
        return str(self.hash(arch))

    def format(self, arch) -> str:
        self.validate(arch)
        return "link=" + "".join(map(str, arch[:N_NODES])) + " ops=" + ",".join(
            OPS[o] for o in arch[N_NODES:]
        )

    def parse(self, text: str):
        """Parse ``format``'s ``link=0123 ops=gcn,gat,skip,fc`` (canonicalized)."""
        try:
            parts = dict(p.split("=") for p in str(text).split())
            link = [int(c) for c in parts["link"]]
            ops = [OPS.index(o) for o in parts["ops"].split(",")]
            if len(link) != N_NODES or len(ops) != N_NODES:
                raise ValueError
        except (ValueError, KeyError):
            raise InvalidArchitecture(
                f"{text!r} is not a NAS-Bench-Graph string like 'link=0012 ops=gcn,gat,skip,fc'"
            ) from None
        c = self.canonicalize(link, ops)
        if c is None:
            raise InvalidArchitecture(f"{text!r} is not in {self.id}")
        return c

    # --- encodings -------------------------------------------------------------------
    def vector(self, arch) -> np.ndarray:
        """One-hot link pattern (9) then one-hot op per node (4 x 9): shape (45,)."""
        out = np.zeros(self.vector_dim, dtype=np.float32)
        out[self.link_patterns.index(tuple(arch[:N_NODES]))] = 1
        base = len(self.link_patterns)
        for i, o in enumerate(arch[N_NODES:]):
            out[base + i * len(OPS) + o] = 1
        return out

    NODE_TYPES = ("input", "output") + OPS

    def graph(self, arch):
        """``(adjacency (6, 6), features (6, 11))``: node 0 input, 1..4 the op nodes, 5 output;
        node ``i+1`` reads from ``link[i]``; nodes read by no other node feed the output."""
        self.validate(arch)
        n = N_NODES + 2
        adj = np.zeros((n, n), dtype=np.float32)
        feats = np.zeros((n, len(self.NODE_TYPES)), dtype=np.float32)
        feats[0, 0] = feats[n - 1, 1] = 1
        link = arch[:N_NODES]
        for i, o in enumerate(arch[N_NODES:]):
            adj[link[i], i + 1] = 1
            feats[i + 1, 2 + o] = 1
        for i in range(N_NODES):
            if not any(link[j] == i + 1 for j in range(N_NODES)):
                adj[i + 1, n - 1] = 1
        return adj, feats

    def to_decisions(self, arch) -> list[int]:
        return list(arch[1:N_NODES]) + [self.allowed_ops.index(o) for o in arch[N_NODES:]]

    def from_decisions(self, choices):
        link = [0] + [int(c) for c in choices[: N_NODES - 1]]
        ops = [self.allowed_ops[int(c)] for c in choices[N_NODES - 1 :]]
        c = self.canonicalize(link, ops)
        if c is None:
            raise InvalidArchitecture(f"decisions {list(choices)} give no member of {self.id}")
        return c


def proteins_space() -> NASBenchGraphSpace:
    """The 5-op subspace used by the ``proteins`` dataset."""
    return NASBenchGraphSpace(proteins=True)
