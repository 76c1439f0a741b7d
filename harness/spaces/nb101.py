"""The NAS-Bench-101 cell search space (``nb101-v1``; Ying et al., ICML 2019).

A cell is a DAG on at most 7 vertices with at most 9 edges, given by an upper-triangular 0/1
adjacency matrix (``matrix[i][j] = 1``: an edge ``i -> j``, ``i < j``) and one label per
vertex: vertex 0 is ``input``, the last vertex is ``output``, the others carry one of
``conv3x3-bn-relu``, ``conv1x1-bn-relu``, ``maxpool3x3``.

Validity and pruning follow the official ``ModelSpec``/``NASBench.is_valid``: vertices that are
not on an input->output path are removed (with their edges) first; the cell is valid when the
input still reaches the output and the *pruned* cell has <= 7 vertices and <= 9 edges.

Identity (``key``): the official isomorphism-invariant ``module_hash`` of the pruned cell:
per-vertex md5 of ``(out-degree, in-degree, label)`` (labels: input -1, output -2, ops by their
index in ``CHOICES``), refined ``V`` times with the sorted in- and out-neighbour hashes, then
md5 of the sorted list. The README example cell gives ``28cfc7874f6d200472e1a9dcd8650aa0``.

Architectures are :class:`Cell` values in a *canonical form*: pruned, and relabelled by a
canonical topological order (greedy by final per-vertex hash, ties branched, the smallest
adjacency code kept), so two cells are equal exactly when they are isomorphic. Build one from
any matrix with :meth:`NB101Space.cell`; ``contains`` accepts canonical cells only.

Sampling (``sample``): the NAS-Bench-101 random spec, i.e. each of the 21 upper-triangular
entries of a 7x7 matrix is 0/1 with probability 1/2 and each of the 5 inner ops is uniform,
rejected until valid (not uniform over the 423,624 unique cells, but the paper's sampler).
``sample_by_size`` is the sampler of Ape-X NAS §3.2.3 (docs/references.md): the vertex count is
uniform in 2..7, then matrices of that size are drawn until one is valid without pruning.

Mutation (``mutate``): the regularized-evolution mutation of the NAS-Bench-101 paper/code with
``mutation_rate`` r = 1: each of the 21 entries of the 7x7 matrix is flipped with probability
r/7 (V edges flipped in expectation) and each of the 5 inner ops is resampled (to a different
op) with probability r/5 (one op in expectation); repeated until the result is valid. Our
values are pruned, while the paper mutates the unpruned 7x7 matrix it sampled; we rebuild one
by inserting the missing ``7 - n`` vertices as isolated vertices at uniformly drawn inner
positions with uniform ops. Unlike the paper's loop, which may return an equivalent cell, we
also retry until the hash differs (the space contract: never ``arch`` itself).

Neighbourhood (``neighbours``), after Ape-X NAS §3.2.1, in this order:
remove an inner vertex and reconnect the sources of its in-edges to the destinations of its
out-edges with every subset of those new edges that leaves a valid cell without pruning;
add a vertex with one in-edge and one out-edge (every acyclic choice of source and
destination, every op); change one inner op; remove an edge whose endpoints keep an out- and
an in-edge; add an edge that keeps the graph acyclic. At most 7 vertices and 9 edges;
deduplicated by hash (first occurrence kept, the cell itself dropped). The relation is not
symmetric.

Encodings (``vector_dim`` = 56):
* ``vector``: the 21 upper-triangular entries of the 7x7 matrix, row-major, then a one-hot
  label per vertex over ``OPS`` (7 x 5); a smaller cell is padded with empty vertices inserted
  before the output (the output stays vertex 6; padded vertices have all-zero labels).
* ``lower_triangular`` (Ape-X NAS §3.2.3): the strict lower triangle of the transposed
  matrix (row ``i`` lists the inputs of vertex ``i``), rows concatenated (21 entries), then the
  one-hot labels (7 x 5); padded at the end (empty vertices after the output).
* ``graph``: ``(adjacency (n, n), one-hot labels (n, 5))`` of the canonical cell
  (``pad=True`` pads with empty vertices at the end to 7).
* ``decisions``: 21 edge bits (2 choices each, row-major upper triangle of a 7x7 matrix) and
  5 inner ops (indices into ``CHOICES``); ``from_decisions`` prunes and canonicalizes and raises
  :class:`InvalidArchitecture` for an invalid cell.

Enumeration: :meth:`NB101Space.enumerate` yields all 423,624 cells (canonical, in official-hash
order) and :meth:`NB101Space.full_table` is the finite view over all of them; both read the
cached enumeration (:mod:`harness.data.nb101_space`, computed once by
:mod:`harness.spaces.nb101_enumerate` in under a minute). The bare space stays ``finite =
False`` (its members are not indexed); the ``nb101`` benchmark binds :class:`NB101TableSpace`,
a finite view whose rows are the benchmark's cells.
"""

