"""The whole NAS-Bench-101 space: every unique cell with its official module hash, in under a minute.

:func:`enumerate_space` returns, for all cells with at most 7 vertices and 9 edges whose every
vertex lies on an input->output path (the official ``is_full_dag``; any other matrix prunes to
one of these), one representative per official ``hash_module`` value, as two arrays sorted by
hash: ``hashes`` (``S32``) and ``codes`` (int64 :func:`harness.spaces.nb101.cell_code` of the
canonical :class:`~harness.spaces.nb101.Cell`, the very value ``NB101Space.cell`` builds).
It finds the 423,624 cells of NAS-Bench-101.

The official generator hashes every labelled graph (about 2^21 matrices x 3^5 labellings);
this module hashes each isomorphism class once:

1. *Topologies* (numpy): for each vertex count ``n``, all upper-triangular 0/1 matrices with at
   most 9 edges in which every vertex but the output has an out-edge and every vertex but the
   input an in-edge; each is reduced to a canonical form, the smallest bit code of its matrix
   over the ``(n-2)!`` relabellings of the inner vertices (input and output are the only
   source and sink, so every isomorphism fixes them), which also gives each topology's
   automorphism group.
2. *Labellings*: the ``3^(n-2)`` op labellings of a topology, one per orbit of its
   automorphism group (two labellings of one topology give isomorphic cells exactly when an
   automorphism maps one onto the other).
3. *Hashes*: the official algorithm (per-vertex md5 of ``str((out-degree, in-degree, label))``,
   ``n`` rounds of md5 over the sorted in-neighbour hashes, ``|``, the sorted out-neighbour
   hashes, ``|``, the own hash, then md5 of ``str(sorted(vertex hashes))``), run in lockstep
   over all cells of one vertex count (in chunks of 40,000 cells): each round's distinct
   hashes are kept once, sorted, and each vertex holds its rank among them, so neighbour lists
   are sorted as integers and every distinct message is assembled as bytes with numpy and
   hashed once (CPython's ``_md5``, else :mod:`hashlib`). The bytes are exactly those of the official code.
4. *Canonical cells*: the canonical vertex order of :mod:`harness.spaces.nb101` (topological,
   smallest fingerprint first: the final ranks) vectorized over the cells; cells where two
   available vertices tie go through the space's own branching search.

Finally cells are deduplicated by hash (a hash shared by two non-isomorphic cells would keep
the first by vertex count, topology and labelling; none occurs in NB101). ``workers > 1``
deals the topologies to that many fresh Python processes (``subprocess``; no fork, no
re-import of the caller's ``__main__``). The result does not depend on ``workers``.
"""

from __future__ import annotations

import hashlib
import itertools

import numpy as np

from harness.spaces import nb101 as S

N_CELLS = 423_624
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_HEX_PAIRS = np.stack([_HEX[np.arange(256) >> 4], _HEX[np.arange(256) & 15]], axis=1)  # byte -> 2 hex digits


# --- 1. topologies -----------------------------------------------------------------------
def topologies(n: int, max_edges: int = S.MAX_EDGES):
    """Canonical representatives of the full DAGs on ``n`` vertices with <= ``max_edges``
    edges: a list of ``(matrix (n, n) uint8, automorphisms (k, n) int)`` (each automorphism
    a vertex permutation fixing input and output; the identity first)."""
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    masks = np.arange(1 << len(pairs), dtype=np.uint32)
    edges = np.zeros(masks.shape, dtype=np.uint8)
    for b in range(len(pairs)):
        edges += ((masks >> b) & 1).astype(np.uint8)
    masks = masks[edges <= max_edges]
    A = np.zeros((masks.size, n, n), dtype=np.uint8)
    for b, (i, j) in enumerate(pairs):
        A[:, i, j] = (masks >> b) & 1
    if n == 2:
        full = A[:, 0, 1] == 1
    else:
        full = A[:, : n - 1, :].any(axis=2).all(axis=1) & A[:, :, 1:].any(axis=1).all(axis=1)
    A = A[full]
    perms = np.array([(0, *(p + 1 for p in q), n - 1) for q in itertools.permutations(range(n - 2))], dtype=np.int64)
    codes = np.empty((A.shape[0], len(perms)), dtype=np.uint64)
    for k, p in enumerate(perms):
        codes[:, k] = _matrix_codes(A[:, p][:, :, p])
    canon = codes.min(axis=1)
    _, first = np.unique(canon, return_index=True)  # first occurrence in mask order
    out = []
    for r in np.sort(first):
        auts = perms[codes[r] == codes[r, 0]]
        out.append((A[r].copy(), auts))
    return out


