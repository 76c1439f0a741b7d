"""Ape-X training (Horgan et al. 2018) of the incremental-NAS agent (Ape-X NAS (docs/references.md) §3.2.3, §4.1.1).

Roles:

* :class:`Actor`: steps ``envs_per_actor`` environments (:class:`~algorithms.apex.env.IncrementalNAS`,
  16-step training episodes) with an epsilon-greedy policy on a local copy of the network,
  ``epsilon_i = epsilon ** (1 + alpha * i / (N - 1))`` for actor ``i`` of ``N`` (``epsilon = 0.4``,
  ``alpha = 7``; one actor gets ``epsilon``), builds 3-step transitions with partial episode
  bootstrapping (:class:`~algorithms.apex.replay.NStepAccumulator`) and gives each its initial
  priority ``|R + d * max_a Q(s', a) - Q(s, a)|`` from its local network, as Ape-X actors do (the
  bootstrap value comes from the next forward pass the actor makes anyway; only truncated
  episodes need one extra row).
* :class:`Learner`: prioritized replay (capacity 25,000, ``alpha = 0.6``, ``beta = 0.4``; one
  buffer, or ``replay_shards`` shards as in the paper, :class:`~algorithms.apex.replay.ShardedReplay`),
  Adam (lr 4e-5), ``gamma = 0.9``, double Q-learning with a target network copied every
  ``target_update`` updates, importance-weighted Huber loss, gradient norm clipped at 40 (Ape-X),
  priorities refreshed with the new ``|td|``. The learner broadcasts its weights to the actors
  every ``publish_interval`` (P) updates. Cost of one update (paper network, batch 64, one
  torch thread): the forward + backward of the batch plus the two gradient-free forwards of
  the bootstrap observations that double Q needs (online and target network), run on torch's
  inference path (:meth:`Learner.double_q_targets`); sampling, Adam (fused) and the priority
  write-back add about 3%. ``bench apex --only learner`` measured 60% of a bare forward +
  backward's rate in the same run (load average 1.6, 2 cores, 2026-12-01), 7.3 updates/s:
  the two extra forwards are 2/3 of a forward + backward's arithmetic, so 3 / (3 + 2) = 60% is
  the bound for an exact double-Q update at equal kernel speed (``docs/apex.md``, Throughput).
* :func:`train`: the loop, with three executors. All three hold the **replay ratio** ``r``
  (``ApeXConfig.ratio()``: learner updates per environment step): once replay holds
  ``learning_starts`` transitions, the learner has done ``floor(r * S)`` updates after ``S``
  environment steps (counted from the start of the experience message that filled replay to
  ``learning_starts``; inline: the round of all actors). A learner ahead of its updates waits
  for experience; actors ahead of the learner are throttled (bounded queue / one request in
  flight per actor) while it catches up, and after the last experience the learner finishes
  the updates due. So for the same environment steps every executor does the same number of
  updates (``achieved_replay_ratio`` in the history).

  - ``inline`` (default): actors stepped in turn in this process, then the updates due.
    Deterministic under the seed (tests, the Algorithm's default).
  - ``process``: each actor is a separate process (``multiprocessing``, spawn context) sending
    messages of ``actor_chunk`` rounds through its own queue, at most ``actor_credits`` messages
    in flight (credits the learner returns as it takes the messages: with 2, the default, an
    actor collects its next message while the learner takes the last, where with 1 it waited
    for every hand-over); the learner puts its weights into one single-slot queue per actor.
    Not deterministic (timing).
  - ``ray``: the same with Ray core actors (``ray.remote`` classes, ``ray.wait``/``ray.put``;
    ``actor_credits`` ``collect`` requests in flight per actor, run one after the other in the
    order sent); no RLlib. Joins the runtime :func:`harness.ray_local.connect` gives (an initialized one, the
    cluster at ``address`` / ``RAY_ADDRESS``, else a new loopback-only local one). With
    ``replay_shards > 1`` the shards are Ray actors too and the actors insert into them directly.

  In both, as in the inline executor's rounds, the learner takes the messages in actor order
  (0, 1, ..., N-1, 0, ...), so every actor (every epsilon) gives the same share of the
  experience whatever its process's speed (``TrainResult.actor_steps``); the actors start with
  the learner's weights and take a new broadcast at the start of every round, within a message
  too (Ray: ``set_weights`` runs in its own concurrency group, beside ``collect``). ``policy_lag``
  in the history: learner updates between the weights experience was collected with and the
  learner taking it (inline: below P; process/ray: below P plus ``actor_credits`` messages of
  updates per actor).

Training queries: actors read values through ``oracle.training()`` (inline) or through its
``detached()`` copy in other processes, whose counts the learner charges back; every value
read (each reset and each move) is one training query, reported apart from the search budget.

Checkpoints (``checkpoint`` path, every ``checkpoint_every`` updates and at the end): network,
target, optimizer, replay, counters and, for ``inline``, every actor's full state (random
generators, environments, pending n-step steps), so an interrupted inline run resumes to the
same result as an uninterrupted one. ``process``/``ray`` runs resume the learner and replay and
start fresh actor episodes. Saved with ``torch.save`` and loaded with ``weights_only=True``.

Logging: every ``log_every`` updates one entry of ``history`` with ``loss``,
``episode_improvement`` (mean end-minus-start search value of the training episodes finished
since the last entry), ``episode_return``, ``env_steps_per_s``, ``updates_per_s``,
``training_queries``, ``replay_size``, ``achieved_replay_ratio`` and ``policy_lag``; each value also goes to the
``diagnostic(name, value, step)`` callable given to :func:`train` (the run's
``oracle.log_diagnostic``, which the launcher logs to MLflow) as ``training/<name>`` with the
environment steps as the step.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import os
import queue as queue_mod
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from algorithms.apex.agent import build_network, double_q_targets
from algorithms.apex.encoding import ArchTable, Encoder
from algorithms.apex.env import IncrementalNAS
from algorithms.apex.replay import NStepAccumulator, PrioritizedReplay, ShardedReplay
from algorithms.apex.config import ApeXConfig
from harness.rng import torch_generator


def actor_epsilon(i: int, n: int, epsilon: float = 0.4, alpha: float = 7.0) -> float:
    """Ape-X's ``epsilon ** (1 + alpha * i / (n - 1))`` (``epsilon`` when ``n == 1``)."""
    return float(epsilon ** (1 + alpha * i / (n - 1))) if n > 1 else float(epsilon)