from __future__ import annotations

import hashlib
import itertools
from typing import NamedTuple, Sequence

import numpy as np

from harness.errors import InvalidArchitecture
from harness.spaces.base import SearchSpace

INPUT, OUTPUT = "input", "output"
CONV1X1, CONV3X3, MAXPOOL3X3 = "conv1x1-bn-relu", "conv3x3-bn-relu", "maxpool3x3"
OPS = (INPUT, CONV1X1, CONV3X3, MAXPOOL3X3, OUTPUT)  # one-hot label order of the encodings
CHOICES = (CONV3X3, CONV1X1, MAXPOOL3X3)  # official ``available_ops`` order (hash labels, decisions)
ALIASES = {"conv1x1": CONV1X1, "conv3x3": CONV3X3, "maxpool": MAXPOOL3X3, "maxpool3x3": MAXPOOL3X3}
MAX_VERTICES = 7
MAX_EDGES = 9
N_SLOTS = MAX_VERTICES * (MAX_VERTICES - 1) // 2  # 21 upper-triangular entries
_OP_ONEHOT = {o: i for i, o in enumerate(OPS)}
_HASH_LABEL = {INPUT: -1, OUTPUT: -2, **{o: i for i, o in enumerate(CHOICES)}}
_CHOICE_INDEX = {o: i for i, o in enumerate(CHOICES)}
_UPPER = [(i, j) for i in range(MAX_VERTICES) for j in range(i + 1, MAX_VERTICES)]


class Cell(NamedTuple):
    """An NB101 cell: ``matrix`` (tuple of 0/1 row tuples, upper triangular) and ``ops``."""

    matrix: tuple[tuple[int, ...], ...]
    ops: tuple[str, ...]

    @property
    def num_vertices(self) -> int:
        return len(self.ops)

    @property
    def num_edges(self) -> int:
        return sum(map(sum, self.matrix))


# --- graph helpers on (n, succ bitmasks, ops) ------------------------------------------------
def _pred_masks(n: int, succ: Sequence[int]) -> list[int]:
    pred = [0] * n
    for u in range(n):
        m = succ[u]
        while m:
            b = m & -m
            pred[b.bit_length() - 1] |= 1 << u
            m ^= b
    return pred


def _bits(m: int) -> list[int]:
    out = []
    while m:
        b = m & -m
        out.append(b.bit_length() - 1)
        m ^= b
    return out


def _prune(n: int, succ: Sequence[int], ops: Sequence[str]):
    """The official pruning: keep vertices on an input->output path. ``None`` if the input does
    not reach the output. Assumes a DAG whose edges go from lower to higher index."""
    fwd = 1
    for u in range(n):  # topological (upper-triangular) order
        if fwd >> u & 1:
            fwd |= succ[u]
    if not fwd >> (n - 1) & 1:
        return None
    bwd = 1 << (n - 1)
    for u in range(n - 2, -1, -1):
        if succ[u] & bwd:
            bwd |= 1 << u
    keep = [v for v in range(n) if (fwd & bwd) >> v & 1]
    if len(keep) == n:
        return n, list(succ), list(ops)
    new = {v: i for i, v in enumerate(keep)}
    keep_mask = fwd & bwd
    nsucc = []
    for v in keep:
        m = 0
        for w in _bits(succ[v] & keep_mask):
            m |= 1 << new[w]
        nsucc.append(m)
    return len(keep), nsucc, [ops[v] for v in keep]


def _fingerprints(n: int, succ: Sequence[int], pred: Sequence[int], ops: Sequence[str]) -> list[str]:
    """Per-vertex hashes after ``n`` refinement rounds, exactly as the official ``hash_module``."""
    md5 = hashlib.md5
    succl = [_bits(m) for m in succ]
    predl = [_bits(m) for m in pred]
    h = [
        md5(str((len(succl[v]), len(predl[v]), _HASH_LABEL[ops[v]])).encode("utf-8")).hexdigest()
        for v in range(n)
    ]
    vs = list(zip(predl, succl))
    for _ in range(n):
        g = h.__getitem__
        h = [
            md5("|".join(("".join(sorted(map(g, p))), "".join(sorted(map(g, s))), g(v))).encode("utf-8")).hexdigest()
            for v, (p, s) in enumerate(vs)
        ]
    return h


def _fingerprint_hash(fp: Sequence[str]) -> str:
    return hashlib.md5(str(sorted(fp)).encode("utf-8")).hexdigest()


def graph_hash(matrix, ops: Sequence[str]) -> str:
    """The official NAS-Bench-101 hash of a (pruned) matrix and its op labels."""
    n, succ = _masks_of(matrix)
    return _fingerprint_hash(_fingerprints(n, succ, _pred_masks(n, succ), list(ops)))