def _matrix_codes(B: np.ndarray) -> np.ndarray:
    """Bit code of each (n, n) 0/1 matrix of a stack ``B`` (n <= 8), as uint64."""
    m = B.shape[0]
    packed = np.packbits(B.reshape(m, -1), axis=1)
    pad = np.zeros((m, 8), dtype=np.uint8)
    pad[:, : packed.shape[1]] = packed
    return pad.view(">u8")[:, 0].astype(np.uint64)


# --- 2. labellings -----------------------------------------------------------------------
def labelling_orbits(n: int, automorphisms: np.ndarray) -> np.ndarray:
    """One labelling per orbit, ``(L, n - 2)`` int8 indices into ``CHOICES``: the smallest
    (base-3 code) member of each orbit of the automorphism group, in increasing code order."""
    k = n - 2
    if k == 0:
        return np.zeros((1, 0), dtype=np.int8)
    labs = np.array(list(itertools.product(range(len(S.CHOICES)), repeat=k)), dtype=np.int64)
    w = len(S.CHOICES) ** np.arange(k - 1, -1, -1)
    own = labs @ w
    best = own.copy()
    for g in automorphisms:
        inner = g[1:-1] - 1
        best = np.minimum(best, labs[:, inner] @ w)
    return labs[best == own].astype(np.int8)


# --- 3. hashes, all cells of one vertex count in lockstep ---------------------------------
try:  # CPython's own md5 is faster than OpenSSL's for short messages; same digests
    from _md5 import md5 as _md5
except ImportError:  # pragma: no cover
    _md5 = hashlib.md5

_BIG = np.int32(np.iinfo(np.int32).max)  # sorts after every rank: pads neighbour lists


_CHUNK = 1 << 16  # messages assembled and hashed per batch (bounds the memory)
_CELLS_PER_CHUNK = 40_000  # cells hashed in lockstep (bounds the memory: about 150 MB)


def _digests(msg: np.ndarray) -> np.ndarray:
    """md5 ``digest`` of each row of a 2-D uint8 array, as ``(rows, 16)`` uint8."""
    rows, width = msg.shape
    buf = memoryview(np.ascontiguousarray(msg).tobytes())
    md5 = _md5
    digests = b"".join([md5(buf[i : i + width]).digest() for i in range(0, rows * width, width)])
    return np.frombuffer(digests, dtype=np.uint8).reshape(rows, 16)


def _ranked(d: np.ndarray):
    """Distinct digests ``d`` (rows of 16 bytes) as sorted hex strings ``(U, 32)`` uint8, and
    each row's rank among them (hex strings sort like the digests' bytes)."""
    hi = np.ascontiguousarray(d[:, :8]).view(">u8")[:, 0].astype(np.uint64)
    lo = np.ascontiguousarray(d[:, 8:]).view(">u8")[:, 0].astype(np.uint64)
    _, first, rank = np.unique(hi, return_index=True, return_inverse=True)
    rank = rank.ravel()
    if not np.array_equal(lo[first][rank], lo):  # two digests share their first 8 bytes
        _, first, rank = np.unique(np.ascontiguousarray(d).view(np.dtype((np.void, 16)))[:, 0],
                                   return_index=True, return_inverse=True)
        rank = rank.ravel()
    return _HEX_PAIRS[d[first]].reshape(-1, 32), rank.astype(np.int32)


def _unique_rows(rows: np.ndarray):
    """``(first, inverse)`` of the distinct rows of an int32 matrix: a 64-bit mix of each row
    sorted with numpy, then checked exactly (a mix collision falls back to ``unique(axis=0)``)."""
    mult = np.random.default_rng(12345).integers(1, 2**63, size=rows.shape[1], dtype=np.uint64) | np.uint64(1)
    key = np.zeros(rows.shape[0], dtype=np.uint64)
    with np.errstate(over="ignore"):
        for c in range(rows.shape[1]):
            key = key * np.uint64(1_000_003) + rows[:, c].astype(np.uint64) * mult[c]
    _, first, inv = np.unique(key, return_index=True, return_inverse=True)
    inv = inv.ravel()
    if not np.array_equal(rows[first][inv], rows):
        _, first, inv = np.unique(rows, axis=0, return_index=True, return_inverse=True)
        inv = inv.ravel()
    return first, inv


