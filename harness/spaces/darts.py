"""The DARTS / NAS-Bench-301 cell search space (``darts-v1``).

An architecture is a normal cell and a reduction cell (:class:`DartsGenotype`). Each cell has
2 input nodes (0 = output of cell k-2, 1 = output of cell k-1) and 4 intermediate nodes
(2..5); intermediate node ``k`` (0-based, i.e. node ``k + 2``) receives exactly 2 edges from
two *distinct* earlier nodes, each edge carrying one of the 7 DARTS operations ``OPS``
('none' excluded, as in NAS-Bench-301 and L2NAS §3.2); the cell output concatenates the 4
intermediate nodes. A cell is a tuple of 8 ``(source, op index)`` pairs, pairs ``2k`` and
``2k + 1`` feeding intermediate node ``k``, the layout of a DARTS ``Genotype.normal`` list with
the two entries of each pair swapped. Per cell there are 3·6·10·49⁴ ≈ 1.04·10⁹ cells
(Ape-X NAS §3.1: "around 10⁹"; papers: docs/references.md), ≈ 10¹⁸ genotypes.

Canonical form and key: a node sums its two inputs, so their order does not matter (the
NAS-Bench-301 surrogate also sorts them). ``canonical(arch)`` sorts each node's pair by source;
``key`` formats the canonical form. Every architecture the space produces (``sample``,
``mutate``, ``neighbours``, ``parse`` of the canonical string, ``discretize``,
``from_decisions``) is canonical; ``contains`` also accepts the other order.

Neighbourhood (``neighbours``, Ape-X NAS §3.2.1 "one change to the current state"): change the
operation of one edge (6 alternatives) or its source (to an earlier node that is neither its
current source nor the other edge's source). Per cell that is 8·6 = 48 op changes plus
2·(0 + 1 + 2 + 3) = 12 source changes = 60 neighbours, whatever the cell; a genotype (one
change in either cell) has 120. ``mutate`` draws one of these uniformly. The NB301 action set
of Ape-X NAS §3.2.1 ("generate the neighbours of each cell individually, and then select up to N
tuples, each consisting of 1 neighbour for each cell") is ``neighbour_tuples(arch, n, rng)``:
the 60 × 60 = 3,600 (normal-neighbour, reduce-neighbour) pairs, all of them in a fixed order
when ``n`` ≥ 3,600, else ``n`` drawn without replacement with ``rng`` (kept in that order).
(The paper reports "around 70" neighbours per cell and "around 4,900" tuples; with 'none'
excluded and distinct sources required the exact count is 60 and 3,600.)

Encodings:

* ``onehot(arch)``: the α form of L2NAS §3.2, an array of shape ``(2, 14, 7)`` (normal, reduce;
  14 candidate edges in DARTS order; 7 ops), one 1 per selected edge. ``discretize(alpha)`` is
  L2NAS Algorithm 2; ``vector`` is ``onehot`` flattened (196 floats), ``from_vector`` inverts it.
* ``ops_on_nodes(arch, cell)``: the operations-on-nodes conversion of Ape-X NAS Fig. 1: every edge
  becomes a node labelled with its op, fed by the (converted) source node and feeding a "sum"
  node that replaces the original intermediate node; the 4 sum nodes feed the output. 15 nodes
  per cell in topological order: 2 inputs, then for each intermediate node its 2 op nodes and
  its sum node, then the output.
* ``lower_triangular(arch)``: the agent observation of Ape-X NAS §3.2.3, per cell the flattened
  lower-triangular adjacency of the Fig. 1 graph plus one-hot node labels, padded to
  ``pad_to`` nodes, the two cells concatenated (510 floats with the default 15 nodes).
* ``graph(arch)``: ops as nodes for GNN predictors (Ape-X NAS Fig. 1, BONAS §A.2): the two cells'
  Fig. 1 graphs as one block-diagonal adjacency (30 × 30) with node features one-hot over
  ``NODE_LABELS`` plus a last column that is 1 on reduction-cell nodes (30 × 11).
* ``to_decisions``/``from_decisions``: per cell, per intermediate node: source of the first
  edge, source of the second edge (``k + 2`` choices each), op of the first, op of the second
  (7 each); 32 decisions. Equal sources raise :class:`InvalidArchitecture`.

``edit_distance`` is exact: nodes are independent, and within a node the distance between two
input pairs is the cheaper of the two matchings (Hamming on source and op), which is always
realisable through valid intermediate cells.
"""

