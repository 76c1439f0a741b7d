"""BONAS: Bayesian Optimized Neural Architecture Search (Shi et al., BONAS, docs/references.md, §3, Algorithm 1).

Bayesian optimization whose surrogate is a GCN embedding extractor (§3.1) with Bayesian linear
regression replacing its last layer (§3.2); the acquisition is expected improvement (Eq. 1-2)
over a candidate pool drawn by a sampler (§3.3). The surrogate pieces live in
:mod:`algorithms.bonas_gcn`; this module is the loop (Algorithm 1) and the samplers:

1. ``n_init`` random architectures are queried (paper: 10, counted in the budget);
2. the GCN is trained on all data with the chosen loss (default: the exponential weighted
   loss of Eq. 6), then its embeddings of the data feed the BLR, whose ``alpha, beta``
   maximize the marginal likelihood;
3. repeat: the sampler proposes a pool (paper: 1,000) of architectures not queried yet; the
   pool is embedded in one batched forward pass; the architecture with the highest EI
   against the best observed value is queried; the BLR is refit (``alpha, beta`` re-estimated)
   with the new point; the sampler is updated; every ``retrain_every`` new samples (paper
   ``k`` = 10) the GCN is retrained on the enlarged data (from a fresh initialization unless
   ``warm_start``) and the embeddings recomputed.

Samplers (§3.3), hyperparameter ``sampler``:

* ``"ea"`` (default, the paper's BONAS(EA)): aging evolution with tournament selection (Real
  et al. 2019). The population is the ``ea_population`` most recently queried architectures
  with their observed values (the oldest leaves when a new sample joins, §3.5). Each of
  ``pool_size`` draws picks ``ea_tournament`` distinct members at random and mutates the best
  with ``space.mutate``; the pool is the distinct, not yet queried children (24-323 of 1,000
  draws on NB201, median 146, issue 16). ``ea_fill=True`` keeps drawing until the pool holds
  ``pool_size`` distinct unqueried children (the paper's pool of 1,000; at most 50 x
  ``pool_size`` draws). The default stays ``False`` (not re-measured yet). ``space.mutate``
  is the paper's mutation where it applies: on NB201 one node's op changes (the adjacency is
  fixed, footnote 1); on NAS-Bench-Graph one edge is re-sourced or one op changed. (The
  paper also allows "changing" an op to itself; such a child is its queried parent and is
  excluded from the pool anyway.)
* ``"random"`` (BONAS(RS)): ``pool_size`` distinct unqueried architectures drawn uniformly.
* ``"rl"`` (BONAS(RL)): a controller rewarded with EI instead of accuracy. Here the
  controller is a factorized categorical policy over the space's ``decisions`` view (one
  softmax per decision; not the paper's LSTM), trained by REINFORCE with Adam (``rl_lr``):
  each iteration it samples ``rl_samples`` architectures (paper ``R`` = 1,000), scores them
  with the current EI, takes ``rl_updates`` gradient steps with the batch-normalized EI as
  advantage, then the pool is drawn from the updated policy.

When a sampler has no unqueried candidate to offer, the pool is filled at random.

Choices the paper leaves open (all exposed as hyperparameters and documented in
docs/bonas.md): training epochs per (re)training (``epochs``, default 300: with at most 128
training cells an epoch is one Adam step, and 100 epochs (the authors' released surrogate)
under-fit on NB201: held-out correlation and samples-to-optimum both improve at 300); edges of the GCN (``edges="undirected"``: Eq. 3's symmetric normalization
applied to the symmetrized cell graph, which predicts far better than data-flow-only message
passing, see docs/bonas.md); the BLR input (``blr_features="embedding"``, the global node's
output phi(A, X) of §3.2, plus a constant bias feature; ``"hidden"`` uses the regressor's
hidden layer instead); target scaling (``target_scale``: accuracies in % are divided by 100 so
the weighted losses see [0, 1], other metrics are min-max scaled with "higher is better");
EA population and tournament sizes; the RL controller and its learning rate.

Implementation (``gcn_impl``): ``"dense"`` (default) trains and embeds cells as dense padded
batches and reuses a cell's embedding until the next retrain (the GCN only changes there; a
retrain clears the cache), and the EA mutates a round's tournament winners with one
``space.mutate_many`` call (vectorised on NB201: the same children and the same use of ``rng``
as one ``space.mutate`` call per winner, tested); ``"sparse"`` is the original implementation
throughout (block-diagonal torch-geometric batches, one ``mutate`` call per winner), kept as the
baseline of the speed bench (``nas-harness bench bonas-gcn --speed``). The math is the same (see
:mod:`algorithms.bonas_gcn`): the two differ by float rounding only, and the dense path's
shortcuts (A X computed once per training batch, no loss values computed during the search's
training, the BLR's evidence terms reused between fixed-point iterates) change no bit of its
trajectory.

Determinism: everything random comes from ``rng``; torch runs inside
``torch.random.fork_rng`` seeded from ``rng`` (the global torch state is restored after the
run) with ``threads`` CPU threads (default 1). Same seed, same trajectory on CPU.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from algorithms.base import Algorithm, field
from algorithms.bonas_gcn import (
    EDGE_MODES,
    GCN_IMPLS,
    LOSSES,
    BayesianLinearRegression,
    DenseBatch,
    GraphBatch,
    dense_cell,
    expected_improvement,
    features,
    make_gcn,
    reinit_gcn,
    train_gcn,
)
from harness.errors import ConfigError, InvalidArchitecture

SAMPLERS = ("ea", "random", "rl")
TARGET_SCALES = ("auto", "unit", "percent", "minmax")
BLR_FEATURES = ("embedding", "hidden")


@dataclass
class BONASConfig:
    sampler: str = field("ea", "candidate-pool sampler: ea (aging evolution), random, rl (REINFORCE on EI)")
    n_init: int = field(10, "initial random architectures, counted in the budget (paper: 10)")
    pool_size: int = field(1000, "candidates per iteration: random/rl pools hold this many distinct unqueried "
                                 "architectures; ea makes this many tournament draws (a pool of their distinct "
                                 "unqueried children, often far fewer) unless ea_fill")
    ea_fill: bool = field(False, "EA: keep drawing tournaments until the pool holds pool_size distinct unqueried "
                                 "children (at most 50 x pool_size draws)")
    retrain_every: int = field(10, "retrain the GCN every k new samples; the BLR is refit after each (paper k: 10)")
    epochs: int = field(300, "training epochs of the GCN at each (re)training")
    batch_size: int = field(128, "mini-batch size of GCN training (paper: 128)")
    lr: float = field(1e-3, "Adam learning rate of GCN training (paper: 0.001)")
    loss: str = field("exp", "GCN training loss: exp (Eq. 6), log, linear (§4.5), mse")
    gcn_layers: int = field(4, "GCN hidden layers (paper: 4)")
    gcn_hidden: int = field(64, "units per GCN layer = embedding size (paper: 64)")
    regressor_hidden: int = field(64, "hidden units of the single-hidden-layer regressor head")
    edges: str = field("undirected", "GCN message passing: undirected (symmetrized cell graph) or forward (data flow)")
    blr_features: str = field("embedding", "BLR input: embedding (global node output) or hidden (regressor hidden layer)")
    warm_start: bool = field(False, "continue training the previous GCN instead of retraining from a fresh init")
    target_scale: str = field("auto", "target scaling for the losses: auto, unit, percent (/100), minmax")
    ea_population: int = field(100, "EA: population size (most recent queried architectures)")
    ea_tournament: int = field(10, "EA: tournament size")
    rl_samples: int = field(1000, "RL: architectures sampled per controller update (paper R: 1,000)")
    rl_updates: int = field(1, "RL: controller updates per iteration")
    rl_lr: float = field(0.05, "RL: Adam learning rate of the controller logits")
    gcn_impl: str = field("dense", "GCN batching: dense (padded batches, one batched matmul per layer, hand-written "
                                   "backward, embeddings cached between retrains) or sparse (block-diagonal graph, "
                                   "torch-geometric GCNConv, autograd: the original implementation); same math")
    device: str = field("cpu", "torch device: cpu or cuda")
    threads: int = field(1, "torch CPU threads during the run (restored afterwards)")

    def __post_init__(self):
        for name, value, choices in (
            ("sampler", self.sampler, SAMPLERS),
            ("loss", self.loss, LOSSES),
            ("edges", self.edges, EDGE_MODES),
            ("blr_features", self.blr_features, BLR_FEATURES),
            ("target_scale", self.target_scale, TARGET_SCALES),
            ("gcn_impl", self.gcn_impl, GCN_IMPLS),
        ):
            if value not in choices:
                raise ConfigError(f"bonas: unknown {name} {value!r}; choose one of: {', '.join(choices)}")
        for name in ("n_init", "pool_size", "retrain_every", "batch_size", "gcn_layers", "gcn_hidden",
                     "regressor_hidden", "ea_population", "ea_tournament", "rl_samples", "threads"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"bonas: {name} must be >= 1, got {getattr(self, name)}")
        if self.epochs < 0 or self.rl_updates < 0:
            raise ConfigError("bonas: epochs and rl_updates must be >= 0")
        if not (self.device == "cpu" or self.device.startswith("cuda")):
            raise ConfigError(f"bonas: device must be cpu or cuda[:N], got {self.device!r}")


# --- samplers (§3.3) -------------------------------------------------------------------------
class RandomSampler:
    """Uniform, distinct, unqueried architectures."""

    def __init__(self, space, key=None):
        self.space = space
        self.key = key or space.key

    def tell(self, arch, value: float) -> None:
        pass

    def propose(self, n: int, excluded: set, rng, score=None) -> list:
        space, out, seen = self.space, [], set()
        if space.finite and space.size <= 10_000_000:
            for i in rng.permutation(space.size)[: n + len(excluded)]:
                a = space.arch_at(int(i))
                k = self.key(a)
                if k not in excluded:
                    out.append(a)
                    if len(out) == n:
                        break
            return out
        for _ in range(20 * n):
            a = space.sample(rng)
            k = self.key(a)
            if k not in excluded and k not in seen:
                seen.add(k)
                out.append(a)
                if len(out) == n:
                    break
        return out


class EvolutionSampler:
    """Aging evolution with tournament selection (Real et al. 2019) as a pool sampler."""

    def __init__(self, space, population: int, tournament: int, key=None, fill: bool = False, batched: bool = False):
        self.space = space
        self.key = key or space.key
        self.tournament = tournament
        self.fill = fill  # draw until n distinct unqueried children (bounded), not n draws
        # mutate all winners of a round with one space.mutate_many call (same children, same rng
        # use; not with fill, which stops mid-round); False: one space.mutate call per winner
        self.batched = batched
        self.pop: deque = deque(maxlen=population)  # (arch, signed value), oldest first

    def tell(self, arch, value: float) -> None:
        self.pop.append((arch, value))

    def propose(self, n: int, excluded: set, rng, score=None) -> list:
        P = len(self.pop)
        if P == 0:
            return []
        S = min(self.tournament, P)
        vals = np.array([v for _, v in self.pop])
        space, out, seen = self.space, [], set()
        draws, limit = 0, (50 * n if self.fill else n)
        while draws < limit and (not out or len(out) < n):
            m = n if not self.fill else min(n - len(out), limit - draws)
            if S < P:
                members = np.argpartition(rng.random((m, P)), S - 1, axis=1)[:, :S]
            else:
                members = np.broadcast_to(np.arange(P), (m, P))
            winners = members[np.arange(m), np.argmax(vals[members], axis=1)]
            draws += m
            if self.batched and not self.fill:  # the same children, mutated in one call
                parents = [a for a, _ in self.pop]
                # repeats dropped first (a repeat has its first copy's key: it would be skipped)
                children = dict.fromkeys(space.mutate_many([parents[w] for w in winners.tolist()], rng))
            else:
                children = (space.mutate(self.pop[int(w)][0], rng) for w in winners)
            for child in children:
                k = self.key(child)
                if k not in excluded and k not in seen:
                    seen.add(k)
                    out.append(child)
                    if self.fill and len(out) == n:
                        break
            if not self.fill:
                break
        return out


class RLSampler:
    """A factorized softmax controller over ``space.decisions``, REINFORCE with EI rewards."""

    def __init__(self, space, samples: int, updates: int, lr: float, key=None):
        self.space = space
        self.key = key or space.key
        self.samples, self.updates, self.lr = samples, updates, lr
        self.sizes = [int(k) for k in space.decisions]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)])
        D = int(self.offsets[-1])
        self.logits = np.zeros(D)
        self._m, self._v, self._t = np.zeros(D), np.zeros(D), 0

    def tell(self, arch, value: float) -> None:
        pass

    def probs(self) -> list[np.ndarray]:
        out = []
        for j in range(len(self.sizes)):
            z = self.logits[self.offsets[j] : self.offsets[j + 1]]
            e = np.exp(z - z.max())
            out.append(e / e.sum())
        return out

    def _sample(self, n: int, rng):
        probs = self.probs()
        u = rng.random((n, len(self.sizes)))
        choices = np.stack(
            [np.minimum(np.searchsorted(np.cumsum(p), u[:, j], side="right"), len(p) - 1) for j, p in enumerate(probs)],
            axis=1,
        )
        archs = []
        for row in choices.tolist():
            try:
                archs.append(self.space.from_decisions(row))
            except InvalidArchitecture:
                archs.append(None)
        return choices, archs, probs

    def update(self, rng, score) -> None:
        """One REINFORCE step: sample, reward with EI, ascend the normalized-advantage gradient."""
        choices, archs, probs = self._sample(self.samples, rng)
        ok = np.array([a is not None for a in archs])
        if ok.sum() < 2:
            return
        reward = np.zeros(len(archs))
        reward[ok] = score([a for a in archs if a is not None])
        adv = np.zeros(len(archs))
        r = reward[ok]
        adv[ok] = (r - r.mean()) / (r.std() + 1e-12)
        grad = np.zeros_like(self.logits)
        for j, p in enumerate(probs):
            onehot = np.zeros((len(archs), len(p)))
            onehot[np.arange(len(archs)), choices[:, j]] = 1.0
            grad[self.offsets[j] : self.offsets[j + 1]] = (adv[:, None] * (onehot - p)).sum(0) / ok.sum()
        # Adam ascent on the logits
        self._t += 1
        b1, b2 = 0.9, 0.999
        self._m = b1 * self._m + (1 - b1) * grad
        self._v = b2 * self._v + (1 - b2) * grad**2
        mhat = self._m / (1 - b1**self._t)
        vhat = self._v / (1 - b2**self._t)
        self.logits += self.lr * mhat / (np.sqrt(vhat) + 1e-8)

    def propose(self, n: int, excluded: set, rng, score=None) -> list:
        for _ in range(self.updates):
            self.update(rng, score)
        _, archs, _ = self._sample(n, rng)
        space, out, seen = self.space, [], set()
        for a in archs:
            if a is None:
                continue
            k = self.key(a)
            if k not in excluded and k not in seen:
                seen.add(k)
                out.append(a)
        return out


# --- the algorithm ---------------------------------------------------------------------------
class BONAS(Algorithm):
    """BONAS (Algorithm 1): GCN embedding + Bayesian linear regression + EI over a sampled pool."""

    name = "bonas"
    Config = BONASConfig
    requires = ("graph",)
    test_hyperparameters: ClassVar[dict] = {
        "epochs": 5, "pool_size": 40, "gcn_hidden": 16, "regressor_hidden": 16, "rl_samples": 40,
    }

    def warmup(self, budget: int, space) -> int:
        """``n_init`` random architectures (step 1), at most half the budget (algorithms.base.WARMUP_CAP)."""
        return int(self.config.n_init)

    def run(self, oracle, rng) -> None:
        import torch

        c = self.config
        space = oracle.space
        if "graph" not in space.encodings:
            raise ConfigError(f"bonas needs a search space with a graph encoding; {space.id} has {space.encodings}")
        if c.sampler == "rl" and space.decisions is None:
            raise ConfigError(f"bonas sampler 'rl' needs a space with a decisions view; {space.id} has none")
        if c.device.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError("bonas: device cuda requested but torch sees no CUDA device")
        threads = torch.get_num_threads()
        torch.set_num_threads(int(c.threads))
        devices = [torch.device(c.device).index or 0] if c.device.startswith("cuda") else []
        try:
            with _blas_threads(int(c.threads)), torch.random.fork_rng(devices=devices):
                torch.manual_seed(int(rng.integers(0, 2**63 - 1)))
                _Search(c, oracle, rng).run()
        finally:
            torch.set_num_threads(threads)


def _blas_threads(n: int):
    """Limit numpy's BLAS threads for the run (small matrices: threads only contend) when
    ``threadpoolctl`` is installed; otherwise a no-op."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(n)


