"""L2NAS (§2.2-2.4, §3.4, §4.1 of the paper, docs/references.md): the pieces against the paper's formulas, then whole runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from algorithms import l2nas as L
from algorithms.registry import make_algorithm
from harness.conformance import check_algorithm, run_once
from harness.errors import BudgetExhausted, ConfigError
from harness.oracle import Oracle
from harness.spaces.base import SearchSpace


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tests that drive the networks directly use one thread, like ``run`` (several threads on a
    busy 2-core machine are an order of magnitude slower)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _rho(u, tau):
    return u * (tau - (u <= 0).astype(float))


def _run(algo, bench, budget, seed=0, counting="all"):
    oracle = Oracle(bench, budget=budget, counting=counting)
    try:
        algo.run(oracle, np.random.default_rng(seed))
    except BudgetExhausted:
        pass
    return oracle


# --- the formulas ----------------------------------------------------------------------------


def test_check_loss_is_rho_tau():
    import torch

    assert L.check_loss(np.array([2.0]), 0.9) == pytest.approx(1.8)  # under-prediction costs τ
    assert L.check_loss(np.array([-2.0]), 0.9) == pytest.approx(0.2)  # over-prediction costs 1 - τ
    assert L.check_loss(np.array([0.0]), 0.9) == 0.0
    u = np.random.default_rng(0).normal(size=200)
    for tau in (0.1, 0.5, 0.9):
        assert float(L.check_loss(torch.tensor(u), tau)) == pytest.approx(_rho(u, tau).mean(), rel=1e-12)


def test_critic_learns_the_tau_quantile_not_the_mean():
    """Eq. 5 on a noisy reward: two actions, r ~ U(0, 10) and U(10, 30); Q -> 9 and 28 (τ = 0.9),
    not the means 5 and 20; with τ = 0.5 -> the medians."""
    import torch

    rng = np.random.default_rng(0)
    a1, a2 = np.zeros(6, np.float32), np.ones(6, np.float32)
    for tau, want in ((0.9, (9.0, 28.0)), (0.5, (5.0, 20.0))):
        cfg = L.L2NASConfig(tau=tau, critic_lr=1e-2, actor_lr=0.0, batch_size=64, c_max=1)
        agent = L.Agent(6, 16, cfg, torch.Generator().manual_seed(0))
        replay = L.Replay(6)
        for i in range(2000):
            a = a1 if i % 2 == 0 else a2
            r = rng.uniform(0, 10) if i % 2 == 0 else rng.uniform(10, 30)
            replay.add(np.zeros(6), a, r)
        for _ in range(600):
            agent.train(replay, rng)
        q1, q2 = agent.q(np.stack([a1, a2]))
        assert q1 == pytest.approx(want[0], abs=0.6) and q2 == pytest.approx(want[1], abs=1.2), (tau, q1, q2)


def test_actor_ascends_the_critic():
    """Eq. 6 (with the DDPG sign): actor steps raise Q(μ(s)) under a fixed critic."""
    import torch

    cfg = L.L2NASConfig(actor_lr=1e-3, critic_lr=0.0, batch_size=8)
    agent = L.Agent(30, 32, cfg, torch.Generator().manual_seed(1))
    s = np.random.default_rng(0).random((8, 30)).astype(np.float32)
    before = agent.q(np.stack([agent.act(x) for x in s])).mean()
    for _ in range(50):
        agent.update(s, s, np.zeros(8, np.float32))
    after = agent.q(np.stack([agent.act(x) for x in s])).mean()
    assert after > before


def test_epsilon_schedule_and_rewards():
    assert L.epsilon_at(0, 1.0, 0.05, 175) == 1.0
    assert L.epsilon_at(175, 1.0, 0.05, 175) == 0.05 == L.epsilon_at(900, 1.0, 0.05, 175)
    eps = [L.epsilon_at(t, 1.0, 0.05, 175) for t in range(176)]
    assert all(a >= b for a, b in zip(eps, eps[1:]))
    assert L.epsilon_at(87.5, 1.0, 0.05, 175) == pytest.approx(0.525)
    assert L.reward_exp(0.9437) == pytest.approx(100**0.9437)  # Eq. 3
    assert L.reward_rescaled(76.0, 76.0) == pytest.approx(0.0)  # Eq. 7: Acc = Acc(Env) -> 0
    algo = L.L2NAS()
    assert algo.reward(94.37) == pytest.approx(100 ** 0.9437)  # oracle values are in %
    assert L.L2NAS(reward="rescaled", acc_env=80.0).reward(80.0) == pytest.approx(0.0)


def test_paper_defaults_and_bad_config():
    c = make_algorithm("l2nas").config
    assert (c.actor_lr, c.critic_lr, c.adam_beta1, c.adam_beta2) == (1e-8, 1e-4, 0.9, 0.99)
    assert (c.tau, c.top_k, c.batch_size, c.c_max, c.xi, c.layers) == (0.9, 64, 8, 10, 1e-4, 3)
    assert (c.exploration, c.epsilon_start, c.epsilon_end, c.epsilon_steps) == ("epsilon", 1.0, 0.05, 175)
    d = make_algorithm("l2nas-darts").config
    assert (d.top_k, d.tau, d.batch_size, d.xi, d.c_max, d.replay_size, d.exploration, d.warmup_steps, d.hidden) == (
        500, 0.95, 64, 5e-5, 1, 5000, "warmup", 3000, 256)
    assert make_algorithm("l2nas-tuned").config.actor_lr > 1e-8
    with pytest.raises(ConfigError, match="acc_env"):
        L.L2NAS(reward="rescaled")
    with pytest.raises(ConfigError, match="exploration"):
        L.L2NAS(exploration="boltzmann")
    with pytest.raises(ConfigError, match="tau"):
        L.L2NAS(tau=1.5)


# --- state and discretization -------------------------------------------------------------------


def test_topk_state_is_mean_onehot_of_distinct_best():
    t = L.TopK(2, 3)
    assert np.all(t.state() == 0)
    e = np.eye(3)
    t.add("a", 1.0, e[0])
    assert np.allclose(t.state(), e[0])  # fewer than K seen: mean over those seen
    t.add("b", 3.0, e[1])
    t.add("c", 2.0, e[2])  # evicts a
    assert t.members == ["b", "c"] and np.allclose(t.state(), (e[1] + e[2]) / 2)
    t.add("b", 3.0, e[1])  # a repeat never enters twice
    t.add("d", 2.0, e[0])  # a tie with the worst member keeps the earlier one
    assert t.members == ["b", "c"]
    t.add("a", 5.0, e[0])  # a better value re-ranks
    assert t.members == ["a", "b"] and np.allclose(t.state(), (e[0] + e[1]) / 2)


def test_run_state_is_mean_onehot_of_topk_of_trajectory(analog):
    algo = L.L2NAS(**{**L.L2NAS.test_hyperparameters, "top_k": 8})
    oracle = _run(algo, analog, 80)
    tr = oracle.trajectory()
    first = {}
    for pos, (i, v) in enumerate(zip(tr["index"], tr["search"])):
        first.setdefault(int(i), (v, pos))
    top = sorted(first, key=lambda i: (-first[i][0], first[i][1]))[:8]
    space = analog.space
    want = np.mean([space.onehot(space.arch_at(i)).reshape(-1) for i in top], axis=0)
    np.testing.assert_allclose(algo.state_, want, atol=1e-6)


def test_nb201_discretization_is_per_row_argmax(analog):
    space = analog.space
    rng = np.random.default_rng(0)
    for _ in range(50):
        alpha = rng.random((6, 5))
        arch = space.discretize(alpha)
        assert arch == tuple(alpha.argmax(axis=1))  # Alg. 1
        d = space.onehot(arch)
        assert d.shape == (6, 5) and np.all(d.sum(axis=1) == 1)  # α^d: one op per edge
        assert space.discretize(1 / (1 + np.exp(-alpha)) * 3 + 2) == arch  # invariant to monotone maps
        assert space.discretize(d) == arch


class _TwoMatrixSpace(SearchSpace):
    """An OFA-like space with two α matrices: ops (4 x 3) and depth (2 x 2); per-row argmax."""

    id = "two-matrix-test-v1"
    encodings = ("vector", "onehot")

    def sample(self, rng):
        return tuple(int(x) for x in rng.integers(0, 3, 4)) + tuple(int(x) for x in rng.integers(0, 2, 2))

    def contains(self, arch):
        return isinstance(arch, tuple) and len(arch) == 6 and all(isinstance(x, int) for x in arch)

    def key(self, arch):
        return "".join(map(str, arch))

    def onehot(self, arch):
        return np.eye(3, dtype=np.float32)[list(arch[:4])], np.eye(2, dtype=np.float32)[list(arch[4:])]

    def discretize(self, alpha):
        ops, depth = alpha
        assert np.shape(ops) == (4, 3) and np.shape(depth) == (2, 2)
        return tuple(int(x) for x in np.argmax(ops, 1)) + tuple(int(x) for x in np.argmax(depth, 1))


class _Surrogate:
    name = "two-matrix-test"
    kind = "surrogate"
    default_search = default_report = "acc"

    def __init__(self):
        self.space = _TwoMatrixSpace()

    def check_metric(self, m):
        return m

    def maximize(self, m):
        return True

    def predict(self, archs, metric, rng=None):
        return np.array([50.0 + 5 * sum(x == 1 for x in a) for a in archs])


def test_several_alpha_matrices_are_split_and_reshaped():
    bench = _Surrogate()
    layout = L.AlphaLayout(bench.space)
    assert layout.size == 4 * 3 + 2 * 2 and layout.is_tuple
    arch = (0, 1, 2, 1, 1, 0)
    assert bench.space.discretize(layout.unflat(layout.flat(bench.space.onehot(arch)))) == arch
    algo = L.L2NAS(**L.L2NAS.test_hyperparameters)
    oracle = _run(algo, bench, 40)
    assert oracle.used == 40 and algo.agent_.actor[0].in_features == 16 and algo.agent_.actor[-2].out_features == 16


# --- whole runs --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["l2nas", "l2nas-tuned", "l2nas-darts"])
def test_conformance_and_determinism(name, analog):
    cls = type(make_algorithm(name))
    check_algorithm(lambda: cls(**cls.test_hyperparameters), analog, budget=60)


def test_faithful_default_is_deterministic(analog):
    a = run_once(lambda: L.L2NAS(), analog, 40, seed=3)
    b = run_once(lambda: L.L2NAS(), analog, 40, seed=3)
    assert list(a["key"]) == list(b["key"])


def test_unique_counting_prices_repeats_only(analog):
    """Same seed: the same proposals under both rules; 'unique' records each architecture once."""
    hp = {**L.L2NAS.test_hyperparameters, "max_steps": 120, "epsilon_steps": 10, "epsilon_end": 0.0}
    all_ = _run(L.L2NAS(**hp), analog, 10_000, counting="all").trajectory()
    uniq_algo = L.L2NAS(**hp)
    uniq = _run(uniq_algo, analog, 10_000, counting="unique").trajectory()
    assert len(all_["index"]) == 120
    assert list(uniq["index"]) == list(dict.fromkeys(all_["index"].tolist()))
    assert uniq_algo.diagnostics_["steps"] == 120
    assert uniq_algo.diagnostics_["free_steps"] == 120 - len(uniq["index"])


def test_free_streak_ends_a_run_that_only_repeats(analog):
    """A frozen actor with no exploration proposes one architecture forever: the guard ends it."""
    algo = L.L2NAS(exploration="warmup", warmup_steps=0, actor_lr=0.0, xi=0.0, hidden=8, c_max=1, max_free_streak=30)
    oracle = _run(algo, analog, 1000, counting="unique")
    assert oracle.used == 1 and algo.diagnostics_["stopped"] == "free_streak" and algo.diagnostics_["steps"] == 31


def test_printed_actor_rate_leaves_the_actor_static(analog):
    """The measurement behind ``l2nas-tuned``: at lr 1e-8 the proposals equal a frozen actor's."""
    runs = {}
    for lr in (0.0, 1e-8, 1e-3):  # ε reaches its floor at step 20 here, so the actor acts from then on
        algo = L.L2NAS(actor_lr=lr, epsilon_steps=20)
        runs[lr] = (_run(algo, analog, 100, seed=1).trajectory()["index"], algo.diagnostics_)
        assert algo.agent_.actor[0].out_features == 128  # §3.4: 128 units on NB201
    np.testing.assert_array_equal(runs[0.0][0], runs[1e-8][0])
    assert runs[1e-8][1]["updates"] > 500 and runs[1e-8][1]["actor_max_weight_change"] < 1e-5
    assert not np.array_equal(runs[0.0][0], runs[1e-3][0])  # a trained actor does propose differently


