"""The BONAS surrogate (Shi et al., "Efficient Sample-based NAS with Learnable Predictor",
BONAS, docs/references.md): the GCN embedding extractor (§3.1, §4.1), the weighted losses (Eq. 6, §4.5),
Bayesian linear regression on the embeddings (§3.2, Eq. 4-5) and expected improvement
(§2.2, Eq. 1-2). :mod:`algorithms.bonas` runs the search loop (Algorithm 1) on top.

Graphs (§3.1). A cell is a directed attributed graph: ``space.graph(arch)`` gives its
adjacency ``A`` (``A[i, j] = 1`` for a data-flow edge ``i -> j``) and one-hot node features
(operations as nodes). :func:`add_global_node` appends a "global" node that every node feeds
(edges ``i -> g``), encoded as one extra operation type. The GCN (Eq. 3, here
torch-geometric's ``GCNConv``) propagates along both directions (``edges="undirected"``, the
default of ``bonas`` and of the functions here) or along the data flow only
(``edges="forward"``); self-loops are added and the
adjacency is normalized symmetrically, ``D^-1/2 (A + I) D^-1/2`` with in-degrees. Every layer
is followed by a ReLU (Eq. 3); the global node's output of the last layer is the cell
embedding ``phi(A, X)``: it is invariant to any relabelling of the cell's nodes.

Batching (``impl`` / the search's ``gcn_impl``). ``"dense"`` (default): cells as a
:class:`DenseBatch` of dense normalized adjacencies ``(B, N, N)`` and features ``(B, N, F)``,
padded to the largest cell, one batched matmul per layer, training with a hand-written backward
and one fused Adam kernel on flat parameters (:func:`dense_cell`, :func:`_dense_forward`,
:func:`_dense_backward`, :class:`_FlatAdam`). ``"sparse"`` (the original): graphs packed into one
block-diagonal graph (:class:`GraphBatch`) with torch-geometric's ``GCNConv`` and autograd; the
normalized edge list is computed once per batch, and for one shared adjacency (NB201) cached
per batch size. Both compute the same function with the same parameters (tested).

Regressor and losses. The embedding feeds a single-hidden-layer network (§3.1) trained end to
end with the GCN (Adam, §4.1). Its output is affine-standardized (``y = mean(t) + std(t) *
net``, the statistics of the training targets) so the network starts at the right scale; the
loss is computed on ``y`` in target units exactly as written in the paper:

* ``exp``    (Eq. 6): ``1 / (N (e - 1)) sum (exp(t_i) - 1) (y_i - t_i)^2``
* ``log``    (§4.5):  ``1 / (N log 2) sum log(t_i + 1) (y_i - t_i)^2``
* ``linear`` (§4.5):  ``1 / N sum t_i (y_i - t_i)^2``
* ``mse``:            ``1 / N sum (y_i - t_i)^2``

The weights assume targets in [0, 1] (an accuracy as a fraction, footnote 2); targets are
clipped into [0, 1] for the weights only.

Bayesian linear regression (Eq. 4-5, Bishop 2006 §3.3-3.5). ``m_N = beta S_N Phi^T t``,
``S_N = (alpha I + beta Phi^T Phi)^-1``, ``mu = m_N^T phi``, ``sigma^2 = phi^T S_N phi + 1 /
beta``. ``alpha`` and ``beta`` maximize the log marginal likelihood (the evidence of §3.2) by
the evidence-approximation fixed point (Bishop eq. 3.92, 3.95) on the eigenvalues of
``Phi^T Phi``; the iterate with the highest evidence is kept, so the fitted values never have
a lower evidence than the initial ones.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr

LOSSES = ("exp", "log", "linear", "mse")
EDGE_MODES = ("forward", "undirected")


# --- expected improvement (Eq. 1-2) ---------------------------------------------------------
def expected_improvement(mu, sigma, best) -> np.ndarray:
    """EI of Eq. 2 for maximization: ``sigma (gamma Phi(gamma) + N(gamma))``, ``gamma = (mu -
    best) / sigma`` (Eq. 1). ``mu``, ``sigma``: arrays of the same shape; ``best``: the best
    observed value. Where ``sigma`` is 0 the EI is ``max(mu - best, 0)``."""
    mu = np.asarray(mu, dtype=float)
    sigma = np.asarray(sigma, dtype=float)
    safe = np.where(sigma > 0, sigma, 1.0)
    gamma = (mu - best) / safe
    ei = safe * (gamma * ndtr(gamma) + np.exp(-0.5 * gamma**2) / math.sqrt(2 * math.pi))
    return np.where(sigma > 0, ei, np.maximum(mu - best, 0.0))


# --- weighted losses (Eq. 6, §4.5) ----------------------------------------------------------
def loss_weights(target, kind: str):
    """Per-sample weights of a loss (torch tensor or numpy array in, same type out)."""
    if kind not in LOSSES:
        raise ValueError(f"unknown loss {kind!r}; choose one of: {', '.join(LOSSES)}")
    lib = np if isinstance(target, np.ndarray) else _torch()
    t = lib.clip(target, 0.0, 1.0)
    if kind == "exp":
        return (lib.exp(t) - 1.0) / (math.e - 1.0)
    if kind == "log":
        return lib.log(t + 1.0) / math.log(2.0)
    if kind == "linear":
        return t
    return lib.ones_like(t)


def weighted_loss(pred, target, kind: str = "exp"):
    """The loss ``kind`` (see the module docstring) of predictions ``pred`` against ground
    truth ``target`` (both shape ``(N,)``; torch tensors or numpy arrays)."""
    return (loss_weights(target, kind) * (pred - target) ** 2).mean()


def _torch():
    import torch

    return torch


# --- graphs ---------------------------------------------------------------------------------
def add_global_node(adj: np.ndarray, feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(adj (n+1, n+1), feats (n+1, d+1))``: a last node fed by every node (edges ``i -> g``)
    whose one-hot feature is a new, last operation type."""
    n, d = feats.shape
    a = np.zeros((n + 1, n + 1), dtype=np.float32)
    a[:n, :n] = adj
    a[:n, n] = 1.0
    x = np.zeros((n + 1, d + 1), dtype=np.float32)
    x[:n, :d] = feats
    x[n, d] = 1.0
    return a, x