from __future__ import annotations

import ast
from collections import namedtuple
from typing import NamedTuple, Sequence

import numpy as np

from harness.errors import InvalidArchitecture
from harness.spaces.base import SearchSpace

OPS = ("max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")
N_OPS = len(OPS)
N_INPUTS = 2
N_NODES = 4  # intermediate nodes per cell
EDGES_PER_CELL = 2 * N_NODES
ROW_START = (0, 2, 5, 9)  # first α row of each intermediate node (DARTS edge order)
N_ROWS = 14  # candidate edges per cell: 2 + 3 + 4 + 5
CELLS = ("normal", "reduce")
CONCAT = (2, 3, 4, 5)
_OP_INDEX = {name: i for i, name in enumerate(OPS)}
# size of one cell: prod over nodes of C(k + 2, 2) * 7^2
CELL_SIZE = 1 * 3 * 6 * 10 * N_OPS ** EDGES_PER_CELL
_SOURCE_HIGHS = np.array([h for k in range(N_NODES) for h in (k + 2, k + 1)])

# operations-on-nodes graph (Ape-X NAS Fig. 1)
NODE_LABELS = ("input", "output", "sum") + OPS
N_GRAPH_NODES = N_INPUTS + 3 * N_NODES + 1  # 15
_LABEL_INDEX = {name: i for i, name in enumerate(NODE_LABELS)}

# The genotype object of DARTS / NAS-Bench-301 (same type name and fields).
Genotype = namedtuple("Genotype", "normal normal_concat reduce reduce_concat")


class DartsGenotype(NamedTuple):
    """A normal and a reduction cell, each a tuple of 8 ``(source, op index)`` pairs."""

    normal: tuple
    reduce: tuple


