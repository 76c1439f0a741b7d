"""The incremental NAS environment of Ape-X NAS (docs/references.md) §3.2.1-3.2.2, as a gymnasium ``Env``.

MDP: a state is an architecture; an observation is the current architecture followed by up
to ``N`` of its neighbours (``space.neighbours``; when there are more than ``N`` a random
subset of ``N`` is shown, kept in the space's order), each encoded by
:class:`algorithms.apex.encoding.Encoder` and padded with zero rows; an action mask marks
the slots that hold an architecture. Action ``0`` chooses the current architecture and
terminates the episode (reward 0); action ``k >= 1`` moves to the ``k``-th presented
neighbour. Transitions are deterministic. Episodes are truncated after ``max_steps`` moves
(16 for training, 32 for evaluation in the paper); a truncated episode is *not* terminal
(partial episode bootstrapping, see :mod:`algorithms.apex.replay`).

Reward shaping (§3.2.2): with ``acc = value * value_scale`` (the harness's accuracies are
percentages, so ``value_scale = 0.01`` gives ``acc`` in [0, 1]) the reward of a move from
``s`` to ``s'`` is ``f(acc(s')) - f(acc(s))`` with ``f(acc) = exp(alpha * acc)``. The paper
uses ``alpha = 6`` (NB101) and ``32`` (NB301). Choices made here (parameters):

* ``normalize_reward=True`` multiplies every reward by the constant ``exp(-alpha * ref)``,
  i.e. ``f(acc) = exp(alpha * (acc - ref))`` with ``ref = reward_reference`` (default 1, an
  accuracy of 100%, giving ``f`` in (0, 1]). Scaling all rewards by one positive constant leaves
  the optimal policy unchanged, but keeps Q-values of order one (with ``alpha = 32`` the
  literal form reaches ``exp(30)``); a reference near the benchmark's typical accuracy gives
  rewards of order 0.1 per accuracy point, which the optimizer resolves better in short
  runs. ``False`` gives the literal form.
* The paper gives reward 0 "for the first timestep, since there is no previous
  architecture": we read that timestep as the initial state ``s_0`` (gymnasium's ``reset``,
  which returns no reward), so the first move ``s_0 -> s_1`` earns ``f(s_1) - f(s_0)`` and an
  episode's return telescopes to ``f(final) - f(start)``. ``zero_first_reward=True`` instead
  gives 0 for the first move (the literal alternative reading).
* ``alpha`` defaults per space family (:data:`DEFAULT_ALPHA`): 6 for NB101 and 32 for
  DARTS/NB301 (the paper), 16 for NB201 and NAS-Bench-Graph (our choice: their good
  architectures lie in a band of ~4-6 accuracy points, between NB101's ~9 and NB301's ~2;
  16 stretches that band to roughly the shaped range the paper gets on NB101).

Values come from ``values.query_batch(archs)`` (an oracle, a training oracle, or a detached
training source): the start's value on reset and the new architecture's value on each move;
choosing the current architecture costs nothing. Every architecture whose value the
environment reads is thus one the agent "sees" (the strict counting rule).

:class:`IncrementalNAS` is the batched core (``n_envs`` environments stepped together, values
queried in one batch, architectures held as :class:`ArchTable` ids): the actors use it
directly. :class:`IncrementalNASEnv` is the single-environment gymnasium ``Env`` on top of it
(passes ``gymnasium.utils.env_checker.check_env``) and :func:`make_vector_env` a
``gymnasium.vector.SyncVectorEnv`` of those.
"""

from __future__ import annotations

from typing import Any, Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from algorithms.apex.encoding import ArchTable, Encoder
from harness.errors import ConfigError

# reward-shaping exponent per space family (prefix of the space id)
DEFAULT_ALPHA = {"nb101": 6.0, "darts": 32.0, "nb301": 32.0, "nb201": 16.0, "nasbench-graph": 16.0}
FALLBACK_ALPHA = 6.0


def default_alpha(space) -> float:
    """The reward-shaping exponent for ``space`` (see :data:`DEFAULT_ALPHA`)."""
    sid = getattr(space, "id", "")
    for prefix, a in DEFAULT_ALPHA.items():
        if sid.startswith(prefix):
            return a
    return FALLBACK_ALPHA


class RewardShaping:
    """``f(value) = exp(alpha * (value * scale - offset))``; ``offset = reference`` when
    normalized, else 0."""

    def __init__(self, alpha: float, value_scale: float = 0.01, normalize: bool = True, reference: float = 1.0):
        self.alpha, self.scale = float(alpha), float(value_scale)
        self.offset = float(reference) if normalize else 0.0

    def __call__(self, values):
        return np.exp(self.alpha * (np.asarray(values, dtype=float) * self.scale - self.offset))


