"""Prioritized experience replay (Schaul et al. 2016) and n-step transitions with partial
episode bootstrapping (Pardo et al. 2018), as used by Ape-X in Ape-X NAS (docs/references.md) §3.2.3 / §4.1.1.

* :class:`SumTree`: a binary tree over ``capacity`` leaves holding ``p_i^alpha``; prefix-sum
  search for proportional sampling in ``O(log capacity)``, vectorized over a batch.
* :class:`PrioritizedReplay`: one buffer (capacity 25,000, ``alpha = 0.6``, ``beta = 0.4`` in
  the paper), FIFO overwrite. ``sample(batch, rng)`` draws stratified proportional samples
  (one uniform draw in each of ``batch`` equal slices of the total priority), returns their
  probabilities ``P(i) = p_i^alpha / sum_k p_k^alpha`` and importance weights
  ``w_i = (n P(i))^-beta / max_j (n P(j))^-beta`` where the max runs over the whole buffer
  (i.e. uses the smallest stored priority), as in the PER paper. Priorities are
  ``|td error| + eps``. Transitions are stored compactly: the ``N + 1`` architecture ids of
  the observation and of the bootstrap observation (see :mod:`algorithms.apex.encoding`), the
  action, the n-step return and the bootstrap discount.
* :class:`ShardedReplay`: ``shards`` such buffers (the paper's layout: 4 shards), each of
  ``ceil(capacity / shards)`` entries; actor ``i`` inserts into shard ``i mod shards`` with the
  priorities it computed itself. Sampling is proportional over the union (one stratified draw
  over the concatenated priority mass, resolved shard by shard), so a sharded buffer samples
  from the same distribution as one buffer holding the same transitions, and the importance
  weights use the total size and the smallest priority of all shards. Indices are global
  (``shard * shard_capacity + local index``). :class:`ReplayShard` is one shard as a service
  (the Ray executor runs each as a Ray actor that the actors insert into directly).
* :class:`NStepAccumulator`: turns one environment's steps into n-step transitions
  ``(obs_t, a_t, R_t, obs_{t+m}, d_t)`` with ``R_t = sum_{k<m} gamma^k r_{t+k}`` and
  ``m = min(n, steps left in the episode)``. The discount ``d_t`` is ``gamma^m`` unless the
  episode *terminated* within those ``m`` steps (the agent chose to stop), where it is 0. A
  *truncated* episode (time limit) is bootstrapped from its last observation: partial
  episode bootstrapping, so a policy trained on 16-step episodes behaves as for unbounded ones.
  The learner's target is ``R_t + d_t * Q_target(obs_{t+m}, argmax_a Q_online(obs_{t+m}, a))``
  (:func:`algorithms.apex.agent.double_q_targets`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np


class SumTree:
    """Sums over ``capacity`` non-negative leaf values; ``find`` inverts the prefix sum."""

    def __init__(self, capacity: int):
        self.capacity = int(capacity)
        self.size_pow2 = 1 << max(0, (self.capacity - 1).bit_length())
        self.tree = np.zeros(2 * self.size_pow2)

    @property
    def total(self) -> float:
        return float(self.tree[1])

    def leaves(self) -> np.ndarray:
        return self.tree[self.size_pow2 : self.size_pow2 + self.capacity]

    def update(self, idx, values) -> None:
        """Set leaves ``idx`` to ``values`` (a repeated index: the last value wins) and recompute
        their ancestors, level by level. The parents of a sorted index array are sorted, so each
        level drops its repeats by comparing neighbours (``np.unique`` sorted again at every
        level); leaves that fill most of a range (an insert) recompute whole ranges of parents
        with slices. Recomputing a parent whose children did not change gives the same sum, so
        either way the tree is the same, bit for bit (tested against a rebuild from the leaves)."""
        idx = np.asarray(idx, dtype=np.int64) + self.size_pow2
        tree = self.tree
        tree[idx] = np.asarray(values, dtype=float)
        if idx.size == 0:
            return
        nodes = np.sort(idx) // 2
        lo, hi = int(nodes[0]), int(nodes[-1])
        if lo >= 1 and hi - lo + 1 <= 2 * nodes.size:  # a run of leaves (an insert): whole ranges of parents
            while True:
                tree[lo : hi + 1] = tree[2 * lo : 2 * hi + 2 : 2] + tree[2 * lo + 1 : 2 * hi + 2 : 2]
                if lo == 1:
                    return
                lo, hi = lo // 2, hi // 2
        while nodes[0] >= 1:
            if nodes.size > 1:
                keep = np.empty(nodes.size, dtype=bool)
                keep[0] = True
                np.not_equal(nodes[1:], nodes[:-1], out=keep[1:])
                nodes = nodes[keep]
            tree[nodes] = tree[2 * nodes] + tree[2 * nodes + 1]
            if nodes[0] == 1:
                break
            nodes //= 2

    def find(self, prefix) -> np.ndarray:
        """Leaf index ``i`` with ``sum(leaves[:i]) <= prefix < sum(leaves[:i+1])``, per entry."""
        v = np.asarray(prefix, dtype=float).copy()
        node = np.ones(v.shape, dtype=np.int64)
        while node[0] < self.size_pow2:
            left = self.tree[2 * node]
            right = v >= left
            v = np.where(right, v - left, v)
            node = 2 * node + right
        return np.minimum(node - self.size_pow2, self.capacity - 1)


@dataclass
class Batch:
    """A sampled batch: storage indices, sampling probabilities, importance weights, fields."""

    index: np.ndarray
    prob: np.ndarray
    weight: np.ndarray
    obs: np.ndarray  # (B, N+1) ids
    action: np.ndarray
    ret: np.ndarray  # n-step return
    next_obs: np.ndarray  # (B, N+1) ids of the bootstrap observation
    discount: np.ndarray  # gamma^m, or 0 when terminal


class PrioritizedReplay:
    """Proportional prioritized replay over compact n-step transitions (module docstring)."""

    def __init__(self, capacity: int, obs_len: int, alpha: float = 0.6, beta: float = 0.4, eps: float = 1e-6):
        if capacity < 1:
            raise ValueError("replay capacity must be >= 1")
        self.capacity, self.alpha, self.beta, self.eps = int(capacity), float(alpha), float(beta), float(eps)
        self.tree = SumTree(self.capacity)
        self.obs = np.zeros((self.capacity, obs_len), dtype=np.int32)
        self.next_obs = np.zeros((self.capacity, obs_len), dtype=np.int32)
        self.action = np.zeros(self.capacity, dtype=np.int64)
        self.ret = np.zeros(self.capacity, dtype=np.float32)
        self.discount = np.zeros(self.capacity, dtype=np.float32)
        self.pos = 0
        self.size = 0
        self.added = 0

    def __len__(self) -> int:
        return self.size

    def add(self, obs, action, ret, next_obs, discount, priority) -> np.ndarray:
        """Append transitions (arrays with a leading batch axis); ``priority`` = |td| (before
        ``eps`` and ``alpha``). Returns the storage indices used."""
        k = len(action)
        if k == 0:
            return np.zeros(0, dtype=np.int64)
        idx = (self.pos + np.arange(k)) % self.capacity
        self.obs[idx] = obs
        self.next_obs[idx] = next_obs
        self.action[idx] = action
        self.ret[idx] = ret
        self.discount[idx] = discount
        self.update_priorities(idx, priority)
        self.pos = int((self.pos + k) % self.capacity)
        self.size = min(self.capacity, self.size + k)
        self.added += k
        return idx

    def update_priorities(self, idx, priority) -> None:
        p = (np.abs(np.asarray(priority, dtype=float)) + self.eps) ** self.alpha
        # a batch may hold an index twice (overwritten in one add): the last value wins
        self.tree.update(idx, p)

    def probabilities(self) -> np.ndarray:
        """``P(i)`` of every stored transition, shape ``(size,)`` (for tests and diagnostics)."""
        leaves = self.tree.leaves()[: self.size]
        return leaves / leaves.sum()

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        total = self.tree.total
        u = _stratified(total, batch_size, rng)
        idx = self.tree.find(u)
        idx = np.minimum(idx, self.size - 1)
        leaves = self.tree.leaves()
        prob = leaves[idx] / total
        p_min = leaves[: self.size].min() / total
        weight = (self.size * prob) ** (-self.beta) / (self.size * p_min) ** (-self.beta)
        return Batch(idx, prob, weight.astype(np.float32), self.obs[idx], self.action[idx], self.ret[idx],
                     self.next_obs[idx], self.discount[idx])

    # --- checkpoints ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"obs": self.obs[: self.size].copy(), "next_obs": self.next_obs[: self.size].copy(),
                "action": self.action[: self.size].copy(), "ret": self.ret[: self.size].copy(),
                "discount": self.discount[: self.size].copy(), "tree": self.tree.tree.copy(),
                "pos": self.pos, "size": self.size, "added": self.added}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        n = int(d["size"])
        for k in ("obs", "next_obs", "action", "ret", "discount"):
            getattr(self, k)[:n] = np.asarray(d[k])
        self.tree = SumTree(self.capacity)
        self.tree.tree[:] = np.asarray(d["tree"], dtype=float)  # the exact sums, not recomputed
        self.pos, self.size, self.added = int(d["pos"]), n, int(d["added"])


def _stratified(total: float, batch_size: int, rng: np.random.Generator) -> np.ndarray:
    seg = total / batch_size
    u = (np.arange(batch_size) + rng.random(batch_size)) * seg
    return np.minimum(u, np.nextafter(total, 0))


def _weights(prob: np.ndarray, size: int, p_min: float, beta: float) -> np.ndarray:
    return ((size * prob) ** (-beta) / (size * p_min) ** (-beta)).astype(np.float32)


class ReplayShard:
    """One shard of a :class:`ShardedReplay` behind a message interface (plain arrays in and
    out), so it can live in another process (a Ray actor): ``add(batch)``, ``stats()``,
    ``lookup(u)``, ``update_priorities``, ``state_dict``/``load_state_dict``."""

    def __init__(self, capacity: int, obs_len: int, alpha: float = 0.6, beta: float = 0.4):
        self.buf = PrioritizedReplay(capacity, obs_len, alpha, beta)

    def add(self, batch: dict) -> tuple[float, int, float]:
        self.buf.add(batch["obs"], batch["action"], batch["ret"], batch["next_obs"], batch["discount"], batch["priority"])
        return self.stats()

    def stats(self) -> tuple[float, int, float]:
        """``(total priority mass, size, smallest stored leaf)``."""
        b = self.buf
        return b.tree.total, b.size, float(b.tree.leaves()[: b.size].min()) if b.size else float("inf")

    def lookup(self, u) -> tuple:
        """The transitions at prefix sums ``u`` (within this shard): index, leaf, fields."""
        b = self.buf
        idx = np.minimum(b.tree.find(u), max(b.size - 1, 0))
        return idx, b.tree.leaves()[idx], b.obs[idx], b.action[idx], b.ret[idx], b.next_obs[idx], b.discount[idx]

    def update_priorities(self, idx, priority) -> None:
        self.buf.update_priorities(idx, priority)

    def state_dict(self) -> dict[str, Any]:
        return self.buf.state_dict()

    def load_state_dict(self, d: dict[str, Any]) -> None:
        self.buf.load_state_dict(d)


class ShardedReplay:
    """Prioritized replay split into shards, sampled proportionally over their union (module
    docstring). ``shards`` are :class:`ReplayShard` objects or proxies with the same methods
    whose calls return their results through ``resolve`` (Ray: ``ray.get`` of remote calls)."""

    def __init__(self, capacity: int, obs_len: int, shards: int, alpha: float = 0.6, beta: float = 0.4,
                 make_shard=None, call=None):
        self.n_shards = int(shards)
        self.shard_capacity = -(-int(capacity) // self.n_shards)
        self.capacity = self.shard_capacity * self.n_shards
        self.beta = float(beta)
        make = make_shard or (lambda: ReplayShard(self.shard_capacity, obs_len, alpha, beta))
        self.shards = [make() for _ in range(self.n_shards)]
        # call(shards, method, args list) -> results list; local: plain method calls
        self._call = call or (lambda shards, name, args: [getattr(sh, name)(*a) for sh, a in zip(shards, args)])
        self._stats = [(0.0, 0, float("inf"))] * self.n_shards
        self.added = 0

    def __len__(self) -> int:
        return int(sum(s[1] for s in self._stats))

    def add(self, obs, action, ret, next_obs, discount, priority, shard: int = 0) -> None:
        j = int(shard) % self.n_shards
        batch = {"obs": obs, "action": action, "ret": ret, "next_obs": next_obs, "discount": discount,
                 "priority": priority}
        self._stats[j] = self._call([self.shards[j]], "add", [(batch,)])[0]
        self.added += len(action)

    def note_added(self, shard: int, n: int) -> None:
        """Transitions inserted into ``shard`` by someone else (remote actors): refresh stats."""
        self.added += int(n)

    def refresh(self) -> None:
        self._stats = self._call(self.shards, "stats", [()] * self.n_shards)

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        totals = np.array([s[0] for s in self._stats], dtype=float)
        size = len(self)
        if size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        cum = np.cumsum(totals)
        total = float(cum[-1])
        u = _stratified(total, batch_size, rng)
        which = np.minimum(np.searchsorted(cum, u, side="right"), self.n_shards - 1)
        local = u - (cum[which] - totals[which])
        used = [j for j in range(self.n_shards) if np.any(which == j)]
        res = self._call([self.shards[j] for j in used], "lookup", [(local[which == j],) for j in used])
        index = np.zeros(batch_size, dtype=np.int64)
        leaf = np.zeros(batch_size)
        cols = None
        for j, (idx, lv, *fields) in zip(used, res):
            sel = which == j
            if cols is None:
                cols = [np.zeros((batch_size,) + f.shape[1:], dtype=f.dtype) for f in fields]
            index[sel] = j * self.shard_capacity + idx
            leaf[sel] = lv
            for c, f in zip(cols, fields):
                c[sel] = f
        prob = leaf / total
        p_min = min(s[2] for s in self._stats if s[1]) / total
        return Batch(index, prob, _weights(prob, size, p_min, self.beta), *cols)

    def update_priorities(self, idx, priority) -> None:
        idx = np.asarray(idx, dtype=np.int64)
        priority = np.asarray(priority, dtype=float)
        j = idx // self.shard_capacity
        used = [k for k in range(self.n_shards) if np.any(j == k)]
        self._call([self.shards[k] for k in used], "update_priorities",
                   [(idx[j == k] - k * self.shard_capacity, priority[j == k]) for k in used])
        self.refresh()

    def probabilities(self) -> np.ndarray:
        """``P(i)`` of every stored transition, shard by shard (local shards only; for tests)."""
        leaves = np.concatenate([sh.buf.tree.leaves()[: sh.buf.size] for sh in self.shards])
        return leaves / leaves.sum()

    def state_dict(self) -> dict[str, Any]:
        return {"shards": self._call(self.shards, "state_dict", [()] * self.n_shards), "added": self.added}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        self._call(self.shards, "load_state_dict", [(x,) for x in d["shards"]])
        self.added = int(d["added"])
        self.refresh()


@dataclass
class Transition:
    obs: Any
    action: int
    ret: float
    next_obs: Any
    discount: float
    steps: int  # m, the number of rewards summed
    extra: Any = None  # what was passed with the first step (e.g. the actor's Q(s_t, a_t))
    priority: float = 0.0  # set by the actor once max_a Q(next_obs, a) is known


class NStepAccumulator:
    """n-step returns with partial episode bootstrapping for one environment (module docstring)."""

    def __init__(self, n: int = 3, gamma: float = 0.9):
        if n < 1:
            raise ValueError("n-step must be >= 1")
        self.n, self.gamma = int(n), float(gamma)
        self.pending: deque = deque()

    def _emit(self, next_obs, terminal: bool) -> Transition:
        items = list(self.pending)
        ret = sum(self.gamma**k * r for k, (_, _, r, _) in enumerate(items))
        m = len(items)
        obs, action, _, extra = items[0]
        self.pending.popleft()
        return Transition(obs, action, float(ret), next_obs, 0.0 if terminal else self.gamma**m, m, extra)

    def add(self, obs, action: int, reward: float, next_obs, terminated: bool, truncated: bool, extra=None) -> list[Transition]:
        """Record one step; returns the transitions completed by it (oldest first)."""
        self.pending.append((obs, int(action), float(reward), extra))
        out = []
        if terminated or truncated:
            while self.pending:
                out.append(self._emit(next_obs, terminal=bool(terminated)))
        elif len(self.pending) == self.n:
            out.append(self._emit(next_obs, terminal=False))
        return out

    def clear(self) -> None:
        self.pending.clear()
