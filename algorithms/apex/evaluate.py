"""Evaluating a trained incremental-NAS policy and counting its queries (Ape-X NAS (docs/references.md) §4.1.1-4.1.2).

Evaluation episodes start from fixed initial states (the oracle's ``start_states`` when the
protocol gives them; the paper uses 5 sets of 10^4) and are truncated after 32 moves. Each
finished episode is recorded with ``oracle.record_episode`` (start, end, moves, start and end
search values) for the improvement histograms (Fig. 8).

Two ways to count queries for best-so-far curves (both reported, never mixed):

* **strict rule** (the oracle trajectory): every architecture whose value reaches the agent
  counts, i.e. each episode's start and every architecture it moves to, in episode order
  (under ``unique`` counting a repeat is free). This is what the harness records.
* **paper rule** (§4.1.2, Fig. 10, Table 1): one episode = one query, the query being the
  episode's final architecture; local search instead counts every evaluated neighbour (for
  local search the paper rule is the strict rule, read it from the trajectory).
  :func:`paper_rule_curve` computes it from recorded episodes.

Training queries (``oracle.training()``) are a third number, reported separately by the run
record (``meta["training_queries"]``).

The agent's Q-network sees architectures only (no values), so a greedy (or epsilon-greedy)
rollout does not depend on the values it would be shown. :func:`rollout` therefore steps a
batch of episodes together with a value-free environment, and :func:`charge_episodes` then
queries the oracle along each episode's path in episode order: start, then every move. The
oracle sees exactly the queries of running the episodes one after another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from algorithms.apex.env import IncrementalNAS


class _NoValues:
    """A value source that reveals nothing (rollouts of a value-blind policy)."""

    maximize = True

    def query_batch(self, archs):
        return np.zeros(len(archs))


@dataclass
class Episode:
    path: list  # architectures visited: start, then one per move
    terminated: bool  # the agent chose to stop (else truncated)


def rollout(net, table, space, starts: Sequence[Any], n_neighbours: int, max_steps: int,
            rng: np.random.Generator, epsilon: float = 0.0) -> list[Episode]:
    """Run one episode of the policy ``net`` from each start together; return the paths."""
    from algorithms.apex.train import greedy_epsilon_actions

    n = len(starts)
    if n == 0:
        return []
    env = IncrementalNAS(space, _NoValues(), n, n_neighbours, max_steps, table=table, rng=rng)
    env.reset(starts=list(starts))
    paths = [[a] for a in starts]
    active = np.ones(n, dtype=bool)
    terminated = np.zeros(n, dtype=bool)
    net.eval()
    while active.any():
        rows = np.flatnonzero(active)
        ids = env.obs_ids[rows]
        with torch.no_grad():
            q = net(torch.from_numpy(table.encode(ids)).to(_device(net)), torch.from_numpy(ids > 0).to(_device(net)))
        act = np.zeros(n, dtype=np.int64)
        act[rows] = greedy_epsilon_actions(q.cpu().numpy(), env.mask[rows], epsilon, rng)
        _, term, trunc, _ = env.step(act)
        for i in rows:
            if term[i]:
                terminated[i] = True
                active[i] = False
            else:
                paths[i].append(env.current_arch(i))
                if trunc[i]:
                    active[i] = False
        # finished environments are stepped with action 0, which changes nothing
    return [Episode(p, bool(t)) for p, t in zip(paths, terminated)]


def _device(net):
    return next(net.parameters()).device


def charge_episodes(oracle, episodes: Sequence[Episode], **extra) -> None:
    """Query ``oracle`` along each episode (start, then each move) and record it.

    Raises :class:`BudgetExhausted` from the oracle; an episode cut short by the budget is not
    recorded.
    """
    for ep in episodes:
        start_v = oracle.query(ep.path[0])
        end_v = start_v
        for a in ep.path[1:]:
            end_v = oracle.query(a)
        oracle.record_episode(ep.path[0], ep.path[-1], len(ep.path) - 1, start_v, end_v,
                              terminated=ep.terminated, **extra)


def paper_rule_curve(episodes: Sequence[dict], maximize: bool = True) -> dict[str, np.ndarray]:
    """Best-so-far under the paper's rule: episode ``k`` is query ``k`` and queries its end.

    ``episodes``: recorded episodes (``oracle.episodes()`` or ``RunRecord.episodes``), each with
    ``end_search`` and ``end_report``. Returns arrays over queries ``1..len(episodes)``:
    ``queries``, ``search`` / ``report`` (the episode's end values), ``incumbent_search`` and
    ``incumbent_report`` (the end with the best search value so far; ties keep the earlier).
    """
    s = np.array([e["end_search"] for e in episodes], dtype=float)
    r = np.array([e.get("end_report", np.nan) for e in episodes], dtype=float)
    n = len(s)
    if n == 0:
        z = np.zeros(0)
        return {"queries": np.zeros(0, dtype=np.int64), "search": z, "report": z, "incumbent_search": z,
                "incumbent_report": z}
    signed = s if maximize else -s
    best = np.maximum.accumulate(signed)
    new = np.empty(n, dtype=bool)
    new[0] = True
    new[1:] = signed[1:] > best[:-1]
    pos = np.maximum.accumulate(np.where(new, np.arange(n), 0))
    return {"queries": np.arange(1, n + 1), "search": s, "report": r, "incumbent_search": s[pos],
            "incumbent_report": r[pos]}


def value_at(incumbent: np.ndarray, checkpoints: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Incumbent value at each checkpoint ``q`` (after ``q`` queries; the last value when the
    curve is shorter) and ``#Q``, the query of the last improvement at or before ``q``
    (as in Ape-X NAS (docs/references.md) Tables 1-2). ``nan`` / 0 for an empty curve."""
    inc = np.asarray(incumbent, dtype=float)
    vals, last = [], []
    for q in checkpoints:
        k = min(int(q), len(inc))
        if k == 0:
            vals.append(np.nan)
            last.append(0)
            continue
        vals.append(inc[k - 1])
        changes = np.flatnonzero(np.r_[True, inc[1:k] != inc[: k - 1]])
        last.append(int(changes[-1]) + 1)
    return np.array(vals), np.array(last)