def _is_int(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _valid_cell(cell) -> bool:
    if not isinstance(cell, tuple) or len(cell) != EDGES_PER_CELL:
        return False
    for k in range(N_NODES):
        pair = cell[2 * k : 2 * k + 2]
        for e in pair:
            if not (isinstance(e, tuple) and len(e) == 2 and _is_int(e[0]) and _is_int(e[1])):
                return False
            if not (0 <= e[0] < k + 2 and 0 <= e[1] < N_OPS):
                return False
        if pair[0][0] == pair[1][0]:
            return False
    return True


def _canonical_cell(cell) -> tuple:
    out = []
    for k in range(N_NODES):
        a, b = cell[2 * k], cell[2 * k + 1]
        a, b = (int(a[0]), int(a[1])), (int(b[0]), int(b[1]))
        out.extend((a, b) if a[0] < b[0] else (b, a))
    return tuple(out)


def _cell_neighbours(cell) -> list[tuple]:
    """The 60 cells one change away from canonical ``cell`` (see the module docstring)."""
    out = []
    for k in range(N_NODES):
        for j in (0, 1):
            i = 2 * k + j
            src, op = cell[i]
            other = cell[2 * k + 1 - j][0]
            for o in range(N_OPS):
                if o != op:
                    out.append(cell[:i] + ((src, o),) + cell[i + 1 :])
            for s in range(k + 2):
                if s != src and s != other:
                    new = list(cell)
                    new[i] = (s, op)
                    out.append(_canonical_cell(new))
    return out


def _cell_edit_distance(a, b) -> int:
    d = 0
    for k in range(N_NODES):
        a1, a2 = a[2 * k], a[2 * k + 1]
        b1, b2 = b[2 * k], b[2 * k + 1]

        def h(x, y):
            return (x[0] != y[0]) + (x[1] != y[1])

        d += min(h(a1, b1) + h(a2, b2), h(a1, b2) + h(a2, b1))
    return d


def lower_triangular_encoding(adj: np.ndarray, labels: Sequence[int], n_labels: int, pad_to: int | None = None) -> np.ndarray:
    """Ape-X NAS §3.2.3 observation of one graph: flattened lower-triangular adjacency + one-hot labels.

    ``adj[i, j] = 1`` is an edge ``i -> j`` with nodes in topological order (``i < j``), so the
    strictly lower triangle of ``adj.T`` holds every edge; its rows ``1 .. P-1`` are
    concatenated (row ``i`` lists the predecessors ``j < i`` of node ``i``), followed by the
    labels one-hot, row by row. Graphs with fewer than ``pad_to`` nodes are padded with
    unconnected, unlabelled (all-zero) nodes at the end. Shape
    ``(P (P - 1) / 2 + P * n_labels,)``, float32.
    """
    n = adj.shape[0]
    p = n if pad_to is None else int(pad_to)
    if p < n:
        raise ValueError(f"pad_to={p} is smaller than the graph ({n} nodes)")
    full = np.zeros((p, p), dtype=np.float32)
    full[:n, :n] = adj
    rows, cols = np.tril_indices(p, k=-1)
    tri = full.T[rows, cols]
    lab = np.zeros((p, n_labels), dtype=np.float32)
    lab[np.arange(n), np.asarray(labels, dtype=np.int64)] = 1.0
    return np.concatenate([tri, lab.reshape(-1)])


class DartsSpace(SearchSpace):
    """DARTS / NAS-Bench-301 genotypes: normal + reduction cell (see the module docstring)."""

    id = "darts-v1"
    finite = False
    encodings = ("vector", "onehot", "graph")
    decisions = tuple(n for _ in CELLS for k in range(N_NODES) for n in (k + 2, k + 2, N_OPS, N_OPS))
    vector_dim = len(CELLS) * N_ROWS * N_OPS  # 196
    ops = OPS
    node_labels = NODE_LABELS
    cardinality = CELL_SIZE**2
    lower_triangular_dim = len(CELLS) * (N_GRAPH_NODES * (N_GRAPH_NODES - 1) // 2 + N_GRAPH_NODES * len(NODE_LABELS))

    # --- core -------------------------------------------------------------------------
    def contains(self, arch) -> bool:
        return isinstance(arch, tuple) and len(arch) == 2 and _valid_cell(arch[0]) and _valid_cell(arch[1])

    def canonical(self, arch) -> DartsGenotype:
        """``arch`` with each node's two inputs sorted by source."""
        self.validate(arch)
        return DartsGenotype(_canonical_cell(arch[0]), _canonical_cell(arch[1]))

    def _sample_cell(self, rng: np.random.Generator) -> tuple:
        # per node: first source uniform over k + 2 nodes, second uniform over the k + 1 others
        s = rng.integers(0, _SOURCE_HIGHS).tolist()
        o = rng.integers(0, N_OPS, size=EDGES_PER_CELL).tolist()
        cell = []
        for k in range(N_NODES):
            s1, s2 = s[2 * k], s[2 * k + 1]
            s2 += s2 >= s1
            cell.extend(((s1, o[2 * k]), (s2, o[2 * k + 1])))
        return _canonical_cell(cell)

    def sample(self, rng: np.random.Generator) -> DartsGenotype:
        """Uniform over canonical genotypes: per node 2 distinct sources and 2 ops, uniformly."""
        return DartsGenotype(self._sample_cell(rng), self._sample_cell(rng))

    def mutate(self, arch, rng: np.random.Generator) -> DartsGenotype:
        """One of the 120 ``neighbours`` drawn uniformly."""
        nbs = self.neighbours(arch)
        return nbs[int(rng.integers(len(nbs)))]

    def cell_neighbours(self, cell) -> list[tuple]:
        """The 60 cells one change away from ``cell`` (canonical), in a fixed order."""
        if not _valid_cell(cell):
            raise InvalidArchitecture(f"{cell!r} is not a DARTS cell")
        return _cell_neighbours(_canonical_cell(cell))

    def neighbours(self, arch) -> list[DartsGenotype]:
        """The 120 genotypes one change away: the normal cell's 60 neighbours, then the reduce cell's.

        Per cell, edges in order; per edge the 6 other ops ascending, then the other valid
        sources ascending.
        """
        a = self.canonical(arch)
        return [DartsGenotype(c, a.reduce) for c in _cell_neighbours(a.normal)] + [
            DartsGenotype(a.normal, c) for c in _cell_neighbours(a.reduce)
        ]

    def neighbour_tuples(self, arch, n: int, rng: np.random.Generator | None = None, include_unchanged: bool = False) -> list[DartsGenotype]:
        """Ape-X NAS §3.2.1 NB301 actions: up to ``n`` (normal-neighbour, reduce-neighbour) pairs.

        The candidate pairs are the product of the two cells' 60 neighbours (normal-major
        order; with ``include_unchanged=True`` each cell may also stay as it is, the pair that
        changes nothing excluded: 61 × 61 - 1 = 3,720). When there are at most ``n`` candidates
        all are returned in that order; otherwise ``n`` are drawn without replacement with
        ``rng`` and returned in candidate order.
        """
        a = self.canonical(arch)
        N = _cell_neighbours(a.normal)
        R = _cell_neighbours(a.reduce)
        if include_unchanged:
            N, R = [a.normal] + N, [a.reduce] + R
        offset = 1 if include_unchanged else 0
        total = len(N) * len(R) - offset
        if n >= total:
            idx = np.arange(total)
        else:
            if rng is None:
                raise ValueError(f"neighbour_tuples: drawing {n} of {total} pairs needs an rng")
            idx = np.sort(rng.choice(total, size=int(n), replace=False))
        idx = idx + offset
        return [DartsGenotype(N[i // len(R)], R[i % len(R)]) for i in idx.tolist()]

    def edit_distance(self, a, b) -> int:
        """Minimum number of single changes (one edge's op or source) turning ``a`` into ``b``."""
        self.validate(a)
        self.validate(b)
        return _cell_edit_distance(a[0], b[0]) + _cell_edit_distance(a[1], b[1])

    # --- strings ------------------------------------------------------------------------
    def key(self, arch) -> str:
        return self.format(self.canonical(arch))

    def format(self, arch) -> str:
        """``normal=op~src,op~src|...(4 nodes)...;reduce=...``, pairs in the given order."""
        self.validate(arch)
        parts = []
        for name, cell in zip(CELLS, arch):
            nodes = [",".join(f"{OPS[o]}~{s}" for s, o in cell[2 * k : 2 * k + 2]) for k in range(N_NODES)]
            parts.append(f"{name}=" + "|".join(nodes))
        return ";".join(parts)

    def parse(self, text: str) -> DartsGenotype:
        """Inverse of ``format``; also accepts the DARTS text form
        ``Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=[2, 3, 4, 5], reduce=[...],
        reduce_concat=range(2, 6))``. The order of the pairs is kept."""
        s = str(text).strip()
        if s.startswith("Genotype") or "Genotype(" in s[:40]:
            return self._parse_genotype_text(s)
        try:
            cells = {}
            for part in s.replace(" ", "").split(";"):
                name, body = part.split("=", 1)
                nodes = body.split("|")
                if name not in CELLS or name in cells or len(nodes) != N_NODES:
                    raise ValueError
                cell = []
                for node in nodes:
                    edges = node.split(",")
                    if len(edges) != 2:
                        raise ValueError
                    for e in edges:
                        op, src = e.split("~")
                        cell.append((int(src), _OP_INDEX[op]))
                cells[name] = tuple(cell)
            arch = DartsGenotype(cells["normal"], cells["reduce"])
        except (ValueError, KeyError):
            raise InvalidArchitecture(
                f"{text!r} is not a DARTS genotype string like "
                "'normal=sep_conv_3x3~0,sep_conv_3x3~1|...;reduce=max_pool_3x3~0,max_pool_3x3~1|...' "
                "or a DARTS 'Genotype(normal=[...], normal_concat=..., reduce=[...], reduce_concat=...)'"
            ) from None
        return self.validate(arch)

    def _parse_genotype_text(self, s: str) -> DartsGenotype:
        bad = InvalidArchitecture(f"{s!r} is not a DARTS Genotype(normal=[(op, src), ...], ...) expression")
        try:
            node = ast.parse(s, mode="eval").body
        except SyntaxError:
            raise bad from None
        if not isinstance(node, ast.Call):
            raise bad
        fields = dict(zip(Genotype._fields, node.args))
        fields.update({kw.arg: kw.value for kw in node.keywords})
        if set(fields) - set(Genotype._fields) or "normal" not in fields or "reduce" not in fields:
            raise bad

        def concat(v) -> tuple:
            if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id == "range":
                return tuple(range(*[ast.literal_eval(a) for a in v.args]))
            return tuple(ast.literal_eval(v))

        try:
            for c in ("normal_concat", "reduce_concat"):
                if c in fields and concat(fields[c]) != CONCAT:
                    raise InvalidArchitecture(f"{c} must be [2, 3, 4, 5] in the DARTS/NB301 space, got {ast.unparse(fields[c])}")
            obj = Genotype(ast.literal_eval(fields["normal"]), list(CONCAT), ast.literal_eval(fields["reduce"]), list(CONCAT))
        except (ValueError, TypeError, SyntaxError):
            raise bad from None
        return self.from_genotype(obj)

    # --- DARTS / NB301 genotype objects ---------------------------------------------------
    def from_genotype(self, genotype) -> DartsGenotype:
        """Our genotype from a DARTS/NB301 ``Genotype`` (``.normal``/``.reduce`` lists of
        ``(op name, source)``), pair order kept."""
        try:
            cells = []
            for name in CELLS:
                lst = list(getattr(genotype, name))
                cells.append(tuple((int(src), _OP_INDEX[op]) for op, src in lst))
            arch = DartsGenotype(*cells)
        except (AttributeError, KeyError, TypeError, ValueError):
            raise InvalidArchitecture(
                f"{genotype!r} is not a DARTS genotype with the ops {', '.join(OPS)} ('none' is not allowed)"
            ) from None
        return self.validate(arch)

    def to_genotype(self, arch) -> Genotype:
        """The DARTS/NB301 ``Genotype(normal=[(op, src), ...], normal_concat=[2, 3, 4, 5], ...)``."""
        self.validate(arch)
        n, r = ([(OPS[o], int(s)) for s, o in cell] for cell in arch)
        return Genotype(normal=n, normal_concat=list(CONCAT), reduce=r, reduce_concat=list(CONCAT))

    # --- α: one-hot and L2NAS discretization ------------------------------------------------
    def onehot(self, arch) -> np.ndarray:
        """α of shape ``(2, 14, 7)`` (normal, reduce): row ``ROW_START[k] + src`` of each selected
        edge has a 1 at its op; float32."""
        self.validate(arch)
        out = np.zeros((len(CELLS), N_ROWS, N_OPS), dtype=np.float32)
        for c, cell in enumerate(arch):
            for i, (s, o) in enumerate(cell):
                out[c, ROW_START[i // 2] + s, o] = 1.0
        return out

    def discretize(self, alpha) -> DartsGenotype:
        """L2NAS Algorithm 2 on each cell's α (Start/End there are inclusive row bounds).

        ``alpha``: shape ``(2, 14, 7)``, a pair of ``(14, 7)`` matrices, or the flat 196
        vector. An 8-column α in DARTS ``PRIMITIVES`` order (``'none'`` first) is accepted; the
        'none' column is ignored. For intermediate node ``k`` (rows ``ROW_START[k]`` ..
        ``ROW_START[k] + k + 1``), the first edge is the row holding the largest entry of the
        block, with that entry's op; the second is the row, among the others, holding the
        largest entry, with its op. Ties go to the lower row, then the lower op (numpy argmax).
        """
        a = self._alpha_array(alpha)
        cells = []
        for c in range(len(CELLS)):
            cell = []
            for k in range(N_NODES):
                block = a[c, ROW_START[k] : ROW_START[k] + k + 2]
                i1, j1 = np.unravel_index(int(np.argmax(block)), block.shape)
                rest = block.copy()
                rest[i1] = -np.inf
                i2, j2 = np.unravel_index(int(np.argmax(rest)), rest.shape)
                cell.extend(((int(i1), int(j1)), (int(i2), int(j2))))
            cells.append(_canonical_cell(cell))
        return DartsGenotype(*cells)

    def _alpha_array(self, alpha) -> np.ndarray:
        if isinstance(alpha, (tuple, list)) and len(alpha) == 2:
            a = np.stack([np.asarray(m, dtype=float) for m in alpha])
        else:
            a = np.asarray(alpha, dtype=float)
        if a.size == len(CELLS) * N_ROWS * (N_OPS + 1):
            a = a.reshape(len(CELLS), N_ROWS, N_OPS + 1)[:, :, 1:]
        if a.size != len(CELLS) * N_ROWS * N_OPS:
            raise ValueError(f"DARTS α must have shape (2, 14, 7) (or (2, 14, 8) with 'none' first), got {a.shape}")
        a = a.reshape(len(CELLS), N_ROWS, N_OPS)
        if np.isnan(a).any():
            raise ValueError("DARTS α contains NaN")
        return a

    def vector(self, arch) -> np.ndarray:
        """``onehot(arch)`` flattened: shape (196,), float32 (normal cell first)."""
        return self.onehot(arch).reshape(-1)

    def from_vector(self, v) -> DartsGenotype:
        """Inverse of ``vector`` (any real 196-vector is discretized as an α)."""
        return self.discretize(np.asarray(v, dtype=float).reshape(len(CELLS), N_ROWS, N_OPS))

    # --- decisions --------------------------------------------------------------------------
    def to_decisions(self, arch) -> list[int]:
        """Per cell, per node: first source, second source, first op, second op (canonical order)."""
        a = self.canonical(arch)
        out = []
        for cell in a:
            for k in range(N_NODES):
                (s1, o1), (s2, o2) = cell[2 * k], cell[2 * k + 1]
                out.extend((s1, s2, o1, o2))
        return out

    def from_decisions(self, choices) -> DartsGenotype:
        c = [int(x) for x in choices]
        if len(c) != len(self.decisions):
            raise InvalidArchitecture(f"DARTS decisions need {len(self.decisions)} choices, got {len(c)}")
        for v, n in zip(c, self.decisions):
            if not 0 <= v < n:
                raise InvalidArchitecture(f"DARTS decision value {v} out of range 0..{n - 1}")
        cells = []
        for ci in range(len(CELLS)):
            cell = []
            for k in range(N_NODES):
                s1, s2, o1, o2 = c[16 * ci + 4 * k : 16 * ci + 4 * k + 4]
                if s1 == s2:
                    raise InvalidArchitecture(
                        f"DARTS {CELLS[ci]} cell node {k + 2}: both inputs come from node {s1} (they must differ)"
                    )
                cell.extend(((s1, o1), (s2, o2)))
            cells.append(_canonical_cell(cell))
        return DartsGenotype(*cells)

    # --- operations on nodes (Ape-X NAS Fig. 1) ------------------------------------------------------
    def ops_on_nodes(self, arch, cell: str = "normal") -> tuple[np.ndarray, tuple[str, ...]]:
        """Ape-X NAS Fig. 1 conversion of one cell: ``(adjacency (15, 15) int8, labels)``.

        ``adjacency[i, j] = 1`` is an edge ``i -> j``. Nodes: 0 and 1 the inputs; for
        intermediate node ``k``: ``2 + 3k`` and ``3 + 3k`` the op nodes of its two edges (in the
        given pair order), ``4 + 3k`` its sum node; 14 the output. Labels from ``NODE_LABELS``.
        """
        self.validate(arch)
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")
        c = arch[CELLS.index(cell)]
        n = N_GRAPH_NODES
        adj = np.zeros((n, n), dtype=np.int8)
        labels = ["input"] * N_INPUTS + [""] * (n - N_INPUTS - 1) + ["output"]
        for k in range(N_NODES):
            total = 4 + 3 * k
            labels[total] = "sum"
            for j in (0, 1):
                s, o = c[2 * k + j]
                node = 2 + 3 * k + j
                labels[node] = OPS[o]
                src = s if s < N_INPUTS else 4 + 3 * (s - N_INPUTS)
                adj[src, node] = 1
                adj[node, total] = 1
            adj[total, n - 1] = 1
        return adj, tuple(labels)

    def lower_triangular(self, arch, pad_to: int | None = None) -> np.ndarray:
        """Ape-X NAS §3.2.3 observation: each cell's Fig. 1 graph as ``lower_triangular_encoding``
        (labels one-hot over ``NODE_LABELS``), normal then reduce; 510 floats unpadded."""
        parts = []
        for cell in CELLS:
            adj, labels = self.ops_on_nodes(arch, cell)
            parts.append(lower_triangular_encoding(adj, [_LABEL_INDEX[x] for x in labels], len(NODE_LABELS), pad_to))
        return np.concatenate(parts)

    def graph(self, arch) -> tuple[np.ndarray, np.ndarray]:
        """``(adjacency (30, 30), features (30, 11))`` float32: both cells' Fig. 1 graphs,
        block-diagonal (normal nodes 0..14, reduce 15..29); features one-hot over
        ``NODE_LABELS`` plus a final "reduction cell" flag."""
        n = N_GRAPH_NODES
        adj = np.zeros((2 * n, 2 * n), dtype=np.float32)
        feats = np.zeros((2 * n, len(NODE_LABELS) + 1), dtype=np.float32)
        for c, cell in enumerate(CELLS):
            a, labels = self.ops_on_nodes(arch, cell)
            adj[c * n : (c + 1) * n, c * n : (c + 1) * n] = a
            feats[np.arange(c * n, (c + 1) * n), [_LABEL_INDEX[x] for x in labels]] = 1.0
            feats[c * n : (c + 1) * n, -1] = float(c)
        return adj, feats

