"""The search-space contract: what an architecture is and how it can be changed and encoded.

An architecture is an immutable, hashable value (a tuple or a frozen dataclass), never an
``nn.Module``. A space offers a narrow core (sampling, mutation, neighbourhood, membership,
key, ``vector`` encoding) and optional capabilities announced by flags instead of methods
that raise ``NotImplementedError``:

* ``finite``: ``size``, ``index(arch)`` and ``arch_at(i)`` (tabular benchmarks index by it);
* ``"onehot" in encodings``: ``onehot(arch)`` -> α matrix (or a tuple of matrices for spaces
  with several cells) and ``discretize(alpha)`` -> arch (L2NAS);
* ``"graph" in encodings``: ``graph(arch)`` -> ``(adjacency, node_features)`` (BONAS);
* ``decisions``: a list of categorical choice counts with ``to_decisions`` /
  ``from_decisions`` (TPE, REINFORCE, MCTS);
* ``edit_distance(a, b)`` where the space defines one (conformance: neighbours are one edit
  away);
* ``pick_neighbour(arch, u)``: one neighbour chosen by a uniform number, with a generic
  default built on ``neighbours`` that a space may speed up;
* ``mutate_many(archs, rng)``: one ``mutate`` of each architecture, consuming ``rng`` exactly
  as those calls in order would, with a generic default (the loop) that a space may vectorise.

All stochastic methods take an explicit ``numpy.random.Generator``.
"""

from __future__ import annotations

from typing import Any, Hashable, Sequence

import numpy as np

from harness.errors import InvalidArchitecture

Arch = Hashable


class SearchSpace:
    """Base class of search spaces. Subclasses set the class attributes and the core methods.

    Attributes:
        id: versioned identifier, e.g. ``"nb201-v1"``; a change that can alter a number bumps it.
        finite: whether ``size``/``index``/``arch_at`` are available.
        encodings: the encodings offered, a subset of ``("vector", "onehot", "graph")``.
        decisions: choice counts of the categorical decision view, or ``None``.
        vector_dim: length of ``vector(arch)``.
    """

    id: str = ""
    finite: bool = False
    encodings: tuple[str, ...] = ("vector",)
    decisions: Sequence[int] | None = None
    vector_dim: int = 0

    # --- core -------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> Arch:
        """A uniformly random member of the space."""
        raise NotImplementedError

    def mutate(self, arch: Arch, rng: np.random.Generator) -> Arch:
        """A random member one edit away from ``arch`` (never ``arch`` itself)."""
        raise NotImplementedError

    def mutate_many(self, archs: Sequence[Arch], rng: np.random.Generator) -> list[Arch]:
        """``[self.mutate(a, rng) for a in archs]``: the same children, and ``rng`` left in the
        same state. A space may override it with a faster equivalent (BONAS's EA mutates 1,000
        tournament winners per iteration); the conformance check compares the two."""
        return [self.mutate(a, rng) for a in archs]

    def neighbours(self, arch: Arch) -> list[Arch]:
        """All members one edit away from ``arch``, in a deterministic order, without repeats."""
        raise NotImplementedError

    def pick_neighbour(self, arch: Arch, u: float) -> tuple[Arch | None, int]:
        """``(neighbours(arch)[floor(u * n)], n)`` for ``u`` in [0, 1), ``n`` the number of
        neighbours; ``(None, 0)`` when there are none. A space may override it with a faster
        equivalent (random walks call it once per step)."""
        nbs = self.neighbours(arch)
        if not nbs:
            return None, 0
        return nbs[min(int(u * len(nbs)), len(nbs) - 1)], len(nbs)

    def contains(self, arch: Any) -> bool:
        """Whether ``arch`` is a valid member of this space."""
        raise NotImplementedError

    def key(self, arch: Arch) -> str:
        """Stable string identity used by the benchmark and recorded in trajectories."""
        raise NotImplementedError

    def vector(self, arch: Arch) -> np.ndarray:
        """Flat float32 encoding of length ``vector_dim``."""
        raise NotImplementedError

    def parse(self, text: str) -> Arch:
        """The architecture written as ``text`` (the inverse of ``format``)."""
        raise NotImplementedError

    def format(self, arch: Arch) -> str:
        """Human-readable standard string of ``arch``."""
        return self.key(arch)

    # --- shared helpers ---------------------------------------------------------------
    def validate(self, arch: Any) -> Arch:
        """Return ``arch`` if it is a member, else raise :class:`InvalidArchitecture` naming it."""
        if not self.contains(arch):
            raise InvalidArchitecture(f"{arch!r} is not an architecture of search space {self.id}")
        return arch

    def vectors(self, archs: Sequence[Arch]) -> np.ndarray:
        """``vector`` of each architecture stacked: shape ``(len(archs), vector_dim)``."""
        out = np.empty((len(archs), self.vector_dim), dtype=np.float32)
        for i, a in enumerate(archs):
            out[i] = self.vector(a)
        return out

    def keys_at(self, indices) -> np.ndarray:
        """``key(arch_at(i))`` for each index, as an object array (finite spaces only).

        Keys are memoized per space instance, so the trajectories of many runs on one space (a
        sweep worker) compute each key once: a 10,000-query record builds in milliseconds.
        """
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        uniq, inv = np.unique(idx, return_inverse=True)
        memo = self.__dict__.setdefault("_key_memo", {})
        keys = np.empty(len(uniq), dtype=object)
        for j, i in enumerate(uniq.tolist()):
            k = memo.get(i)
            if k is None:
                k = memo[i] = self.key(self.arch_at(i))
            keys[j] = k
        return keys[inv.reshape(-1)]

    def encode(self, arch: Arch, kind: str = "vector"):
        """Dispatch to ``vector``, ``onehot`` or ``graph`` by name."""
        if kind not in self.encodings:
            raise ValueError(f"space {self.id} has no {kind!r} encoding (has {self.encodings})")
        return getattr(self, kind)(arch)

    def __getstate__(self):
        state = dict(self.__dict__)
        for memo in ("_key_memo", "_neighbour_memo"):  # caches: not worth sending to another process
            state.pop(memo, None)
        return state

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id}>"

