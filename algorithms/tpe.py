"""TPE (tree-structured Parzen estimator, Bergstra et al. 2011) through Optuna's
``TPESampler``: what a practitioner would try first on a categorical search space.

Ask-and-tell over the space's ``decisions`` view: every decision ``i`` is one categorical
parameter ``d{i}`` with choices ``0..k_i-1``; a trial's parameters go through
``space.from_decisions`` and the architecture's search value is told back (direction from the
benchmark: maximize or minimize). The sampler is seeded from the run's ``rng``; Optuna's
logging is turned down to warnings.

Settings: Optuna's TPE defaults (``n_startup_trials=10`` random trials, ``n_ei_candidates=24``),
with ``multivariate=True`` stated explicitly (Optuna's default for single-objective studies
since 5.0; older versions defaulted to the independent TPE, selectable here with ``False``).

Repeats: TPE may propose an architecture again; it is queried again and priced by the
counting rule (free under ``unique``), and the value is told as a new trial. Proposals that
``from_decisions`` rejects (``InvalidArchitecture``) are told as failed trials and cost no
query. Requires ``decisions`` and Optuna (imported when the algorithm runs).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from algorithms.base import Algorithm, field
from harness.errors import ConfigError, InvalidArchitecture


@dataclass
class TPEConfig:
    n_startup_trials: int = field(10, "random trials before TPE takes over (Optuna default: 10)")
    n_ei_candidates: int = field(24, "candidates scored by expected improvement per trial (Optuna default: 24)")
    multivariate: bool = field(True, "multivariate TPE (Optuna >= 5 default) instead of independent per-parameter TPE")

    def __post_init__(self):
        if self.n_startup_trials < 0 or self.n_ei_candidates < 1:
            raise ConfigError("tpe needs n_startup_trials >= 0 and n_ei_candidates >= 1")


class TPE(Algorithm):
    """Optuna's TPE sampler, ask-and-tell over the categorical decisions."""

    name = "tpe"
    Config = TPEConfig
    requires = ("decisions",)
    test_hyperparameters = {}

    def warmup(self, budget: int, space) -> int:
        """``n_startup_trials`` random trials, at most half the budget (algorithms.base.WARMUP_CAP)."""
        return int(self.config.n_startup_trials)

    def run(self, oracle, rng) -> None:
        import optuna
        from optuna.distributions import CategoricalDistribution
        from optuna.trial import TrialState

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        cfg = self.config
        space = oracle.space
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = optuna.samplers.TPESampler(
                seed=int(rng.integers(0, 2**31 - 1)),
                n_startup_trials=cfg.n_startup_trials,
                n_ei_candidates=cfg.n_ei_candidates,
                multivariate=cfg.multivariate,
            )
        study = optuna.create_study(direction="maximize" if oracle.maximize else "minimize", sampler=sampler)
        names = [f"d{i}" for i in range(len(space.decisions))]
        dists = {n: CategoricalDistribution(list(range(int(k)))) for n, k in zip(names, space.decisions)}
        while True:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                trial = study.ask(dists)
            choices = [trial.params[n] for n in names]
            try:
                arch = space.from_decisions(choices)
            except InvalidArchitecture:
                study.tell(trial, state=TrialState.FAIL)
                continue
            study.tell(trial, oracle.query(arch))
