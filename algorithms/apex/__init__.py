"""Ape-X RL agent for incremental NAS (Ape-X NAS (docs/references.md): §3.2 formulation, reward shaping and agent;
§4.1.1 / §4.2.1 configuration), built from the paper and Ape-X (Horgan et al. 2018).

The algorithm ``apex`` first **trains** an agent on the benchmark (every value it reads goes
through ``oracle.training()``, a ledger reported separately as the run's training queries),
then **evaluates** it: episodes of at most 32 moves from the oracle's fixed start states (or
start states drawn from ``rng``), each recorded with ``oracle.record_episode``, queried through
the counted oracle under the strict rule (every architecture the agent visits counts; see
:mod:`algorithms.apex.evaluate`, which also gives the paper-rule curve, one query per episode).

Modules: :mod:`~algorithms.apex.env` (gymnasium environment, reward shaping),
:mod:`~algorithms.apex.encoding` (architecture encodings; spaces plug in through
``lower_triangular``, ``graph`` or ``vector``), :mod:`~algorithms.apex.agent` (transformer
duelling Q-network, double-Q targets), :mod:`~algorithms.apex.replay` (prioritized replay,
n-step returns with partial episode bootstrapping), :mod:`~algorithms.apex.train` (actors,
learner, executors, checkpoints, training curves), :mod:`~algorithms.apex.evaluate`,
:mod:`~algorithms.apex.artifact` (the agent file).

**Agents as files** (:mod:`harness.agents`, :mod:`~algorithms.apex.artifact`): ``save_agent``
keeps the trained Q-network with its shapes, source (benchmark, data checksum, seed) and
training ledger; ``agent`` loads one instead of training (no training queries on this run; the
source's are in the record as ``source_training_queries``), e.g. to search CIFAR-100 with an
agent trained on CIFAR-10. Each seed of a run trains (or, with ``{seed}`` in the path, loads)
its own agent, so statistics over seeds are statistics over agents.

Defaults follow the paper where it speaks (N = 50, 16/32-step episodes, T = 256, epsilon 0.4 /
alpha 7, replay 25,000 / 0.6 / 0.4, lr 4e-5, gamma 0.9, 3-step returns); the training length
is far below the paper's 10^7 steps (``train_steps``) so that a run fits on a laptop. See
``docs/apex.md`` for the choices the paper leaves open and the reproduction command.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from algorithms.apex.config import ApeXConfig
from algorithms.base import Algorithm, episode_starts, field
from harness.agents import AgentFiles


def _diagnostic_channel(oracle):
    """``oracle.log_diagnostic`` where the oracle view offers it (the run's diagnostics, logged
    to MLflow by the launcher), else None."""
    from harness.oracle import OracleView

    if "log_diagnostic" not in OracleView.EXPOSED:
        return None
    return getattr(oracle, "log_diagnostic", None)


@dataclass
class ApeXRunConfig(ApeXConfig):
    """:class:`ApeXConfig` plus the agent files of a run (``harness.agents``)."""

    agent: str = field("", "trained agent file to evaluate instead of training ({seed}: the run's seed, {results}: the "
                           "results folder); the target charges no training queries, the source's are recorded apart")
    save_agent: str = field("", "write the trained agent to this file ({seed}, {results} as for agent); logged to "
                                "MLflow as the run's artifact agent/")


class ApeX(AgentFiles, Algorithm):
    """Train an Ape-X agent through ``oracle.training()`` (or load one, ``agent``), then
    evaluate it episodically; ``save_agent`` keeps the trained agent as a file."""

    name = "apex"
    agent_family = "apex"
    Config = ApeXRunConfig
    requires = ("neighbours",)
    episodic = True
    test_hyperparameters: ClassVar[dict] = {
        "train_steps": 96, "actors": 2, "envs_per_actor": 4, "learning_starts": 32, "batch_size": 8,
        "latent": 16, "transformer_layers": 1, "heads": 2, "encoder_layers": 1, "eval_batch": 8,
        "eval_steps_per_episode": 8,
    }

    def __init__(self, **hyperparameters):
        super().__init__(**hyperparameters)
        self.config.validate()
        self.last_training = None  # TrainResult of the latest run (for benchmarks and notebooks)

    def run(self, oracle, rng) -> None:
        from algorithms.apex.evaluate import charge_episodes, rollout

        cfg = self.config
        space = oracle.space
        self._agent_run_meta = {}
        eval_rng = np.random.default_rng(rng.integers(0, 2**63 - 1))
        if cfg.agent:  # a trained agent from a file: no training here, no training queries
            from algorithms.apex.artifact import load_apex_agent

            state, meta = self._load_agent(space)
            net, table, n_neighbours = load_apex_agent(state, meta, space, cfg)
        else:
            from algorithms.apex.train import train

            tags = {"algorithm": self.name, "space": space.id}
            result = train(cfg, space, oracle.training(), rng, log_tags=tags,
                           diagnostic=_diagnostic_channel(oracle))
            self.last_training = result
            net, table, n_neighbours = result.learner.net, result.table, cfg.n_neighbours
            if cfg.save_agent:
                from algorithms.apex.artifact import apex_agent_state

                self._save_agent(space, *apex_agent_state(cfg, space, result))
        self.net_, self.table_ = net, table  # the agent evaluated (tests, notebooks)
        starts = episode_starts(oracle, eval_rng)  # the protocol's start states once each, else sampled
        if cfg.eval_episodes:
            starts = itertools.islice(starts, cfg.eval_episodes)
        while True:
            batch = list(itertools.islice(starts, cfg.eval_batch))
            if not batch:
                return
            episodes = rollout(net, table, space, batch, n_neighbours, cfg.eval_steps_per_episode,
                               eval_rng, cfg.eval_epsilon)
            charge_episodes(oracle, episodes)  # raises BudgetExhausted when the budget is spent


__all__ = ["ApeX", "ApeXConfig", "ApeXRunConfig"]