class _DartsSurrogate(_Surrogate):
    """A synthetic score on the DARTS space: more sep_conv_3x3 edges, higher accuracy."""

    name = "darts-synthetic-test"

    def __init__(self):
        from harness.spaces.darts import OPS, DartsSpace

        self.space = DartsSpace()
        self._op = OPS.index("sep_conv_3x3")

    def predict(self, archs, metric, rng=None):
        return np.array([80.0 + self.space.onehot(a)[:, :, self._op].sum() for a in archs])


def test_darts_space_alpha_is_two_14x7_matrices_discretized_by_alg2():
    pytest.importorskip("harness.spaces.darts")
    bench = _DartsSurrogate()
    layout = L.AlphaLayout(bench.space)
    assert layout.shapes == [(2, 14, 7)] and layout.size == 196
    algo = L.L2NASDarts(**L.L2NASDarts.test_hyperparameters)
    oracle = _run(algo, bench, 40)
    assert oracle.used == 40
    assert algo.agent_.actor[0].in_features == 196 == algo.agent_.actor[-2].out_features
    auto = L.L2NAS(**{**L.L2NAS.test_hyperparameters, "hidden": 0})  # 0: 128 units on NB201, 256 here
    _run(auto, bench, 12)
    assert auto.agent_.actor[0].out_features == 256
    for key in oracle.trajectory()["key"]:
        d = bench.space.onehot(bench.space.parse(key))
        assert d.sum() == 16  # Alg. 2: 2 edges per intermediate node, 4 nodes, 2 cells