def make_network(cfg: ApeXConfig, space, dim: int, gen: torch.Generator):
    return build_network(dim, cfg.n_neighbours + 1, gen, latent=cfg.latent_size(space),
                         layers=cfg.transformer_layers, heads=cfg.heads, encoder_layers=cfg.encoder_layers,
                         head=cfg.head)


def _np_weights(net) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy().copy() for k, v in net.state_dict().items()}


def _load_weights(net, weights: dict) -> None:
    net.load_state_dict({k: torch.as_tensor(np.asarray(v)) for k, v in weights.items()})


def greedy_epsilon_actions(q: np.ndarray, mask: np.ndarray, eps: float, rng: np.random.Generator) -> np.ndarray:
    """Argmax of ``q`` per row, replaced with probability ``eps`` by a uniform valid action."""
    a = q.argmax(1)
    if eps > 0:
        explore = rng.random(len(a)) < eps
        for i in np.flatnonzero(explore):
            valid = np.flatnonzero(mask[i])
            a[i] = valid[int(rng.integers(len(valid)))]
    return a


class Actor:
    """One Ape-X actor: ``envs_per_actor`` environments, a local network, n-step builders."""

    def __init__(self, cfg: ApeXConfig, space, values, index: int, n_actors: int, rng: np.random.Generator,
                 table: ArchTable | None = None, reset: bool = True):
        self.cfg, self.space, self.index = cfg, space, index
        self.rng = rng
        self.epsilon = actor_epsilon(index, n_actors, cfg.epsilon, cfg.epsilon_alpha)
        self.env = IncrementalNAS(space, values, cfg.envs_per_actor, cfg.n_neighbours, cfg.train_steps_per_episode,
                                  alpha=cfg.alpha, value_scale=cfg.value_scale, normalize_reward=cfg.normalize_reward,
                                  reward_reference=cfg.reward_reference, encoding=cfg.encoding, table=table, rng=rng)
        self.table = self.env.table
        self.net = make_network(cfg, space, self.table.encoder.dim, torch_generator(rng))
        self.net.eval()
        self.acc = [NStepAccumulator(cfg.n_step, cfg.gamma) for _ in range(cfg.envs_per_actor)]
        self.awaiting: list = []  # (transition, row of the next pass holding its bootstrap observation)
        self.extra_rows: list[np.ndarray] = []  # bootstrap observations of truncated episodes
        self.steps = 0
        self.version = -1  # learner updates of the weights this actor acts with (-1: its own initial ones)
        self.episode_log: list[tuple[float, float, float]] = []  # (start value, end value, return)
        self._returns = np.zeros(cfg.envs_per_actor)
        if reset:  # (not when a checkpointed state is loaded next)
            self.env.reset()

    def set_weights(self, weights: dict, version: int = -1) -> None:
        _load_weights(self.net, weights)
        self.version = int(version)

    def _forward(self, ids: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(self.table.encode(ids))
        with torch.no_grad():
            return self.net(x, torch.from_numpy(ids > 0)).numpy()

    def collect(self, rounds: int = 1, before_round=None) -> dict[str, Any]:
        """Step every environment ``rounds`` times; return the completed transitions (arrays
        ``obs``, ``action``, ``ret``, ``next_obs``, ``discount``, ``priority``), ``steps``, ``queries``,
        the finished episodes (``episodes``: rows of start value, end value, return) and ``version``
        (mean learner updates of the weights acted with; -1 if some round used the actor's own
        initial weights). ``before_round()``, if given, is called before each round (the
        distributed actors take newly broadcast weights there)."""
        out: list = []
        q0 = self.env.queries
        n_env = self.env.n_envs
        versions = []
        for _ in range(rounds):
            if before_round is not None:
                before_round()
            versions.append(self.version)
            ids = self.env.obs_ids
            if self.extra_rows:
                ids = np.concatenate([ids, np.stack(self.extra_rows)])
            q = self._forward(ids)
            vmax = q.max(1)
            for tr, row in self.awaiting:
                tr.priority = abs(tr.ret + tr.discount * vmax[row] - tr.extra)
                out.append(tr)
            self.awaiting, self.extra_rows = [], []
            qc = q[:n_env]
            actions = greedy_epsilon_actions(qc, self.env.mask, self.epsilon, self.rng)
            q_sa = qc[np.arange(n_env), actions]
            before = self.env.obs_ids.copy()
            rewards, term, trunc, _ = self.env.step(actions)
            self.steps += n_env
            self._returns += rewards
            done = np.flatnonzero(term | trunc)
            for i in range(n_env):
                after = self.env.obs_ids[i].copy()
                for tr in self.acc[i].add(before[i], actions[i], rewards[i], after, term[i], trunc[i],
                                          extra=float(q_sa[i])):
                    if tr.discount == 0:
                        tr.priority = abs(tr.ret - tr.extra)
                        out.append(tr)
                    elif trunc[i]:
                        self.awaiting.append((tr, n_env + len(self.extra_rows)))
                    else:
                        self.awaiting.append((tr, i))
                if trunc[i]:
                    self.extra_rows.append(after)
            if len(done):
                for i in done:
                    self.episode_log.append((float(self.env.start_value[i]), float(self.env.value[i]), float(self._returns[i])))
                    self._returns[i] = 0.0
                self.env.reset(done)
        episodes, self.episode_log = self.episode_log, []
        batch = {
            "obs": np.array([t.obs for t in out], dtype=np.int32).reshape(-1, self.cfg.n_neighbours + 1),
            "action": np.array([t.action for t in out], dtype=np.int64),
            "ret": np.array([t.ret for t in out], dtype=np.float32),
            "next_obs": np.array([t.next_obs for t in out], dtype=np.int32).reshape(-1, self.cfg.n_neighbours + 1),
            "discount": np.array([t.discount for t in out], dtype=np.float32),
            "priority": np.array([t.priority for t in out], dtype=float),
            "steps": rounds * n_env,
            "queries": self.env.queries - q0,
            "episodes": np.array(episodes, dtype=float).reshape(-1, 3),
            "actor": self.index,
            "version": float(np.mean(versions)) if versions and min(versions) >= 0 else -1,
        }
        return batch

    # --- checkpoints (inline executor) ---------------------------------------------------
    def state_dict(self) -> dict:
        e = self.env
        return {
            "rng": self.rng.bit_generator.state, "steps": self.steps, "returns": self._returns.tolist(),
            "env": {k: getattr(e, k).tolist() for k in ("obs_ids", "mask", "value", "start_value", "start_id", "steps")}
            | {"queries": e.queries},
            "pending": [[(o.tolist(), a, r, float(x)) for o, a, r, x in acc.pending] for acc in self.acc],
            "awaiting": [([tr.obs.tolist(), tr.action, tr.ret, tr.next_obs.tolist(), tr.discount, tr.steps, float(tr.extra)], row)
                         for tr, row in self.awaiting],
            "extra_rows": [r.tolist() for r in self.extra_rows],
        }

    def load_state_dict(self, d: dict) -> None:
        from algorithms.apex.replay import Transition

        self.rng.bit_generator.state = d["rng"]
        self.steps = int(d["steps"])
        self._returns = np.asarray(d["returns"], dtype=float)
        e = self.env
        for k, dtype in (("obs_ids", np.int64), ("mask", bool), ("value", float), ("start_value", float),
                         ("start_id", np.int64), ("steps", np.int64)):
            getattr(e, k)[...] = np.asarray(d["env"][k], dtype=dtype)
        e.queries = int(d["env"]["queries"])
        for acc, pend in zip(self.acc, d["pending"]):
            acc.clear()
            for o, a, r, x in pend:
                acc.pending.append((np.asarray(o, dtype=np.int64), int(a), float(r), float(x)))
        self.awaiting = []
        for (o, a, r, no, disc, m, x), row in d["awaiting"]:
            self.awaiting.append((Transition(np.asarray(o, dtype=np.int64), int(a), float(r), np.asarray(no, dtype=np.int64),
                                             float(disc), int(m), float(x)), int(row)))
        self.extra_rows = [np.asarray(r, dtype=np.int64) for r in d["extra_rows"]]


def _adam(params, lr: float):
    """Adam with torch's fused kernel (one pass over all parameters per step); the multi-tensor
    ``foreach`` form where this torch has no fused Adam for the device. Both are the same Adam
    (equal within float rounding); torch's default on CPU is a Python loop over ~40 tensors."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr, foreach=True)


def make_replay(cfg: ApeXConfig, make_shard=None, call=None):
    """One :class:`PrioritizedReplay` (``replay_shards == 1``) or a :class:`ShardedReplay`."""
    if cfg.replay_shards == 1 and make_shard is None:
        return PrioritizedReplay(cfg.replay_capacity, cfg.n_neighbours + 1, cfg.priority_alpha, cfg.priority_beta)
    return ShardedReplay(cfg.replay_capacity, cfg.n_neighbours + 1, cfg.replay_shards, cfg.priority_alpha,
                         cfg.priority_beta, make_shard=make_shard, call=call)


class Learner:
    """Prioritized replay + double DQN updates on the transformer network (module docstring)."""

    def __init__(self, cfg: ApeXConfig, space, table: ArchTable, rng: np.random.Generator, replay=None):
        self.cfg, self.table, self.rng = cfg, table, rng
        self.device = torch.device(cfg.device)
        self.net = make_network(cfg, space, table.encoder.dim, torch_generator(rng)).to(self.device)
        self.target = make_network(cfg, space, table.encoder.dim, torch_generator(rng)).to(self.device)
        self.target.load_state_dict(self.net.state_dict())
        self.target.requires_grad_(False)
        # the target network only ever runs without gradients: eval mode (no dropout in the
        # network, so no value changes) lets torch run its fused inference kernels for it
        self.target.eval()
        self.opt = _adam(self.net.parameters(), cfg.lr)
        self.replay = replay if replay is not None else make_replay(cfg)
        self.updates = 0
        self.last_publish = 0  # updates at the last weight publication

    def add(self, batch: dict) -> None:
        obs, nxt = batch["obs"], batch["next_obs"]
        if isinstance(obs, list):  # architectures from another process (non-finite space)
            obs = np.array([[self.table.id(a) if a is not None else 0 for a in row] for row in obs], dtype=np.int32)
            nxt = np.array([[self.table.id(a) if a is not None else 0 for a in row] for row in nxt], dtype=np.int32)
        if isinstance(self.replay, ShardedReplay):
            self.replay.add(obs, batch["action"], batch["ret"], nxt, batch["discount"], batch["priority"],
                            shard=batch.get("actor", 0))
        else:
            self.replay.add(obs, batch["action"], batch["ret"], nxt, batch["discount"], batch["priority"])

    def _tensors(self, ids: np.ndarray):
        x = torch.from_numpy(self.table.encode(ids)).to(self.device)
        return x, torch.from_numpy(ids > 0).to(self.device)

    def double_q_targets(self, next_obs: np.ndarray, ret: np.ndarray, discount: np.ndarray) -> torch.Tensor:
        """``R + d * Q_target(s', argmax_a Q_online(s', a))`` for id rows ``next_obs`` (no gradient).

        Both forwards run on the inference path: no autograd bookkeeping, and the online network
        briefly in eval mode so that torch uses its fused transformer kernels (eval mode changes no
        value: the network has no dropout; results equal the training-mode forward within float
        rounding, ``tests/algorithms/test_apex.py::test_learner_update_matches_the_reference_formula``)."""
        xn, mn = self._tensors(next_obs)
        with torch.no_grad():
            was_training = self.net.training
            self.net.eval()
            try:
                q_online = self.net(xn, mn)
            finally:
                self.net.train(was_training)
            return double_q_targets(torch.from_numpy(ret).to(self.device), torch.from_numpy(discount).to(self.device),
                                    q_online, self.target(xn, mn))

    def update(self) -> float:
        """One gradient step on a prioritized batch; returns the loss."""
        b = self.replay.sample(self.cfg.batch_size, self.rng)
        y = self.double_q_targets(b.next_obs, b.ret, b.discount)
        x, m = self._tensors(b.obs)
        a = torch.from_numpy(b.action).to(self.device)
        q = self.net(x, m).gather(1, a[:, None]).squeeze(1)
        td = q.detach() - y
        w = torch.from_numpy(b.weight).to(self.device)
        loss = (w * torch.nn.functional.huber_loss(q, y, reduction="none")).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.cfg.grad_clip, foreach=True)
        self.opt.step()
        self.replay.update_priorities(b.index, td.abs().cpu().numpy())
        self.updates += 1
        if self.updates % self.cfg.target_update == 0:
            self.target.load_state_dict(self.net.state_dict())
        return float(loss.detach())

    def weights(self) -> dict[str, np.ndarray]:
        return _np_weights(self.net)


# --- checkpoints -----------------------------------------------------------------------------
def _to_saveable(x):
    if isinstance(x, np.ndarray):
        return torch.from_numpy(np.array(x, copy=True))  # keeps 0-d arrays 0-d
    if isinstance(x, dict):
        return {k: _to_saveable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_to_saveable(v) for v in x)
    return x


def _from_saved(x):
    if isinstance(x, torch.Tensor):
        return x.numpy()
    if isinstance(x, dict):
        return {k: _from_saved(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_from_saved(v) for v in x)
    return x


def save_checkpoint(path: str, state: dict) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    torch.save(_to_saveable(state), tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str) -> dict:
    return _from_saved(torch.load(path, map_location="cpu", weights_only=True))


# --- logging ---------------------------------------------------------------------------------
class TrainingLog:
    """Training curves kept in memory (``history``) and sent to a ``diagnostic(name, value, step)``
    callable (the run's ``oracle.log_diagnostic``) as ``training/<name>``, step = env steps."""

    def __init__(self, diagnostic=None):
        self.history: list[dict] = []
        self.t0 = time.perf_counter()
        self._diagnostic = diagnostic

    def log(self, step: int, metrics: dict[str, float]) -> None:
        self.history.append({"env_steps": step, "time": time.perf_counter() - self.t0, **metrics})
        if self._diagnostic is not None:
            for k, v in metrics.items():
                if np.isfinite(v):
                    self._diagnostic(f"training/{k}", float(v), int(step))


class _Stats:
    """Running sums between two log entries."""

    def __init__(self):
        self.t = time.perf_counter()
        self.losses: list[float] = []
        self.episodes: list[np.ndarray] = []
        self.steps = self.updates = 0
        self.lag_sum = self.lag_steps = 0  # policy lag, weighted by environment steps

    def add(self, batch: dict, updates: int) -> None:
        """An experience message taken by the learner when it had done ``updates`` updates."""
        self.steps += batch["steps"]
        self.episodes.append(batch["episodes"])
        if batch.get("version", -1) >= 0:
            self.lag_sum += (updates - batch["version"]) * batch["steps"]
            self.lag_steps += batch["steps"]

    def flush(self, env_steps: int, queries: int, replay: int, ratio: float = float("nan")) -> dict[str, float]:
        dt = max(time.perf_counter() - self.t, 1e-9)
        ep = np.concatenate(self.episodes) if self.episodes else np.zeros((0, 3))
        out = {
            "loss": float(np.mean(self.losses)) if self.losses else float("nan"),
            "episode_improvement": float(np.mean(ep[:, 1] - ep[:, 0])) if len(ep) else float("nan"),
            "episode_return": float(np.mean(ep[:, 2])) if len(ep) else float("nan"),
            "episodes": float(len(ep)),
            "env_steps_per_s": self.steps / dt,
            "updates_per_s": self.updates / dt,
            "training_queries": float(queries),
            "replay_size": float(replay),
            "achieved_replay_ratio": float(ratio),
            "policy_lag": self.lag_sum / self.lag_steps if self.lag_steps else float("nan"),
        }
        self.__init__()
        return out


class RatioSchedule:
    """The replay ratio: how many learner updates are due (module docstring)."""

    def __init__(self, ratio: float, threshold: int):
        self.ratio, self.threshold = float(ratio), int(threshold)
        self.origin_steps: int | None = None  # env steps when learning started
        self.origin_updates = 0  # learner updates at that moment (resumed runs: not 0)

    def observe(self, steps_before: int, replay_size: int, updates: int) -> None:
        """After an experience message: start counting once replay holds enough transitions."""
        if self.origin_steps is None and replay_size >= self.threshold:
            self.origin_steps, self.origin_updates = int(steps_before), int(updates)

    def due(self, env_steps: int, updates: int) -> int:
        if self.origin_steps is None:
            return 0
        target = math.floor(self.ratio * (env_steps - self.origin_steps) + 1e-9)
        return target - (updates - self.origin_updates)

    def achieved(self, env_steps: int, updates: int) -> float:
        if self.origin_steps is None or env_steps <= self.origin_steps:
            return float("nan")
        return (updates - self.origin_updates) / (env_steps - self.origin_steps)

    def state(self) -> list[int]:
        return [-1 if self.origin_steps is None else self.origin_steps, self.origin_updates]

    def load(self, st) -> None:
        self.origin_steps = None if st is None or int(st[0]) < 0 else int(st[0])
        self.origin_updates = 0 if st is None else int(st[1])


# --- the training loop -------------------------------------------------------------------------
@dataclass
class TrainResult:
    """What :func:`train` returns: the learner (its ``net`` is the trained agent), the shared
    table, counters and the logged history."""

    learner: Learner
    table: ArchTable
    env_steps: int
    updates: int
    training_queries: int  # of the whole training of this agent, checkpointed parts included
    history: list[dict]
    wall_time: float  # seconds of this call
    train_seconds: float  # seconds of the whole training, checkpointed parts included
    actor_steps: list[int] = dataclasses.field(default_factory=list)  # env steps the learner took from each actor, this call


def train(cfg: ApeXConfig, space, training, rng: np.random.Generator, log_tags: dict | None = None,
          diagnostic=None, address: str | None = None) -> TrainResult:
    """Train an agent on ``space`` with values from ``training`` (``oracle.training()``).

    Runs until ``cfg.train_steps`` environment steps of experience; resumes from
    ``cfg.checkpoint`` when that file exists. The training queries spent before the checkpoint
    are charged to ``training`` again on resume, so a run that reuses a trained agent still
    reports its whole training cost. ``diagnostic(name, value, step)``: where the training
    curves go besides ``history`` (default: ``training.log_diagnostic`` if it has one).
    ``address``: the Ray cluster of ``executor="ray"`` (default ``RAY_ADDRESS``, else a local
    runtime). ``log_tags`` is accepted for compatibility and unused.
    """
    cfg.validate()
    _set_threads(cfg.threads)
    t0 = time.perf_counter()
    table = ArchTable(space, Encoder(space, cfg.encoding))
    pool = None
    if cfg.executor == "ray":  # the actors (and replay shards) live in Ray; the learner's replay may too
        pool = _RayActors(cfg, space, address)
    learner = Learner(cfg, space, table, rng, replay=pool.replay if pool is not None else None)
    log = TrainingLog(diagnostic if diagnostic is not None else getattr(training, "log_diagnostic", None))
    state = {"env_steps": 0, "deadline": t0 + cfg.max_seconds if cfg.max_seconds > 0 else float("inf"),
             "training": training, "base_queries": training.used, "t0": t0, "prior_seconds": 0.0,
             "schedule": RatioSchedule(cfg.ratio(), max(cfg.learning_starts, cfg.batch_size)),
             "actor_steps": [0] * cfg.actors}
    resume = load_checkpoint(cfg.checkpoint) if cfg.checkpoint and os.path.exists(cfg.checkpoint) else None
    if resume is not None:
        _check_compatible(cfg, resume["config"], cfg.checkpoint)
        _restore_learner(learner, table, resume)
        state["env_steps"] = int(resume["env_steps"])
        state["prior_seconds"] = float(resume["train_seconds"])
        state["schedule"].load(resume.get("ratio_origin"))
        if hasattr(training, "charge"):
            training.charge(int(resume["training_queries"]))
    try:
        if cfg.executor == "inline":
            _train_inline(cfg, space, training, rng, table, learner, log, state, resume)
        else:
            _train_distributed(cfg, space, training, rng, table, learner, log, state, resume, pool)
    finally:
        if pool is not None:
            pool.close()
            pool.shutdown()
    return TrainResult(learner, table, state["env_steps"], learner.updates, training.used - state["base_queries"],
                       log.history, time.perf_counter() - t0, _train_seconds(state), state["actor_steps"])


_THREADS: list[int] = []


def _set_threads(n: int) -> None:
    """``torch.set_num_threads`` once per process and value (it is not free: it rebuilds the
    intra-op pool)."""
    if _THREADS != [n]:
        torch.set_num_threads(n)
        _THREADS[:] = [n]


def _train_seconds(state) -> float:
    return state["prior_seconds"] + time.perf_counter() - state["t0"]


def _learner_state(learner: Learner, table: ArchTable, cfg: ApeXConfig, state: dict) -> dict:
    env_steps = state["env_steps"]
    return {
        "training_queries": state["training"].used - state["base_queries"], "train_seconds": _train_seconds(state),
        "config": dataclasses.asdict(cfg), "net": learner.net.state_dict(), "target": learner.target.state_dict(),
        "optim": learner.opt.state_dict(), "replay": learner.replay.state_dict(), "updates": learner.updates,
        "learner_rng": learner.rng.bit_generator.state, "env_steps": env_steps, "last_publish": learner.last_publish,
        "table_archs": None if table.global_ids else [list(a) for a in table.archs[1:]],
        "ratio_origin": state["schedule"].state(),
    }


SHAPE_FIELDS = ("n_neighbours", "encoding", "latent", "transformer_layers", "heads", "encoder_layers", "head",
                "replay_capacity", "replay_shards")


def _check_compatible(cfg: ApeXConfig, saved: dict, path: str) -> None:
    defaults = {k: ApeXConfig.__dataclass_fields__[k].default for k in SHAPE_FIELDS}
    diff = [f"{k}={saved.get(k, defaults[k])!r} (now {getattr(cfg, k)!r})" for k in SHAPE_FIELDS
            if saved.get(k, defaults[k]) != getattr(cfg, k)]
    if diff:
        from harness.errors import ConfigError

        raise ConfigError(f"checkpoint {path} was made with other settings: {', '.join(diff)}; "
                          "use those settings or another checkpoint file")


def _restore_learner(learner: Learner, table: ArchTable, d: dict) -> None:
    if d.get("table_archs"):
        for a in d["table_archs"]:
            table.id(tuple(a))
    learner.net.load_state_dict({k: torch.as_tensor(v) for k, v in d["net"].items()})
    learner.target.load_state_dict({k: torch.as_tensor(v) for k, v in d["target"].items()})
    learner.opt.load_state_dict(_to_saveable(d["optim"]))
    learner.replay.load_state_dict(d["replay"])
    learner.updates = int(d["updates"])
    # the learner's generator is restored by the executor, after the actor seeds are drawn


def _actor_seeds(rng: np.random.Generator, n: int) -> list[int]:
    return [int(s) for s in rng.integers(0, 2**63 - 1, size=n)]


def _train_inline(cfg, space, training, rng, table, learner, log, state, resume) -> None:
    seeds = _actor_seeds(rng, cfg.actors)
    restore = resume is not None and bool(resume.get("actors"))
    actors = [Actor(cfg, space, training, i, cfg.actors, np.random.default_rng(seeds[i]), table, reset=not restore)
              for i in range(cfg.actors)]
    w = learner.weights()
    for a in actors:
        a.set_weights(w, learner.updates)
    if resume is not None:
        learner.rng.bit_generator.state = resume["learner_rng"]
        learner.last_publish = int(resume["last_publish"])
        for a, d in zip(actors, resume.get("actors") or []):
            a.load_state_dict(d)
            a.set_weights(resume["actor_weights"], learner.last_publish)
    stats = _Stats()

    def checkpoint():
        d = _learner_state(learner, table, cfg, state)
        d["actors"] = [a.state_dict() for a in actors]
        d["actor_weights"] = _np_weights(actors[0].net)
        save_checkpoint(cfg.checkpoint, d)

    def publish():
        w = learner.weights()
        for a in actors:
            a.set_weights(w, learner.updates)

    sched = state["schedule"]
    while state["env_steps"] < cfg.train_steps and time.perf_counter() < state["deadline"]:
        before = state["env_steps"]
        for a in actors:
            b = a.collect(1)
            learner.add(b)
            state["env_steps"] += b["steps"]
            state["actor_steps"][b["actor"]] += b["steps"]
            stats.add(b, learner.updates)
        sched.observe(before, len(learner.replay), learner.updates)
        for _ in range(sched.due(state["env_steps"], learner.updates)):
            _one_update(cfg, learner, stats, log, state, training, publish, checkpoint)
    if stats.steps or stats.updates:  # (updates after the last log entry: the last entry must count them)
        log.log(state["env_steps"], stats.flush(state["env_steps"], training.used, len(learner.replay),
                                                sched.achieved(state["env_steps"], learner.updates)))
    if cfg.checkpoint:
        checkpoint()


def _one_update(cfg, learner, stats, log, state, training, publish, checkpoint) -> None:
    """One learner update with its bookkeeping: log entry, checkpoint, weight broadcast."""
    stats.losses.append(learner.update())
    stats.updates += 1
    if learner.updates % cfg.log_every == 0:
        log.log(state["env_steps"], stats.flush(state["env_steps"], training.used, len(learner.replay),
                                                state["schedule"].achieved(state["env_steps"], learner.updates)))
    if cfg.checkpoint and learner.updates % cfg.checkpoint_every == 0:
        checkpoint()
    if learner.updates - learner.last_publish >= cfg.publish_interval:
        publish()
        learner.last_publish = learner.updates


# --- process and ray executors ------------------------------------------------------------------
class ActorWorker:
    """An :class:`Actor` behind a small interface (the process executor's actor, and the Ray
    executor's remote class). Broadcast weights are taken at the start of the next round, also
    in the middle of a message (Ray: :meth:`set_weights` runs in its own concurrency group, a second
    thread of the actor, while :meth:`collect` runs; process: ``poll`` reads the weight queue)."""

    def __init__(self, cfg: ApeXConfig, values, index: int, n_actors: int, seed: int, shards=None,
                 initial=None, poll=None):
        import threading

        _set_threads(cfg.threads)
        self.shard = shards[index % len(shards)] if shards else None  # a ReplayShard Ray actor to insert into
        self.values = values
        self._reported = values.used  # lookups already charged (none: the first batch carries the resets)
        self.actor = Actor(cfg, values.space, values, index, n_actors, np.random.default_rng(seed))
        if initial is not None:  # (weights, version): the learner's, so no round acts with the actor's own
            self.actor.set_weights(*initial)
        self._lock, self._pending, self._poll = threading.Lock(), None, poll

    def set_weights(self, weights: dict, version: int = -1) -> None:
        with self._lock:  # (Ray's threads may deliver two broadcasts out of order: keep the newest)
            newest = max(self.actor.version, self._pending[1] if self._pending else -1)
            if version >= newest:
                self._pending = (weights, version)

    def _refresh(self) -> None:
        if self._poll is not None:
            self._poll(self)
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is not None:
            self.actor.set_weights(*pending)

    def collect(self, rounds: int) -> dict:
        b = self.actor.collect(rounds, before_round=self._refresh)
        b["queries"] = self.values.used - self._reported  # every lookup since the last batch
        self._reported = self.values.used
        table = self.actor.table
        if self.shard is not None:  # insert into the replay shard; the learner gets the counts only
            import ray

            n = len(b["action"])
            ray.get(self.shard.add.remote({k: b.pop(k) for k in ("obs", "action", "ret", "next_obs", "discount",
                                                                 "priority")}))
            b["transitions"] = n
            return b
        if not table.global_ids:  # ids are local to this process: send the architectures
            b["obs"] = [[table.arch(j) if j else None for j in row] for row in b["obs"]]
            b["next_obs"] = [[table.arch(j) if j else None for j in row] for row in b["next_obs"]]
        return b


def _poll_weights(weights_q):
    """The process actor's ``poll``: the newest (weights, version) of its single-slot queue."""

    def poll(worker) -> None:
        latest = None
        try:
            while True:
                latest = weights_q.get_nowait()
        except queue_mod.Empty:
            pass
        if latest is not None:
            worker.set_weights(*latest)

    return poll


def _actor_process(cfg, values, index, n_actors, seed, initial, weights_q, credit, exp_q, stop) -> None:
    """One process actor: a message of ``actor_chunk`` rounds for each credit it holds (it starts
    with ``actor_credits``; the learner returns one as it takes a message), new weights at every
    round."""
    os.environ.setdefault("OMP_NUM_THREADS", str(cfg.threads))
    worker = ActorWorker(cfg, values, index, n_actors, seed, initial=initial, poll=_poll_weights(weights_q))
    while not stop.is_set():
        if credit.acquire(timeout=0.1):
            exp_q.put(worker.collect(cfg.actor_chunk))
    exp_q.cancel_join_thread()


def _train_distributed(cfg, space, training, rng, table, learner, log, state, resume, pool=None) -> None:
    values = training.detached() if hasattr(training, "detached") else training
    seeds = _actor_seeds(rng, cfg.actors)
    if resume is not None:
        learner.rng.bit_generator.state = resume["learner_rng"]
    stats = _Stats()
    initial = (learner.weights(), learner.updates)
    if pool is None:
        pool = _ProcessActors(cfg, values, seeds, initial)
    else:
        pool.start(values, seeds, initial)
    sched = state["schedule"]

    def publish():
        pool.publish(learner.weights(), learner.updates)

    def checkpoint():
        save_checkpoint(cfg.checkpoint, _learner_state(learner, table, cfg, state))

    try:
        _distributed_loop(cfg, training, learner, log, state, stats, pool, publish, checkpoint)
    finally:
        pool.close()
    if stats.steps or stats.updates:  # (updates after the last log entry: the last entry must count them)
        log.log(state["env_steps"], stats.flush(state["env_steps"], training.used, len(learner.replay),
                                                sched.achieved(state["env_steps"], learner.updates)))
    if cfg.checkpoint:
        checkpoint()


def _distributed_loop(cfg, training, learner, log, state, stats, pool, publish, checkpoint) -> None:
    sched = state["schedule"]
    publish()
    learner.last_publish = learner.updates
    while time.perf_counter() < state["deadline"]:
        if sched.due(state["env_steps"], learner.updates) > 0:  # catch up before taking more experience
            _one_update(cfg, learner, stats, log, state, training, publish, checkpoint)
            continue
        if state["env_steps"] >= cfg.train_steps:
            break
        batches = pool.receive()  # blocks (up to a second) for experience: the learner waits for data
        before = state["env_steps"]
        for b in batches:
            if "obs" in b:
                learner.add(b)
            else:  # the actor inserted into its replay shard itself
                learner.replay.note_added(b["actor"], b["transitions"])
            state["env_steps"] += b["steps"]
            state["actor_steps"][b["actor"]] += b["steps"]
            stats.add(b, learner.updates)
            if hasattr(training, "charge"):
                training.charge(b["queries"])
        if batches and isinstance(learner.replay, ShardedReplay) and pool.remote_replay:
            learner.replay.refresh()
        if batches:
            sched.observe(before, len(learner.replay), learner.updates)


class _ProcessActors:
    """The process executor's actors. Each has ``actor_credits`` credits: it collects a message
    per credit, and waits for the learner to take one of them before it collects another (at
    most ``actor_credits`` messages in flight per actor, as the Ray executor's requests), so
    actors ahead of the learner wait (replay ratio) and the experience the learner takes is at
    most ``actor_credits`` messages old. With 2, an actor collects its next message while its
    last one is pickled, sent and taken; with 1 it idled through every hand-over (docs/apex.md,
    Throughput). The learner takes the messages in actor order (actor 0,
    1, ..., N-1, 0, ...), as the inline executor's rounds: every actor, hence every epsilon,
    gives the same share of the experience whatever the processes' speeds."""

    def __init__(self, cfg, values, seeds, initial=None):
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        self.stop = ctx.Event()
        self.remote_replay = False
        self.exp_qs = [ctx.Queue() for _ in seeds]  # at most actor_credits messages each
        self.credits = [ctx.Semaphore(cfg.credits()) for _ in seeds]
        self.weight_qs = [ctx.Queue(maxsize=1) for _ in seeds]
        self.next = 0  # the actor whose message the learner takes next
        self.procs = [
            ctx.Process(target=_actor_process, args=(cfg, values, i, len(seeds), s, initial, self.weight_qs[i],
                                                     self.credits[i], self.exp_qs[i], self.stop), daemon=True)
            for i, s in enumerate(seeds)
        ]
        for p in self.procs:
            p.start()

    def publish(self, weights, version: int):
        weights = (weights, version)
        for q in self.weight_qs:
            try:
                q.get_nowait()  # drop stale weights
            except queue_mod.Empty:
                pass
            try:
                q.put_nowait(weights)
            except queue_mod.Full:
                pass

    def receive(self) -> list:
        """The messages ready in actor order, after waiting up to a second for the first; each
        message taken returns its actor's credit."""
        out = []
        while True:
            i = self.next
            try:
                b = self.exp_qs[i].get_nowait() if out else self.exp_qs[i].get(timeout=1.0)
            except queue_mod.Empty:
                if not out and not self.procs[i].is_alive():
                    raise RuntimeError(f"Ape-X actor process {i} died; see its error output above") from None
                return out
            self.credits[i].release()
            out.append(b)
            self.next = (i + 1) % len(self.procs)

    def close(self):
        if self.stop.is_set():
            return
        self.stop.set()
        for q in self.exp_qs:
            try:
                while True:
                    q.get_nowait()
            except queue_mod.Empty:
                pass
        # weights the stopped actors will never read must not hold this process at exit: a
        # queue's feeder thread blocks on a full pipe (the paper network's weights are megabytes)
        # and the interpreter joins that thread on exit, forever (as the actors do for exp_q)
        for q in self.weight_qs:
            q.cancel_join_thread()
        for p in self.procs:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)