def _masks_of(matrix) -> tuple[int, list[int]]:
    rows = [list(r) for r in matrix]
    n = len(rows)
    succ = []
    for r in rows:
        m = 0
        for j, x in enumerate(r):
            if x:
                m |= 1 << j
        succ.append(m)
    return n, succ


def _canonical(n: int, succ: Sequence[int], ops: Sequence[str]):
    """``(Cell, hash)`` of a pruned valid graph in canonical vertex order."""
    pred = _pred_masks(n, succ)
    fp = _fingerprints(n, succ, pred, ops)
    order = _canonical_order(n, succ, pred, fp)
    pos = [0] * n
    for i, v in enumerate(order):
        pos[v] = i
    rows = [[0] * n for _ in range(n)]
    for u in range(n):
        for w in _bits(succ[u]):
            rows[pos[u]][pos[w]] = 1
    cell = Cell(tuple(tuple(r) for r in rows), tuple(ops[v] for v in order))
    return cell, _fingerprint_hash(fp)


def _canonical_order(n: int, succ: Sequence[int], pred: Sequence[int], fp: Sequence[str]) -> list[int]:
    """The canonical vertex order of a pruned graph given its per-vertex fingerprints ``fp``:
    topological, the available vertex with the smallest fingerprint first, ties branched and
    the order giving the smallest adjacency code kept (``order[i]``: the vertex placed i-th)."""
    best_code, best_order = None, None
    order: list[int] = []

    def rec(placed: int):
        nonlocal best_code, best_order
        if len(order) == n:
            pos = [0] * n
            for i, v in enumerate(order):
                pos[v] = i
            code = 0
            for u in range(n):
                for w in _bits(succ[u]):
                    code |= 1 << (pos[u] * n + pos[w])
            if best_code is None or code < best_code:
                best_code, best_order = code, list(order)
            return
        avail = [v for v in range(n) if not placed >> v & 1 and pred[v] & ~placed == 0]
        m = min(fp[v] for v in avail)
        for v in avail:
            if fp[v] == m:
                order.append(v)
                rec(placed | 1 << v)
                order.pop()

    rec(0)
    return best_order


def _cell_masks(cell: Cell) -> tuple[int, list[int], list[str]]:
    n, succ = _masks_of(cell.matrix)
    return n, succ, list(cell.ops)


def cell_code(cell: Cell) -> int:
    """Injective integer code of a cell: ``n | inner ops (2 bits each) << 3 | upper triangle << 13``."""
    n = len(cell.ops)
    code = n
    for k, o in enumerate(cell.ops[1:-1]):
        code |= _CHOICE_INDEX[o] << (3 + 2 * k)
    bit = 13
    for i, row in enumerate(cell.matrix):
        for j in range(i + 1, n):
            if row[j]:
                code |= 1 << bit
            bit += 1
    return code


def cell_from_code(code: int) -> Cell:
    """Inverse of :func:`cell_code`."""
    code = int(code)
    n = code & 7
    ops = [INPUT] + [CHOICES[(code >> (3 + 2 * k)) & 3] for k in range(n - 2)] + [OUTPUT]
    rows = [[0] * n for _ in range(n)]
    bit = 13
    for i in range(n):
        for j in range(i + 1, n):
            rows[i][j] = (code >> bit) & 1
            bit += 1
    return Cell(tuple(tuple(r) for r in rows), tuple(ops))