def _gather_sorted(ids: np.ndarray, nbr: np.ndarray) -> np.ndarray:
    """Ranks of each cell's neighbours, sorted, pads last: ids (C, n), nbr (C, n, k) with -1 pads."""
    C = ids.shape[0]
    got = np.take_along_axis(ids, np.where(nbr < 0, 0, nbr).reshape(C, -1), axis=1).reshape(nbr.shape)
    got = np.where(nbr < 0, _BIG, got)
    got.sort(axis=2)
    return got


def hash_cells(matrices: np.ndarray, topo: np.ndarray, labels: np.ndarray):
    """Official hashes of cells with ``n`` vertices: topologies ``matrices`` (T, n, n) uint8,
    each cell's topology ``topo`` (C,) and inner labels ``labels`` (C, n - 2) (indices into
    ``CHOICES``). Returns ``(module hashes (C,) S32, final per-vertex ranks (C, n) int32)``,
    where equal ranks are equal fingerprints and ranks order them like the hex strings."""
    T, n, _ = matrices.shape
    C = topo.shape[0]
    k = max(n - 1, 1)
    pred = np.full((T, n, k), -1, dtype=np.int64)
    succ = np.full((T, n, k), -1, dtype=np.int64)
    for t in range(T):
        for v in range(n):
            p = np.flatnonzero(matrices[t, :, v])
            q = np.flatnonzero(matrices[t, v])
            pred[t, v, : p.size] = p
            succ[t, v, : q.size] = q
    indeg = matrices.sum(axis=1).astype(np.int64)[topo]  # (C, n)
    outdeg = matrices.sum(axis=2).astype(np.int64)[topo]
    P, Q = pred[topo], succ[topo]  # (C, n, k)
    lab = np.empty((C, n), dtype=np.int64)
    lab[:, 0], lab[:, -1] = -1, -2  # the official labelling: input -1, output -2, ops by index
    lab[:, 1:-1] = labels
    # round 0: md5 of str((out-degree, in-degree, label))
    triple = (outdeg * 16 + indeg) * 8 + (lab + 2)
    uniq, inv = np.unique(triple, return_inverse=True)
    init = np.stack([np.frombuffer(_md5(str((int(u) // 128, int(u) // 8 % 16, int(u) % 8 - 2)).encode("utf-8"))
                                   .digest(), dtype=np.uint8) for u in uniq])
    table, rank = _ranked(init)
    ids = rank[inv.reshape(C, n)]
    bar = np.full((1, 1), ord("|"), dtype=np.uint8)
    for _ in range(n):
        pg, sg = _gather_sorted(ids, P), _gather_sorted(ids, Q)
        rows = np.concatenate([ids[:, :, None], pg, sg], axis=2).reshape(C * n, 1 + 2 * k)
        del pg, sg
        first, inv = _unique_rows(rows)
        R = rows[first]
        del rows
        di = (R[:, 1 : 1 + k] != _BIG).sum(axis=1)
        do = (R[:, 1 + k :] != _BIG).sum(axis=1)
        digests = np.empty((R.shape[0], 16), dtype=np.uint8)
        for a, b in sorted(set(zip(di.tolist(), do.tolist()))):
            group = np.flatnonzero((di == a) & (do == b))
            for sel in np.array_split(group, 1 + group.size // _CHUNK):
                r = R[sel]
                m = sel.size
                bars = np.broadcast_to(bar, (m, 1))
                parts = [table[r[:, 1 : 1 + a]].reshape(m, 32 * a), bars,
                         table[r[:, 1 + k : 1 + k + b]].reshape(m, 32 * b), bars, table[r[:, 0]]]
                digests[sel] = _digests(np.concatenate(parts, axis=1))
        del R
        table, rank = _ranked(digests)
        ids = rank[inv].reshape(C, n)
    # the module hash: md5 of str(sorted(hex strings)) = "['h1', 'h2', ...]"
    srt = np.sort(ids, axis=1)
    parts = [np.repeat(np.frombuffer(b"['", dtype=np.uint8)[None], C, 0)]
    for v in range(n):
        if v:
            parts.append(np.repeat(np.frombuffer(b"', '", dtype=np.uint8)[None], C, 0))
        parts.append(table[srt[:, v]])
    parts.append(np.repeat(np.frombuffer(b"']", dtype=np.uint8)[None], C, 0))
    module = _HEX_PAIRS[_digests(np.concatenate(parts, axis=1))].reshape(C, 32)
    return np.ascontiguousarray(module).view("S32")[:, 0], ids, table


# --- 4. canonical cells ------------------------------------------------------------------
def canonical_codes(matrices: np.ndarray, topo: np.ndarray, labels: np.ndarray, ids: np.ndarray, table: np.ndarray):
    """``cell_code`` of each cell's canonical form (int64 (C,)), from the final per-vertex
    ranks ``ids`` of :func:`hash_cells`: the space's canonical order (topological, smallest
    fingerprint first), vectorized; cells where two available vertices tie go through the
    space's branching search (with the fingerprints ``table[ids]``)."""
    T, n, _ = matrices.shape
    C = topo.shape[0]
    predmask = (matrices.astype(np.int64) << np.arange(n, dtype=np.int64)[None, :, None]).sum(axis=1)[topo]  # (C, n)
    bit = np.int64(1) << np.arange(n, dtype=np.int64)
    placed = np.zeros(C, dtype=np.int64)
    order = np.zeros((C, n), dtype=np.int64)
    slow = np.zeros(C, dtype=bool)
    key = ids.astype(np.int64)
    big = np.int64(np.iinfo(np.int64).max)
    for t in range(n):
        avail = ((placed[:, None] & bit) == 0) & ((predmask & ~placed[:, None]) == 0)
        a = np.where(avail, key, big)
        m = a.min(axis=1)
        c = avail & (key == m[:, None])
        slow |= c.sum(axis=1) != 1  # a tie: the branching search decides
        j = np.argmax(c, axis=1)
        order[:, t] = j
        placed |= bit[j]
    rows = np.arange(C)
    pos = np.empty_like(order)
    pos[rows[:, None], order] = np.arange(n)[None, :]
    ops = np.zeros((C, n), dtype=np.int64)
    ops[:, 1:-1] = labels
    code = np.full(C, n, dtype=np.int64)
    for k in range(1, n - 1):
        code |= ops[rows, order[:, k]] << (3 + 2 * (k - 1))
    M = matrices[topo]
    for u in range(n):
        for w in range(u + 1, n):
            e = M[:, u, w].astype(bool)
            i, j = pos[e, u], pos[e, w]
            code[e] |= np.int64(1) << (13 + i * n - i * (i + 1) // 2 + (j - i - 1))
    for r in np.flatnonzero(slow):
        fp = [bytes(x).decode() for x in table[ids[r]]]
        code[r] = _exact_code(matrices[topo[r]], labels[r], fp)
    return code


def _exact_code(matrix: np.ndarray, labels: np.ndarray, fp: list[str]) -> int:
    n = matrix.shape[0]
    succ = [int(sum(1 << w for w in range(n) if matrix[u, w])) for u in range(n)]
    pred = S._pred_masks(n, succ)
    order = S._canonical_order(n, succ, pred, fp)
    ops = [S.INPUT] + [S.CHOICES[int(x)] for x in labels] + [S.OUTPUT]
    pos = [0] * n
    for i, v in enumerate(order):
        pos[v] = i
    rows = [[0] * n for _ in range(n)]
    for u in range(n):
        for w in S._bits(succ[u]):
            rows[pos[u]][pos[w]] = 1
    return S.cell_code(S.Cell(tuple(tuple(r) for r in rows), tuple(ops[v] for v in order)))


# --- the whole space ---------------------------------------------------------------------
def _work(groups) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hashes, codes and order keys of the cells of ``[(order offset, matrices, topo, labels)]``
    (one entry per vertex count)."""
    hs, cs, ks = [], [], []
    for offset, matrices, topo, labels in groups:
        # chunks of cells are independent (ranks only compare hashes within a cell): they
        # bound the memory, at the price of a few messages hashed in two chunks
        for lo in range(0, topo.size, _CELLS_PER_CHUNK):
            t, lab = topo[lo : lo + _CELLS_PER_CHUNK], labels[lo : lo + _CELLS_PER_CHUNK]
            h, ids, table = hash_cells(matrices, t, lab)
            hs.append(h)
            cs.append(canonical_codes(matrices, t, lab, ids, table))
            ks.append(offset + lo + np.arange(t.size, dtype=np.int64))
    return np.concatenate(hs), np.concatenate(cs), np.concatenate(ks)


def _groups(max_vertices: int, max_edges: int):
    """Per vertex count: ``(order offset, topologies (T, n, n), topo (C,), labels (C, n - 2))``."""
    out, offset = [], 0
    for n in range(2, max_vertices + 1):
        tops = topologies(n, max_edges)
        labs = [labelling_orbits(n, auts) for _, auts in tops]
        matrices = np.stack([m for m, _ in tops])
        topo = np.concatenate([np.full(l.shape[0], t, dtype=np.int64) for t, l in enumerate(labs)])
        labels = np.concatenate(labs)
        out.append((offset, matrices, topo, labels))
        offset += topo.size
    return out


def _split(groups, workers: int):
    """The cells of each vertex count dealt round-robin by topology to ``workers`` parts."""
    parts = [[] for _ in range(workers)]
    for offset, matrices, topo, labels in groups:
        for w in range(workers):
            sel = np.flatnonzero(topo % workers == w)
            if sel.size:
                parts[w].append((offset + sel, matrices, topo[sel], labels[sel]))
    return [p for p in parts if p]


def _work_part(part):
    hs, cs, ks = [], [], []
    for rows, matrices, topo, labels in part:
        h, c, _ = _work([(0, matrices, topo, labels)])
        hs.append(h)
        cs.append(c)
        ks.append(rows)
    return np.concatenate(hs), np.concatenate(cs), np.concatenate(ks)


def _pack(part) -> bytes:
    import io

    arrays = {}
    for g, (rows, matrices, topo, labels) in enumerate(part):
        arrays.update({f"rows{g}": rows, f"matrices{g}": matrices, f"topo{g}": topo, f"labels{g}": labels})
    buf = io.BytesIO()
    np.savez(buf, groups=np.int64(len(part)), **arrays)
    return buf.getvalue()


def _child() -> None:
    """Worker process entry (``python -c``): a packed part on stdin, ``.npz`` results on stdout."""
    import io
    import sys

    with np.load(io.BytesIO(sys.stdin.buffer.read()), allow_pickle=False) as z:
        part = [(z[f"rows{g}"], z[f"matrices{g}"], z[f"topo{g}"], z[f"labels{g}"]) for g in range(int(z["groups"]))]
    h, c, k = _work_part(part)
    buf = io.BytesIO()
    np.savez(buf, hashes=h, codes=c, keys=k)
    sys.stdout.buffer.write(buf.getvalue())


def _run_parts(parts):
    """Each part in its own fresh Python process (``subprocess``: no fork of a threaded parent,
    no re-import of the caller's ``__main__``), all at once."""
    import io
    import os
    import subprocess
    import sys
    import tempfile

    from harness.errors import DataError

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    procs = []
    for part in parts:
        inp = tempfile.TemporaryFile()
        inp.write(_pack(part))
        inp.seek(0)
        out = tempfile.TemporaryFile()
        cmd = [sys.executable, "-c", "from harness.spaces.nb101_enumerate import _child; _child()"]
        procs.append((subprocess.Popen(cmd, stdin=inp, stdout=out, stderr=subprocess.PIPE, env=env), inp, out))
    results = []
    for p, inp, out in procs:
        _, err = p.communicate()
        inp.close()
        if p.returncode:
            out.close()
            last = (err.decode(errors="replace").strip().splitlines() or ["no message"])[-1]
            raise DataError(f"an NB101 enumeration worker failed ({last}); try workers=1")
        out.seek(0)
        with np.load(io.BytesIO(out.read()), allow_pickle=False) as z:
            results.append((z["hashes"], z["codes"], z["keys"]))
        out.close()
    return results


def enumerate_space(workers: int = 1, max_vertices: int = S.MAX_VERTICES, max_edges: int = S.MAX_EDGES):
    """``(hashes (N,) S32, codes (N,) int64)`` of every unique cell, sorted by hash (see the
    module docstring). ``workers``: processes to hash in (1: this process; more: that many
    fresh Python processes, each given a share of the topologies)."""
    groups = _groups(max_vertices, max_edges)
    if workers > 1:
        results = _run_parts(_split(groups, workers))
    else:
        results = [_work(groups)]
    hashes = np.concatenate([r[0] for r in results])
    codes = np.concatenate([r[1] for r in results])
    keys = np.concatenate([r[2] for r in results])
    # by hash, and for a shared hash the first in (vertex count, topology, labelling) order
    idx = np.lexsort((keys, hashes))
    hashes, codes = hashes[idx], codes[idx]
    first = np.ones(hashes.size, dtype=bool)
    first[1:] = hashes[1:] != hashes[:-1]
    return hashes[first], codes[first]