class GraphBatch:
    """Several cells packed as one block-diagonal graph (each with its global node last).

    Attributes:
        x: node features, float tensor ``(total nodes, d + 1)``.
        adj_t: the normalized adjacency with self-loops, transposed (row = target node), as a
            torch sparse CSR tensor ``(total nodes, total nodes)``; ``GCNConv`` multiplies by
            it (one sparse matmul per layer).
        readout: long tensor ``(B,)``, the global node of each cell.
    """

    _cache: dict = {}  # (n, B, adjacency bytes, mode) -> adj_t, for batches of one topology

    def __init__(self, x, adj_t, readout):
        self.x, self.adj_t, self.readout = x, adj_t, readout

    def __len__(self) -> int:
        return int(self.readout.shape[0])

    def to(self, device) -> "GraphBatch":
        if str(device) == "cpu":
            return self
        return GraphBatch(self.x.to(device), self.adj_t.to(device), self.readout.to(device))

    def edges(self):
        """``(edge_index (2, E), edge_weight (E,))`` of ``adj_t`` (source, target order)."""
        coo = self.adj_t.to_sparse_coo().coalesce()
        return coo.indices().flip(0), coo.values()

    @classmethod
    def from_arrays(cls, adj: np.ndarray, feats: np.ndarray, edges: str = "undirected") -> "GraphBatch":
        """Batch of ``B`` cells of equal size: ``adj (B, n, n)``, ``feats (B, n, d)`` (without
        the global node; it is added here)."""
        import torch

        adj = np.asarray(adj, dtype=np.float32)
        feats = np.asarray(feats, dtype=np.float32)
        B, n, d = feats.shape
        m = n + 1
        x = np.zeros((B, m, d + 1), dtype=np.float32)
        x[:, :n, :d] = feats
        x[:, n, d] = 1.0
        fixed = bool((adj == adj[0]).all())
        key = (m, B, adj[0].tobytes(), edges) if fixed else None
        adj_t = cls._cache.get(key) if fixed else None
        if adj_t is None:
            if fixed:
                src, dst = _graph_edges(adj[0], edges)
                off = (np.arange(B) * m)[:, None]
                src, dst = (src[None] + off).reshape(-1), (dst[None] + off).reshape(-1)
            else:
                pairs = [_graph_edges(adj[b], edges) for b in range(B)]
                src = np.concatenate([s + b * m for b, (s, _) in enumerate(pairs)])
                dst = np.concatenate([t + b * m for b, (_, t) in enumerate(pairs)])
            adj_t = _normalized_adj_t(src, dst, B * m)
            if fixed:
                if len(cls._cache) > 64:
                    cls._cache.clear()
                cls._cache[key] = adj_t
        readout = torch.arange(B, dtype=torch.long) * m + n
        return cls(torch.from_numpy(x.reshape(B * m, d + 1)), adj_t, readout)

    @classmethod
    def from_graphs(cls, graphs, edges: str = "undirected") -> "GraphBatch":
        """Batch of ``(adj, feats)`` pairs (``space.graph`` output); sizes may differ."""
        groups: dict = {}
        for i, g in enumerate(graphs):
            groups.setdefault(g[1].shape, []).append(i)
        if len(groups) == 1:
            return cls.from_arrays(np.stack([g[0] for g in graphs]), np.stack([g[1] for g in graphs]), edges)
        import torch

        # one vectorized batch per cell size, merged block-diagonally; readout in input order
        xs, rows, cols, vals = [], [], [], []
        readout = torch.empty(len(graphs), dtype=torch.long)
        offset = 0
        for idx in groups.values():
            part = cls.from_arrays(np.stack([graphs[i][0] for i in idx]), np.stack([graphs[i][1] for i in idx]), edges)
            ei, w = part.edges()
            xs.append(part.x)
            rows.append(ei[1].numpy() + offset)
            cols.append(ei[0].numpy() + offset)
            vals.append(w.numpy())
            readout[torch.tensor(idx)] = part.readout + offset
            offset += part.x.shape[0]
        adj_t = _csr(np.concatenate(rows), np.concatenate(cols), np.concatenate(vals), offset)
        return cls(torch.cat(xs), adj_t, readout)


