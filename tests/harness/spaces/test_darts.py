"""The DARTS / NB301 space: conformance, neighbourhood counts, L2NAS discretization, Fig. 1."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from harness.conformance import check_space
from harness.errors import InvalidArchitecture
from harness.spaces import get_space
from harness.spaces.darts import NODE_LABELS, OPS, DartsGenotype, Genotype, lower_triangular_encoding

S = get_space("darts")
O = {name: i for i, name in enumerate(OPS)}

# The genotype of NAS-Bench-301's example (DARTS' own cell), in DARTS (op, source) form.
EXAMPLE = (
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
    "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], "
    "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
    "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=range(2, 6))"
)


def cell(*pairs):
    """A cell from (source, op name) pairs."""
    return tuple((s, O[o]) for s, o in pairs)


# Hand-built cell for the Fig. 1 test.
HAND = cell(
    (0, "sep_conv_3x3"), (1, "skip_connect"),      # node 2
    (0, "max_pool_3x3"), (2, "dil_conv_3x3"),      # node 3
    (1, "avg_pool_3x3"), (3, "sep_conv_5x5"),      # node 4
    (2, "skip_connect"), (4, "dil_conv_5x5"),      # node 5
)


def swapped(a):
    """The same genotype with the two inputs of every node in the other order."""
    return DartsGenotype(*(tuple(x for k in range(4) for x in (c[2 * k + 1], c[2 * k])) for c in a))


def samples(n, seed=0):
    rng = np.random.default_rng(seed)
    return [S.sample(rng) for _ in range(n)]


def test_conformance_and_registry():
    assert get_space("darts-v1").id == S.id == "darts-v1"
    check_space(S, n=30)


def test_samples_are_canonical_members_and_uniform():
    rng = np.random.default_rng(1)
    pairs, ops = Counter(), Counter()
    n = 4000
    for _ in range(n):
        a = S.sample(rng)
        assert S.contains(a) and S.canonical(a) == a
        last = a.normal[6:8]  # node 5: 2 of 5 sources -> 10 pairs
        pairs[(last[0][0], last[1][0])] += 1
        ops[a.reduce[7][1]] += 1
    assert sorted(pairs) == list(itertools.combinations(range(5), 2))
    assert all(abs(c / n - 0.1) < 0.02 for c in pairs.values())
    assert all(abs(c / n - 1 / 7) < 0.02 for c in ops.values())
    assert S.cardinality == (3 * 6 * 10 * 7**8) ** 2  # ~1.04e9 per cell (Ape-X NAS §3.1: "around 10^9")


def test_canonical_key_ignores_input_order():
    for a in samples(20):
        b = swapped(a)
        assert b != a and S.contains(b)
        assert S.key(b) == S.key(a) and S.canonical(b) == a
        assert S.edit_distance(a, b) == 0
    a, b = samples(2, seed=3)
    assert S.key(a) != S.key(b)
    assert len({S.key(a) for a in samples(300)}) == 300


def test_membership_rejects_invalid_cells():
    a = samples(1)[0]
    dup = DartsGenotype(a.normal[:6] + ((1, 0), (1, 2)), a.reduce)  # node 5: both inputs from node 1
    future = DartsGenotype(((0, 0), (2, 0)) + a.normal[2:], a.reduce)  # node 2 cannot read node 2
    bad_op = DartsGenotype(a.normal[:7] + ((4, 7),), a.reduce)
    as_list = DartsGenotype(list(a.normal), a.reduce)
    for bad in (dup, future, bad_op, as_list, a.normal, (a.normal,), ((True, 0),)):
        assert not S.contains(bad)
        with pytest.raises(InvalidArchitecture):
            S.validate(bad)


def test_neighbourhood_counts_by_hand():
    # Per cell: 8 edges x 6 other ops = 48; source changes: node k (0-based) has k + 2 earlier
    # nodes, minus the edge's own source and the other edge's source = k choices per edge,
    # 2 * (0 + 1 + 2 + 3) = 12. Total 60 per cell, 120 per genotype, 60 * 60 = 3600 tuples.
    for a in samples(15, seed=4) + [swapped(samples(1, seed=5)[0])]:
        nbs = S.neighbours(a)
        assert len(nbs) == 120 and len({S.key(b) for b in nbs}) == 120
        assert S.key(a) not in {S.key(b) for b in nbs}
        assert all(S.edit_distance(a, b) == 1 for b in nbs)
        c = S.canonical(a)
        for which in (0, 1):
            mine = S.cell_neighbours(c[which])
            op_changes = [n for n in mine if sorted(s for s, _ in n) == sorted(s for s, _ in c[which])]
            assert len(mine) == 60 and len(op_changes) == 48
            # brute force: every single-attribute change of one edge that stays valid
            brute = set()
            for i, (src, op) in enumerate(c[which]):
                for s2, o2 in itertools.product(range(i // 2 + 2), range(7)):
                    if (s2 != src) + (o2 != op) == 1:
                        cand = c[which][:i] + ((s2, o2),) + c[which][i + 1 :]
                        g = (cand, c[1]) if which == 0 else (c[0], cand)
                        if S.contains(g):
                            brute.add(S.canonical(g)[which])
            assert brute == set(mine)


def test_neighbour_tuples():
    a = samples(1, seed=6)[0]
    full = S.neighbour_tuples(a, 10_000)
    assert len(full) == 3600 and len({S.key(t) for t in full}) == 3600
    assert all(t.normal != a.normal and t.reduce != a.reduce for t in full)
    assert all(S.edit_distance(a, t) == 2 for t in full[:200])
    picked = S.neighbour_tuples(a, 50, np.random.default_rng(0))
    assert len(picked) == 50 and len(set(picked)) == 50 and set(picked) <= set(full)
    assert picked == S.neighbour_tuples(a, 50, np.random.default_rng(0))
    assert picked != S.neighbour_tuples(a, 50, np.random.default_rng(1))
    with_same = S.neighbour_tuples(a, 10_000, include_unchanged=True)
    assert len(with_same) == 61 * 61 - 1 and S.canonical(a) not in with_same
    assert set(S.neighbours(a)) <= set(with_same)
    with pytest.raises(ValueError):
        S.neighbour_tuples(a, 5)  # sampling needs an rng


def test_mutate_is_a_uniform_neighbour():
    a = samples(1, seed=7)[0]
    nbs = set(S.neighbours(a))
    rng = np.random.default_rng(0)
    drawn = Counter(S.mutate(a, rng) for _ in range(1500))
    assert set(drawn) <= nbs and len(drawn) > 100


def test_format_parse_and_darts_genotype_text():
    g = S.parse(EXAMPLE)
    assert g.normal[:2] == cell((0, "sep_conv_3x3"), (1, "sep_conv_3x3"))
    assert g.reduce[2:4] == cell((2, "skip_connect"), (1, "max_pool_3x3"))  # order kept
    assert S.parse(S.format(g)) == g
    assert S.parse(str(S.to_genotype(g))) == g  # DARTS' repr of the genotype object
    assert S.from_genotype(S.to_genotype(g)) == g
    positional = EXAMPLE.replace("normal=", "").replace("normal_concat=", "").replace("reduce=", "").replace("reduce_concat=", "")
    assert S.parse(positional) == g
    assert S.key(g) == S.format(S.canonical(g))
    assert S.to_genotype(g).normal_concat == [2, 3, 4, 5] and type(S.to_genotype(g)) is Genotype
    for bad in (
        EXAMPLE.replace("('skip_connect', 0), ('dil_conv_3x3', 2)", "('none', 0), ('dil_conv_3x3', 2)"),
        EXAMPLE.replace("('skip_connect', 0), ('dil_conv_3x3', 2)", "('skip_connect', 2), ('dil_conv_3x3', 2)"),
        EXAMPLE.replace("reduce_concat=range(2, 6)", "reduce_concat=[4, 5]"),
        "Genotype(normal=[", "normal=sep_conv_3x3~0", "", "normal=a~0,b~1|c~0,d~1|e~0,f~1|g~0,h~1;reduce=x",
    ):
        with pytest.raises(InvalidArchitecture):
            S.parse(bad)


def test_onehot_and_vector_round_trip():
    for a in samples(10, seed=8):
        al = S.onehot(a)
        assert al.shape == (2, 14, 7) and al.sum() == 16
        assert all(al[c, [0, 2, 5, 9][k] : [2, 5, 9, 14][k]].sum() == 2 for c in (0, 1) for k in range(4))
        assert S.discretize(al) == a == S.discretize(swapped(a) and S.onehot(swapped(a)))
        assert S.vector(a).shape == (196,) and S.from_vector(S.vector(a)) == a


def test_discretize_is_l2nas_algorithm_2():
    # node 5 (rows 9..13): the block maximum and the runner-up entry are both in row 12 (source 3);
    # the second edge must come from another row: row 9 (source 0), its best op.
    alpha = np.zeros((2, 14, 7))
    alpha[0, 12, O["sep_conv_5x5"]] = 0.9
    alpha[0, 12, O["dil_conv_3x3"]] = 0.8
    alpha[0, 9, O["avg_pool_3x3"]] = 0.5
    alpha[0, 10, O["max_pool_3x3"]] = 0.4
    g = S.discretize(alpha)
    assert g.normal[6:8] == cell((0, "avg_pool_3x3"), (3, "sep_conv_5x5"))
    # all-zero blocks: ties go to the lower row, then the lower op
    assert g.normal[:2] == ((0, 0), (1, 0)) and g.reduce == ((0, 0), (1, 0)) * 4
    # an 8-column α (DARTS PRIMITIVES, 'none' first): 'none' is never chosen
    with_none = np.concatenate([np.full((2, 14, 1), 5.0), alpha], axis=2)
    assert S.discretize(with_none) == g
    assert S.discretize((alpha[0], alpha[1])) == g == S.discretize(alpha.reshape(-1))
    rng = np.random.default_rng(9)
    starts = [0, 2, 5, 9]
    for _ in range(200):
        al = rng.normal(size=(2, 14, 7))
        g = S.discretize(al)
        assert S.contains(g)
        assert S.discretize(3.0 * al + 1.0) == g  # only the order of the weights matters
        for c in (0, 1):
            for k in range(4):
                block = al[c, starts[k] : starts[k] + k + 2]
                rowmax = block.max(axis=1)
                top2 = set(np.argsort(-rowmax)[:2].tolist())  # the 2 strongest incoming edges
                chosen = g[c][2 * k : 2 * k + 2]
                assert {s for s, _ in chosen} == top2
                assert all(o == int(block[s].argmax()) for s, o in chosen)
    with pytest.raises(ValueError):
        S.discretize(np.zeros((14, 7)))


def test_ops_on_nodes_fig1_hand_built():
    a = DartsGenotype(HAND, samples(1)[0].reduce)
    adj, labels = S.ops_on_nodes(a, "normal")
    assert adj.shape == (15, 15)
    assert labels == (
        "input", "input",
        "sep_conv_3x3", "skip_connect", "sum",
        "max_pool_3x3", "dil_conv_3x3", "sum",
        "avg_pool_3x3", "sep_conv_5x5", "sum",
        "skip_connect", "dil_conv_5x5", "sum",
        "output",
    )
    expected = {
        (0, 2), (1, 3), (2, 4), (3, 4),            # node 2 = sum 4
        (0, 5), (4, 6), (5, 7), (6, 7),            # node 3 = sum 7; dil_conv_3x3 reads node 2 -> sum 4
        (1, 8), (7, 9), (8, 10), (9, 10),          # node 4 = sum 10; sep_conv_5x5 reads node 3 -> sum 7
        (4, 11), (10, 12), (11, 13), (12, 13),     # node 5 = sum 13
        (4, 14), (7, 14), (10, 14), (13, 14),      # every sum feeds the output
    }
    assert {tuple(e) for e in np.argwhere(adj)} == expected
    assert not np.tril(adj).any()  # topological order


def test_lower_triangular_encoding_and_graph():
    a = DartsGenotype(HAND, samples(1)[0].reduce)
    enc = S.lower_triangular(a)
    assert enc.shape == (510,) == (S.lower_triangular_dim,)
    adj, labels = S.ops_on_nodes(a, "normal")
    tri, lab = enc[:105], enc[105:255].reshape(15, len(NODE_LABELS))
    back = np.zeros((15, 15))
    rows, cols = np.tril_indices(15, k=-1)
    back.T[rows, cols] = tri  # row i of the flattened triangle lists the predecessors of node i
    assert np.array_equal(back, adj)
    assert [NODE_LABELS[i] for i in lab.argmax(axis=1)] == list(labels)
    padded = lower_triangular_encoding(adj, [NODE_LABELS.index(x) for x in labels], len(NODE_LABELS), pad_to=17)
    assert padded.shape == (17 * 16 // 2 + 17 * 10,) and padded.sum() == enc[:255].sum()
    gadj, feats = S.graph(a)
    assert gadj.shape == (30, 30) and feats.shape == (30, 11)
    assert np.array_equal(gadj[:15, :15], adj) and not gadj[:15, 15:].any() and not gadj[15:, :15].any()
    assert feats[:15, -1].sum() == 0 and feats[15:, -1].sum() == 15
    assert np.all(feats[:, :-1].sum(axis=1) == 1)


def test_decisions():
    assert len(S.decisions) == 32 and S.decisions[:8] == (2, 2, 7, 7, 3, 3, 7, 7)
    for a in samples(10, seed=10):
        d = S.to_decisions(a)
        assert S.from_decisions(d) == a and S.to_decisions(swapped(a)) == d
    d = S.to_decisions(samples(1)[0])
    rev = list(d)
    rev[4:8] = [d[5], d[4], d[7], d[6]]  # node 3 given in the other order
    assert S.from_decisions(rev) == S.from_decisions(d)
    dup = list(d)
    dup[4], dup[5] = 1, 1
    with pytest.raises(InvalidArchitecture, match="both inputs"):
        S.from_decisions(dup)
    with pytest.raises(InvalidArchitecture):
        S.from_decisions(d[:-1])
    big = list(d)
    big[0] = 2
    with pytest.raises(InvalidArchitecture):
        S.from_decisions(big)


def test_edit_distance_is_exact_on_hand_cases():
    a = DartsGenotype(HAND, HAND)
    one_op = DartsGenotype(HAND[:3] + ((2, O["skip_connect"]),) + HAND[4:], HAND)
    src_and_op = DartsGenotype(HAND[:3] + ((1, O["skip_connect"]),) + HAND[4:], HAND)
    crossed = DartsGenotype(cell((0, "skip_connect"), (1, "sep_conv_3x3")) + HAND[2:], HAND)  # ops crossed
    assert [S.edit_distance(a, b) for b in (a, one_op, src_and_op, crossed)] == [0, 1, 2, 2]
    rng = np.random.default_rng(11)
    for _ in range(20):
        x = S.sample(rng)
        y = x
        for t in range(1, 6):
            y = S.mutate(y, rng)
            assert S.edit_distance(x, y) <= t and S.edit_distance(x, y) == S.edit_distance(y, x)
