"""REINFORCE with per-decision categorical policies and a moving-average baseline."""

import numpy as np
import pytest

from algorithms.reinforce import Reinforce
from harness.conformance import run_once
from harness.errors import ConfigError

from .conftest import OPTIMUM, queries_to


def test_defaults_are_the_nb201_baseline_settings():
    hp = Reinforce().hyperparameters()
    assert hp["learning_rate"] == 0.001 and hp["ema_momentum"] == 0.9
    with pytest.raises(ConfigError):
        Reinforce(ema_momentum=1.0)


@pytest.mark.parametrize("fixture", ["onemax", "onemin"])
def test_learns_the_per_decision_structure_in_either_direction(request, fixture):
    """On a separable landscape the policy converges to the optimum: few hundred queries."""
    bench = request.getfixturevalue(fixture)
    hits = [queries_to(bench, lambda: Reinforce(learning_rate=0.05), OPTIMUM, budget=1000, seed=s) for s in range(3)]
    assert max(hits) <= 1000, hits


def test_the_policy_improves_with_experience(onemax):
    t = run_once(lambda: Reinforce(learning_rate=0.05), onemax, budget=400, seed=0, counting="all")
    assert t["search"][-100:].mean() > t["search"][:100].mean() + 2.0


def test_with_the_default_rate_early_draws_are_near_uniform(analog):
    """Logits start at 1e-3 N(0, 1) and move by about lr = 0.001 per step: the first queries
    are practically a uniform random sample (every op appears on every edge)."""
    t = run_once(Reinforce, analog, budget=200, seed=0, counting="all")
    cells = np.array([analog.space.arch_at(i) for i in t["index"]])
    for e in range(6):
        counts = np.bincount(cells[:, e], minlength=5)
        assert counts.min() > 20, counts
