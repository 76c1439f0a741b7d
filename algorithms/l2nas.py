"""L2NAS: an actor proposes continuous architecture hyperparameters α, a quantile critic judges them.

Implements Mills et al., "L2NAS: Learning to Optimize Neural Architectures via Continuous-Action
Reinforcement Learning" (CIKM 2021; L2NAS (docs/references.md)): §2.2 (actor, state, reward
Eq. 3), §2.3 (critic without state input, check loss Eq. 5, actor loss Eq. 6, replay buffer,
C batches per step, ε-greedy and random warm-up exploration, noise Eq. 4), §2.4 (rescaled
reward Eq. 7), §3.4 (network sizes, Adam) and the NB201 hyperparameters of §4.1. The
discretization of α (Alg. 1 per-row argmax for NB201/OFA, Alg. 2 for DARTS) belongs to the
search space: this module calls ``space.discretize`` and ``space.onehot``.

One step (every step is one ``oracle.query``; the counting rule decides what a repeat costs)::

    α_t = U(0,1)^{|E|x|O|}              with probability ε_t (or while t < W in warm-up mode)
          μ(s_t) + U(-ξ, ξ)             otherwise                                  (Eq. 4)
    x_t = space.discretize(α_t);  acc_t = oracle.query(x_t)
    r_t = 100 ** (acc_t / acc_scale)    (Eq. 3)  or  100 ** (acc_t / acc_env) / 100 - 1  (Eq. 7)
    R  <- R + (s_t, α_t, r_t);  s_{t+1} = mean one-hot α^d of the top-K architectures so far
    C = min(|R| // |B_R|, C_max) times (once |R| >= |B_R|), on a batch B drawn with replacement:
        critic: minimize mean ρ_τ(r_i - Q(α_i))           (Eq. 5, ρ_τ(u) = u (τ - 1[u <= 0]))
        actor:  minimize -mean Q(μ(s_i))                  (Eq. 6, see below for the sign)

Choices where the paper is silent or ambiguous (each exposed in the config):

* Eq. 6 prints ``L_Actor = mean Q(μ(s_i))`` as the actor's loss; minimizing it would *lower*
  the critic's value. As in DDPG (which the paper follows) the actor ascends Q, i.e. minimizes
  ``-mean Q(μ(s_i))``.
* Learning rates are the printed ones (actor 1e-8, critic 1e-4). With Adam a step moves each
  weight by about ``lr``, so after 1,000 steps x 10 batches the actor's weights move by at most
  about 1e-4: its output then changes only because its *input* (the top-K state) changes; the
  registered ``l2nas`` keeps this faithful default. ``l2nas-tuned`` (:class:`L2NASTuned`) uses a
  larger actor rate chosen on a different benchmark; see ``docs/l2nas.md`` for the measurement.
* ε schedule: ``ε_t = ε_end + (ε_start - ε_end) (1 + cos(π t / T)) / 2`` for ``t < T`` and
  ``ε_end`` afterwards (T = 175 on NB201: ε reaches 0.05 at step 175, 0-based steps).
* The state before the first query is all zeros; with fewer than K architectures seen it is the
  mean over those seen (each row of the state then sums to 1). The top-K are distinct
  architectures (a repeated query does not enter twice) ranked by the best value observed for
  them; ties keep the earlier one.
* Actions keep the exploration noise (no clipping to [0, 1]); the stored α is the action taken.
* Accuracies: ``acc = value / acc_scale`` (benchmarks here report %, so ``acc_scale = 100``).
  For a metric to be minimized the negated value is used.
* Network initialization: PyTorch's default ``nn.Linear`` scheme drawn from a
  ``torch.Generator`` seeded from the run's numpy generator; every other random number
  (ε, random actions, noise, replay batches) comes from the numpy generator. Deterministic on
  CPU; ``threads`` torch threads (default 1) during the run.
* Steps and free repeats: the ε schedule and warm-up count *steps*, as in the paper, where a
  step is one benchmark query. Under the counting rule ``all`` steps and counted queries are
  the same (this is the paper's setting). Under ``unique`` a step that proposes an already
  queried architecture is free (it still enters the replay buffer and triggers training), so a
  run takes more steps than counted queries; the same seed proposes the same sequence of
  architectures under both rules. ``max_steps`` caps the steps; ``max_free_streak``
  consecutive free steps end the run early (a converged policy that only repeats itself).
* Hidden width ``hidden = 0`` picks the paper's sizes: 128 when α has at most 100 entries
  (NB201: 6x5), else 256 (DARTS: 2x14x7, OFA: 20x9 + 5x3).

Registered configurations: ``l2nas`` (faithful, NB201 §4.1), ``l2nas-tuned`` (larger actor
rate), ``l2nas-darts`` (the DARTS/OFA settings of §4.2: K = 500, τ = 0.95, |B_R| = 64,
ξ = 5e-5, C_max = 1, replay of the last 5,000 steps, random warm-up W = 3,000, 256 units).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from algorithms.base import Algorithm, field
from harness.agents import AgentFiles
from harness.errors import BudgetExhausted, ConfigError

EXPLORATION = ("epsilon", "warmup")
REWARDS = ("exp", "rescaled")


@dataclass
class L2NASConfig:
    hidden: int = field(0, "units per hidden layer of actor and critic (0: 128 if α has <= 100 entries, else 256; §3.4)")
    layers: int = field(3, "hidden layers of actor and critic (§3.4)")
    actor_lr: float = field(1e-8, "Adam learning rate of the actor (§3.4, as printed)")
    critic_lr: float = field(1e-4, "Adam learning rate of the critic (§3.4)")
    adam_beta1: float = field(0.9, "Adam β1 (§3.4)")
    adam_beta2: float = field(0.99, "Adam β2 (§3.4)")
    tau: float = field(0.9, "quantile level τ of the critic's check loss (Eq. 5; §4.1)")
    top_k: int = field(64, "K: the state averages the one-hot α^d of the top-K architectures so far (§2.2)")
    batch_size: int = field(8, "|B_R|: replay batch size; training starts once |R| >= |B_R| (§2.3)")
    c_max: int = field(10, "C_max: at most this many batches per step, C = min(|R| // |B_R|, C_max) (§2.3)")
    replay_size: int = field(0, "keep only the last N experiences (0: all; DARTS setting: 5000)")
    xi: float = field(1e-4, "ξ: actor actions get Uniform(-ξ, ξ) noise (Eq. 4)")
    exploration: str = field("epsilon", "'epsilon' (ε-greedy, cosine-annealed) or 'warmup' (random actions for W steps)")
    epsilon_start: float = field(1.0, "ε at step 0")
    epsilon_end: float = field(0.05, "minimum ε, reached at step epsilon_steps")
    epsilon_steps: int = field(175, "steps of the cosine annealing of ε")
    warmup_steps: int = field(3000, "W: random actions in the first W steps (exploration='warmup')")
    reward: str = field("exp", "'exp': r = 100^acc (Eq. 3); 'rescaled': r = 100^(acc/acc_env)/100 - 1 (Eq. 7)")
    acc_env: float = field(0.0, "Acc(Env) of Eq. 7, in the oracle's units (required for reward='rescaled')")
    acc_scale: float = field(100.0, "acc = oracle value / acc_scale (100 for accuracies in %)")
    max_steps: int = field(0, "stop after this many steps (0: the oracle's budget ends the run)")
    max_free_streak: int = field(1000, "end the run after this many consecutive free (cached) steps")
    threads: int = field(1, "torch CPU threads during the run")
    agent: str = field("", "start from a trained agent file (actor and critic; {seed}: the run's seed, {results}: the "
                           "results folder) and fine-tune it here (§2.4); its source's queries are recorded apart")
    save_agent: str = field("", "write the agent (actor and critic) to this file at the end ({seed}, {results} as "
                                "for agent); logged to MLflow as the run's artifact agent/")

    def __post_init__(self):
        c = self
        if c.exploration not in EXPLORATION:
            raise ConfigError(f"l2nas: unknown exploration {c.exploration!r}; choose one of: {', '.join(EXPLORATION)}")
        if c.reward not in REWARDS:
            raise ConfigError(f"l2nas: unknown reward {c.reward!r}; choose one of: {', '.join(REWARDS)}")
        if c.reward == "rescaled" and not c.acc_env > 0:
            raise ConfigError("l2nas: reward='rescaled' (Eq. 7) needs acc_env > 0 (Acc(Env), in the oracle's units)")
        if not 0.0 < c.tau < 1.0:
            raise ConfigError(f"l2nas: tau must lie in (0, 1), got {c.tau}")
        for name in ("top_k", "batch_size", "c_max", "layers", "threads", "max_free_streak"):
            if int(getattr(c, name)) < 1:
                raise ConfigError(f"l2nas: {name} must be >= 1, got {getattr(c, name)}")
        for name in ("hidden", "replay_size", "max_steps", "epsilon_steps", "warmup_steps"):
            if int(getattr(c, name)) < 0:
                raise ConfigError(f"l2nas: {name} must be >= 0, got {getattr(c, name)}")
        if c.replay_size and c.replay_size < c.batch_size:
            raise ConfigError(f"l2nas: replay_size {c.replay_size} is smaller than batch_size {c.batch_size}")
        if not (0.0 <= c.epsilon_end <= 1.0 and 0.0 <= c.epsilon_start <= 1.0):
            raise ConfigError("l2nas: epsilon_start and epsilon_end must lie in [0, 1]")
        if c.actor_lr < 0 or c.critic_lr < 0 or c.xi < 0 or not c.acc_scale > 0:
            raise ConfigError("l2nas: learning rates and xi must be >= 0 and acc_scale > 0")


# --- pieces (public so the tests can check each against the paper) ------------------------------


def check_loss(u, tau: float):
    """Mean check (pinball) loss ρ_τ(u) = u (τ - 1[u <= 0]) of residuals ``u = r - Q`` (Eq. 5).

    Works on torch tensors (differentiable) and numpy arrays.
    """
    return (tau * u - u * (u <= 0)).mean()  # = u (τ - 1[u <= 0]), in u's own dtype


def epsilon_at(step: int, start: float, end: float, steps: int) -> float:
    """ε of step ``step`` (0-based) under cosine annealing from ``start`` to ``end`` over ``steps``."""
    if step >= steps:
        return end
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * step / steps))


def reward_exp(acc):
    """Eq. 3: ``r = 100 ** acc`` with ``acc`` in [0, 1]."""
    return 100.0 ** acc


def reward_rescaled(acc, acc_env):
    """Eq. 7: ``r = 100 ** (acc / acc_env) / 100 - 1`` (``acc`` and ``acc_env`` in the same units)."""
    return 100.0 ** (acc / acc_env) / 100.0 - 1.0


class AlphaLayout:
    """How α of a space is laid out: ``space.onehot`` gives one array (e.g. NB201 (6, 5), DARTS
    (2, 14, 7)) or a tuple of matrices (e.g. OFA (20, 9) and (5, 3)); the networks see the
    flattened concatenation of ``size`` entries."""

    def __init__(self, space):
        probe = space.sample(np.random.default_rng(0))  # a fixed probe: the run's stream is untouched
        oh = space.onehot(probe)
        self.is_tuple = isinstance(oh, (tuple, list))
        mats = list(oh) if self.is_tuple else [oh]
        self.shapes = [tuple(np.shape(m)) for m in mats]
        self.sizes = [int(np.prod(s)) for s in self.shapes]
        self.size = int(sum(self.sizes))
        self._splits = np.cumsum(self.sizes)[:-1]

    def flat(self, onehot) -> np.ndarray:
        """The α (or α^d) of a space as a flat float32 vector of length ``size``."""
        if self.is_tuple:
            return np.concatenate([np.asarray(m, dtype=np.float32).reshape(-1) for m in onehot])
        return np.asarray(onehot, dtype=np.float32).reshape(-1)

    def unflat(self, vec):
        """A flat vector back in the space's α layout (split and reshaped)."""
        vec = np.asarray(vec)
        if not self.is_tuple:
            return vec.reshape(self.shapes[0])
        return tuple(p.reshape(s) for p, s in zip(np.split(vec, self._splits), self.shapes))