def _graph_edges(adj: np.ndarray, edges: str) -> tuple[np.ndarray, np.ndarray]:
    """(src, dst) of one cell with the global node (index n) and no self-loops."""
    if edges not in EDGE_MODES:
        raise ValueError(f"unknown edge mode {edges!r}; choose one of: {', '.join(EDGE_MODES)}")
    n = adj.shape[0]
    src, dst = np.nonzero(adj)
    g = np.arange(n)
    src = np.concatenate([src, g])
    dst = np.concatenate([dst, np.full(n, n)])
    if edges == "undirected":
        src, dst = np.concatenate([src, dst]), np.concatenate([dst, src])
    keep = src != dst
    pairs = np.unique(np.stack([src[keep], dst[keep]], 1), axis=0)
    return pairs[:, 0], pairs[:, 1]


def _normalized_adj_t(src: np.ndarray, dst: np.ndarray, n_nodes: int):
    """Self-loops plus symmetric normalization ``deg^-1/2[src] deg^-1/2[dst]`` with in-degrees
    (torch-geometric's ``gcn_norm`` rule), as a transposed sparse CSR matrix."""
    loop = np.arange(n_nodes)
    src = np.concatenate([src, loop])
    dst = np.concatenate([dst, loop])
    deg = np.bincount(dst, minlength=n_nodes).astype(np.float64)
    w = (deg[src] * deg[dst]) ** -0.5
    return _csr(dst, src, w, n_nodes)


def _csr(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n: int):
    import warnings

    import torch

    order = np.lexsort((cols, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    crow = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=crow[1:])
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            torch.from_numpy(crow), torch.from_numpy(cols.astype(np.int64)),
            torch.from_numpy(vals.astype(np.float32)), size=(n, n), check_invariants=False,
        )


# --- dense padded batches (gcn_impl="dense") -------------------------------------------------
GCN_IMPLS = ("dense", "sparse")


def dense_cell(adj: np.ndarray, feats: np.ndarray, edges: str = "undirected") -> tuple[np.ndarray, np.ndarray]:
    """One cell as dense arrays with its global node last: ``(a_hat (n+1, n+1), x (n+1, d+1))``,
    float32. ``a_hat[dst, src]`` is the weight of the message ``src -> dst`` of
    :class:`GraphBatch` (self-loops, ``D^-1/2 (A + I) D^-1/2`` with in-degrees): the same
    normalized adjacency, transposed, as a dense matrix."""
    adj = np.asarray(adj, dtype=np.float32)
    feats = np.asarray(feats, dtype=np.float32)
    n, d = feats.shape
    key = (n, adj.tobytes(), edges)
    a_hat = _DENSE_ADJ.get(key)
    if a_hat is None:
        m = n + 1
        src, dst = _graph_edges(adj, edges)
        loop = np.arange(m)
        src, dst = np.concatenate([src, loop]), np.concatenate([dst, loop])
        deg = np.bincount(dst, minlength=m).astype(np.float64)
        a_hat = np.zeros((m, m), dtype=np.float64)
        a_hat[dst, src] = (deg[src] * deg[dst]) ** -0.5
        a_hat = a_hat.astype(np.float32)
        a_hat.setflags(write=False)  # shared between the cells of one topology
        if len(_DENSE_ADJ) >= 100_000:
            _DENSE_ADJ.clear()
        _DENSE_ADJ[key] = a_hat
    x = np.zeros((n + 1, d + 1), dtype=np.float32)
    x[:n, :d] = feats
    x[n, d] = 1.0
    return a_hat, x


_DENSE_ADJ: dict = {}  # (n, adjacency bytes, edge mode) -> normalized dense adjacency (NB201: one entry)