class NB101Space(SearchSpace):
    """NAS-Bench-101 cells (canonical :class:`Cell` values); not enumerable without data."""

    id = "nb101-v1"
    finite = False
    encodings = ("vector", "graph", "lower_triangular")
    decisions = (2,) * N_SLOTS + (len(CHOICES),) * (MAX_VERTICES - 2)
    vector_dim = N_SLOTS + MAX_VERTICES * len(OPS)
    ops = OPS
    choices = CHOICES

    def __init__(self):
        self._memo: dict = {}  # cell -> (is canonical member, hash)

    # --- construction -----------------------------------------------------------------
    def cell(self, matrix, ops: Sequence[str]) -> Cell:
        """The canonical member for any upper-triangular ``matrix`` (rows of 0/1 or strings
        like ``"0111010"``) and ``ops`` (official names or ``conv1x1``/``conv3x3``/``maxpool``);
        pruned. Raises :class:`InvalidArchitecture` when it is not a valid NB101 cell."""
        n, succ, ops = self._raw(matrix, ops)
        return self._finish(n, succ, ops)

    def _raw(self, matrix, ops):
        try:
            rows = [[int(c) for c in r] if isinstance(r, str) else [int(x) for x in r] for r in matrix]
        except (TypeError, ValueError):
            raise InvalidArchitecture(f"{matrix!r} is not a 0/1 adjacency matrix") from None
        n = len(rows)
        ops = [ALIASES.get(o, o) for o in ops]
        if n < 2 or any(len(r) != n for r in rows) or len(ops) != n:
            raise InvalidArchitecture(f"NB101 cell needs a square matrix and one op per vertex (got {n} rows, {len(ops)} ops)")
        for i, r in enumerate(rows):
            for j, x in enumerate(r):
                if x not in (0, 1) or (x and j <= i):
                    raise InvalidArchitecture("NB101 adjacency must be a strictly upper-triangular 0/1 matrix")
        if ops[0] != INPUT or ops[-1] != OUTPUT or any(o not in _CHOICE_INDEX for o in ops[1:-1]):
            raise InvalidArchitecture(
                f"NB101 ops must be input, then {', '.join(CHOICES)}, then output (got {ops})"
            )
        succ = []
        for r in rows:
            m = 0
            for j, x in enumerate(r):
                if x:
                    m |= 1 << j
            succ.append(m)
        return n, succ, ops

    def _finish(self, n, succ, ops) -> Cell:
        p = _prune(n, succ, ops)
        if p is None:
            raise InvalidArchitecture("invalid NB101 cell: the input does not reach the output")
        n, succ, ops = p
        if n > MAX_VERTICES:
            raise InvalidArchitecture(f"invalid NB101 cell: {n} vertices after pruning (at most {MAX_VERTICES})")
        ne = sum(bin(m).count("1") for m in succ)
        if ne > MAX_EDGES:
            raise InvalidArchitecture(f"invalid NB101 cell: {ne} edges after pruning (at most {MAX_EDGES})")
        cell, h = _canonical(n, succ, ops)
        self._remember(cell, True, h)
        return cell

    def _remember(self, cell, member, h):
        if len(self._memo) > 50_000:
            self._memo.clear()
        self._memo[cell] = (member, h)

    def _try(self, n, succ, ops):
        """Canonical cell and hash of a raw graph, or ``None`` if invalid."""
        p = _prune(n, succ, ops)
        if p is None:
            return None
        n, succ, ops = p
        if n > MAX_VERTICES or sum(bin(m).count("1") for m in succ) > MAX_EDGES:
            return None
        cell, h = _canonical(n, succ, ops)
        self._remember(cell, True, h)
        return cell, h

    # --- core -------------------------------------------------------------------------
    def _info(self, arch):
        """``(member, hash)``; member means a valid cell in canonical form."""
        if type(arch) is Cell:
            got = self._memo.get(arch)
            if got is not None:
                return got
        if not isinstance(arch, tuple) or len(arch) != 2:
            return False, None
        try:
            n, succ, ops = self._raw(arch[0], arch[1])
            p = _prune(n, succ, ops)
            if p is None or p[0] != n:
                raise InvalidArchitecture("not pruned")
            if n > MAX_VERTICES or sum(bin(m).count("1") for m in succ) > MAX_EDGES:
                raise InvalidArchitecture("too large")
            cell, h = _canonical(n, succ, ops)
        except (InvalidArchitecture, TypeError, ValueError):
            return False, None
        member = cell == arch and type(arch) is Cell
        if member:
            self._remember(arch, True, h)
        return member, h

    def contains(self, arch) -> bool:
        return self._info(arch)[0]

    def validate(self, arch):
        member, _ = self._info(arch)
        if not member:
            raise InvalidArchitecture(
                f"{arch!r} is not an architecture of search space {self.id} "
                "(a valid, pruned cell in canonical form: build one with space.cell(matrix, ops))"
            )
        return arch

    def key(self, arch) -> str:
        """The official NB101 ``module_hash`` (32 hex digits)."""
        member, h = self._info(arch)
        if not member:
            self.validate(arch)
        return h

    def sample(self, rng: np.random.Generator) -> Cell:
        """The NAS-Bench-101 random spec (see the module docstring)."""
        while True:
            bits = rng.integers(0, 2, size=N_SLOTS)
            ops = rng.integers(0, len(CHOICES), size=MAX_VERTICES - 2)
            succ = [0] * MAX_VERTICES
            for (i, j), b in zip(_UPPER, bits.tolist()):
                if b:
                    succ[i] |= 1 << j
            r = self._try(MAX_VERTICES, succ, [INPUT] + [CHOICES[o] for o in ops.tolist()] + [OUTPUT])
            if r is not None:
                return r[0]

    def sample_by_size(self, rng: np.random.Generator, sizes: Sequence[int] = range(2, MAX_VERTICES + 1)) -> Cell:
        """The Ape-X paper's sampler (Ape-X NAS §3.2.3): vertex count uniform over ``sizes``, then
        random matrices and ops of that size until one is valid with exactly that many vertices."""
        sizes = list(sizes)
        n = int(sizes[int(rng.integers(len(sizes)))])
        pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
        while True:
            bits = rng.integers(0, 2, size=len(pairs))
            ops = rng.integers(0, len(CHOICES), size=n - 2)
            succ = [0] * n
            for (i, j), b in zip(pairs, bits.tolist()):
                if b:
                    succ[i] |= 1 << j
            p = _prune(n, succ, [INPUT] + [CHOICES[o] for o in ops.tolist()] + [OUTPUT])
            if p is None or p[0] != n or sum(bin(m).count("1") for m in succ) > MAX_EDGES:
                continue
            return self._finish(*p)

    def padded(self, arch, rng: np.random.Generator | None = None):
        """A 7-vertex raw ``(succ masks, ops)`` version of ``arch``: the missing vertices are
        isolated, inserted before the output (or at random inner positions with random ops
        when ``rng`` is given)."""
        n, succ, ops = _cell_masks(arch)
        k = MAX_VERTICES - n
        if rng is None:
            inner = list(range(1, n - 1)) + [None] * k
            pad_ops = [CHOICES[0]] * k
        else:
            slots = sorted(rng.choice(MAX_VERTICES - 2, size=k, replace=False).tolist()) if k else []
            inner, it = [], iter(range(1, n - 1))
            for s in range(MAX_VERTICES - 2):
                inner.append(None if s in slots else next(it))
            pad_ops = [CHOICES[o] for o in rng.integers(0, len(CHOICES), size=k).tolist()]
        order = [0] + inner + [n - 1]  # new position -> old vertex (None = padding)
        newpos = {v: i for i, v in enumerate(order) if v is not None}
        psucc, pops, pad = [0] * MAX_VERTICES, [], iter(pad_ops)
        for i, v in enumerate(order):
            if v is None:
                pops.append(next(pad))
                continue
            pops.append(ops[v])
            for w in _bits(succ[v]):
                psucc[i] |= 1 << newpos[w]
        return psucc, pops

    def mutate(self, arch, rng: np.random.Generator, mutation_rate: float = 1.0) -> Cell:
        """NAS-Bench-101 regularized-evolution mutation (see the module docstring)."""
        _, h0 = self._info(self.validate(arch))
        p_edge = mutation_rate / MAX_VERTICES
        p_op = mutation_rate / (MAX_VERTICES - 2)
        while True:
            succ, ops = self.padded(arch, rng)
            flips = rng.random(N_SLOTS) < p_edge
            for (i, j), f in zip(_UPPER, flips.tolist()):
                if f:
                    succ[i] ^= 1 << j
            change = rng.random(MAX_VERTICES - 2) < p_op
            for k, c in enumerate(change.tolist()):
                if c:
                    others = [o for o in CHOICES if o != ops[k + 1]]
                    ops[k + 1] = others[int(rng.integers(len(others)))]
            r = self._try(MAX_VERTICES, succ, ops)
            if r is not None and r[1] != h0:
                return r[0]

    def neighbours(self, arch) -> list[Cell]:
        """The Ape-X neighbourhood (Ape-X NAS §3.2.1; see the module docstring)."""
        _, h0 = self._info(self.validate(arch))
        n, succ, ops = _cell_masks(arch)
        pred = _pred_masks(n, succ)
        ne = sum(bin(m).count("1") for m in succ)
        desc = _descendants(n, succ)
        seen, out = {h0}, []

        def emit(n2, succ2, ops2):
            r = self._try(n2, succ2, ops2)
            if r is not None and r[1] not in seen:
                seen.add(r[1])
                out.append(r[0])

        # 1) remove an inner vertex, rewiring its in-sources to its out-destinations
        for v in range(1, n - 1):
            keep = [u for u in range(n) if u != v]
            idx = {u: i for i, u in enumerate(keep)}
            base = [0] * (n - 1)
            for u in keep:
                for w in _bits(succ[u]):
                    if w != v:
                        base[idx[u]] |= 1 << idx[w]
            cand = [(idx[p], idx[s]) for p in _bits(pred[v]) for s in _bits(succ[v]) if not base[idx[p]] >> idx[s] & 1]
            ops2 = [ops[u] for u in keep]
            for mask in range(1 << len(cand)):
                s2 = list(base)
                for b, (p, s) in enumerate(cand):
                    if mask >> b & 1:
                        s2[p] |= 1 << s
                if _full_dag(n - 1, s2) and sum(bin(m).count("1") for m in s2) <= MAX_EDGES:
                    emit(n - 1, s2, ops2)
        # 2) add a vertex with one in-edge and one out-edge
        if n < MAX_VERTICES and ne + 2 <= MAX_EDGES:
            for op in CHOICES:
                for p in range(n - 1):
                    for s in range(1, n):
                        if s == p or desc[s] >> p & 1:
                            continue
                        emit(*_with_new_vertex(n, succ, ops, p, s, op))
        # 3) change an inner op
        for v in range(1, n - 1):
            for op in CHOICES:
                if op != ops[v]:
                    emit(n, succ, ops[:v] + [op] + ops[v + 1 :])
        # 4) remove an edge that keeps every vertex connected
        outdeg = [bin(m).count("1") for m in succ]
        indeg = [bin(m).count("1") for m in pred]
        for u in range(n):
            for w in _bits(succ[u]):
                if outdeg[u] >= 2 and indeg[w] >= 2:
                    s2 = list(succ)
                    s2[u] &= ~(1 << w)
                    emit(n, s2, ops)
        # 5) add an edge that keeps the graph acyclic
        if ne + 1 <= MAX_EDGES:
            for u in range(n - 1):
                for w in range(1, n):
                    if u == w or succ[u] >> w & 1 or desc[w] >> u & 1:
                        continue
                    if w > u:
                        s2 = list(succ)
                        s2[u] |= 1 << w
                        emit(n, s2, ops)
                    else:
                        emit(*_with_edge_reordered(n, succ, ops, u, w))
        return out

    def parse(self, text: str) -> Cell:
        """Parse ``"0111010 0000001 ... | input conv1x1-bn-relu ... output"`` (see ``format``)."""
        try:
            adj, ops = str(text).split("|")
            return self.cell(adj.split(), ops.replace(",", " ").split())
        except ValueError:
            raise InvalidArchitecture(
                f"{text!r} is not an NB101 cell string like "
                "'011 001 000 | input conv3x3-bn-relu output' (rows of the matrix | ops)"
            ) from None

    def format(self, arch) -> str:
        self.validate(arch)
        return " ".join("".join(map(str, r)) for r in arch.matrix) + " | " + " ".join(arch.ops)

    # --- encodings --------------------------------------------------------------------
    def _labels(self, ops, n_total: int, positions) -> np.ndarray:
        out = np.zeros((n_total, len(OPS)), dtype=np.float32)
        for v, o in enumerate(ops):
            out[positions[v], _OP_ONEHOT[o]] = 1.0
        return out

    def vector(self, arch) -> np.ndarray:
        """Padded upper triangle (21) + one-hot labels (7 x 5): shape (56,), float32."""
        self.validate(arch)
        n = len(arch.ops)
        pos = list(range(n - 1)) + [MAX_VERTICES - 1]  # output moves to vertex 6
        adj = np.zeros((MAX_VERTICES, MAX_VERTICES), dtype=np.float32)
        for i, row in enumerate(arch.matrix):
            for j, x in enumerate(row):
                if x:
                    adj[pos[i], pos[j]] = 1.0
        iu = np.triu_indices(MAX_VERTICES, 1)
        return np.concatenate([adj[iu], self._labels(arch.ops, MAX_VERTICES, pos).reshape(-1)])

    def lower_triangular(self, arch) -> np.ndarray:
        """Ape-X form (Ape-X NAS §3.2.3): strict lower triangle of the transposed matrix padded at
        the end to 7 vertices, rows concatenated (21), + one-hot labels (7 x 5): shape (56,)."""
        self.validate(arch)
        n = len(arch.ops)
        adj = np.zeros((MAX_VERTICES, MAX_VERTICES), dtype=np.float32)
        adj[:n, :n] = np.asarray(arch.matrix, dtype=np.float32).T
        il = np.tril_indices(MAX_VERTICES, -1)
        return np.concatenate([adj[il], self._labels(arch.ops, MAX_VERTICES, range(n)).reshape(-1)])

    def graph(self, arch, pad: bool = False):
        """``(adjacency (n, n), one-hot labels over OPS (n, 5))``, float32; ``pad=True`` pads
        with empty vertices at the end to 7."""
        self.validate(arch)
        n = len(arch.ops)
        size = MAX_VERTICES if pad else n
        adj = np.zeros((size, size), dtype=np.float32)
        adj[:n, :n] = np.asarray(arch.matrix, dtype=np.float32)
        return adj, self._labels(arch.ops, size, range(n))

    def to_decisions(self, arch) -> list[int]:
        """21 edge bits of the 7-vertex padding (empty vertices before the output, op 0) and
        the 5 inner op indices into ``CHOICES``."""
        self.validate(arch)
        succ, ops = self.padded(arch)
        return [succ[i] >> j & 1 for i, j in _UPPER] + [_CHOICE_INDEX[o] for o in ops[1:-1]]

    def from_decisions(self, choices) -> Cell:
        c = [int(x) for x in choices]
        if len(c) != len(self.decisions) or any(not 0 <= x < k for x, k in zip(c, self.decisions)):
            raise InvalidArchitecture(f"NB101 decisions must be 21 bits then 5 op indices in 0..2 (got {choices!r})")
        succ = [0] * MAX_VERTICES
        for (i, j), b in zip(_UPPER, c[:N_SLOTS]):
            if b:
                succ[i] |= 1 << j
        return self._finish(MAX_VERTICES, succ, [INPUT] + [CHOICES[o] for o in c[N_SLOTS:]] + [OUTPUT])

    # --- the whole space ----------------------------------------------------------------
    def enumerate(self, workers: int = 2):
        """Every cell of NAS-Bench-101 (423,624 canonical :class:`Cell` values), in the order
        of their official hashes; the enumeration is computed with ``workers`` processes the
        first time and cached (:func:`harness.data.nb101_space.load_index`)."""
        from harness.data.nb101_space import load_index

        codes = load_index(workers=workers).arrays["codes"]
        return (cell_from_code(c) for c in codes.tolist())

    def full_table(self, workers: int = 2) -> "NB101TableSpace":
        """The finite view over all 423,624 cells (row ``i``: the ``i``-th hash in order)."""
        from harness.data.nb101_space import load_index

        a = load_index(workers=workers).arrays
        return NB101TableSpace(a["hashes"], a["codes"])

    # --- data-backed view ---------------------------------------------------------------
    def with_table(self, hashes, codes) -> "NB101TableSpace":
        """The finite view over a benchmark's cells (row ``i``: hash ``hashes[i]``, cell code
        ``codes[i]`` from :func:`cell_code`)."""
        return NB101TableSpace(hashes, codes)


