"""REINFORCE (Williams 1992) with independent categorical policies per decision and a moving-
average baseline: the NAS-Bench-201 REINFORCE baseline, as listed in L2NAS (docs/references.md) (L2NAS)
Table 1. Plain numpy; no torch needed.

Policy: one logit vector ``theta_i`` per entry of the space's ``decisions`` (for NB201: 6
edges x 5 ops), initialised to ``1e-3 * N(0, 1)``; an architecture is one draw from each
``softmax(theta_i)``. After each query with value ``r`` (the search metric; negated when the
metric is minimized), the baseline ``b`` is updated first, as an exponential moving average
with momentum ``ema_momentum`` and bias correction (``b = num / den`` with
``num <- m num + (1 - m) r``, ``den <- m den + (1 - m)``), then one Adam step (``betas=(0.9,
0.999), eps=1e-8``) on the loss ``-(r - b) * sum_i log pi(a_i)``, whose gradient with respect
to ``theta_i`` is ``-(r - b) * (onehot(a_i) - softmax(theta_i))``. Defaults follow
NAS-Bench-201's baseline script: ``learning_rate=0.001``, ``ema_momentum=0.9``, one
architecture per update. Rewards are used in the metric's own unit (percent for NB201, as in
that script; Adam makes the step size insensitive to the scale).

Draws that ``from_decisions`` rejects (``InvalidArchitecture``) are redrawn without an update
(so the policy is conditioned on valid members). Repeats are queried and priced by the
counting rule; the update happens either way. Requires ``decisions``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from algorithms.base import Algorithm, field
from harness.errors import ConfigError, InvalidArchitecture

MAX_INVALID_DRAWS = 10_000


@dataclass
class ReinforceConfig:
    learning_rate: float = field(0.001, "Adam learning rate (NAS-Bench-201 baseline: 0.001)")
    ema_momentum: float = field(0.9, "momentum of the moving-average reward baseline (NAS-Bench-201: 0.9)")
    init_std: float = field(1e-3, "standard deviation of the initial logits")

    def __post_init__(self):
        if not self.learning_rate > 0 or not 0 <= self.ema_momentum < 1 or self.init_std < 0:
            raise ConfigError("reinforce needs learning_rate > 0, 0 <= ema_momentum < 1 and init_std >= 0")


class Reinforce(Algorithm):
    """REINFORCE with per-decision categorical policies and a moving-average baseline."""

    name = "reinforce"
    Config = ReinforceConfig
    requires = ("decisions",)
    test_hyperparameters = {"learning_rate": 0.05}

    def run(self, oracle, rng) -> None:
        cfg = self.config
        space = oracle.space
        sign = 1.0 if oracle.maximize else -1.0
        ks = np.asarray(space.decisions, dtype=np.int64)
        D, K = len(ks), int(ks.max())
        valid = np.arange(K)[None, :] < ks[:, None]  # (D, K) mask of real choices
        theta = np.where(valid, cfg.init_std * rng.standard_normal((D, K)), -np.inf)
        m1 = np.zeros((D, K))
        m2 = np.zeros((D, K))
        beta1, beta2, eps, lr = 0.9, 0.999, 1e-8, cfg.learning_rate
        mom = cfg.ema_momentum
        num = den = 0.0
        rows = np.arange(D)
        last = ks - 1
        t = 0
        while True:
            e = np.exp(theta - theta.max(axis=1, keepdims=True))
            probs = e / e.sum(axis=1, keepdims=True)
            cum = probs.cumsum(axis=1)
            for _ in range(MAX_INVALID_DRAWS):
                u = rng.random(D)
                a = np.minimum((cum < u[:, None]).sum(axis=1), last)
                try:
                    arch = space.from_decisions(a.tolist())
                    break
                except InvalidArchitecture:
                    continue
            else:
                raise RuntimeError(f"reinforce: {MAX_INVALID_DRAWS} draws in a row gave no member of {space.id}")
            r = sign * oracle.query(arch)
            num = mom * num + (1.0 - mom) * r
            den = mom * den + (1.0 - mom)
            adv = r - num / den
            # gradient of the loss -(adv) * log pi(a): -(adv) * (onehot(a) - probs)
            grad = probs * adv
            grad[rows, a] -= adv
            t += 1
            m1 *= beta1
            m1 += (1.0 - beta1) * grad
            m2 *= beta2
            m2 += (1.0 - beta2) * grad * grad
            theta -= (lr / (1.0 - beta1**t)) * m1 / (np.sqrt(m2 / (1.0 - beta2**t)) + eps)