# --- speed without changing what is computed ------------------------------------------------------


def test_flat_adam_is_torch_fused_adam():
    """FlatAdam (one fused kernel on flat parameter and gradient tensors) gives exactly the
    parameters of ``torch.optim.Adam(fused=True)``."""
    import torch

    nets = [L.mlp(6, 8, 2, 3, sigmoid=True, gen=torch.Generator().manual_seed(0)) for _ in range(2)]
    flat = L.FlatAdam(nets[0].parameters(), 1e-2, (0.9, 0.99))
    ref = torch.optim.Adam(nets[1].parameters(), lr=1e-2, betas=(0.9, 0.99), fused=True)
    x = torch.from_numpy(np.random.default_rng(0).random((5, 6)).astype(np.float32))
    for _ in range(20):
        flat.zero_grad()
        nets[0](x).pow(2).sum().backward()
        flat.step()
        ref.zero_grad(set_to_none=True)
        nets[1](x).pow(2).sum().backward()
        ref.step()
    for p, q in zip(nets[0].parameters(), nets[1].parameters()):
        assert torch.equal(p, q)
    assert not torch.equal(nets[0][0].weight, L.mlp(6, 8, 2, 3, True, torch.Generator().manual_seed(0))[0].weight)


# Recorded from the implementation before the per-step overhead was removed (commit e4aa95c:
# torch.optim.Adam per network, nn.Module calls, one replay gather per update), nb201-analog.
BEFORE_FAST = {
    "l2nas": [
        9034, 1418, 1931, 6842, 10021, 3090, 76, 8222, 14286, 13139, 10800, 15240, 7550, 612, 5541, 3623,
        9050, 4416, 12047, 14135, 8176, 13589, 2789, 9061, 11817, 2782, 12304, 9994, 9893, 3761, 8335, 2342,
        7762, 11941, 14980, 3937, 11589, 11447, 777, 15156, 12936, 13889, 3307, 13127, 6912, 2258, 1825,
        10997, 15156, 10498, 4691, 15288, 12275, 6008, 7423, 12758, 1716, 2570, 13803, 12413, 3233, 11043,
        6043, 15156, 11776, 15156, 15222, 15156, 15156, 15156, 7047, 15156, 15156, 13629, 15156, 14630,
        14665, 11307, 1089, 1262, 15156, 12699, 15156, 7869, 15156, 15156, 2841, 1086, 15156, 15156, 12224,
        15156, 15156, 872, 10107, 15156, 8926, 233, 15156, 2978, 15156, 15362, 9118, 15156, 9925, 13904,
        15156, 15156, 14902, 15156, 15156, 14551, 15156, 12288, 15156, 15156, 15156, 15156, 1662, 15156,
        15156, 15156, 15156, 15156, 15156, 5620, 10014, 12515, 15156, 15156, 2343, 15156, 15156, 15156, 9012,
        15156, 14024, 15156, 15156, 15156, 15156, 15156, 15156, 15156, 12050, 15156, 15156, 15156, 6615,
        15156,
    ],
    "l2nas-tuned": [
        6134, 5502, 10238, 6986, 8099, 13461, 13843, 4413, 3723, 15237, 15213, 8289, 11852, 13778, 12513,
        11512, 5870, 4193, 9749, 9097, 13560, 2987, 5363, 8279, 9626, 14518, 6581, 1507, 2580, 6708, 14200,
        7319, 10692, 3778, 1402, 10450, 3973, 5142, 11272, 6245, 640, 2097, 7274, 2623, 3665, 10166, 4483,
        8125, 10226, 13628, 14656, 8986, 4483, 15103, 7967, 10671, 4483, 214, 10524, 1785, 11355, 15024,
        13457, 9779, 4483, 6249, 12344, 1040, 8309, 6298, 10081, 4483, 2066, 10275, 13011, 385, 8575, 11204,
        9696, 10909, 10449, 11489, 10012, 10929, 12418, 9478, 6136, 5114, 5221, 8571, 1928, 11254, 9000,
        12192, 10389, 10039, 15092, 10861, 12937, 8697, 14905, 10819, 2705, 238, 461, 5196, 4753, 5612, 8599,
        14426, 350, 10421, 12560, 12789, 5942, 412, 6478, 15465, 12799, 10992, 13890, 1229, 10668, 292, 340,
        2283, 1765, 10255, 3443, 9688, 3080, 11536, 1931, 10090, 7195, 480, 8318, 10287, 14389, 11547, 3873,
        4398, 10982, 2431, 1876, 11090, 10836, 14380, 12307, 5929,
    ],
    "test-unique": [
        11874, 11825, 6040, 8091, 2091, 7016, 497, 1861, 776, 7310, 14521, 13721, 13138, 15168, 15083, 11984,
        1710, 4780, 1148, 15371, 10866, 5475, 992, 12105, 9408, 8381, 1320, 14252, 8489, 6366, 7282, 13003,
        9610, 9596, 2943, 7161, 4834, 15081, 3308, 11961, 15045, 1326, 4448, 4620, 3621, 13709, 8909, 1069,
        500, 7731, 2019, 4229, 12711, 1628, 3064, 6959, 1969, 5039, 9474, 10854,
    ],
}


@pytest.mark.parametrize("case", ["l2nas", "l2nas-tuned", "test-unique"])
def test_trajectory_is_the_one_recorded_before_the_speed_up(analog, case):
    """Same seed, same queried cells as before the speed-up (150 steps of the faithful and the
    tuned configuration under counting ``all``; the small test configuration under ``unique``)."""
    if case == "test-unique":
        tr = run_once(lambda: make_algorithm("l2nas", **L.L2NAS.test_hyperparameters), analog, budget=60, seed=2,
                      counting="unique")
    else:
        tr = run_once(lambda: make_algorithm(case), analog, budget=150, seed=0 if case == "l2nas" else 1,
                      counting="all")
    assert tr["index"].tolist() == BEFORE_FAST[case]