class TopK:
    """The K best *distinct* architectures seen so far and the state they define (§2.2).

    ``state()`` is the mean of their one-hot α^d (shape ``(dim,)``), zeros before any is seen.
    An architecture is ranked by the best value observed for it; ties keep the earlier one.
    """

    def __init__(self, k: int, dim: int):
        self.k = int(k)
        self.dim = int(dim)
        self._best: dict = {}  # arch -> best value seen
        self._order: dict = {}  # arch -> first-seen counter (tie-break)
        self._members: list = []  # sorted (-value, order, arch), at most k
        self._onehot: dict = {}  # member arch -> one-hot vector
        self._sum = np.zeros(self.dim, dtype=np.float64)

    def add(self, arch, value: float, onehot: np.ndarray) -> None:
        old = self._best.get(arch)
        if old is not None and value <= old:
            return
        if old is None:
            self._order[arch] = len(self._order)
        self._best[arch] = value
        order = self._order[arch]
        if arch in self._onehot:  # a member improved: re-rank it
            i = self._members.index((-old, order, arch))
            del self._members[i]
            bisect.insort(self._members, (-value, order, arch))
            return
        item = (-value, order, arch)
        if len(self._members) >= self.k:
            if item >= self._members[-1]:
                return  # not better than the worst member
            _, _, out = self._members.pop()
            self._sum -= self._onehot.pop(out)
        bisect.insort(self._members, item)
        oh = np.asarray(onehot, dtype=np.float64).reshape(-1)
        self._onehot[arch] = oh
        self._sum += oh

    @property
    def members(self) -> list:
        """The top architectures, best first."""
        return [a for _, _, a in self._members]

    def state(self) -> np.ndarray:
        n = len(self._members)
        if n == 0:
            return np.zeros(self.dim, dtype=np.float32)
        return (self._sum / n).astype(np.float32)