def _full_dag(n: int, succ: Sequence[int]) -> bool:
    """Every vertex but the output has an out-edge and every vertex but the input an in-edge."""
    if any(succ[u] == 0 for u in range(n - 1)):
        return False
    reached = 0
    for m in succ:
        reached |= m
    return reached | 1 == (1 << n) - 1


def _descendants(n: int, succ: Sequence[int]) -> list[int]:
    desc = [0] * n
    for u in range(n - 1, -1, -1):
        d = succ[u]
        for w in _bits(succ[u]):
            d |= desc[w]
        desc[u] = d
    return desc


def _topo_relabel(n: int, edges: list[tuple[int, int]], ops: list[str]):
    """Relabel a DAG given by ``edges`` so that edges go from lower to higher index."""
    indeg = [0] * n
    for _, w in edges:
        indeg[w] += 1
    out_of = [[] for _ in range(n)]
    for u, w in edges:
        out_of[u].append(w)
    order, ready = [], [v for v in range(n) if indeg[v] == 0]
    ready.sort()
    while ready:
        v = ready.pop(0)
        order.append(v)
        for w in out_of[v]:
            indeg[w] -= 1
            if indeg[w] == 0:
                ready.append(w)
        ready.sort()
    pos = {v: i for i, v in enumerate(order)}
    succ = [0] * n
    for u, w in edges:
        succ[pos[u]] |= 1 << pos[w]
    return n, succ, [ops[v] for v in order]


