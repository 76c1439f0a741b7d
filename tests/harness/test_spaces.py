"""Search spaces: conformance over every registered space, and NB201 specifics."""

import csv

import numpy as np
import pytest

from harness.conformance import check_space
from harness.errors import InvalidArchitecture
from harness.spaces import SPACES, get_space, list_spaces
from harness.spaces.nb201 import NB201Space


@pytest.mark.parametrize("space_id", list_spaces())
def test_every_registered_space_conforms(space_id):
    check_space(get_space(space_id), n=30)


def test_unknown_space_names_the_choices():
    with pytest.raises(Exception, match="choose one of"):
        get_space("nb999")


# --- NB201 ---------------------------------------------------------------------------------
def test_nb201_string_index_round_trip_all_cells():
    s = get_space("nb201")
    assert s.size == 15625
    seen = set()
    for i in range(s.size):
        a = s.arch_at(i)
        assert s.index(a) == i
        text = s.format(a)
        assert s.parse(text) == a
        seen.add(text)
    assert len(seen) == 15625


def test_nb201_index_order_matches_official_table(nb201_csv):
    s = get_space("nb201")
    with open(nb201_csv) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == s.size
    for i, row in enumerate(rows):
        assert s.format(s.arch_at(i)) == row["ArchitectureString"], f"row {i}"
    # the known optima of the README of the reference data
    assert s.index(s.parse(rows[6111]["ArchitectureString"])) == 6111


def test_nb201_vectorized_indices_agree():
    s = get_space("nb201")
    cells = [s.arch_at(i) for i in range(0, s.size, 7)]
    np.testing.assert_array_equal(s.indices(cells), np.arange(0, s.size, 7))


def test_nb201_neighbourhood_is_24_and_symmetric():
    s = get_space("nb201")
    rng = np.random.default_rng(0)
    for _ in range(100):
        a = s.sample(rng)
        nbs = s.neighbours(a)
        assert len(nbs) == 24 == len(set(nbs))
        for b in nbs:
            assert s.edit_distance(a, b) == 1
            assert a in s.neighbours(b)


def test_nb201_mutation_changes_exactly_one_edge_uniformly():
    s = get_space("nb201")
    rng = np.random.default_rng(1)
    a = (0, 1, 2, 3, 4, 0)
    counts = {}
    for _ in range(4800):
        m = s.mutate(a, rng)
        assert s.edit_distance(a, m) == 1
        counts[m] = counts.get(m, 0) + 1
    assert set(counts) == set(s.neighbours(a))
    assert min(counts.values()) > 120  # ~200 each


def test_nb201_parse_rejects_bad_strings():
    s = get_space("nb201")
    for bad in ("", "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|"):
        with pytest.raises(InvalidArchitecture, match="not an NB201 cell"):
            s.parse(bad)
    with pytest.raises(InvalidArchitecture):
        s.index((0, 0, 0, 0, 0, 5))


def test_nb201_onehot_and_discretize():
    s = get_space("nb201")
    a = (3, 0, 1, 4, 2, 2)
    alpha = s.onehot(a)
    assert alpha.shape == (6, 5) and alpha.sum() == 6 and (alpha.sum(axis=1) == 1).all()
    assert s.discretize(alpha) == a
    rng = np.random.default_rng(0)
    noisy = alpha * 0.6 + rng.uniform(0, 0.5, size=alpha.shape)
    assert s.discretize(noisy) == a  # row argmax
    assert s.discretize(np.zeros((6, 5))) == (0,) * 6  # ties -> lowest op index
    v = s.vector(a)
    assert v.shape == (30,) and np.array_equal(v, alpha.reshape(-1))
    np.testing.assert_array_equal(s.vectors([a, a]), np.stack([v, v]))


