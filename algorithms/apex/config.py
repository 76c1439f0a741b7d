"""The hyperparameters of the Ape-X agent (:class:`ApeXConfig`), kept free of heavy imports so
the algorithm can be listed without loading torch. Defaults follow Ape-X NAS (docs/references.md) §3.2 / §4.1.1
where the paper gives a value; the rest are documented choices (see ``docs/apex.md``)."""

from __future__ import annotations

import math

from dataclasses import dataclass

from algorithms.base import field
from harness.errors import ConfigError

EXECUTORS = ("inline", "process", "ray")


@dataclass
class ApeXConfig:
    # --- environment (§3.2.1-3.2.2) ---
    n_neighbours: int = field(50, "N: the most neighbours presented per step (fewer: masked)")
    train_steps_per_episode: int = field(16, "training episodes are truncated after this many moves")
    eval_steps_per_episode: int = field(32, "evaluation episodes are truncated after this many moves")
    alpha: float | None = field(None, "reward shaping exponent; None: per space (NB101 6, NB301 32, NB201/graph 16)")
    value_scale: float = field(0.01, "factor turning benchmark values into accuracies in [0, 1] (values are %)")
    normalize_reward: bool = field(True, "scale rewards by exp(-alpha * reward_reference) (same optimal policy)")
    reward_reference: float = field(1.0, "accuracy in [0, 1] where the normalized shaping f = exp(alpha (acc - ref)) is 1")
    encoding: str = field("auto", "architecture encoding: auto, lower_triangular, graph or vector")
    # --- agent (§3.2.3, Fig. 6) ---
    latent: int | None = field(None, "T, the latent size; None: 256 (512 for DARTS/NB301 spaces)")
    transformer_layers: int = field(2, "transformer encoder layers (not given in the paper)")
    heads: int = field(4, "attention heads (not given in the paper)")
    encoder_layers: int = field(2, "fully connected ReLU layers of the architecture encoder")
    head: str = field("first_token", "advantages from the first output token (paper) or per_token (faster to learn)")
    # --- Ape-X (§4.1.1) ---
    actors: int = field(4, "number of actors")
    envs_per_actor: int = field(8, "environments stepped together by each actor (paper: 32)")
    epsilon: float = field(0.4, "Ape-X exploration base epsilon")
    epsilon_alpha: float = field(7.0, "Ape-X exploration exponent alpha in eps^(1 + alpha i / (N - 1))")
    replay_capacity: int = field(25_000, "prioritized replay capacity")
    priority_alpha: float = field(0.6, "prioritization exponent")
    priority_beta: float = field(0.4, "importance-sampling exponent")
    lr: float = field(4e-5, "Adam learning rate")
    gamma: float = field(0.9, "discount factor")
    n_step: int = field(3, "n of the n-step returns")
    batch_size: int = field(64, "learner batch size")
    learning_starts: int = field(2_000, "transitions in replay before the learner starts")
    target_update: int = field(500, "learner updates between target-network copies")
    publish_interval: int = field(25, "P: learner updates between weight broadcasts to the actors")
    replay_ratio: float | None = field(None, "learner updates per environment step once learning has started, held by "
                                              "every executor; None: updates_per_iteration / (actors * envs_per_actor) "
                                              "(1/32 with the defaults)")
    updates_per_iteration: int = field(1, "learner updates per round of all actors, when replay_ratio is None")
    replay_shards: int = field(1, "prioritized replay shards (paper: 4); actor i inserts into shard i mod shards")
    grad_clip: float = field(40.0, "gradient norm clip")
    train_steps: int = field(20_000, "environment steps of training experience (paper: 10^7 NB101)")
    max_seconds: float = field(0.0, "stop training after this many seconds as well (0: no time limit)")
    executor: str = field("inline", "inline (one process, deterministic), process, or ray")
    actor_chunk: int = field(8, "process/ray: actor rounds per message to the learner")
    actor_credits: int = field(0, "process/ray: messages an actor may have in flight to the learner (it collects the "
                                  "next while the learner takes the last; 1: one at a time, the earlier behaviour); "
                                  "0: automatic, see credits()")
    threads: int = field(1, "torch threads in each process")
    device: str = field("cpu", "learner device (cpu or cuda)")
    # --- bookkeeping ---
    checkpoint: str = field("", "checkpoint file; resumed from when it exists (empty: none)")
    checkpoint_every: int = field(1_000, "learner updates between checkpoints")
    log_every: int = field(100, "learner updates between training log entries (history and run diagnostics)")
    # --- evaluation (§4.1.1) ---
    eval_episodes: int = field(0, "at most this many evaluation episodes (0: one per start state, or until the budget ends)")
    eval_epsilon: float = field(0.0, "epsilon of the evaluation policy (0: greedy)")
    eval_batch: int = field(64, "evaluation episodes rolled out together")

    def validate(self) -> "ApeXConfig":
        if self.executor not in EXECUTORS:
            raise ConfigError(f"unknown executor {self.executor!r}; choose one of: {', '.join(EXECUTORS)}")
        for name in ("n_neighbours", "train_steps_per_episode", "eval_steps_per_episode", "actors", "envs_per_actor",
                     "replay_capacity", "batch_size", "n_step", "target_update", "publish_interval", "actor_chunk",
                     "threads", "eval_batch", "updates_per_iteration", "replay_shards"):
            if getattr(self, name) < 1:
                raise ConfigError(f"apex: {name} must be >= 1, got {getattr(self, name)}")
        if self.actor_credits < 0:
            raise ConfigError(f"apex: actor_credits must be >= 1, or 0 for automatic, got {self.actor_credits}")
        if self.replay_ratio is not None and not self.replay_ratio > 0:
            raise ConfigError(f"apex: replay_ratio must be > 0 (learner updates per environment step), got {self.replay_ratio}")
        if self.replay_shards > self.replay_capacity:
            raise ConfigError(f"apex: replay_shards ({self.replay_shards}) exceeds replay_capacity ({self.replay_capacity})")
        if not 0 < self.gamma <= 1:
            raise ConfigError(f"apex: gamma must lie in (0, 1], got {self.gamma}")
        if self.train_steps < 0 or self.learning_starts < 0 or self.eval_episodes < 0:
            raise ConfigError("apex: train_steps, learning_starts and eval_episodes must be >= 0")
        return self

    def ratio(self) -> float:
        """The replay ratio in force: learner updates per environment step (see ``replay_ratio``)."""
        if self.replay_ratio is not None:
            return float(self.replay_ratio)
        return self.updates_per_iteration / (self.actors * self.envs_per_actor)

    def credits(self) -> int:
        """Messages an actor may have in flight (``actor_credits``; 0: automatic). Automatic:
        ``max(2, min(8, ceil(1 / (ratio * actor_chunk * envs_per_actor))))``, i.e. at least two
        (an actor collects its next message while the learner takes its last) and, at small replay
        ratios, up to one learner update's worth of experience per actor, at most 8. The learner
        takes messages in actor order (equal shares, as inline), so an actor that stalls holds the
        others once their credits are out; more credits absorb that, and at a small ratio they add
        under one update of policy lag. It is 2 at the ratios of the defaults (1/32) and of the
        quick preset (1/16), where quality parity was measured; measured at 1/4096 (docs/apex.md,
        Throughput): 2 process actors 1.35-1.59x one with 2 credits, 1.63-1.97x with 8 (3 runs each)."""
        if self.actor_credits:
            return int(self.actor_credits)
        per_update = 1.0 / (self.ratio() * self.actor_chunk * self.envs_per_actor)  # messages per learner update
        return int(max(2, min(8, math.ceil(per_update - 1e-9))))

    def latent_size(self, space) -> int:
        if self.latent is not None:
            return int(self.latent)
        return 512 if getattr(space, "id", "").startswith(("darts", "nb301")) else 256