class IncrementalNAS:
    """``n_envs`` incremental-NAS environments stepped together (no gymnasium, no autoreset).

    State per environment ``i``: ``obs_ids[i]`` (``N + 1`` table ids, 0 = padding; slot 0 is
    the current architecture), ``mask[i]`` (bool), ``value[i]`` (search value of the current
    architecture), ``start_value[i]``, ``steps[i]`` (moves so far), ``start_id[i]``.

    Args:
        space: the search space.
        values: object with ``query_batch(archs) -> np.ndarray`` (oracle-like).
        n_envs: number of environments.
        n_neighbours: ``N``, the most neighbours presented.
        max_steps: moves before truncation.
        alpha / value_scale / normalize_reward / reward_reference / zero_first_reward: reward
            (module docstring).
        encoding: encoder kind, or pass ``table`` to share an :class:`ArchTable`.
        rng: ``numpy.random.Generator`` for start states and neighbour subsets.
    """

    def __init__(
        self,
        space,
        values,
        n_envs: int = 1,
        n_neighbours: int = 50,
        max_steps: int = 16,
        alpha: float | None = None,
        value_scale: float = 0.01,
        normalize_reward: bool = True,
        reward_reference: float = 1.0,
        zero_first_reward: bool = False,
        encoding: str = "auto",
        table: ArchTable | None = None,
        rng: np.random.Generator | None = None,
    ):
        if n_neighbours < 1 or max_steps < 1 or n_envs < 1:
            raise ConfigError("n_neighbours, max_steps and n_envs must be >= 1")
        if getattr(values, "maximize", True) is False:
            raise ConfigError("Ape-X reward shaping needs a metric to maximize (an accuracy)")
        self.space = space
        self.values = values
        self.n_envs = int(n_envs)
        self.N = int(n_neighbours)
        self.max_steps = int(max_steps)
        self.shaping = RewardShaping(default_alpha(space) if alpha is None else alpha, value_scale, normalize_reward,
                                     reward_reference)
        self.zero_first_reward = bool(zero_first_reward)
        self.table = table if table is not None else ArchTable(space, Encoder(space, encoding))
        self.rng = rng if rng is not None else np.random.default_rng()
        n, L = self.n_envs, self.N + 1
        self.obs_ids = np.zeros((n, L), dtype=np.int64)
        self.mask = np.zeros((n, L), dtype=bool)
        self.value = np.zeros(n)
        self.start_value = np.zeros(n)
        self.start_id = np.zeros(n, dtype=np.int64)
        self.steps = np.zeros(n, dtype=np.int64)
        self.queries = 0  # values read (= training queries when ``values`` is a training source)

    @property
    def dim(self) -> int:
        return self.table.encoder.dim

    def _present(self, i: int, cur: int) -> None:
        nb = self.table.neighbour_ids(cur)
        if len(nb) > self.N:
            nb = nb[np.sort(self.rng.choice(len(nb), self.N, replace=False))]
        row = self.obs_ids[i]
        row[:] = 0
        row[0] = cur
        row[1 : 1 + len(nb)] = nb
        self.mask[i] = row > 0

    def reset(self, envs: Sequence[int] | None = None, starts: Sequence[Any] | None = None) -> None:
        """Start new episodes in ``envs`` (default all) from ``starts`` (default: sampled)."""
        envs = list(range(self.n_envs)) if envs is None else [int(i) for i in envs]
        if not envs:
            return
        if starts is None:
            starts = [self.space.sample(self.rng) for _ in envs]
        elif len(starts) != len(envs):
            raise ValueError(f"{len(starts)} start states for {len(envs)} environments")
        vals = np.asarray(self.values.query_batch(list(starts)), dtype=float)
        self.queries += len(starts)
        for i, a, v in zip(envs, starts, vals):
            cur = self.table.id(self.space.validate(a))
            self.start_id[i] = cur
            self.value[i] = self.start_value[i] = v
            self.steps[i] = 0
            self._present(i, cur)

    def step(self, actions) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Apply one action per environment.

        Returns ``(rewards, terminated, truncated, invalid)``, each of shape ``(n_envs,)``.
        An invalid (masked) action is treated as action 0 and flagged in ``invalid``. After a
        terminated or truncated step the environment keeps its final state until ``reset``.
        """
        a = np.asarray(actions, dtype=np.int64).reshape(self.n_envs)
        rows = np.arange(self.n_envs)
        invalid = (a < 0) | (a > self.N)
        invalid[~invalid] = ~self.mask[rows[~invalid], a[~invalid]]
        a = np.where(invalid, 0, a)
        rewards = np.zeros(self.n_envs)
        terminated = a == 0
        truncated = np.zeros(self.n_envs, dtype=bool)
        movers = np.flatnonzero(~terminated)
        if len(movers):
            new_ids = self.obs_ids[movers, a[movers]]
            new_archs = [self.table.arch(j) for j in new_ids]
            vals = np.asarray(self.values.query_batch(new_archs), dtype=float)
            self.queries += len(movers)
            r = self.shaping(vals) - self.shaping(self.value[movers])
            if self.zero_first_reward:
                r = np.where(self.steps[movers] == 0, 0.0, r)
            rewards[movers] = r
            self.value[movers] = vals
            self.steps[movers] += 1
            for i, j in zip(movers, new_ids):
                self._present(int(i), int(j))
            truncated[movers] = self.steps[movers] >= self.max_steps
        return rewards, terminated, truncated, invalid

    def current_arch(self, i: int):
        return self.table.arch(self.obs_ids[i, 0])

    def observation(self, envs=None) -> tuple[np.ndarray, np.ndarray]:
        """``(encodings (n, N+1, dim) float32, mask (n, N+1) bool)`` of ``envs`` (default all)."""
        ids = self.obs_ids if envs is None else self.obs_ids[envs]
        m = self.mask if envs is None else self.mask[envs]
        return self.table.encode(ids), m


class IncrementalNASEnv(gym.Env):
    """One incremental-NAS environment (gymnasium API).

    Observation: ``{"architectures": (N+1, dim) float32, "action_mask": (N+1,) int8}``;
    action: ``Discrete(N + 1)`` (0 = choose the current architecture and stop). ``info`` holds
    ``arch``, ``value`` (search value of the current architecture), ``start_value``,
    ``steps``, ``ids`` (table ids) and ``invalid_action``.

    ``reset(options={"start": arch})`` starts from ``arch``; otherwise from a uniform choice
    among ``start_states`` when given, else from ``space.sample``. The other arguments are
    those of :class:`IncrementalNAS`.
    """

    metadata = {"render_modes": []}

    def __init__(self, space, values, n_neighbours: int = 50, max_steps: int = 16, start_states=None, **kw):
        super().__init__()
        self.core = IncrementalNAS(space, values, 1, n_neighbours, max_steps, **kw)
        self.start_states = list(start_states) if start_states is not None else None
        L, d = self.core.N + 1, self.core.dim
        enc = self.core.table.encoder
        self.observation_space = spaces.Dict(
            {
                "architectures": spaces.Box(enc.low, enc.high, shape=(L, d), dtype=np.float32),
                "action_mask": spaces.MultiBinary(L),
            }
        )
        self.action_space = spaces.Discrete(L)
        self._done = True

    def _obs(self):
        x, m = self.core.observation()
        return {"architectures": x[0], "action_mask": m[0].astype(np.int8)}

    def _info(self, invalid: bool = False):
        c = self.core
        return {"arch": c.current_arch(0), "value": float(c.value[0]), "start_value": float(c.start_value[0]),
                "steps": int(c.steps[0]), "ids": c.obs_ids[0].copy(), "invalid_action": bool(invalid)}

    def action_masks(self) -> np.ndarray:
        """Valid actions, bool (the convention of sb3-contrib's MaskablePPO)."""
        return self.core.mask[0].copy()

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.core.rng = self.np_random
        start = (options or {}).get("start")
        if start is None and self.start_states:
            start = self.start_states[int(self.np_random.integers(len(self.start_states)))]
        self.core.reset([0], None if start is None else [start])
        self._done = False
        return self._obs(), self._info()

    def step(self, action):
        if self._done:
            raise RuntimeError("step() called on a finished episode; call reset() first")
        r, term, trunc, inv = self.core.step([int(action)])
        self._done = bool(term[0] or trunc[0])
        return self._obs(), float(r[0]), bool(term[0]), bool(trunc[0]), self._info(bool(inv[0]))


def make_vector_env(n: int, space, values, **kw):
    """``gymnasium.vector.SyncVectorEnv`` of ``n`` :class:`IncrementalNASEnv` sharing one
    :class:`ArchTable` (keyword arguments as for the single environment)."""
    from gymnasium.vector import SyncVectorEnv

    if "table" not in kw:
        kw["table"] = ArchTable(space, Encoder(space, kw.pop("encoding", "auto")))
    return SyncVectorEnv([lambda: IncrementalNASEnv(space, values, **kw) for _ in range(int(n))])
