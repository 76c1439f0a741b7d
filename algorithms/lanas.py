"""LaNAS: Latent Action Neural Architecture Search (Wang et al. 2019, LaNAS in docs/references.md, §3, Alg. 1-2).

LaNAS learns its own action space. A complete binary tree partitions the search space; every
internal node holds a *latent action*, a linear constraint on the architecture encoding
``a = space.vector(arch)``, that sends good architectures left and poor ones right. The search
alternates two phases (Alg. 1):

1. **Learning phase** (§3.1, :func:`fit_tree`). All samples queried so far enter the root. At
   each internal node ``j`` a linear regressor ``f_j(a) = W a + b`` is fitted by least squares to
   the samples in the node's region; the node's value ``X_j`` is the mean reward of those
   samples. Samples with ``f_j(a) >= X_j`` go to the left (good) child, the others to the right
   child, recursively down to the leaves. The left child's region is ``W a + b >= X`` and the
   right child's ``W a + b < X`` (Alg. 2, ``get_constraints``). With an intercept, the mean of
   the least-squares predictions over a node's samples equals their mean reward, so the
   threshold is also the mean prediction, the boundary the official code used.
2. **Search phase** (§3.2, :func:`ucb_select`). ``#selects`` times: walk from the root to a
   leaf, at each node taking the child with the larger ``get_ucb`` (Alg. 1, c = 0.5; ties
   broken at random with the run's generator, as the official code does); sample a new,
   never-queried architecture satisfying every constraint on the path; query it; back-propagate
   its reward to every node on its path (visit count ``n`` + 1, reward sum + reward).

The search starts with random samples (Alg. 1: "In the first iteration ... we random sample
the model space to get jump started").

Choices where the paper is silent or ambiguous (each one a hyperparameter):

* ``height`` counts levels, root included, as in the official code: ``2^h - 1`` nodes,
  ``2^(h-1)`` leaves, ``h - 1`` constraints on a leaf's path. Paper: h = 5 on the NAS datasets
  (nodes 0-14 internal, the rest leaves), h = 8 in the open domain (§6.2).
* ``get_ucb(X_next, n_next, n_curt) = X_next / n_next + 2c sqrt(2 ln n_curt / n_next)``, with
  ``X_next`` read as the child's *accumulated* reward, so the first term is its mean reward
  (UCB1 of Auer et al. [19], which the paper says it follows; the official code uses the mean).
  An unvisited child scores +inf.
* Rewards are the search metric on the paper's scale (accuracy in [0, 1], §3.4): with
  ``reward_scale=None`` values that look like percentages (some > 1, all <= 100) are divided by
  100, others are used as they are; minimized metrics are negated. c = 0.5 is tuned for that
  scale.
* Visit counts are reset at each learning phase (§3.2): a node's count and reward sum restart
  from the samples that fall into its *new* region (``count_reset="region"``, what the official
  code does: ``n = len(bag)``, ``x_bar = mean(bag)``), or from zero (``"zero"``; every child is
  then unvisited and explored once).
* Constraints come from the *parent* node's regressor and the side the path takes (Alg. 2 reads
  "node on left"); an internal node with no samples gets ``W = 0, b = 0, X = 0``, so its whole
  region goes left.
* Sampling within the constraints (§3.2 uses an MCMC sampler of the polytope). Two exact or
  bounded strategies, chosen by ``sampler``:

  - ``"enumerate"`` (finite spaces up to ``enumerate_limit`` members; ``"auto"`` picks it): the
    encodings of all members are computed once per process; after each learning phase every
    member is routed to its leaf, so a leaf's region is known exactly and a new member is drawn
    uniformly among its never-queried members (the official NASBench-101 code does the same
    with its dataset). This is rejection sampling taken to its limit: every candidate checked
    at once, vectorized.
  - ``"rejection"`` (infinite or very large spaces): batches of uniform samples from
    ``space.sample`` (16, 32, ... up to ``batch_size``; ``rejection_batches`` batches) are
    encoded with ``space.vectors`` and checked against all constraints at once, the first new
    one inside is taken (distributed as ``space.sample`` restricted to the region: uniform when
    the sampler is, as on NB201; NB101's is the paper's non-uniform one); if none is found, a
    population Markov chain over ``space.mutate`` starts from the known samples inside the
    region and keeps the proposals that stay inside (Metropolis for the uniform target on the
    region), ``chain_size`` proposals per round for up to ``chain_rounds`` rounds.

* Fall-back rule: when the selected leaf's region has no never-queried member (enumerate) or
  none is found within that bounded effort (rejection), the deepest constraint is dropped and
  the parent's region is tried, and so on up to the root (the whole space). The reward is then
  back-propagated along the path of the leaf the sample actually lies in (its route through
  the learned constraints), which is the selected path whenever no fall-back happened. On a
  finite space the run ends when every member has been queried (on an infinite one, if not
  even the root's bounded effort finds a new architecture).
* Initial samples (paper: 2,000 on NASBench-101, 423,624 cells; official code: 10):
  ``init_samples=None`` takes the paper's share of the space, ``2000 / 423,624``, at least
  ``2^h`` (74 on NB201, 124 on NAS-Bench-Graph, 2,000 on NB101) and 2,000 on infinite spaces.
* ``selects`` (#selects between two learning phases): paper 100 (§6.1), official code 20.

After ``run``: ``tree_`` (the nodes), ``history_`` (node statistics after every learning
phase), ``timings_`` / ``cpu_timings_`` (wall-clock / CPU seconds per phase: init, learn,
select, sample, query, backprop, total), ``fallbacks_`` (how many samples fell back), and
:meth:`LaNAS.node_stats`; :func:`plot_node_means` draws the node means over time (Fig. 4).
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from algorithms.base import Algorithm, field, warmup_cap
from harness.errors import ConfigError

NB101_SIZE = 423_624
PAPER_INIT_SAMPLES = 2000  # §6.1, on NASBench-101
SCORE_CHUNK = 65_536  # rows per block when scoring many encodings

_ALL_VECTORS: dict[tuple[str, int], np.ndarray] = {}  # per-process cache: (space id, size) -> encodings


@dataclass
class LaNASConfig:
    height: int = field(5, "tree height in levels (2^h-1 nodes, 2^(h-1) leaves); paper: 5 on NAS benchmarks, 8 open domain")
    selects: int = field(100, "#selects: samples between two learning phases (paper 100; official code 20)")
    init_samples: int | None = field(
        None, "random samples before the first learning phase; None: paper's share 2000/423,624 of the space, >= 2^h (2000 if infinite)"
    )
    c: float = field(0.5, "UCB exploration constant of get_ucb (paper 0.5)")
    reward_scale: float | None = field(None, "reward = value * scale; None: 1/100 for percentages, else 1 (paper: accuracy in [0, 1])")
    count_reset: str = field("region", "visit counts after relearning: 'region' (samples in the new region) or 'zero'")
    sampler: str = field("auto", "'enumerate' (finite spaces), 'rejection' (batched rejection + mutation chain), 'auto'")
    enumerate_limit: int = field(2_000_000, "largest finite space that 'auto' enumerates")
    batch_size: int = field(256, "largest rejection batch (batches grow 16, 32, ... up to it)")
    rejection_batches: int = field(10, "uniform batches tried per region before the mutation chain")
    chain_rounds: int = field(8, "mutation-chain rounds per region before falling back to the parent")
    chain_size: int = field(32, "mutation proposals per chain round")
    probe_samples: int = field(2000, "uniform samples for region-size estimates (rejection sampler only)")


# --------------------------------------------------------------------------------------------
# The tree and its two phases, as pure functions
# --------------------------------------------------------------------------------------------
@dataclass
class Node:
    """One tree node. Ids are heap-ordered: root 0, children of ``j`` are ``2j+1`` (left, good)
    and ``2j+2`` (right). Internal nodes carry the latent action ``w . a + b >= threshold``."""

    id: int
    depth: int  # root = 0
    leaf: bool
    w: np.ndarray | None = None  # (vector_dim,)
    b: float = 0.0
    threshold: float = 0.0  # X of Alg. 2: the mean reward of the node's samples
    n: int = 0  # visit count (UCB)
    total: float = 0.0  # accumulated reward (UCB: mean = total / n)
    samples: np.ndarray | None = None  # dataset rows in the region at the last learning phase
    data_mean: float = math.nan  # their mean reward
    region_size: float = math.nan  # members of the space in the region (exact or estimated)
    region_fraction: float = math.nan

    @property
    def left(self) -> int:
        return 2 * self.id + 1

    @property
    def right(self) -> int:
        return 2 * self.id + 2

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else math.nan


def n_nodes(height: int) -> int:
    return 2**height - 1


def first_leaf(height: int) -> int:
    return 2 ** (height - 1) - 1


def parent(j: int) -> int:
    return (j - 1) // 2


def path_to(j: int) -> list[int]:
    """Node ids from the root down to ``j``."""
    out = [j]
    while j > 0:
        j = parent(j)
        out.append(j)
    return out[::-1]


def scores(V: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    """``V @ w + b`` row by row (shape ``(len(V),)``, float64).

    Row sums of an elementwise product: a row's score does not depend on which batch it is
    scored in, so the training split, the routing of all members and every constraint check
    agree exactly, even on the boundary.
    """
    out = np.empty(len(V), dtype=np.float64)
    for s in range(0, len(V), SCORE_CHUNK):
        out[s : s + SCORE_CHUNK] = (V[s : s + SCORE_CHUNK] * w).sum(axis=1) + b
    return out


def fit_linear(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares ``(w, b)`` minimizing ``sum (w . x_i + b - y_i)^2``; ``(0, 0)`` without data.

    Solved through the normal equations (a ``(d+1) x (d+1)`` system, fast whatever the number of
    samples) with the minimum-norm solution when the encoding is rank deficient (one-hot groups
    are collinear with the intercept) or the samples are fewer than the features.
    """
    if len(y) == 0:
        return np.zeros(X.shape[1]), 0.0
    A = np.hstack([np.asarray(X, dtype=np.float64), np.ones((len(y), 1))])
    coef = np.linalg.lstsq(A.T @ A, A.T @ np.asarray(y, dtype=np.float64), rcond=1e-10)[0]
    return coef[:-1], float(coef[-1])