class Replay:
    """Replay buffer of ``(s, α, r)`` (float32 arrays), optionally keeping only the last ``capacity``."""

    def __init__(self, dim: int, capacity: int = 0):
        self.capacity = int(capacity)
        n = self.capacity or 1024
        self.s = np.zeros((n, dim), dtype=np.float32)
        self.a = np.zeros((n, dim), dtype=np.float32)
        self.r = np.zeros(n, dtype=np.float32)
        self.n = 0  # stored experiences
        self._next = 0

    def __len__(self) -> int:
        return self.n

    def add(self, s, a, r) -> None:
        if not self.capacity and self.n == len(self.r):  # unbounded: grow
            for name in ("s", "a", "r"):
                old = getattr(self, name)
                new = np.zeros((2 * old.shape[0],) + old.shape[1:], dtype=old.dtype)
                new[: old.shape[0]] = old
                setattr(self, name, new)
        i = self._next
        self.s[i], self.a[i], self.r[i] = s, a, r
        self._next = (i + 1) % self.capacity if self.capacity else i + 1
        self.n = min(self.n + 1, self.capacity) if self.capacity else self.n + 1


def mlp(n_in: int, hidden: int, layers: int, n_out: int, sigmoid: bool, gen):
    """MLP with ``layers`` ReLU hidden layers; PyTorch's default Linear init drawn from ``gen``."""
    import torch
    from torch import nn

    mods, d = [], n_in
    for width in [hidden] * layers + [n_out]:
        lin = nn.utils.skip_init(nn.Linear, d, width)  # no draw from torch's global generator
        nn.init.kaiming_uniform_(lin.weight, a=math.sqrt(5), generator=gen)
        bound = 1.0 / math.sqrt(d)
        nn.init.uniform_(lin.bias, -bound, bound, generator=gen)
        mods += [lin, nn.ReLU()]
        d = width
    mods.pop()  # no ReLU after the output layer
    if sigmoid:
        mods.append(nn.Sigmoid())
    return nn.Sequential(*mods).to(torch.float32)