class DenseBatch:
    """Cells as a dense padded batch: one batched matmul per GCN layer.

    Attributes:
        adj: normalized adjacencies (row = target node), float tensor ``(B, M, M)``; cells with
            fewer than ``M`` nodes are padded with empty rows and columns (no message reaches or
            leaves a padding node, so it changes nothing).
        x: node features ``(B, M, d + 1)``, zero on padding nodes.
        readout: long tensor ``(B,)``, the global node of each cell.
    """

    def __init__(self, adj, x, readout):
        self.adj, self.x, self.readout = adj, x, readout

    def __len__(self) -> int:
        return int(self.readout.shape[0])

    def to(self, device) -> "DenseBatch":
        if str(device) == "cpu":
            return self
        return DenseBatch(self.adj.to(device), self.x.to(device), self.readout.to(device))

    def subset(self, idx) -> "DenseBatch":
        """The cells ``idx`` (a numpy index array), in that order."""
        import torch

        i = torch.from_numpy(np.asarray(idx, dtype=np.int64)).to(self.adj.device)
        return DenseBatch(self.adj[i], self.x[i], self.readout[i])

    @classmethod
    def from_cells(cls, cells) -> "DenseBatch":
        """Batch of :func:`dense_cell` outputs (sizes may differ; padded to the largest)."""
        import torch

        sizes = {c[0].shape[0] for c in cells}
        if len(sizes) == 1:
            m = sizes.pop()
            adj, x = np.stack([c[0] for c in cells]), np.stack([c[1] for c in cells])
            readout = np.full(len(cells), m - 1, dtype=np.int64)
        else:
            m = max(sizes)
            d = cells[0][1].shape[1]
            adj = np.zeros((len(cells), m, m), dtype=np.float32)
            x = np.zeros((len(cells), m, d), dtype=np.float32)
            readout = np.empty(len(cells), dtype=np.int64)
            for b, (a, f) in enumerate(cells):
                k = a.shape[0]
                adj[b, :k, :k], x[b, :k] = a, f
                readout[b] = k - 1
        return cls(torch.from_numpy(adj), torch.from_numpy(x), torch.from_numpy(readout))

    @classmethod
    def from_arrays(cls, adj: np.ndarray, feats: np.ndarray, edges: str = "undirected") -> "DenseBatch":
        """Batch of ``B`` cells of equal size, ``adj (B, n, n)``, ``feats (B, n, d)``."""
        return cls.from_graphs(list(zip(adj, feats)), edges)

    @classmethod
    def from_graphs(cls, graphs, edges: str = "undirected") -> "DenseBatch":
        """Batch of ``(adj, feats)`` pairs (``space.graph`` output); sizes may differ."""
        return cls.from_cells([dense_cell(a, f, edges) for a, f in graphs])


def make_batch(graphs, edges: str = "undirected", impl: str = "dense"):
    """A :class:`DenseBatch` (``impl="dense"``) or :class:`GraphBatch` (``"sparse"``) of graphs."""
    if impl not in GCN_IMPLS:
        raise ValueError(f"unknown gcn_impl {impl!r}; choose one of: {', '.join(GCN_IMPLS)}")
    return DenseBatch.from_graphs(graphs, edges) if impl == "dense" else GraphBatch.from_graphs(graphs, edges)


class _Weights:
    """A predictor's parameters as plain tensors, ``(W, W^T, b)`` per GCN layer and per regressor
    layer, so the dense loops do no ``nn.Module`` attribute look-ups (views: they follow in-place
    updates of the parameters)."""

    def __init__(self, model, grad: dict | None = None):
        def layer(w, b):
            return (w, w.t(), b) if grad is None else (grad[w], grad[b])

        self.convs = [layer(c.lin.weight, c.bias) for c in model.convs]
        self.fc1 = layer(model.fc1.weight, model.fc1.bias)
        self.fc2 = layer(model.fc2.weight, model.fc2.bias)


def _global_rows(batch: DenseBatch):
    """``(A_g (B, 1, M), A_g^T (B, M, 1))``: each cell's adjacency row of its global node (cached)."""
    a = getattr(batch, "_a_last", None)
    if a is None:
        import torch

        rows = torch.arange(batch.adj.shape[0], device=batch.adj.device)
        a = batch.adj[rows, batch.readout].unsqueeze(1)
        a = batch._a_last = (a, a.transpose(1, 2))
    return a


def _first_product(batch: DenseBatch):
    """``A X`` of a batch as a ``(B M, d + 1)`` matrix: the first layer's input aggregation,
    the same at every training step on this batch (computed once, cached on the batch)."""
    p = getattr(batch, "_ax", None)
    if p is None:
        import torch

        p = batch._ax = torch.bmm(batch.adj, batch.x).reshape(-1, batch.x.shape[-1])
    return p


