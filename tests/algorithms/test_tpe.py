"""TPE through Optuna's ask-and-tell interface over the categorical decisions."""

import logging

import numpy as np
import pytest

from algorithms.tpe import TPE
from harness.conformance import run_once

from .conftest import OPTIMUM, queries_to


@pytest.mark.parametrize("fixture", ["onemax", "onemin"])
def test_finds_the_optimum_of_an_easy_landscape_in_either_direction(request, fixture):
    bench = request.getfixturevalue(fixture)
    hits = [queries_to(bench, TPE, OPTIMUM, budget=300, seed=s) for s in range(2)]
    assert max(hits) <= 300, hits


def test_first_trials_are_the_random_startup_trials(analog):
    """With n_startup_trials = budget, TPE is random sampling (but still seeded and repeatable)."""
    a = run_once(lambda: TPE(n_startup_trials=30), analog, budget=30, seed=4)
    b = run_once(lambda: TPE(n_startup_trials=30), analog, budget=30, seed=4)
    assert list(a["key"]) == list(b["key"])


def test_optuna_logging_is_silenced(analog):
    """Optuna logs every trial at INFO; a run turns it down to warnings."""
    import optuna

    optuna.logging.set_verbosity(logging.INFO)
    run_once(TPE, analog, budget=5, seed=0)
    assert optuna.logging.get_verbosity() == logging.WARNING


def test_independent_tpe_is_selectable(analog):
    t = run_once(lambda: TPE(multivariate=False), analog, budget=30, seed=0)
    assert len(t["key"]) == 30