def _adam(params, lr: float, betas):
    """Adam; the fused CPU kernel where this torch has it (about 2x faster on these tiny nets)."""
    import torch

    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
    except (RuntimeError, TypeError, ValueError):  # older torch: no fused CPU Adam
        return torch.optim.Adam(params, lr=lr, betas=betas, foreach=True)


class FlatAdam:
    """``torch.optim.Adam(params, lr, betas, fused=True)`` with the per-step Python overhead
    removed: the parameters become views of one flat tensor and their ``.grad`` views of
    another (autograd accumulates into an existing ``.grad`` in place), so ``zero_grad`` is one
    ``zero_`` and ``step`` one call of the same fused kernel on the flat tensors. The update of
    every element is the same as torch's fused Adam's (an element-wise kernel), so results are
    identical. Falls back to :func:`_adam` where torch has no fused CPU Adam."""

    def __init__(self, params, lr: float, betas):
        import torch

        params = list(params)
        self.lr, self.betas = float(lr), (float(betas[0]), float(betas[1]))
        self._opt = None
        if not (hasattr(torch, "_fused_adam_") and all(p.device.type == "cpu" for p in params)):
            self._opt = _adam(params, lr, betas)  # pragma: no cover - older torch
            return
        ref = params[0]
        n = sum(p.numel() for p in params)
        self.flat = torch.empty(n, dtype=ref.dtype)
        self.grad = torch.zeros(n, dtype=ref.dtype)
        o = 0
        for p in params:
            k = p.numel()
            self.flat[o : o + k].copy_(p.detach().reshape(-1))
            p.data = self.flat[o : o + k].view_as(p)
            p.grad = self.grad[o : o + k].view_as(p)
            o += k
        self.params = params
        self.m = torch.zeros_like(self.flat)
        self.v = torch.zeros_like(self.flat)
        self.step_t = torch.zeros((), dtype=torch.float32)

    def zero_grad(self) -> None:
        if self._opt is not None:  # pragma: no cover
            self._opt.zero_grad(set_to_none=True)
        else:
            self.grad.zero_()

    def step(self) -> None:
        import torch

        if self._opt is not None:  # pragma: no cover
            self._opt.step()
            return
        self.step_t += 1
        torch._fused_adam_([self.flat], [self.grad], [self.m], [self.v], [], [self.step_t], lr=self.lr,
                           beta1=self.betas[0], beta2=self.betas[1], weight_decay=0.0, eps=1e-8, amsgrad=False,
                           maximize=False)