class _Search:
    """State of one BONAS run (kept out of the Algorithm so ``__init__`` only stores)."""

    def __init__(self, c: BONASConfig, oracle, rng):
        self.c, self.oracle, self.rng = c, oracle, rng
        self.space = oracle.space
        self.sign = 1.0 if oracle.maximize else -1.0
        self.archs: list = []
        self.values: list[float] = []  # signed: higher is better
        self.keys: set = set()
        self._graphs: dict = {}
        self._cells: dict = {}  # dense: arch -> (normalized adjacency, features), built once per cell
        self._emb: dict = {}  # dense: arch -> BLR design row under the current GCN (cleared at retrain)
        self._keys: dict = {}
        self.model = None
        self.phi = None  # BLR design matrix of the data, (N, M)
        if c.sampler == "ea":
            self.sampler = EvolutionSampler(self.space, c.ea_population, c.ea_tournament, self.key, fill=c.ea_fill,
                                           batched=c.gcn_impl == "dense")
        elif c.sampler == "rl":
            self.sampler = RLSampler(self.space, c.rl_samples, c.rl_updates, c.rl_lr, self.key)
        else:
            self.sampler = RandomSampler(self.space, self.key)
        self.random = RandomSampler(self.space, self.key)

    # --- data -------------------------------------------------------------------------------
    def query(self, arch) -> float:
        v = self.sign * float(self.oracle.query(arch))
        self.archs.append(arch)
        self.values.append(v)
        self.keys.add(self.key(arch))
        self.sampler.tell(arch, v)
        return v

    def key(self, arch) -> str:
        k = self._keys.get(arch)
        if k is None:
            if len(self._keys) >= 200_000:
                self._keys.clear()
            k = self._keys[arch] = self.space.key(arch)
        return k

    def graph(self, arch):
        g = self._graphs.get(arch)
        if g is None:
            if len(self._graphs) >= 200_000:
                self._graphs.clear()
            g = self._graphs[arch] = self.space.graph(arch)
        return g

    def cell(self, arch):
        """The dense arrays of ``arch`` (:func:`dense_cell`), cached per cell."""
        c = self._cells.get(arch)
        if c is None:
            if len(self._cells) >= 200_000:
                self._cells.clear()
            g = self.graph(arch)
            c = self._cells[arch] = dense_cell(g[0], g[1], self.c.edges)
        return c

    def batch(self, archs):
        if self.c.gcn_impl == "dense":
            return DenseBatch.from_cells([self.cell(a) for a in archs]).to(self.c.device)
        gs = [self.graph(a) for a in archs]
        if len({g[1].shape for g in gs}) == 1:
            b = GraphBatch.from_arrays(np.stack([g[0] for g in gs]), np.stack([g[1] for g in gs]), self.c.edges)
        else:
            b = GraphBatch.from_graphs(gs, self.c.edges)
        return b.to(self.c.device)

    def _choose_scale(self) -> None:
        c, v = self.c, np.asarray(self.values)
        mode = c.target_scale
        if mode == "auto":
            if self.sign > 0 and v.min() >= 0 and v.max() <= 1:
                mode = "unit"
            elif self.sign > 0 and v.min() >= 0 and v.max() <= 100:
                mode = "percent"
            else:
                mode = "minmax"
        self.scale_mode = mode

    def targets(self) -> np.ndarray:
        """Observed values scaled for the losses (higher is better, in [0, 1] where possible)."""
        v = np.asarray(self.values, dtype=float)
        if self.scale_mode == "unit":
            return v
        if self.scale_mode == "percent":
            return v / 100.0
        lo, hi = self._lohi
        return (v - lo) / (hi - lo) if hi > lo else v - lo

    # --- surrogate --------------------------------------------------------------------------
    def retrain(self) -> None:
        c = self.c
        if self.scale_mode == "minmax":
            self._lohi = (min(self.values), max(self.values))
        t = self.targets()
        if c.gcn_impl == "dense":
            data = self.batch(self.archs)
            in_dim = data.x.shape[2] - 1
            if self.model is not None and not c.warm_start and c.device == "cpu" \
                    and self.model.convs[0].in_channels == in_dim + 1:
                reinit_gcn(self.model)  # a fresh initialization, drawn as make_gcn draws it
            elif self.model is None or not c.warm_start:
                self.model = make_gcn(in_dim, c.gcn_hidden, c.gcn_layers, c.regressor_hidden).to(c.device)
            train_gcn(self.model, None, None, t, self.rng, epochs=c.epochs, batch_size=c.batch_size, lr=c.lr,
                      loss=c.loss, edges=c.edges, device=c.device, impl="dense", batch=data, history=False)
            self._emb.clear()  # a new GCN: every cached embedding is stale
            self.phi = self._design(features(self.model, data, c.blr_features))
            self._emb.update(zip(self.archs, self.phi))
            self.fit_blr()
            return
        gs = [self.graph(a) for a in self.archs]
        adj = np.stack([g[0] for g in gs])
        feats = np.stack([g[1] for g in gs])
        if self.model is None or not c.warm_start:
            self.model = make_gcn(feats.shape[2], c.gcn_hidden, c.gcn_layers, c.regressor_hidden).to(c.device)
        train_gcn(self.model, adj, feats, t, self.rng, epochs=c.epochs, batch_size=c.batch_size, lr=c.lr,
                  loss=c.loss, edges=c.edges, device=c.device, impl="sparse")
        self.phi = self.embed(self.archs)
        self.fit_blr()

    @staticmethod
    def _design(f: np.ndarray) -> np.ndarray:
        return np.hstack([f, np.ones((f.shape[0], 1))])

    def embed(self, archs) -> np.ndarray:
        """BLR design rows of ``archs``: features plus a constant bias column, ``(B, M)``. With
        ``gcn_impl="dense"`` a cell's row is computed once per trained GCN and then reused (the
        GCN only changes at a retrain)."""
        if self.c.gcn_impl != "dense":
            return self._design(features(self.model, self.batch(archs), self.c.blr_features))
        cache = self._emb
        new = [a for a in dict.fromkeys(archs) if a not in cache]
        if new:
            if len(cache) + len(new) > 200_000:
                cache.clear()
                new = list(dict.fromkeys(archs))
            rows = self._design(features(self.model, self.batch(new), self.c.blr_features))
            cache.update(zip(new, rows))
        return np.stack([cache[a] for a in archs])

    def fit_blr(self) -> None:
        t = self.targets()
        self.t_mean, self.t_std = float(t.mean()), float(t.std()) or 1.0
        prev = getattr(self, "blr", None)
        a0, b0 = (prev.alpha, prev.beta) if prev is not None else (1.0, 1.0)
        self.blr = BayesianLinearRegression(alpha=a0, beta=b0).fit(self.phi, (t - self.t_mean) / self.t_std)
        self.best = float(t.max())

    def ei_of_rows(self, phi: np.ndarray) -> np.ndarray:
        mu, var = self.blr.predict(phi)
        mu = self.t_mean + self.t_std * mu
        sigma = self.t_std * np.sqrt(np.maximum(var, 0.0))
        return expected_improvement(mu, sigma, self.best)

    def score(self, archs) -> np.ndarray:
        """EI of ``archs`` under the current surrogate (the RL controller's reward)."""
        return self.ei_of_rows(self.embed(archs))

    # --- Algorithm 1 ------------------------------------------------------------------------
    def run(self) -> None:
        c = self.c
        for a in self.random.propose(c.n_init, self.keys, self.rng):  # step 1
            self.query(a)
        if not self.archs:
            return
        self._choose_scale()
        self.retrain()  # steps 2-3
        since = 0
        while True:
            pool = self.sampler.propose(c.pool_size, self.keys, self.rng, self.score)  # step 7
            if not pool:
                pool = self.random.propose(c.pool_size, self.keys, self.rng)
                if not pool:
                    return  # nothing left to query
            phi = self.embed(pool)  # steps 8-10: one batched forward pass
            ei = self.ei_of_rows(phi)  # step 11
            i = int(np.argmax(ei))  # step 13
            self.query(pool[i])  # steps 14-15 (and step 17: the sampler sees the new sample)
            since += 1
            if since >= c.retrain_every:  # step 19
                since = 0
                self.retrain()
            else:  # step 16
                self.phi = np.vstack([self.phi, phi[i : i + 1]])
                self.fit_blr()
