"""The simulated wall clock of a time-budgeted protocol: W asynchronous workers, one budget.

A protocol may budget simulated seconds of training (``time_budget``) beside its query count.
Each counted query is charged ``cost = time_scale * <time_metric of the cell>`` seconds (e.g.
NB201's 200-epoch ``training_time`` scaled by 12/200 to the 12-epoch schedule the NB201
baselines searched with), plus, with ``charge_compute``, the algorithm's own measured compute
time since the previous counted query. The model, exactly:

* there are ``W`` workers, all free at time 0;
* counted query ``i`` (in the order the algorithm makes them) goes to the worker that is free
  first (ties: the lowest worker number); it **starts** when that worker is free, plus the
  charged compute time ``c_i`` (0 unless ``charge_compute``): ``start_i = free_w + c_i``;
* it **finishes** at ``finish_i = start_i + cost_i``; its result is *available* then, and the
  worker is free again then (``free_w = finish_i``);
* if ``finish_i`` would exceed the time budget, the query is **not run and not recorded**
  (:meth:`SimClock.charge` returns ``None``; the oracle raises ``BudgetExhausted``) and the
  clock is exhausted: every later query is refused too. This is NB201's rule: its searches
  (``R_EA.py``, ``RANDOM.py`` of the NAS-Bench-201 release) stop without the architecture
  whose training would pass the budget (``if total + cost > budget: return history``).

With ``W = 1`` the finish times are the cumulative sums of the costs. With ``W > 1`` the
value an algorithm gets back from ``query()`` is still immediate (algorithms here are
sequential); only the simulated clock follows the asynchronous schedule, so curves against
simulated time use the finish times, sorted (a result counts from the moment it is available).

Without ``charge_compute`` the clock is a pure function of the sequence of costs (exactly
reproducible). With it, the measured compute times (``time.perf_counter``) enter, and the
schedule, the number of queries that fit and the curves vary slightly from run to run.
"""

from __future__ import annotations

import heapq
from typing import Sequence

import numpy as np


class SimClock:
    """Asynchronous schedule of counted queries on ``workers`` simulated workers.

    Args:
        time_budget: seconds of simulated time (``None``: unlimited, the clock only records).
        workers: number of simulated parallel workers ``W`` (>= 1).
    """

    def __init__(self, time_budget: float | None = None, workers: int = 1):
        if int(workers) < 1:
            raise ValueError(f"sim_workers must be >= 1, got {workers}")
        self.time_budget = None if time_budget is None else float(time_budget)
        self.workers = int(workers)
        self._free = [(0.0, w) for w in range(self.workers)]  # heap of (free at, worker)
        self.exhausted = False
        self.starts: list[float] = []
        self.finishes: list[float] = []
        self.assigned: list[int] = []

    def fits(self, cost: float, compute: float = 0.0) -> bool:
        """Whether a query of ``cost`` seconds (after ``compute`` seconds) ends within budget."""
        if self.exhausted:
            return False
        if self.time_budget is None:
            return True
        return self._free[0][0] + compute + cost <= self.time_budget

    def charge(self, cost: float, compute: float = 0.0) -> float | None:
        """Schedule one counted query; its finish time (s), or ``None`` (and the clock is
        exhausted) when it would finish past the budget."""
        if not self.fits(cost, compute):
            self.exhausted = True
            return None
        free_at, w = heapq.heappop(self._free)
        start = free_at + compute
        finish = start + cost
        heapq.heappush(self._free, (finish, w))
        self.starts.append(start)
        self.finishes.append(finish)
        self.assigned.append(w)
        return finish

    @property
    def now(self) -> float:
        """The latest finish time so far (the simulated time the search has used)."""
        return max(self.finishes, default=0.0)


def schedule(costs: Sequence[float], workers: int = 1, compute: Sequence[float] | None = None,
             time_budget: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The schedule :class:`SimClock` gives a sequence of query costs.

    Returns ``(start, finish, worker)``, each of shape ``(n,)`` where ``n`` is the number of
    queries that fit the budget (all of them without a budget): the first query that would
    finish past the budget and every later one are left out.
    """
    clock = SimClock(time_budget, workers)
    compute = np.zeros(len(costs)) if compute is None else np.asarray(compute, dtype=float)
    for c, k in zip(np.asarray(costs, dtype=float), compute):
        if clock.charge(float(c), float(k)) is None:
            break
    return (np.asarray(clock.starts, dtype=float), np.asarray(clock.finishes, dtype=float),
            np.asarray(clock.assigned, dtype=np.int64))