def _dense_forward(model, batch: DenseBatch, keep: bool = False, weights: "_Weights | None" = None):
    """Standardized regressor output ``(B,)`` of a dense batch and, with ``keep``, what the
    hand-written backward needs (else the embedding ``(B, hidden)``). Layer ``l``:
    ``H' = relu((A H) W^T + b)``, i.e. GCNConv's ``A (H W^T) + b`` with the product
    re-associated; the last layer computes the global node's row only (its output is all the
    embedding uses). Hidden states are kept as ``(B M, F)`` matrices (views of ``(B, M, F)``)."""
    import torch

    wts = weights or _Weights(model)
    B, M = batch.adj.shape[0], batch.adj.shape[1]
    a_last, _ = _global_rows(batch)
    h, saved = batch.x.reshape(B * M, -1), []
    last = len(wts.convs) - 1
    for i, (w, wt, b) in enumerate(wts.convs):
        if i < last:
            p = _first_product(batch) if i == 0 else torch.bmm(batch.adj, h.view(B, M, -1)).view(B * M, -1)
        else:
            p = torch.bmm(a_last, h.view(B, M, -1)).view(B, -1)  # (B, F): the global rows only
        h = torch.addmm(b, p, wt).relu_()
        if keep:
            saved.append((p, h))
    emb = h
    (_, w1t, b1), (_, w2t, b2) = wts.fc1, wts.fc2
    hid = torch.addmm(b1, emb, w1t).relu_()
    out = torch.addmm(b2, hid, w2t).squeeze(-1)
    if keep:
        return out, (saved, emb, hid)
    return out, emb


def _dense_backward(weights: _Weights, batch: DenseBatch, cache, d_out, grads: _Weights) -> None:
    """The gradient of :func:`_dense_forward`'s output given ``d loss / d out`` ``(B,)``, written
    into ``grads`` (a :class:`_Weights` of gradient tensors shaped like the parameters): the
    exact gradient, written out by hand (tested against autograd)."""
    import torch

    relu_grad = torch.ops.aten.threshold_backward.default
    saved, emb, hid = cache
    B, M = batch.adj.shape[0], batch.adj.shape[1]
    _, a_last_t = _global_rows(batch)
    (w1, _, _), (w2, _, _) = weights.fc1, weights.fc2
    (gw1, gb1), (gw2, gb2) = grads.fc1, grads.fc2
    do = d_out.unsqueeze(-1)  # (B, 1)
    torch.mm(do.t(), hid, out=gw2)
    torch.sum(do, 0, out=gb2)
    dz1 = relu_grad(torch.mm(do, w2), hid, 0)
    torch.mm(dz1.t(), emb, out=gw1)
    torch.sum(dz1, 0, out=gb1)
    dh = torch.mm(dz1, w1)  # d emb, (B, hidden)
    last = len(weights.convs) - 1
    for i in range(last, -1, -1):
        w = weights.convs[i][0]
        gw, gb = grads.convs[i]
        p, h_out = saved[i]
        dz = relu_grad(dh, h_out, 0)
        torch.mm(dz.t(), p, out=gw)
        torch.sum(dz, 0, out=gb)
        if i == 0:
            break
        if i == last:
            dh = (a_last_t * torch.mm(dz, w).unsqueeze(1)).view(B * M, -1)  # A_g^T dp, (B M, F)
        else:
            dh = torch.bmm(_adj_t(batch), torch.mm(dz, w).view(B, M, -1)).view(B * M, -1)


def _adj_t(batch: DenseBatch):
    """``A^T`` of a batch (a transposed view, cached)."""
    a = getattr(batch, "_adj_t", None)
    if a is None:
        a = batch._adj_t = batch.adj.transpose(1, 2)
    return a


