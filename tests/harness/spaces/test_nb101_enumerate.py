"""The enumeration of the NB101 space (harness.spaces.nb101_enumerate, NB101Space.enumerate):
fast checks on small spaces against the brute force and on cells with known official hashes,
and the full space (computed once per session, ``nb101_index``) against the public table of the
first 20,001 official hashes."""

import itertools
import json

import numpy as np
import pytest

from harness.spaces import nb101_enumerate as E
from harness.spaces.nb101 import NB101Space, NB101TableSpace, cell_code, cell_from_code, enumerate_cells, graph_hash

# cells of each size with their official hashes, from the public table of the first 20,001
# NB101 cells (rows 6992, 16569, 167, 188, 23, 0); the matrices and ops are those the
# enumeration found for these hashes, so the test checks the hash function on its own
KNOWN = [
    (["01", "00"], ["input", "output"], "043721b9c7fe8c5fad811d47d83132ec"),
    (["011", "001", "000"], ["input", "conv1x1-bn-relu", "output"], "09fc2d10bdd6225e167a6f81a22a3f06"),
    (["0110", "0010", "0001", "0000"], ["input", "maxpool3x3", "maxpool3x3", "output"], "001a6fcc8b38cbc515be788a86bdc804"),
    (["01111", "00111", "00010", "00001", "00000"], ["input", "maxpool3x3", "conv3x3-bn-relu", "conv3x3-bn-relu", "output"],
     "001ea832563f8d635ef7d0af25926274"),
    (["010110", "001001", "000100", "000011", "000001", "000000"],
     ["input", "conv3x3-bn-relu", "conv3x3-bn-relu", "maxpool3x3", "conv3x3-bn-relu", "output"], "00040b38293651f17fb665401c671bbb"),
    (["0100110", "0010000", "0001001", "0000010", "0000010", "0000001", "0000000"],
     ["input", "conv3x3-bn-relu", "maxpool3x3", "conv3x3-bn-relu", "conv3x3-bn-relu", "conv1x1-bn-relu", "output"],
     "00005c142e6f48ac74fdcf73e3439874"),
]


@pytest.mark.parametrize("matrix, ops, official", KNOWN)
def test_hash_of_cells_with_known_official_hashes(matrix, ops, official):
    space = NB101Space()
    assert graph_hash([[int(c) for c in r] for r in matrix], ops) == official
    assert space.key(space.cell(matrix, ops)) == official


def test_small_spaces_match_the_brute_force():
    """Up to 5 vertices: the same hashes as the official-style brute force, and each hash's
    code is that of the space's own canonical cell."""
    hashes, codes = E.enumerate_space(workers=1, max_vertices=5)
    ref = enumerate_cells(max_vertices=5)
    assert hashes.size == len(ref) == 1 + 6 + 84 + 2441
    assert list(hashes) == sorted(hashes.tolist())
    assert {h.decode(): int(c) for h, c in zip(hashes, codes)} == {h: cell_code(c) for h, c in ref.items()}


def test_worker_processes_give_the_same_result():
    one = E.enumerate_space(workers=1, max_vertices=5)
    two = E.enumerate_space(workers=2, max_vertices=5)
    assert np.array_equal(one[0], two[0]) and np.array_equal(one[1], two[1])


def test_topologies_and_labelling_orbits():
    # 4 vertices: 10 upper-triangular full DAGs, no two isomorphic
    tops = E.topologies(4)
    assert len(tops) == 10
    # the diamond 0->1, 0->2, 1->3, 2->3 has the swap of 1 and 2 as automorphism
    diamond = next(a for m, a in tops if m.sum() == 4 and m[0, 1] and m[0, 2] and m[1, 3] and m[2, 3])
    assert len(diamond) == 2
    orbits = E.labelling_orbits(4, diamond)
    assert len(orbits) == 6  # 9 labellings, the 3 swapped pairs counted once
    assert all(tuple(o) <= tuple(o[::-1]) for o in orbits.tolist())


def test_vectorized_canonical_form_equals_the_spaces():
    """The codes of a random sample of 6-vertex cells equal ``cell_code(space.cell(...))``."""
    rng = np.random.default_rng(0)
    space = NB101Space()
    tops = E.topologies(6)
    picks = rng.choice(len(tops), size=40, replace=False)
    matrices = np.stack([tops[i][0] for i in picks])
    labels = np.array([[int(x) for x in rng.integers(0, 3, size=4)] for _ in picks], dtype=np.int8)
    topo = np.arange(len(picks))
    h, ids, table = E.hash_cells(matrices, topo, labels)
    codes = E.canonical_codes(matrices, topo, labels, ids, table)
    for t in range(len(picks)):
        ops = ["input"] + [space.choices[x] for x in labels[t]] + ["output"]
        cell = space.cell(matrices[t].tolist(), ops)
        assert codes[t] == cell_code(cell) and space.key(cell) == h[t].decode()


# --- the whole space (enumerated once per session) -----------------------------------------
def test_enumeration_yields_the_423624_cells(nb101_index):
    hashes, codes = nb101_index.arrays["hashes"], nb101_index.arrays["codes"]
    assert hashes.shape == codes.shape == (423_624,)
    assert np.unique(hashes).size == 423_624 and np.unique(codes).size == 423_624
    assert np.all(hashes[1:] > hashes[:-1])  # sorted by hash
    space = NB101Space()
    first = list(itertools.islice(space.enumerate(), 50))
    assert first == [cell_from_code(int(c)) for c in codes[:50]]
    rng = np.random.default_rng(1)
    for i in rng.choice(hashes.size, size=200, replace=False):
        cell = cell_from_code(int(codes[i]))
        assert space.contains(cell) and space.key(cell) == hashes[i].decode()
    full = space.full_table()
    assert isinstance(full, NB101TableSpace) and full.complete and full.size == 423_624


def test_first_20001_hashes_are_the_public_tables_keys(nb101_index, nb101_json):
    with open(nb101_json) as f:
        keys = json.load(f)["key"]
    hashes = nb101_index.arrays["hashes"]
    assert len(keys) == 20_001
    assert [h.decode() for h in hashes[:20_001]] == keys


def test_every_key_of_the_public_table_maps_to_a_cell_with_that_hash(nb101_index, nb101_json):
    from harness.data.nb101_space import rows_of_hashes

    with open(nb101_json) as f:
        keys = json.load(f)["key"]
    a = nb101_index.arrays
    rows = rows_of_hashes(a["hashes"], np.array(keys, dtype="S32"))
    assert (rows >= 0).all()
    space = NB101Space()
    for k, r in zip(keys, rows.tolist()):
        cell = cell_from_code(int(a["codes"][r]))
        assert space.contains(cell) and space.key(cell) == k  # recomputed from the cell alone
