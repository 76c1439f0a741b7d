"""The ``device="cuda"`` paths of BONAS (GCN predictor) and Ape-X (learner).

These run only where torch sees a CUDA device (CI machines have none: every test here skips
with that reason). What they guard: the GPU path gives the same numbers as the CPU path (up to
float32 rounding), runs end to end through the oracle, and stays deterministic for one seed.
Run them on a GPU machine with ``python -m pytest tests/algorithms/test_cuda.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device: torch.cuda.is_available() is False")


# --- BONAS -----------------------------------------------------------------------------------
def _nb201_graphs(n, seed):
    from harness.spaces import get_space

    space = get_space("nb201")
    rng = np.random.default_rng(seed)
    archs = [space.sample(rng) for _ in range(n)]
    adj = np.stack([space.graph(a)[0] for a in archs])
    feats = np.stack([space.graph(a)[1] for a in archs])
    return archs, adj, feats


def test_bonas_gcn_on_cuda_matches_cpu():
    from algorithms.bonas_gcn import GraphBatch, features, make_gcn

    _, adj, feats = _nb201_graphs(64, 0)
    torch.manual_seed(0)
    cpu = make_gcn(feats.shape[2], hidden=32, regressor_hidden=32).eval()
    gpu = make_gcn(feats.shape[2], hidden=32, regressor_hidden=32)
    gpu.load_state_dict(cpu.state_dict())
    gpu = gpu.to("cuda").eval()
    batch = GraphBatch.from_arrays(adj, feats)
    emb_cpu = features(cpu, batch)
    emb_gpu = features(gpu, batch.to("cuda"))
    np.testing.assert_allclose(emb_gpu, emb_cpu, rtol=1e-4, atol=1e-5)
    with torch.no_grad():
        np.testing.assert_allclose(gpu(batch.to("cuda")).cpu().numpy(), cpu(batch).numpy(), rtol=1e-4, atol=1e-5)


def test_bonas_gcn_training_on_cuda_fits_like_cpu():
    from algorithms.bonas_gcn import GraphBatch, make_gcn, train_gcn

    archs, adj, feats = _nb201_graphs(200, 1)
    y = np.array([0.5 + 0.1 * sum(a) / 6 for a in archs])
    out = {}
    for dev in ("cpu", "cuda"):
        torch.manual_seed(4)
        model = make_gcn(feats.shape[2], hidden=32, regressor_hidden=32).to(dev)
        hist = train_gcn(model, adj, feats, y, np.random.default_rng(4), epochs=60, batch_size=50, lr=3e-3,
                         loss="mse", device=dev)
        with torch.no_grad():
            pred = model(GraphBatch.from_arrays(adj, feats).to(dev)).cpu().numpy()
        out[dev] = (hist, pred)
    (h_cpu, p_cpu), (h_gpu, p_gpu) = out["cpu"], out["cuda"]
    assert h_gpu[-1] < 0.1 * h_gpu[0]
    assert np.corrcoef(p_gpu, y)[0, 1] > 0.9
    # same initial weights and mini-batches: the two devices train to nearly the same model
    assert np.corrcoef(p_gpu, p_cpu)[0, 1] > 0.99


def test_bonas_search_on_cuda_is_deterministic_and_conforms(analog):
    from algorithms.bonas import BONAS
    from harness.conformance import check_algorithm

    hp = {**BONAS.test_hyperparameters, "device": "cuda"}
    check_algorithm(lambda: BONAS(**hp), analog, budget=40)  # includes: same seed, same trajectory


# --- Ape-X -----------------------------------------------------------------------------------
@pytest.mark.parametrize("head", ["first_token", "per_token"])
def test_apex_network_on_cuda_matches_cpu(head):
    from algorithms.apex.agent import MASKED, build_network

    cpu = build_network(12, 26, torch.Generator().manual_seed(5), latent=32, layers=2, heads=2, head=head).eval()
    gpu = build_network(12, 26, torch.Generator().manual_seed(5), latent=32, layers=2, heads=2, head=head)
    gpu = gpu.to("cuda").eval()
    g = torch.Generator().manual_seed(0)
    x = torch.rand(16, 26, 12, generator=g)
    m = torch.rand(16, 26, generator=g) < 0.7
    m[:, 0] = True  # the current architecture is always a valid action
    with torch.no_grad():
        q_cpu = cpu(x, m)
        q_gpu = gpu(x.cuda(), m.cuda()).cpu()
    assert (q_gpu[~m] == MASKED).all()
    torch.testing.assert_close(q_gpu[m], q_cpu[m], rtol=1e-4, atol=1e-4)


def test_apex_learner_on_cuda_trains_deterministically(analog):
    from algorithms.apex import ApeX
    from harness.conformance import run_once

    def run(seed):
        algo = ApeX(**{**ApeX.test_hyperparameters, "device": "cuda"})
        traj = run_once(lambda: algo, analog, budget=60, seed=seed)
        return traj, algo.last_training

    (a, ta), (b, tb) = run(0), run(0)
    assert next(ta.learner.net.parameters()).is_cuda
    assert ta.updates == tb.updates > 0 and ta.training_queries == tb.training_queries > 0
    assert list(a["key"]) == list(b["key"]) and len(a["key"]) == 60
    np.testing.assert_array_equal(a["search"], b["search"])
    for p, q in zip(ta.learner.net.parameters(), tb.learner.net.parameters()):
        assert torch.isfinite(p).all()
        assert torch.equal(p, q)