class _FlatAdam:
    """Adam (Kingma & Ba; torch.optim.Adam's update with its defaults: eps 1e-8, no weight decay,
    no amsgrad) on all parameters at once: the parameters are made views of one flat tensor and
    their gradients views of another, so a step is one call of torch's fused Adam kernel on CPU
    (else torch's single-tensor step written out), whatever the number of parameters."""

    def __init__(self, params, lr: float, betas=(0.9, 0.999), eps: float = 1e-8):
        import torch

        params = list(params)
        n = sum(p.numel() for p in params)
        ref = params[0]
        self.flat = torch.empty(n, dtype=ref.dtype, device=ref.device)
        self.flat_grad = torch.zeros_like(self.flat)
        self.grad = {}
        o = 0
        for p in params:
            k = p.numel()
            self.flat[o : o + k].copy_(p.detach().reshape(-1))
            p.data = self.flat[o : o + k].view_as(p)
            self.grad[p] = self.flat_grad[o : o + k].view_as(p)
            o += k
        self.m = torch.zeros_like(self.flat)
        self.v = torch.zeros_like(self.flat)
        self.denom = torch.empty_like(self.flat)
        self.lr, self.b1, self.b2, self.eps = float(lr), float(betas[0]), float(betas[1]), float(eps)
        self.t = 0
        self._fused = ref.device.type == "cpu" and hasattr(torch, "_fused_adam_")
        self._step_t = torch.zeros((), dtype=torch.float32, device=ref.device)

    def step(self) -> None:
        import torch

        self.t += 1
        if self._fused:
            self._step_t.fill_(self.t)
            try:  # the kernel of torch.optim.Adam(fused=True), called once on the flat tensors
                torch._fused_adam_([self.flat], [self.flat_grad], [self.m], [self.v], [], [self._step_t], lr=self.lr,
                                   beta1=self.b1, beta2=self.b2, weight_decay=0.0, eps=self.eps, amsgrad=False,
                                   maximize=False)
                return
            except (AttributeError, RuntimeError, TypeError):  # pragma: no cover - a torch without it
                self._fused = False
        g = self.flat_grad
        self.m.lerp_(g, 1 - self.b1)
        self.v.mul_(self.b2).addcmul_(g, g, value=1 - self.b2)
        bc1 = 1 - self.b1**self.t
        bc2_sqrt = math.sqrt(1 - self.b2**self.t)
        torch.sqrt(self.v, out=self.denom)
        self.denom.div_(bc2_sqrt).add_(self.eps)
        self.flat.addcdiv_(self.m, self.denom, value=-self.lr / bc1)


def _train_dense(model, batch: DenseBatch, t: np.ndarray, rng, *, epochs, batch_size, lr, loss, device,
                 history: bool = True) -> list[float]:
    """:func:`train_gcn` on a dense batch with a hand-written backward (no autograd graph) and
    a flat Adam: the same loss, mini-batches, Adam update and number of steps. The loss value
    itself is only computed with ``history`` (the gradient does not need it)."""
    import torch

    N = len(t)
    tt = torch.from_numpy(t).to(device)
    wt = loss_weights(tt, loss)  # constant per target: computed once, not per step
    opt = _FlatAdam(model.parameters(), lr=lr)
    weights, grads = _Weights(model), _Weights(model, opt.grad)  # after the flat re-binding
    batch = batch.to(device)
    losses = []
    shift, scale = model.shift, model.scale
    full = (batch, shift - tt, wt, N)  # one batch of all cells: shift - t computed once
    with torch.no_grad():
        for _ in range(int(epochs)):
            order = rng.permutation(N) if N > batch_size else None
            total = None
            for s in range(0, N, batch_size):
                if order is None:
                    bt, shift_y, w, n_b = full
                else:
                    idx = order[s : s + batch_size]
                    bt = batch.subset(idx)
                    i = torch.from_numpy(idx).to(device)
                    shift_y, w, n_b = shift - tt[i], wt[i], len(idx)
                out, cache = _dense_forward(model, bt, keep=True, weights=weights)
                resid = torch.addcmul(shift_y, scale, out)  # prediction - target
                wr = w * resid
                if history:
                    l = torch.dot(wr, resid) / n_b  # mean of w (pred - t)^2
                    total = l * n_b if total is None else total + l * n_b
                _dense_backward(weights, bt, cache, wr.mul_(2.0 / n_b).mul_(scale), grads)
                opt.step()
            if history:
                losses.append(total)
    model.eval()
    return (torch.stack(losses) / N).tolist() if losses else []

# --- the GCN predictor ----------------------------------------------------------------------
def make_gcn(in_dim: int, hidden: int = 64, layers: int = 4, regressor_hidden: int = 64):
    """A :class:`GCNPredictor` (torch and torch-geometric are imported here, lazily)."""
    import torch
    from torch import nn
    from torch_geometric.nn import GCNConv

    class GCNPredictor(nn.Module):
        """``layers`` GCNConv layers of ``hidden`` units (ReLU after each), the global node's
        output as embedding, then Linear-ReLU-Linear to one output (standardized)."""

        def __init__(self):
            super().__init__()
            dims = [in_dim + 1] + [hidden] * layers
            self.convs = nn.ModuleList(GCNConv(a, b, normalize=False) for a, b in zip(dims[:-1], dims[1:]))
            self.fc1 = nn.Linear(hidden, regressor_hidden)
            self.fc2 = nn.Linear(regressor_hidden, 1)
            self.register_buffer("shift", torch.zeros(()))
            self.register_buffer("scale", torch.ones(()))

        def embed(self, batch):
            """Cell embeddings ``phi(A, X)``: the global nodes' last-layer outputs, ``(B, hidden)``
            (a :class:`DenseBatch` or a :class:`GraphBatch`)."""
            if isinstance(batch, DenseBatch):
                return _dense_forward(self, batch)[1]
            h = batch.x
            for conv in self.convs:
                h = torch.relu(conv(h, batch.adj_t))
            return h[batch.readout]

        def hidden(self, emb):
            """The regressor's hidden layer, ``(B, regressor_hidden)``."""
            return torch.relu(self.fc1(emb))

        def forward(self, batch):
            """Predicted targets ``(B,)`` in target units."""
            if isinstance(batch, DenseBatch):
                return self.shift + self.scale * _dense_forward(self, batch)[0]
            return self.shift + self.scale * self.fc2(self.hidden(self.embed(batch))).squeeze(-1)

    return GCNPredictor()