def fit_tree(X: np.ndarray, y: np.ndarray, height: int) -> list[Node]:
    """Learning phase (§3.1): the tree's latent actions learned from samples ``X`` (m, d), rewards ``y`` (m,).

    Top-down: each internal node fits a linear regressor to its samples and sends those whose
    prediction is >= the node's mean reward to its left child. Every node's ``n``/``total`` are
    set from its samples (``count_reset="region"``).
    """
    y = np.asarray(y, dtype=np.float64)
    nodes = []
    rows: list[np.ndarray | None] = [None] * n_nodes(height)
    rows[0] = np.arange(len(y))
    leaf0 = first_leaf(height)
    for j in range(n_nodes(height)):
        idx = rows[j]
        node = Node(id=j, depth=(j + 1).bit_length() - 1, leaf=j >= leaf0)
        node.samples, node.n, node.total = idx, len(idx), float(y[idx].sum())
        node.data_mean = float(y[idx].mean()) if len(idx) else math.nan
        if not node.leaf:
            node.w, node.b = fit_linear(X[idx], y[idx])
            node.threshold = node.data_mean if len(idx) else 0.0
            go_left = scores(X[idx], node.w, node.b) >= node.threshold
            rows[node.left], rows[node.right] = idx[go_left], idx[~go_left]
        nodes.append(node)
    return nodes