class _RayActors:
    """The Ray executor's actors (and, with ``replay_shards > 1``, replay shards) as Ray actors."""

    def __init__(self, cfg, space, address=None):
        import ray

        from harness.ray_local import code_path_env, connect

        self.ray, self.cfg = ray, cfg
        self._started = connect(address, num_cpus=max(2, cfg.actors + 1),
                                runtime_env=code_path_env({"OMP_NUM_THREADS": str(cfg.threads)}))
        self.handles: list = []
        self.inflight: list = []
        self.replay = None
        self.remote_replay = cfg.replay_shards > 1
        if self.remote_replay:
            if not getattr(space, "finite", True):
                from harness.errors import ConfigError

                raise ConfigError("apex: replay_shards > 1 with executor='ray' needs a space with indices "
                                  "(finite); use replay_shards=1 or executor='process'")
            from algorithms.apex.replay import ReplayShard

            shard_cls = ray.remote(num_cpus=0)(ReplayShard)

            def call(shards, name, args):
                return ray.get([getattr(sh, name).remote(*a) for sh, a in zip(shards, args)])

            self.replay = make_replay(cfg, call=call, make_shard=lambda: shard_cls.remote(
                -(-cfg.replay_capacity // cfg.replay_shards), cfg.n_neighbours + 1, cfg.priority_alpha, cfg.priority_beta))

    def start(self, values, seeds, initial=None):
        # set_weights runs in its own concurrency group (a second thread): it stores new weights
        # while collect runs (taken at its next round); collect requests, in the default group of
        # one thread, run one after the other in the order sent
        remote = self.ray.remote(num_cpus=1, concurrency_groups={"weights": 1})(ActorWorker)
        shards = self.replay.shards if self.remote_replay else None
        self.handles = [remote.remote(self.cfg, values, i, len(seeds), s, shards, initial) for i, s in enumerate(seeds)]
        self.rounds = self.cfg.actor_chunk
        # actor_credits requests in flight per actor: an actor whose messages the learner has not
        # taken waits; messages are taken in actor order (as _ProcessActors: equal shares, as inline)
        self.inflight = [collections.deque(h.collect.remote(self.rounds) for _ in range(self.cfg.credits()))
                         for h in self.handles]
        self.next = 0

    def publish(self, weights, version: int):
        ref = self.ray.put(weights)
        for h in self.handles:
            h.set_weights.options(concurrency_group="weights").remote(ref, version)

    def receive(self) -> list:
        """The messages ready in actor order, after waiting up to a second for the first."""
        out = []
        while True:
            i = self.next
            ready, _ = self.ray.wait([self.inflight[i][0]], num_returns=1, timeout=0 if out else 1.0)
            if not ready:
                return out
            out.append(self.ray.get(self.inflight[i].popleft()))
            self.inflight[i].append(self.handles[i].collect.remote(self.rounds))
            self.next = (i + 1) % len(self.handles)

    def close(self):
        for h in self.handles:
            self.ray.kill(h)
        self.handles, self.inflight = [], []
        # the replay shards stay until shutdown(): the final checkpoint reads them

    def shutdown(self):
        if self.remote_replay and self.replay is not None:
            for sh in self.replay.shards:
                self.ray.kill(sh)
        if self._started:
            self.ray.shutdown()