def reinit_gcn(model) -> None:
    """Re-draw the parameters of a :func:`make_gcn` model in place, exactly as a new
    ``make_gcn`` with the same arguments would draw them: the same draws from torch's global
    generator in the same order (each ``GCNConv`` initializes its linear layer twice when it is
    built, in the layer's constructor and in its own ``reset_parameters``; then the regressor's
    two ``nn.Linear`` once each), and the output buffers reset (tested against ``make_gcn``).
    A fresh model for each BONAS retrain without building torch-geometric modules again."""
    for conv in model.convs:
        conv.lin.reset_parameters()
        conv.reset_parameters()
    model.fc1.reset_parameters()
    model.fc2.reset_parameters()
    model.shift.zero_()
    model.scale.fill_(1.0)


def train_gcn(model, adj, feats, targets, rng: np.random.Generator, *, epochs: int = 100, batch_size: int = 128,
              lr: float = 1e-3, loss: str = "exp", edges: str = "undirected", device: str = "cpu",
              impl: str = "dense", batch: "DenseBatch | None" = None, history: bool = True) -> list[float]:
    """Train ``model`` end to end on cells ``adj (N, n, n)``, ``feats (N, n, d)`` with targets
    ``(N,)`` (in [0, 1] for the weighted losses): Adam, mini-batches drawn by ``rng``
    (reshuffled every epoch; one batch of all cells when ``N <= batch_size``). Returns the mean
    loss per epoch.

    ``impl="dense"``: the cells as one :class:`DenseBatch` (or ``batch``, prepared by the caller;
    ``adj`` and ``feats`` are then unused) and a hand-written backward; ``"sparse"``: block-diagonal
    :class:`GraphBatch` es through torch-geometric's ``GCNConv`` and autograd (the original
    implementation). Same loss, batches, optimizer and steps; results agree to float rounding.
    ``history=False`` (dense only): the loss values are not computed and ``[]`` is returned (the
    weights are the same)."""
    import torch

    if impl not in GCN_IMPLS:
        raise ValueError(f"unknown gcn_impl {impl!r}; choose one of: {', '.join(GCN_IMPLS)}")
    t = np.asarray(targets, dtype=np.float32)
    std = float(t.std())
    model.shift.fill_(float(t.mean()))
    model.scale.fill_(std if std > 1e-8 else 1.0)
    model.train()
    if impl == "dense":
        if batch is None:
            batch = DenseBatch.from_arrays(adj, feats, edges)
        return _train_dense(model, batch, t, rng, epochs=epochs, batch_size=batch_size, lr=lr, loss=loss,
                            device=device, history=history)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    N = len(t)
    tt = torch.from_numpy(t).to(device)
    full = GraphBatch.from_arrays(adj, feats, edges).to(device) if N <= batch_size else None
    history = []
    for _ in range(int(epochs)):
        order = rng.permutation(N) if full is None else None
        total = 0.0
        for s in range(0, N, batch_size):
            idx = order[s : s + batch_size] if full is None else np.arange(N)
            if full is not None:  # one batch holds every cell: built once (order is irrelevant)
                batch, y = full, tt
            else:
                batch = GraphBatch.from_arrays(adj[idx], feats[idx], edges).to(device)
                y = tt[torch.from_numpy(idx).to(device)]
            opt.zero_grad(set_to_none=True)
            l = weighted_loss(model(batch), y, loss)
            l.backward()
            opt.step()
            total += float(l.detach()) * len(idx)
        history.append(total / N)
    model.eval()
    return history


def features(model, batch, kind: str = "embedding") -> np.ndarray:
    """BLR inputs of a batch: the GCN embedding (``"embedding"``) or the regressor's hidden
    layer (``"hidden"``), float64 numpy ``(B, width)``, computed without gradients."""
    import torch

    with torch.no_grad():
        emb = model.embed(batch)
        out = emb if kind == "embedding" else model.hidden(emb)
    return out.detach().cpu().numpy().astype(np.float64)