def test_nb201_graph_form_has_fixed_topology_and_op_features():
    s = get_space("nb201")
    adj1, f1 = s.graph((3, 0, 1, 4, 2, 2))
    adj2, f2 = s.graph((0, 0, 0, 0, 0, 0))
    np.testing.assert_array_equal(adj1, adj2)
    assert adj1.shape == (8, 8) and f1.shape == (8, 7)
    assert (f1.sum(axis=1) == 1).all()
    # input feeds the three edges that leave node 0; the three edges into node 3 feed the output
    assert adj1[0, [1, 2, 4]].tolist() == [1, 1, 1]
    assert adj1[[4, 5, 6], 7].tolist() == [1, 1, 1]
    assert np.triu(adj1, 1).sum() == adj1.sum()  # a DAG in topological order


def test_nb201_canonical_key_drops_dead_edges():
    s = get_space("nb201")
    # node 1 has no path to the output when both of its outgoing edges are none
    a = s.parse("|nor_conv_3x3~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|")
    b = s.parse("|nor_conv_1x1~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|")
    assert a != b and s.canonical_key(a) == s.canonical_key(b)
    assert s.canonical(a)[0] == 0
    live = s.parse("|nor_conv_3x3~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|nor_conv_3x3~1|nor_conv_1x1~2|")
    assert s.canonical(live) == live
    # every cell with an all-none path set collapses to the all-none cell
    assert s.canonical(s.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|none~0|none~1|none~2|")) == (0,) * 6
    assert len({s.canonical(c) for c in s.cells}) < s.size


def test_spaces_registry_is_lazy():
    assert set(SPACES) >= {"nb201", "nasbench-graph"}
    assert isinstance(get_space("nb201-v1"), NB201Space)


# --- NAS-Bench-Graph --------------------------------------------------------------------------
def test_graph_space_size_and_package_hash():
    s = get_space("nasbench-graph")
    assert s.size == 26206
    assert get_space("nasbench-graph-proteins").size == 2021
    from nas_bench_graph.architecture import Arch

    a = s.arch_at(123)
    ops = [s.ops[o] for o in a[4:]]
    assert s.key(a) == str(Arch(list(a[:4]), ops).valid_hash())


def test_graph_neighbours_are_canonical_members():
    s = get_space("nasbench-graph")
    rng = np.random.default_rng(3)
    for _ in range(20):
        a = s.sample(rng)
        nbs = s.neighbours(a)
        assert nbs and all(s.contains(b) for b in nbs)
        assert len(nbs) <= 3 * 3 + 4 * 8  # link edits + op edits


def test_graph_memoized_neighbours_and_mutations_equal_the_direct_computation():
    """``neighbours`` is memoized per architecture: the list, and the mutations a seed draws
    from it, are those of canonicalizing every edit afresh."""
    import pickle

    s = get_space("nasbench-graph")
    rng = np.random.default_rng(4)
    archs = [s.sample(rng) for _ in range(15)] * 3

    def direct(a):
        seen, out = {a}, []
        for link, ops in s._edits(a):
            c = s.canonicalize(link, ops)
            if c is not None and c not in seen:
                seen.add(c)
                out.append(c)
        return out

    r1, r2 = np.random.default_rng(5), np.random.default_rng(5)
    for a in archs:
        assert s.neighbours(a) == direct(a)
        nbs = direct(a)
        assert s.mutate(a, r1) == nbs[int(r2.integers(len(nbs)))]
    assert r1.bit_generator.state == r2.bit_generator.state
    got = s.neighbours(archs[0])
    got.append("edited by the caller")
    assert s.neighbours(archs[0]) == direct(archs[0])  # callers get a copy
    assert "_neighbour_memo" not in pickle.loads(pickle.dumps(s)).__dict__
    with pytest.raises(InvalidArchitecture):
        s.mutate([0, 0, 1, 2, 1, 1, 1, 1], rng)


def test_nb201_pick_neighbour_is_the_listed_neighbour_without_building_the_list():
    s = get_space("nb201")
    rng = np.random.default_rng(0)
    for _ in range(50):
        a = s.sample(rng)
        nbs = s.neighbours(a)
        for i in range(24):
            assert s.pick_neighbour(a, (i + rng.random()) / 24) == (nbs[i], 24)
    with pytest.raises(InvalidArchitecture):
        s.pick_neighbour((9,) * 6, 0.5)