def _edges(n, succ):
    return [(u, w) for u in range(n) for w in _bits(succ[u])]


def _with_new_vertex(n, succ, ops, p, s, op):
    # new vertex n-... placed last in the raw labelling, then topologically relabelled
    edges = _edges(n, succ) + [(p, n), (n, s)]
    return _topo_relabel(n + 1, edges, list(ops) + [op])


def _with_edge_reordered(n, succ, ops, u, w):
    return _topo_relabel(n, _edges(n, succ) + [(u, w)], list(ops))


class _IndexMap:
    """Mapping ``cell -> row`` of a :class:`NB101TableSpace` (what the oracle looks up)."""

    def __init__(self, table: "NB101TableSpace"):
        self._t = table

    def __getitem__(self, arch) -> int:
        if type(arch) is not Cell or not self._t._info(arch)[0]:
            raise KeyError(arch)
        try:
            return self._t._row_of_code[cell_code(arch)]
        except KeyError:
            raise KeyError(arch) from None

    def get(self, arch, default=None):
        try:
            return self[arch]
        except KeyError:
            return default

    def __contains__(self, arch) -> bool:
        return self.get(arch) is not None

    def __len__(self) -> int:
        return self._t.size


class _CodeIndex:
    """Cell code -> row through a sorted copy of the codes (no 423,624-entry dict to build)."""

    def __init__(self, codes: np.ndarray):
        self._order = np.argsort(codes, kind="stable")
        self._sorted = codes[self._order]
        self._n = int(codes.shape[0])

    def __getitem__(self, code: int) -> int:
        i = int(np.searchsorted(self._sorted, code))
        if i < self._n and int(self._sorted[i]) == code:
            return int(self._order[i])
        raise KeyError(code)

    def __contains__(self, code) -> bool:
        try:
            self[code]
            return True
        except KeyError:
            return False

    def __len__(self) -> int:
        return self._n