def route(nodes: list[Node], V: np.ndarray) -> np.ndarray:
    """The leaf id of every row of ``V`` (n, d), following the learned constraints."""
    internal = [nd for nd in nodes if not nd.leaf]
    if not internal:
        return np.zeros(len(V), dtype=np.int64)
    W = np.vstack([nd.w for nd in internal])
    B = np.array([nd.b for nd in internal])
    X = np.array([nd.threshold for nd in internal])
    out = np.empty(len(V), dtype=np.int64)
    for s in range(0, len(V), SCORE_CHUNK):
        block = V[s : s + SCORE_CHUNK]
        at = np.zeros(len(block), dtype=np.int64)
        for _ in range(nodes[-1].depth):  # one step down per level, every row at once
            left = (block * W[at]).sum(axis=1) + B[at] >= X[at]  # same arithmetic as scores()
            at = np.where(left, 2 * at + 1, 2 * at + 2)
        out[s : s + SCORE_CHUNK] = at
    return out


def constraints(nodes: list[Node], j: int) -> list[tuple[np.ndarray, float, float, bool]]:
    """Alg. 2 ``get_constraints``: ``(w, b, X, left)`` for each step of the path to node ``j``;
    ``left`` means ``w . a + b >= X``, else ``w . a + b < X``."""
    p = path_to(j)
    return [(nodes[a].w, nodes[a].b, nodes[a].threshold, c == nodes[a].left) for a, c in zip(p[:-1], p[1:])]