# --- Bayesian linear regression (Eq. 4-5) ---------------------------------------------------
class BayesianLinearRegression:
    """Bayesian linear regression with prior ``w ~ N(0, alpha^-1 I)`` and noise precision
    ``beta`` (Bishop 2006 §3.3). ``fit`` estimates ``alpha, beta`` by maximizing the evidence
    (unless ``optimize=False``); ``predict`` gives the predictive mean (Eq. 4) and variance
    (Eq. 5). Shapes: ``Phi (N, M)``, ``t (N,)``."""

    def __init__(self, alpha: float = 1.0, beta: float = 1.0, max_iter: int = 100, tol: float = 1e-6,
                 bounds: tuple[float, float] = (1e-8, 1e8)):
        self.alpha, self.beta = float(alpha), float(beta)
        self.max_iter, self.tol, self.bounds = int(max_iter), float(tol), bounds

    def fit(self, Phi, t, optimize: bool = True) -> "BayesianLinearRegression":
        Phi = np.asarray(Phi, dtype=float)
        t = np.asarray(t, dtype=float)
        self._Phi, self._t = Phi, t
        self._eig, self._V = np.linalg.eigh(Phi.T @ Phi)
        self._eig = np.clip(self._eig, 0.0, None)
        self._Pt = self._V.T @ (Phi.T @ t)  # Phi^T t in the eigenbasis
        if optimize:
            lo, hi = self.bounds
            a, b = self.alpha, self.beta
            st = self._stats(a, b)  # the evidence's terms at (a, b): the next iterate starts from them
            best = (self._log_evidence(a, b, st), a, b)
            N = len(t)
            for _ in range(self.max_iter):
                lam = b * self._eig
                m, resid = st[0], st[1]  # m_N in the eigenbasis, |t - Phi m_N|^2
                gamma = float((lam / (a + lam)).sum())
                # clipped into [lo, hi] (min/max on floats: np.clip's value, without its overhead)
                a_new = min(max(gamma / max(float(m @ m), 1e-300), lo), hi)
                b_new = min(max((N - gamma) / max(resid, 1e-300), lo), hi)
                st = self._stats(a_new, b_new)
                ev = self._log_evidence(a_new, b_new, st)
                if ev > best[0]:
                    best = (ev, a_new, b_new)
                done = abs(a_new - a) <= self.tol * a and abs(b_new - b) <= self.tol * b
                a, b = a_new, b_new
                if done:
                    break
            _, self.alpha, self.beta = best
        self._m = self._V @ self._mean_coef(self.alpha, self.beta)  # m_N
        return self

    def _stats(self, a: float, b: float):
        """``(m_N in the eigenbasis, |t - Phi m_N|^2, |m_N|^2)`` at ``alpha = a, beta = b``:
        what the fixed-point step and the evidence need, computed once per iterate."""
        coef = self._mean_coef(a, b)
        m = self._V @ coef
        return coef, float(((self._t - self._Phi @ m) ** 2).sum()), float(m @ m)

    def _mean_coef(self, a: float, b: float) -> np.ndarray:
        """``m_N`` in the eigenbasis of ``Phi^T Phi``: ``beta (a + b e)^-1 V^T Phi^T t``."""
        return b * self._Pt / (a + b * self._eig)

    @property
    def mean(self) -> np.ndarray:
        """Posterior mean of the weights ``m_N`` ``(M,)``."""
        return self._m

    @property
    def covariance(self) -> np.ndarray:
        """Posterior covariance ``S_N`` ``(M, M)``."""
        return (self._V / (self.alpha + self.beta * self._eig)) @ self._V.T

    def log_evidence(self, alpha: float, beta: float) -> float:
        """``log p(t | alpha, beta)`` of the fitted data (§3.2; Bishop eq. 3.86)."""
        return self._log_evidence(alpha, beta, self._stats(alpha, beta))

    def _log_evidence(self, alpha: float, beta: float, stats) -> float:
        N, M = self._Phi.shape
        _, resid, mm = stats
        E = 0.5 * beta * resid + 0.5 * alpha * mm
        logdet = float(np.log(alpha + beta * self._eig).sum())
        return 0.5 * M * math.log(alpha) + 0.5 * N * math.log(beta) - E - 0.5 * logdet - 0.5 * N * math.log(2 * math.pi)

    def predict(self, Phi) -> tuple[np.ndarray, np.ndarray]:
        """Predictive mean (Eq. 4) and variance (Eq. 5), each ``(B,)``."""
        Phi = np.asarray(Phi, dtype=float)
        mu = Phi @ self._m
        proj = (Phi @ self._V) / np.sqrt(self.alpha + self.beta * self._eig)
        var = np.sum(proj**2, axis=1) + 1.0 / self.beta
        return mu, var