class NB101TableSpace(NB101Space):
    """The NB101 space restricted to (and indexed by) the rows of a benchmark table.

    Row ``i`` is the cell with hash ``hashes[i]`` (rows sorted by hash in the cache). With the
    complete official table (423,624 cells) its members are exactly those of the bare space
    and sampling, mutation and neighbourhood behave identically. For a partial table (test
    fixtures, custom subsets) ``sample`` draws a row uniformly, and ``mutate``/``neighbours``
    keep only cells in the table.
    """

    finite = True
    COMPLETE = 423_624

    def __init__(self, hashes, codes):
        super().__init__()
        self.hashes = np.asarray(hashes)
        self.codes = np.asarray(codes, dtype=np.int64)
        if self.hashes.shape[0] != self.codes.shape[0]:
            raise ValueError("hashes and codes differ in length")
        self.size = int(self.codes.shape[0])
        self.complete = self.size >= self.COMPLETE
        self._row_map = None
        self._hash_map = None

    @property
    def _row_of_code(self) -> "_CodeIndex":
        if self._row_map is None:
            self._row_map = _CodeIndex(self.codes)
        return self._row_map

    @property
    def index_of(self) -> _IndexMap:
        """Mapping cell -> row (supports ``[]``, ``get``, ``in``)."""
        return _IndexMap(self)

    def row_of_hash(self, h: str) -> int:
        """Row of an official module hash (``KeyError`` if absent)."""
        if self._hash_map is None:
            hs = self.hashes.tolist()
            self._hash_map = {(x.decode() if isinstance(x, bytes) else x): i for i, x in enumerate(hs)}
        return self._hash_map[h]

    def contains(self, arch) -> bool:
        try:
            return cell_code(arch) in self._row_of_code and type(arch) is Cell and super().contains(arch)
        except (TypeError, AttributeError, IndexError, KeyError, ValueError):
            return False

    def validate(self, arch):
        if not self.contains(arch):
            super().validate(arch)  # explains an invalid cell
            raise InvalidArchitecture(f"{arch!r} is a valid NB101 cell but has no row in this benchmark table")
        return arch

    def index(self, arch) -> int:
        try:
            return self._row_of_code[cell_code(arch)]
        except (KeyError, TypeError, AttributeError, IndexError, ValueError):
            self.validate(arch)
            raise InvalidArchitecture(f"{arch!r} has no row in this benchmark table") from None

    def arch_at(self, i: int) -> Cell:
        if not 0 <= int(i) < self.size:
            raise InvalidArchitecture(f"NB101 row {i} out of range 0..{self.size - 1}")
        return cell_from_code(int(self.codes[int(i)]))

    def key(self, arch) -> str:
        i = self.index(arch)
        h = self.hashes[i]
        return h.decode() if isinstance(h, bytes) else str(h)

    def sample(self, rng):
        if self.complete:
            return super().sample(rng)
        return self.arch_at(int(rng.integers(self.size)))

    def mutate(self, arch, rng, mutation_rate: float = 1.0):
        if self.complete:
            return super().mutate(arch, rng, mutation_rate)
        for _ in range(1000):
            m = super().mutate(arch, rng, mutation_rate)
            if cell_code(m) in self._row_of_code:
                return m
        raise InvalidArchitecture(f"no mutation of {arch!r} found in this partial NB101 table after 1000 tries")

    def neighbours(self, arch):
        nbs = super().neighbours(arch)
        if self.complete:
            return nbs
        return [c for c in nbs if cell_code(c) in self._row_of_code]

    def enumerate(self, workers: int = 2):
        """The table's cells, in row (hash) order."""
        return (self.arch_at(i) for i in range(self.size))

    def __repr__(self) -> str:
        return f"<NB101TableSpace {self.id}, {self.size} cells>"


def enumerate_cells(max_vertices: int = MAX_VERTICES, max_edges: int = MAX_EDGES, progress=None):
    """``{hash: canonical cell}`` of every unique valid cell, by brute force over all graphs
    without dangling vertices and all labellings: the reference for the fast enumeration of
    :mod:`harness.spaces.nb101_enumerate` (:meth:`NB101Space.enumerate`). For the full space
    this takes about ten minutes of pure Python and finds exactly the 423,624 cells of
    NAS-Bench-101 (the slow test ``test_enumeration_finds_the_423624_cells``)."""
    space = NB101Space()
    seen: dict[str, Cell] = {}
    for n in range(2, max_vertices + 1):
        pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
        for bits in range(1 << len(pairs)):
            if bin(bits).count("1") > max_edges:
                continue
            succ = [0] * n
            for b, (i, j) in enumerate(pairs):
                if bits >> b & 1:
                    succ[i] |= 1 << j
            if not _full_dag(n, succ):
                continue
            for ops in itertools.product(CHOICES, repeat=n - 2):
                cell, h = _canonical(n, succ, [INPUT, *ops, OUTPUT])
                if h not in seen:
                    seen[h] = cell
        if progress:
            progress(n, len(seen))
    space._memo.clear()
    return seen
