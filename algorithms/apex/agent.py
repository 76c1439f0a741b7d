"""The transformer Q-network of Ape-X NAS (docs/references.md) §3.2.3 (Fig. 6) and the double-Q target.

Network (per observation of ``L = N + 1`` prepared architectures, slot 0 = the current one):

1. architecture encoder: the same MLP on every architecture vector,
   ``dim -> T -> T`` with ReLU (``T = 256``; 512 for NB301), "several fully-connected layers";
2. positional encoding: a learned ``(N + 1, T)`` table added to the latents (ViT style), so
   the transformer knows which slot (action) each architecture occupies;
3. ``torch.nn.TransformerEncoder`` (``layers`` pre-norm layers, ``heads`` heads, feed-forward
   ``2T``, no dropout); padded slots are excluded with a key-padding mask;
4. the first output token (the current architecture, like ViT's class token) feeds a duelling
   head (Wang et al. 2016): an advantage branch ``T -> T -> N + 1`` (one advantage per
   presented architecture / action slot) and a value branch ``T -> T -> 1``;
   ``Q = V + A - mean_{valid} A``; invalid (masked) actions get ``-inf``-like values
   (:data:`MASKED`). This is ``head="first_token"``, the paper's description. Option
   ``head="per_token"`` (ours, not the paper's) computes the advantage of slot ``k`` from
   output token ``k`` with a shared ``T -> T -> 1`` branch (the value still from token 0):
   it learns much faster from little data, which matters for minute-long training runs.
   With ``first_token`` only output token 0 is read, so the last transformer layer is
   computed for that token alone (:func:`first_token_layer`: keys and values of every token,
   query, attention and feed-forward of token 0): the same values as the full layer within
   float rounding, at a quarter of that layer's work with 24 neighbours.

The paper does not give the encoder depth, transformer depth or head count; ours are
parameters (defaults: 2-layer encoder MLP, 2 transformer layers, 4 heads).

A batch is trimmed to its longest valid prefix before the transformer (slots past the last
valid one are padding in every row), which saves work when spaces have fewer than ``N``
neighbours; the output always has ``N + 1`` columns.

Parameters are initialized from an explicit ``torch.Generator`` (:func:`build_network`):
the module is built on the ``meta`` device and materialized with our own initialization, so
the global torch RNG is never used.

:func:`double_q_targets`: ``y = R + d * Q_target(s', argmax_a Q_online(s', a))`` (van Hasselt
et al. 2016) with the n-step return ``R`` and bootstrap discount ``d`` of
:mod:`algorithms.apex.replay`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

MASKED = -1e9
HEADS = ("first_token", "per_token")


class QNetwork(nn.Module):
    """``forward(x (B, L, dim) float, mask (B, L) bool) -> Q (B, n_actions)``."""

    def __init__(self, dim: int, n_actions: int, latent: int = 256, layers: int = 2, heads: int = 4,
                 encoder_layers: int = 2, head: str = "first_token"):
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"unknown head {head!r}; choose one of: {', '.join(HEADS)}")
        self.n_actions = int(n_actions)
        self.head = head
        enc = []
        d = dim
        for _ in range(encoder_layers):
            enc += [nn.Linear(d, latent), nn.ReLU()]
            d = latent
        self.encoder = nn.Sequential(*enc)
        self.position = nn.Parameter(torch.zeros(n_actions, latent))
        layer = nn.TransformerEncoderLayer(latent, heads, dim_feedforward=2 * latent, dropout=0.0,
                                           batch_first=True, norm_first=True)
        self.transformer = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(latent)
        adv_out = n_actions if head == "first_token" else 1
        self.advantage = nn.Sequential(nn.Linear(latent, latent), nn.ReLU(), nn.Linear(latent, adv_out))
        self.value = nn.Sequential(nn.Linear(latent, latent), nn.ReLU(), nn.Linear(latent, 1))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        B = x.shape[0]
        valid_len = int(mask.any(0).nonzero().max()) + 1 if mask.any() else 1
        x, m = x[:, :valid_len], mask[:, :valid_len]
        h = self.encoder(x) + self.position[:valid_len]
        full_mask = torch.zeros(B, self.n_actions, dtype=torch.bool, device=x.device)
        full_mask[:, :valid_len] = m
        if self.head == "first_token":
            # only output token 0 is read: the last layer is computed for that token alone
            layers = self.transformer.layers
            pad = None if bool(m.all()) else ~m  # (no padded slot: nothing to mask)
            for layer in layers[:-1]:
                h = layer(h, src_key_padding_mask=pad)
            h0 = self.norm(first_token_layer(layers[-1], h, m))
            adv = self.advantage(h0)
        else:
            h = self.transformer(h, src_key_padding_mask=~m)
            h = self.norm(h)
            h0 = h[:, 0]
            adv = torch.zeros(B, self.n_actions, dtype=h.dtype, device=x.device)
            adv[:, :valid_len] = self.advantage(h).squeeze(-1)
        adv_mean = (adv * full_mask).sum(1, keepdim=True) / full_mask.sum(1, keepdim=True).clamp(min=1)
        q = self.value(h0) + adv - adv_mean
        return q.masked_fill(~full_mask, MASKED)


def first_token_layer(layer: nn.TransformerEncoderLayer, h: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Output token 0 of the pre-norm ``layer`` (no dropout) on ``h`` (B, L, T), shape (B, T).

    The same formulas as ``layer(h, src_key_padding_mask=~valid)[:, 0]`` (see the module
    docstring, item 4): keys and values from every token, the query, the attention output and
    the feed-forward block for token 0 only, which is all of that layer the first-token head
    reads (a quarter of its work for 24 neighbours). Equal to the full layer within float
    rounding (``tests/algorithms/test_apex.py::test_first_token_layer_equals_the_full_layer``)."""
    B, L, T = h.shape
    att = layer.self_attn
    heads = att.num_heads
    y = layer.norm1(h)
    w, b = att.in_proj_weight, att.in_proj_bias
    q = nn.functional.linear(y[:, 0], w[:T], b[:T]).view(B, heads, 1, T // heads)
    kv = nn.functional.linear(y, w[T:], b[T:]).view(B, L, 2, heads, T // heads).permute(2, 0, 3, 1, 4)
    mask = None if bool(valid.all()) else valid[:, None, None, :]
    o = nn.functional.scaled_dot_product_attention(q, kv[0], kv[1], attn_mask=mask).reshape(B, T)
    x = h[:, 0] + att.out_proj(o)
    return x + layer.linear2(layer.activation(layer.linear1(layer.norm2(x))))


def init_parameters(module: nn.Module, gen: torch.Generator) -> None:
    """PyTorch's default initializations, drawn from ``gen`` (never the global RNG)."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.Linear):
                nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=gen)
                if m.bias is not None:
                    bound = 1 / math.sqrt(m.weight.shape[1])
                    nn.init.uniform_(m.bias, -bound, bound, generator=gen)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for m in module.modules():  # after the Linear pass: out_proj is a Linear
            if isinstance(m, nn.MultiheadAttention):
                nn.init.xavier_uniform_(m.in_proj_weight, generator=gen)
                nn.init.zeros_(m.in_proj_bias)
                nn.init.zeros_(m.out_proj.bias)
        if isinstance(getattr(module, "position", None), nn.Parameter):
            nn.init.normal_(module.position, 0.0, 0.02, generator=gen)


def build_network(dim: int, n_actions: int, gen: torch.Generator, **kw) -> QNetwork:
    """A :class:`QNetwork` with parameters drawn from ``gen`` (see the module docstring)."""
    with torch.device("meta"):
        net = QNetwork(dim, n_actions, **kw)
    net = net.to_empty(device="cpu")
    init_parameters(net, gen)
    return net


def double_q_targets(ret: torch.Tensor, discount: torch.Tensor, q_online_next: torch.Tensor,
                     q_target_next: torch.Tensor) -> torch.Tensor:
    """``ret + discount * q_target_next[argmax q_online_next]`` per row (masked entries of
    both Q tensors must hold :data:`MASKED`). Shapes ``(B,)``, ``(B,)``, ``(B, A)``, ``(B, A)``."""
    a_star = q_online_next.argmax(1, keepdim=True)
    boot = q_target_next.gather(1, a_star).squeeze(1)
    boot = torch.where(discount > 0, boot, torch.zeros_like(boot))
    return ret + discount * boot