def _layers(net) -> list:
    """``[(weight, bias, activation)]`` of an :func:`mlp` (plain tensors: no module calls per step)."""
    import torch
    from torch import nn

    mods = list(net)
    out = []
    for i, m in enumerate(mods):
        if isinstance(m, nn.Linear):
            nxt = mods[i + 1] if i + 1 < len(mods) else None
            act = torch.relu if isinstance(nxt, nn.ReLU) else (torch.sigmoid if isinstance(nxt, nn.Sigmoid) else None)
            out.append((m.weight, m.bias, act))
    return out


def _apply(layers, x):
    """The forward pass of :func:`mlp` written with ``F.linear`` (what ``nn.Linear`` calls)."""
    from torch.nn.functional import linear

    for w, b, act in layers:
        x = linear(x, w, b)
        if act is not None:
            x = act(x)
    return x


class Agent:
    """Actor μ(s) (sigmoid output) and critic Q(α) (identity output), each with its own Adam."""

    def __init__(self, dim: int, hidden: int, cfg: L2NASConfig, gen):
        self.cfg = cfg
        self.dim = int(dim)
        self.actor = mlp(dim, hidden, cfg.layers, dim, sigmoid=True, gen=gen)
        self.critic = mlp(dim, hidden, cfg.layers, 1, sigmoid=False, gen=gen)
        self.actor_opt = FlatAdam(self.actor.parameters(), cfg.actor_lr, (cfg.adam_beta1, cfg.adam_beta2))
        self.critic_opt = FlatAdam(self.critic.parameters(), cfg.critic_lr, (cfg.adam_beta1, cfg.adam_beta2))
        self._actor, self._critic = _layers(self.actor), _layers(self.critic)  # after the flat re-binding

    def act(self, state: np.ndarray) -> np.ndarray:
        """μ(s) as float64, shape ``(dim,)``."""
        import torch

        with torch.no_grad():
            return _apply(self._actor, torch.from_numpy(np.asarray(state, dtype=np.float32))).numpy().astype(np.float64)

    def q(self, alphas: np.ndarray) -> np.ndarray:
        """Critic values of α's, shape ``(n,)``."""
        import torch

        with torch.no_grad():
            x = torch.from_numpy(np.asarray(alphas, dtype=np.float32).reshape(-1, self.dim))
            return _apply(self._critic, x).numpy()[:, 0]

    def _step(self, s, a, r):
        """One critic step (Eq. 5) then one actor step (Eq. 6) on a batch of tensors; the losses
        as tensors (no synchronization)."""
        critic_loss = check_loss(r - _apply(self._critic, a)[:, 0], self.cfg.tau)
        self.critic_opt.zero_grad()
        critic_loss.backward()
        self.critic_opt.step()
        actor_loss = -_apply(self._critic, _apply(self._actor, s)).mean()
        self.actor_opt.zero_grad()
        actor_loss.backward()  # also fills critic grads; cleared before the next critic step
        self.actor_opt.step()
        return critic_loss, actor_loss

    def update(self, s, a, r) -> tuple[float, float]:
        """One critic step (Eq. 5) then one actor step (Eq. 6) on a batch; returns both losses."""
        import torch

        critic_loss, actor_loss = self._step(torch.from_numpy(s), torch.from_numpy(a), torch.from_numpy(r))
        return critic_loss.item(), actor_loss.item()

    def train(self, replay: Replay, rng: np.random.Generator) -> int:
        """C = min(|R| // |B_R|, C_max) updates on batches drawn with replacement; returns C.
        The C batches are gathered at once (one copy per array), then updated on one by one."""
        import torch

        b = self.cfg.batch_size
        if len(replay) < b:
            return 0
        c = min(len(replay) // b, self.cfg.c_max)
        idx = rng.integers(0, len(replay), size=(c, b))
        S, A, R = torch.from_numpy(replay.s[idx]), torch.from_numpy(replay.a[idx]), torch.from_numpy(replay.r[idx])
        for k in range(c):
            self._step(S[k], A[k], R[k])
        return c


# --- the algorithm ---------------------------------------------------------------------------


class L2NAS(AgentFiles, Algorithm):
    """L2NAS with the paper's NAS-Bench-201 settings (§4.1): see the module docstring.

    ``agent`` / ``save_agent``: the transfer setting of §2.4 / §4.4 (pre-train, save the actor and
    critic, fine-tune them on another dataset of the same space; :mod:`harness.agents`)."""

    name = "l2nas"
    agent_family = "l2nas"
    Config = L2NASConfig
    requires = ("onehot",)
    # small and quick: under 'unique' a static actor would spend many free steps per new query
    test_hyperparameters: ClassVar[dict] = {
        "hidden": 16, "top_k": 8, "c_max": 2, "epsilon_steps": 20, "epsilon_end": 0.3, "actor_lr": 1e-3,
    }

    def warmup(self, budget: int, space) -> int:
        """``warmup_steps`` random actions under ``exploration='warmup'`` (at most half the budget,
        algorithms.base.WARMUP_CAP; a step queries at most one new architecture, so this bounds the
        warm-up's queries); ε-greedy exploration has no separate warm-up phase (0)."""
        return int(self.config.warmup_steps) if self.config.exploration == "warmup" else 0

    def reward(self, value: float, maximize: bool = True) -> float:
        """The reward of an oracle value (Eq. 3 or Eq. 7)."""
        c = self.config
        v = value if maximize else -value
        if c.reward == "rescaled":
            return float(reward_rescaled(v, c.acc_env))
        return float(reward_exp(v / c.acc_scale))

    def explore(self, step: int, rng: np.random.Generator) -> bool:
        """Whether step ``step`` takes a uniformly random action."""
        c = self.config
        if c.exploration == "warmup":
            return step < c.warmup_steps
        return rng.random() < epsilon_at(step, c.epsilon_start, c.epsilon_end, c.epsilon_steps)

    def run(self, oracle, rng: np.random.Generator) -> None:
        import torch

        from harness.rng import torch_generator

        c = self.config
        space = oracle.space
        layout = AlphaLayout(space)
        dim = layout.size
        hidden = c.hidden or (128 if dim <= 100 else 256)
        agent = self._start_agent(dim, hidden, space, torch_generator(rng))
        replay = Replay(dim, c.replay_size)
        topk = TopK(c.top_k, dim)
        actor0 = [p.detach().clone() for p in agent.actor.parameters()]
        # diagnostics, read by tests and benches after the run (never by the harness)
        self.agent_, self.topk_, self.replay_ = agent, topk, replay
        self.diagnostics_ = diag = {"steps": 0, "free_steps": 0, "random_steps": 0, "updates": 0, "stopped": ""}
        state = topk.state()
        self.state_ = state
        streak = 0
        threads = torch.get_num_threads()
        torch.set_num_threads(c.threads)
        done = False  # the run ended as a run ends (budget, max_steps, free streak), not by an error
        try:
            while not c.max_steps or diag["steps"] < c.max_steps:
                step = diag["steps"]
                if self.explore(step, rng):
                    alpha = rng.random(dim)
                    diag["random_steps"] += 1
                else:
                    alpha = agent.act(state) + rng.uniform(-c.xi, c.xi, dim)
                arch = space.discretize(layout.unflat(alpha))
                used = oracle.used
                value = oracle.query(arch)  # BudgetExhausted ends the run here
                free = oracle.used == used
                streak = streak + 1 if free else 0
                diag["free_steps"] += free
                replay.add(state, alpha, self.reward(value, oracle.maximize))
                topk.add(arch, value if oracle.maximize else -value, layout.flat(space.onehot(arch)))
                state = self.state_ = topk.state()
                diag["updates"] += agent.train(replay, rng)
                diag["steps"] = step + 1
                if streak >= c.max_free_streak:
                    diag["stopped"] = "free_streak"
                    done = True
                    return
            diag["stopped"] = "max_steps"
            done = True
        except BudgetExhausted:
            done = True
            raise
        finally:
            torch.set_num_threads(threads)
            if c.save_agent and done:
                self._save_l2nas_agent(space, agent, oracle, dim)
            with torch.no_grad():
                diag["actor_max_weight_change"] = max(
                    float((p - p0).abs().max()) for p, p0 in zip(agent.actor.parameters(), actor0)
                )


    # --- agent files (harness.agents) ----------------------------------------------------------
    def _start_agent(self, dim: int, hidden: int, space, gen) -> Agent:
        """A fresh :class:`Agent`, or the one in the ``agent`` file (its widths and depth)."""
        import dataclasses

        self._agent_run_meta = {}
        if not self.config.agent:
            return Agent(dim, hidden, self.config, gen)
        state, meta = self._load_agent(space)
        net = meta.get("network") or {}
        if int(net.get("dim", -1)) != dim:
            raise ConfigError(f"the L2NAS agent file has α of {net.get('dim')} entries, space {space.id} has {dim}")
        cfg = dataclasses.replace(self.config, layers=int(net["layers"]))
        agent = Agent(dim, int(net["hidden"]), cfg, gen)
        try:
            agent.actor.load_state_dict(state["actor"])
            agent.critic.load_state_dict(state["critic"])
        except (KeyError, RuntimeError) as e:
            raise ConfigError(f"the agent file does not hold a usable L2NAS actor and critic ({str(e)[:160]})") from None
        return agent

    def _save_l2nas_agent(self, space, agent: Agent, oracle, dim: int) -> None:
        state = {"actor": agent.actor.state_dict(), "critic": agent.critic.state_dict()}
        network = {"dim": dim, "hidden": int(agent.critic[0].out_features),
                   "layers": sum(isinstance(m, type(agent.critic[0])) for m in agent.critic) - 1}
        source = int((getattr(self, "_agent_run_meta", None) or {}).get("source_training_queries", 0))
        ledger = {"training_queries": source + int(oracle.used), "steps": int(self.diagnostics_["steps"])}
        self._save_agent(space, state, ledger, network)


@dataclass
class L2NASTunedConfig(L2NASConfig):
    actor_lr: float = field(1e-4, "Adam learning rate of the actor (tuned; the printed 1e-8 leaves the actor static)")


class L2NASTuned(L2NAS):
    """L2NAS with a larger actor learning rate (everything else as ``l2nas``).

    Evidence (``docs/l2nas.md``; ``nas-harness bench l2nas --actor-study --seeds 10``, on
    ``nb201-analog``, a different table from the NB201 reproduction): with the printed rate 1e-8
    the actor's weights move by at most 1.4e-4 in 1,000 steps and the proposals equal those of a
    frozen actor (rate 0) in 9 of 10 seeds (best baseline accuracy after 1,000 steps 93.53 ± 0.14
    for both; only ~137 distinct architectures, those of the ε-random steps). Rates 1e-5, 1e-4,
    1e-3 gave 93.76 ± 0.21, 93.89 ± 0.09, 93.81 ± 0.12 (optimum 94.07): 1e-4 is used here.
    """

    name = "l2nas-tuned"
    Config = L2NASTunedConfig


@dataclass
class L2NASDartsConfig(L2NASConfig):
    top_k: int = field(500, "K (§4.2)")
    tau: float = field(0.95, "quantile level τ (§4.2)")
    batch_size: int = field(64, "|B_R| (§4.2)")
    xi: float = field(5e-5, "ξ (§4.2; 1e-4 on OFA, §4.3)")
    c_max: int = field(1, "C_max (§4.2)")
    replay_size: int = field(5000, "keep the last 5,000 experiences (§4.2)")
    exploration: str = field("warmup", "random warm-up (§4.2)")
    warmup_steps: int = field(3000, "W (§4.2)")
    hidden: int = field(256, "units per hidden layer (§3.4)")


class L2NASDarts(L2NAS):
    """L2NAS with the DARTS/OFA settings of §4.2 (20k steps there; OFA §4.3 uses ξ = 1e-4)."""

    name = "l2nas-darts"
    Config = L2NASDartsConfig
    test_hyperparameters: ClassVar[dict] = {
        "hidden": 16, "top_k": 8, "batch_size": 8, "warmup_steps": 30, "replay_size": 40, "actor_lr": 1e-3, "xi": 0.05,
    }