def satisfies(V: np.ndarray, cons) -> np.ndarray:
    """Boolean mask: which rows of ``V`` satisfy every constraint in ``cons``."""
    ok = np.ones(len(V), dtype=bool)
    for w, b, x, left in cons:
        s = scores(V, w, b)
        ok &= (s >= x) if left else (s < x)
    return ok


def get_ucb(x_next: float, n_next: int, n_curt: int, c: float = 0.5) -> float:
    """Alg. 1 ``get_ucb``: ``x_next / n_next + 2c sqrt(2 ln(n_curt) / n_next)``, +inf if ``n_next == 0``.

    ``x_next`` is the child's accumulated reward (so ``x_next / n_next`` is its mean reward),
    ``n_next`` its visit count, ``n_curt`` the visit count of the current (parent) node.
    """
    if n_next == 0:
        return math.inf
    return x_next / n_next + 2.0 * c * math.sqrt(2.0 * math.log(n_curt) / n_next)


def ucb_select(nodes: list[Node], c: float, rng: np.random.Generator) -> list[int]:
    """Alg. 2 ``ucb_select``: node ids from the root to a leaf, taking the child with the larger
    UCB at each step (a tie is broken uniformly at random with ``rng``)."""
    j, path = 0, [0]
    while not nodes[j].leaf:
        cur, L, R = nodes[j], nodes[nodes[j].left], nodes[nodes[j].right]
        ul, ur = get_ucb(L.total, L.n, cur.n, c), get_ucb(R.total, R.n, cur.n, c)
        j = L.id if ul > ur else R.id if ur > ul else (L.id, R.id)[int(rng.integers(2))]
        path.append(j)
    return path


