"""A trained Ape-X agent as a file (:mod:`harness.agents`): what is kept and how it is rebuilt.

Kept: the online Q-network's ``state_dict`` (the target network, optimizer and replay are
training state, kept by the training ``checkpoint`` instead), the network shapes (encoder
input size, ``N + 1`` actions, latent T, depths, head, encoding) and the training ledger
(training queries, environment steps, learner updates, seconds). The agent is rebuilt on any
benchmark whose space has the same id and the same encoding size; evaluation settings
(episode length, evaluation epsilon, batch) are the running configuration's.
"""

from __future__ import annotations

import torch

from algorithms.apex.agent import build_network
from algorithms.apex.encoding import ArchTable, Encoder
from harness.errors import ConfigError

NETWORK_FIELDS = ("n_neighbours", "encoding", "transformer_layers", "heads", "encoder_layers", "head")


def apex_agent_state(cfg, space, result) -> tuple[dict, dict, dict]:
    """``(state, ledger, network)`` of a :class:`~algorithms.apex.train.TrainResult` for
    :meth:`harness.agents.AgentFiles._save_agent`."""
    net = result.learner.net
    state = {"net": {k: v.detach().cpu() for k, v in net.state_dict().items()}}
    network = {k: getattr(cfg, k) for k in NETWORK_FIELDS}
    network.update(latent=int(cfg.latent_size(space)), dim=int(result.table.encoder.dim), n_actions=int(net.n_actions))
    ledger = {"training_queries": int(result.training_queries), "env_steps": int(result.env_steps),
              "updates": int(result.updates), "train_seconds": float(result.train_seconds)}
    return state, ledger, network


def load_apex_agent(state: dict, meta: dict, space, cfg):
    """``(net, table, n_neighbours)``: the saved Q-network rebuilt for ``space``; a one-line
    :class:`ConfigError` when the space's encoding does not fit the saved network."""
    net_meta = meta.get("network") or {}
    try:
        encoder = Encoder(space, net_meta["encoding"])
        table = ArchTable(space, encoder)
        if encoder.dim != int(net_meta["dim"]):
            raise ConfigError(f"the agent's network reads {net_meta['dim']} numbers per architecture, space "
                              f"{space.id} gives {encoder.dim}: it cannot run on this benchmark")
        gen = torch.Generator().manual_seed(0)  # placeholder initialization, overwritten below
        net = build_network(int(net_meta["dim"]), int(net_meta["n_actions"]), gen, latent=int(net_meta["latent"]),
                            layers=int(net_meta["transformer_layers"]), heads=int(net_meta["heads"]),
                            encoder_layers=int(net_meta["encoder_layers"]), head=net_meta["head"])
        net.load_state_dict({k: torch.as_tensor(v) for k, v in state["net"].items()})
    except (KeyError, TypeError, RuntimeError) as e:
        msg = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise ConfigError(f"the agent file does not hold a usable Ape-X network ({msg})") from None
    net = net.to(torch.device(cfg.device))
    net.eval()
    return net, table, int(net_meta["n_neighbours"])
