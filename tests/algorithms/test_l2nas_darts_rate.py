"""``l2nas-darts`` keeps the printed actor learning rate 1e-8 (§3.4): its actor stays static, as
``l2nas``'s does (docs/l2nas.md); ``actor_lr`` is the choice a protocol can make instead."""

import numpy as np

from algorithms.l2nas import L2NASDarts
from harness.errors import BudgetExhausted
from harness.oracle import Oracle


def _moves(analog, **hp):
    algo = L2NASDarts(hidden=32, top_k=8, batch_size=8, warmup_steps=20, replay_size=40, **hp)
    oracle = Oracle(analog, budget=150, counting="all")
    try:
        algo.run(oracle.view(), np.random.default_rng(3))
    except BudgetExhausted:
        pass
    return algo.diagnostics_


def test_l2nas_darts_printed_actor_rate_leaves_the_actor_static(analog):
    assert L2NASDarts().config.actor_lr == 1e-8
    printed = _moves(analog)
    assert printed["updates"] > 100 and printed["actor_max_weight_change"] < 1e-5
    assert _moves(analog, actor_lr=1e-4)["actor_max_weight_change"] > 1e-3  # the exposed choice does move it