# --------------------------------------------------------------------------------------------
# The algorithm
# --------------------------------------------------------------------------------------------
class LaNAS(Algorithm):
    """LaNAS (Alg. 1): learn linear latent actions on a binary tree, search it with UCB."""

    name = "lanas"
    Config = LaNASConfig
    requires = ("vector",)
    test_hyperparameters: ClassVar[dict] = {"height": 3, "selects": 10, "init_samples": 20}

    def __init__(self, **hyperparameters):
        super().__init__(**hyperparameters)
        c = self.config
        checks = [
            (isinstance(c.height, int) and c.height >= 1, f"height must be an integer >= 1, got {c.height!r}"),
            (isinstance(c.selects, int) and c.selects >= 1, f"selects must be an integer >= 1, got {c.selects!r}"),
            (c.init_samples is None or (isinstance(c.init_samples, int) and c.init_samples >= 1),
             f"init_samples must be None or an integer >= 1, got {c.init_samples!r}"),
            (c.c >= 0, f"c must be >= 0, got {c.c!r}"),
            (c.reward_scale is None or c.reward_scale > 0, f"reward_scale must be None or > 0, got {c.reward_scale!r}"),
            (c.count_reset in ("region", "zero"), f"count_reset must be 'region' or 'zero', got {c.count_reset!r}"),
            (c.sampler in ("auto", "enumerate", "rejection"),
             f"sampler must be 'auto', 'enumerate' or 'rejection', got {c.sampler!r}"),
            (min(c.batch_size, c.rejection_batches, c.probe_samples, c.chain_size) >= 1 and c.chain_rounds >= 0,
             "batch_size, rejection_batches, chain_size and probe_samples must be >= 1, chain_rounds >= 0"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ConfigError(f"lanas: {msg}")

    # --- Alg. 1 ------------------------------------------------------------------------------
    def run(self, oracle, rng) -> None:
        cfg = self.config
        self._begin(oracle, rng)
        with _one_blas_thread():
            try:
                for arch in self._initial_samples(rng):
                    self._query(oracle, arch)
                while True:
                    self._learn(oracle.used)  # learning phase: all nodes' latent actions
                    for _ in range(cfg.selects):  # search phase
                        t = self._clock.now()
                        leaf = ucb_select(self.tree_, cfg.c, rng)[-1]
                        t = self._clock.add("select", t)
                        arch, ref, at = self._sample(leaf, rng)
                        self._clock.add("sample", t)
                        if arch is None:
                            return  # every member of a finite space has been queried
                        self.fallbacks_ += at != leaf
                        reward = self._query(oracle, arch, ref)
                        t = self._clock.now()
                        self._backpropagate(reward)
                        self._clock.add("backprop", t)
            finally:
                self._clock.add("total", self._t_start)

    # --- setup ---------------------------------------------------------------------------------
    def _begin(self, oracle, rng) -> None:
        cfg, space = self.config, oracle.space
        self._budget = int(oracle.budget)
        self._space = space
        self._sign = 1.0 if oracle.maximize else -1.0
        self._scale = cfg.reward_scale
        self._finite = bool(space.finite)
        mode = cfg.sampler
        if mode == "auto":
            mode = "enumerate" if self._finite and space.size <= cfg.enumerate_limit else "rejection"
        if mode == "enumerate" and not self._finite:
            raise ConfigError(f"lanas: sampler='enumerate' needs a finite space; {space.id} is not")
        self.sampler_ = mode
        self._clock = _Clock()
        self._t_start = t0 = self._clock.now()
        self.timings_, self.cpu_timings_ = self._clock.wall, self._clock.cpu
        self.tree_: list[Node] = []
        self.history_: list[dict] = []
        self.fallbacks_ = 0
        self._archs: list = []  # queried architectures, in order
        self._rows: list[np.ndarray] = []  # their encodings
        self._values: list[float] = []  # their signed (unscaled) search values
        self._seen_keys: set = set()
        if self._finite:
            self._queried = np.zeros(space.size, dtype=bool)
        if mode == "enumerate":
            self._V = all_vectors(space)
        else:
            probe = [space.sample(rng) for _ in range(cfg.probe_samples)]
            self._probe = space.vectors(probe)
        self._clock.add("init", t0)

    def n_initial(self, space, budget: int | None = None) -> int:
        """Initial random samples for ``space`` (see ``init_samples``). The scaled default
        (``init_samples=None``) is capped at :data:`algorithms.base.WARMUP_CAP` of ``budget``
        (no lower than ``2^h``, two per leaf); an explicit ``init_samples`` is kept as given."""
        n = self.config.init_samples
        if n is None:
            n = PAPER_INIT_SAMPLES if not space.finite else \
                max(round(PAPER_INIT_SAMPLES * space.size / NB101_SIZE), 2**self.config.height)
            if budget is not None:
                n = min(n, max(warmup_cap(budget), 2**self.config.height))
        return int(min(space.size, n)) if space.finite else int(n)

    def warmup(self, budget: int, space) -> int:
        return self.n_initial(space, budget)

    def _initial_samples(self, rng):
        space = self._space
        n = self.n_initial(space, self._budget)
        if self._finite:
            for i in rng.choice(space.size, size=n, replace=False):
                yield space.arch_at(int(i))
            return
        got = 0
        while got < n:
            a = space.sample(rng)
            if not self._is_seen(a):
                got += 1
                yield a

    # --- queries and bookkeeping ---------------------------------------------------------------
    def _ref(self, arch):
        return self._space.index(arch) if self._finite else self._space.key(arch)

    def _is_seen(self, arch) -> bool:
        return bool(self._queried[self._space.index(arch)]) if self._finite else self._space.key(arch) in self._seen_keys

    def _query(self, oracle, arch, ref=None) -> float:
        """Query ``arch``, store it as a training sample; returns its reward (once the scale is known)."""
        t = self._clock.now()
        value = oracle.query(arch)
        t = self._clock.add("query", t)
        ref = self._ref(arch) if ref is None else ref
        if self._finite:
            self._queried[ref] = True
        else:
            self._seen_keys.add(ref)
        self._archs.append(arch)
        self._rows.append(self._V[ref] if self.sampler_ == "enumerate" else self._space.vector(arch))
        self._values.append(self._sign * float(value))
        self._clock.add("backprop", t)
        return self._sign * float(value) * (self._scale or 1.0)

    def _rewards(self) -> np.ndarray:
        y = np.asarray(self._values, dtype=np.float64)
        if self._scale is None:  # decided once, from the initial samples
            a = np.abs(y)
            self._scale = 0.01 if len(a) and a.max() > 1.0 and a.max() <= 100.0 else 1.0
        return y * self._scale

    # --- learning phase ------------------------------------------------------------------------
    def _learn(self, used: int) -> None:
        t0 = self._clock.now()
        X = np.asarray(self._rows)
        self.tree_ = nodes = fit_tree(X, self._rewards(), self.config.height)
        if self.config.count_reset == "zero":
            for nd in nodes:
                nd.n, nd.total = 0, 0.0
        leaf0 = first_leaf(self.config.height)
        if self.sampler_ == "enumerate":  # every member routed to its leaf once per phase
            leaf_of = route(nodes, self._V)
            self._order = np.argsort(leaf_of, kind="stable")
            self._bounds = np.searchsorted(leaf_of[self._order], np.arange(leaf0, len(nodes) + 1))
            self._leaf_of = leaf_of
            total = self._space.size
            counts = np.diff(self._bounds).astype(float)
        else:  # region sizes estimated from the uniform probe
            self._probe_leaf = route(nodes, self._probe)
            total = self._space.size if self._finite else math.nan
            counts = np.bincount(self._probe_leaf - leaf0, minlength=len(nodes) - leaf0) / len(self._probe)
            counts = counts * (total if self._finite else 1.0)
        size = np.zeros(len(nodes))
        size[leaf0:] = counts
        for j in range(leaf0 - 1, -1, -1):
            size[j] = size[2 * j + 1] + size[2 * j + 2]
        for nd in nodes:
            nd.region_size = float(size[nd.id]) if self._finite else math.nan
            nd.region_fraction = float(size[nd.id] / total) if self._finite else float(size[nd.id])
        self.history_.append(self._snapshot(used))
        self._clock.add("learn", t0)

    # --- search phase: sampling inside a region, with fall-back --------------------------------
    def _sample(self, leaf: int, rng):
        """A never-queried member of ``leaf``'s region, else of the nearest ancestor's region
        that has one: ``(arch, ref, node it was drawn from)``, or ``(None, None, None)``."""
        node = leaf
        while True:
            if self.sampler_ == "enumerate":
                arch, ref = self._draw_enumerated(node, rng)
            else:
                arch, ref = self._draw_rejection(node, rng)
            if arch is not None:
                return arch, ref, node
            if node == 0:
                if self.sampler_ == "rejection" and self._finite and not self._queried.all():
                    free = np.flatnonzero(~self._queried)  # last resort: any unseen member
                    i = int(free[rng.integers(len(free))])
                    return self._space.arch_at(i), i, 0
                return None, None, None
            node = parent(node)

    def _region_slice(self, j: int) -> np.ndarray:
        """Members of node ``j``'s region (enumerate mode): a contiguous block of the leaf order."""
        shift = self.config.height - 1 - self.tree_[j].depth
        leaf0 = first_leaf(self.config.height)
        lo, hi = ((j + 1) << shift) - 1 - leaf0, ((j + 2) << shift) - 1 - leaf0
        return self._order[self._bounds[lo] : self._bounds[hi]]

    def _draw_enumerated(self, j: int, rng):
        members = self._region_slice(j)
        free = members[~self._queried[members]]
        if len(free) == 0:
            return None, None
        i = int(free[rng.integers(len(free))])
        return self._space.arch_at(i), i

    def _draw_rejection(self, j: int, rng):
        cfg, space = self.config, self._space
        cons = constraints(self.tree_, j)
        for k in range(cfg.rejection_batches):  # uniform proposals: exact uniform on the region
            cands = [space.sample(rng) for _ in range(min(cfg.batch_size, 16 << k))]
            for k in np.flatnonzero(satisfies(space.vectors(cands), cons)):
                if not self._is_seen(cands[k]):
                    return cands[k], None
        if cfg.chain_rounds == 0:
            return None, None
        inside = np.flatnonzero(satisfies(np.asarray(self._rows), cons))
        pool = [self._archs[k] for k in inside]  # chain states: known members of the region
        for _ in range(cfg.chain_rounds if pool else 0):
            props = [space.mutate(pool[int(k)], rng) for k in rng.integers(len(pool), size=cfg.chain_size)]
            ok = np.flatnonzero(satisfies(space.vectors(props), cons))
            for k in ok:
                if not self._is_seen(props[k]):
                    return props[k], None
            pool.extend(props[k] for k in ok)
        return None, None

    # --- back-propagation ----------------------------------------------------------------------
    def _backpropagate(self, reward: float) -> None:
        """Add the newest sample's reward to every node on the path of the leaf it lies in."""
        if self.sampler_ == "enumerate":
            ref = self._space.index(self._archs[-1])
            leaf = int(self._leaf_of[ref])
        else:
            leaf = int(route(self.tree_, self._rows[-1][None, :])[0])
        for j in path_to(leaf):
            self.tree_[j].n += 1
            self.tree_[j].total += reward

    # --- analysis ------------------------------------------------------------------------------
    def _snapshot(self, used: int) -> dict:
        t = self.tree_
        return {
            "queries": int(used),
            "data_mean": np.array([nd.data_mean for nd in t]),
            "count": np.array([len(nd.samples) for nd in t]),
            "region_fraction": np.array([nd.region_fraction for nd in t]),
        }

    def node_stats(self) -> list[dict]:
        """Per node of the current tree: id, depth, leaf, visit count ``n`` and mean reward
        (UCB statistics), samples in the region at the last learning phase and their mean
        reward, region size (members; exact with the enumerate sampler, estimated otherwise,
        NaN on infinite spaces) and fraction of the space, threshold. Rewards are on the
        algorithm's scale (see ``reward_scale``)."""
        return [
            {
                "node": nd.id, "depth": nd.depth, "leaf": nd.leaf, "n": nd.n, "mean": nd.mean,
                "samples": len(nd.samples), "data_mean": nd.data_mean, "region_size": nd.region_size,
                "region_fraction": nd.region_fraction, "threshold": None if nd.leaf else nd.threshold,
            }
            for nd in self.tree_
        ]


@dataclass
class LaNASPaperConfig(LaNASConfig):
    init_samples: int | None = field(2000, "random samples before the first learning phase (paper §6.1: 2,000)")
    count_reset: str = field("zero", "visit counts after relearning: 'zero' (paper §3.2: all counts reset) or 'region'")


class LaNASPaper(LaNAS):
    """LaNAS with the paper's settings (LaNAS): 2,000 initial random samples (§6.1, "We randomly
    pick 2000 networks in initializing LaNAS"), every visit count reset when a new search phase
    starts (§3.2, ``count_reset="zero"``), height 5, #selects 100, c = 0.5 (as ``lanas``).

    ``lanas`` (the harness default) scales the initial samples to the space (74 on NB201) and
    keeps the counts of each node's new region, as the official code does. The warm-up of 2,000
    is kept as given: ``nas-harness run`` refuses budgets under 4,000 queries
    (algorithms.base.WARMUP_CAP)."""

    name = "lanas-paper"
    Config = LaNASPaperConfig


class _Clock:
    """Wall-clock and CPU seconds accumulated per phase."""

    PHASES = ("init", "learn", "select", "sample", "query", "backprop", "total")

    def __init__(self):
        self.wall = dict.fromkeys(self.PHASES, 0.0)
        self.cpu = dict.fromkeys(self.PHASES, 0.0)

    @staticmethod
    def now() -> tuple[float, float]:
        return time.perf_counter(), time.process_time()

    def add(self, phase: str, since: tuple[float, float]) -> tuple[float, float]:
        """Charge the time since ``since`` to ``phase``; returns now."""
        t = self.now()
        self.wall[phase] += t[0] - since[0]
        self.cpu[phase] += t[1] - since[1]
        return t


def _one_blas_thread():
    """BLAS limited to one thread during a run: its matrices are tiny (``d + 1`` columns), so
    threads only add overhead (10x slower on a loaded 2-core machine). No-op without
    threadpoolctl."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def all_vectors(space) -> np.ndarray:
    """Encodings of every member of a finite space, ``(size, vector_dim)`` float32, computed
    once per process (read-only)."""
    key = (space.id, space.size)
    if key not in _ALL_VECTORS:
        V = np.asarray(space.vectors([space.arch_at(i) for i in range(space.size)]), dtype=np.float32)
        V.setflags(write=False)
        _ALL_VECTORS[key] = V
    return _ALL_VECTORS[key]


def plot_node_means(history: list[dict], path: str, nodes=None, title: str = "LaNAS node means") -> str:
    """Draw the mean reward of each node's samples after every learning phase (the dynamics of
    Fig. 4) against the number of queries; writes ``path`` (PNG/PDF/SVG by extension).

    ``history`` is ``LaNAS.history_``; ``nodes`` selects node ids (default: the leaves).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not history:
        raise ConfigError("plot_node_means: empty history (run LaNAS first)")
    q = np.array([h["queries"] for h in history])
    means = np.vstack([h["data_mean"] for h in history])
    total = means.shape[1]
    if nodes is None:
        nodes = range(first_leaf((total + 1).bit_length() - 1), total)
    fig = Figure(figsize=(7, 4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for j in nodes:
        ax.plot(q, means[:, j], label=f"node {j}", lw=1)
    ax.set_xlabel("queries")
    ax.set_ylabel("mean reward of the node's samples")
    ax.set_title(title)
    if len(list(nodes)) <= 16:
        ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path)
    return path
