"""Architecture encodings for the Ape-X agent (Ape-X NAS (docs/references.md) §3.2.3, "preparing observations").

The paper prepares each architecture as one long binary vector: the lower-triangular half of
the (operations-on-nodes) adjacency matrix flattened row by row, then the one-hot vertex
labels, both padded to the largest architecture of the space; for spaces with several cells
(NB301) the cells' vectors are concatenated. This module turns that into a small interface,
``Encoder(space, kind)``: a callable ``arch -> float32 vector of length dim``, chosen by kind:

* ``"lower_triangular"``: the space's own ``lower_triangular(arch)`` (NB101 provides it, already
  padded to 7 vertices; a space with several cells returns the concatenation);
* ``"graph"``: built from ``space.graph(arch) -> (adjacency, node features)`` (or a sequence of
  such pairs, one per cell): the strictly lower-triangular part of the transposed adjacency
  (entry ``[i, j]``, ``j < i``, is the edge ``j -> i``) flattened row by row, then the node
  features flattened, padded to ``space.max_nodes`` nodes when the space has variable sizes;
  this is the §3.2.3 form for NB201 (operations-on-nodes, 8 nodes, as in the paper's Fig. 1)
  and NAS-Bench-Graph (6 nodes);
* ``"vector"``: ``space.vector(arch)`` (any space);
* ``"auto"`` (default): the first of ``lower_triangular``, ``graph``, ``vector`` the space offers.

New spaces plug in by offering one of these; nothing here names a particular space.

:class:`ArchTable` gives every architecture an integer id (row of an encoding table) so the
replay buffer stores ``N + 1`` ids per observation instead of ``(N + 1) x dim`` floats. Row 0
is the padding row (all zeros). On a finite space the id is ``space.index(arch) + 1`` (the same
in every process, so actors can send ids); otherwise ids are given in order of first sight
and transport between processes goes through the architectures themselves.
"""

from __future__ import annotations

import numpy as np

from harness.errors import ConfigError

ENCODINGS = ("auto", "lower_triangular", "graph", "vector")


def resolve_kind(space, kind: str = "auto") -> str:
    """The concrete encoding kind for ``space`` (``auto`` resolved)."""
    if kind not in ENCODINGS:
        raise ConfigError(f"unknown architecture encoding {kind!r}; choose one of: {', '.join(ENCODINGS)}")
    offers = {
        "lower_triangular": callable(getattr(space, "lower_triangular", None)),
        "graph": "graph" in getattr(space, "encodings", ()),
        "vector": True,
    }
    if kind == "auto":
        return next(k for k in ("lower_triangular", "graph", "vector") if offers[k])
    if not offers[kind]:
        raise ConfigError(f"search space {space.id} offers no {kind!r} encoding")
    return kind


_TRIL: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _graph_vector(adj: np.ndarray, feats: np.ndarray, n_pad: int) -> np.ndarray:
    n = adj.shape[0]
    if n > n_pad:
        raise ValueError(f"architecture with {n} nodes exceeds the padding size {n_pad}")
    a = np.zeros((n_pad, n_pad), dtype=np.float32)
    a[:n, :n] = adj
    f = np.zeros((n_pad, feats.shape[1]), dtype=np.float32)
    f[:n] = feats
    if n_pad not in _TRIL:
        _TRIL[n_pad] = np.tril_indices(n_pad, k=-1)
    rows, cols = _TRIL[n_pad]
    return np.concatenate([a.T[rows, cols], f.reshape(-1)])


class Encoder:
    """``arch -> np.ndarray`` of shape ``(dim,)``, float32; see the module docstring.

    Attributes: ``kind`` (resolved), ``dim``, ``low``/``high`` (bounds of every entry).
    """

    def __init__(self, space, kind: str = "auto"):
        self.space = space
        self.kind = resolve_kind(space, kind)
        self._pad = None
        probe = space.sample(np.random.default_rng(0))  # a private generator: only to size it
        if self.kind == "graph":
            pairs = self._pairs(probe)
            self._pad = int(getattr(space, "max_nodes", 0) or max(adj.shape[0] for adj, _ in pairs))
        v = self(probe)
        self.dim = int(v.shape[0])
        binary = self.kind in ("lower_triangular", "graph") or "onehot" in getattr(space, "encodings", ())
        self.low, self.high = (0.0, 1.0) if binary else (-np.inf, np.inf)

    def _pairs(self, arch):
        g = self.space.graph(arch)
        if len(g) == 2 and isinstance(g[0], np.ndarray) and g[0].ndim == 2:
            return [g]
        return list(g)  # one (adjacency, features) pair per cell

    def __call__(self, arch) -> np.ndarray:
        if self.kind == "lower_triangular":
            return np.asarray(self.space.lower_triangular(arch), dtype=np.float32).reshape(-1)
        if self.kind == "graph":
            return np.concatenate([_graph_vector(np.asarray(a), np.asarray(f), self._pad) for a, f in self._pairs(arch)])
        return np.asarray(self.space.vector(arch), dtype=np.float32).reshape(-1)


class ArchTable:
    """Integer ids and cached encodings (and neighbour lists) of architectures.

    Row 0 of :attr:`enc` is padding. ``global_ids`` (finite spaces): id = ``index + 1``.
    """

    def __init__(self, space, encoder: Encoder):
        self.space = space
        self.encoder = encoder
        self.global_ids = bool(space.finite)
        if self.global_ids:
            self._index_of = space.index_of if hasattr(space, "index_of") else None
            n = int(space.size) + 1
            self.enc = np.zeros((n, encoder.dim), dtype=np.float32)
            self._known = np.zeros(n, dtype=bool)
            self._known[0] = True
        else:
            self._ids: dict = {}
            self.archs: list = [None]
            self.enc = np.zeros((1024, encoder.dim), dtype=np.float32)
        self._neighbours: dict[int, np.ndarray] = {}

    def id(self, arch) -> int:
        """The id of ``arch`` (its encoding is computed on first sight)."""
        if self.global_ids:
            i = (self._index_of[arch] if self._index_of is not None else self.space.index(arch)) + 1
            if not self._known[i]:
                self.enc[i] = self.encoder(arch)
                self._known[i] = True
            return i
        i = self._ids.get(arch)
        if i is None:
            i = len(self.archs)
            if i >= self.enc.shape[0]:
                self.enc = np.concatenate([self.enc, np.zeros_like(self.enc)])
            self.enc[i] = self.encoder(arch)
            self._ids[arch] = i
            self.archs.append(arch)
        return i

    def ids(self, archs) -> np.ndarray:
        return np.fromiter((self.id(a) for a in archs), dtype=np.int64, count=len(archs))

    def arch(self, i: int):
        """The architecture of id ``i`` (> 0)."""
        return self.space.arch_at(int(i) - 1) if self.global_ids else self.archs[int(i)]

    def neighbour_ids(self, i: int) -> np.ndarray:
        """Ids of all neighbours of architecture ``i`` in the space's order (cached)."""
        nb = self._neighbours.get(i)
        if nb is None:
            nb = self.ids(self.space.neighbours(self.arch(i)))
            self._neighbours[i] = nb
        return nb

    def encode(self, ids: np.ndarray) -> np.ndarray:
        """Encodings of an id array of any shape: shape ``ids.shape + (dim,)``.

        Global ids made elsewhere (another process, a checkpoint) are encoded on first use."""
        if self.global_ids:
            missing = ~self._known[ids]
            if missing.any():
                for i in np.unique(ids[missing]):
                    self.id(self.space.arch_at(int(i) - 1))
        return self.enc[ids]
