"""NAS-Bench-101 space: official hash, validity and pruning, canonical values, sampling,
mutation, the Ape-X neighbourhood and the encodings."""

import numpy as np
import pytest

from harness.conformance import check_space
from harness.errors import InvalidArchitecture
from harness.spaces import get_space
from harness.spaces.nb101 import Cell, NB101Space, NB101TableSpace, cell_code, cell_from_code, graph_hash
from tests.harness.data.nb101_writer import relabel

README_MATRIX = ["0111010", "0000001", "0000001", "0000100", "0000001", "0000001", "0000000"]
README_OPS = ["input", "conv1x1-bn-relu", "conv3x3-bn-relu", "conv3x3-bn-relu", "conv3x3-bn-relu", "maxpool3x3", "output"]
README_HASH = "28cfc7874f6d200472e1a9dcd8650aa0"


@pytest.fixture(scope="module")
def space():
    return NB101Space()


def test_registered_and_conformant(space):
    assert get_space("nb101").id == "nb101-v1" and not get_space("nb101").finite
    check_space(space, n=30)


def test_readme_cell_has_the_official_hash(space):
    assert graph_hash([[int(c) for c in r] for r in README_MATRIX], README_OPS) == README_HASH
    cell = space.cell(README_MATRIX, README_OPS)
    assert space.key(cell) == README_HASH
    assert space.contains(cell) and cell.num_vertices == 7 and cell.num_edges == 9
    # the short op names are accepted too
    short = ["input", "conv1x1", "conv3x3", "conv3x3", "conv3x3", "maxpool3x3", "output"]
    assert space.cell(README_MATRIX, short) == cell


def test_relabellings_keep_hash_and_canonical_form(space):
    rng = np.random.default_rng(1)
    cells = [space.sample_by_size(rng, sizes=(4, 5, 6, 7)) for _ in range(100)]
    changed = 0
    for i in range(1000):
        c = cells[i % len(cells)]
        m, ops = relabel(c, rng)
        changed += (m, ops) != ([list(r) for r in c.matrix], list(c.ops))
        assert graph_hash(m, ops) == space.key(c)
        assert space.cell(m, ops) == c
    assert changed > 300  # the relabellings did move vertices


@pytest.mark.parametrize(
    "matrix, ops, why",
    [
        (["0100", "0000", "0001", "0000"], ["input", "conv3x3", "conv3x3", "output"], "not reach"),  # input cut off
        (["00", "00"], ["input", "output"], "not reach"),
        (["0111110", "0011111", "0001111", "0000110", "0000001", "0000001", "0000000"], ["input"] + ["conv3x3"] * 5 + ["output"], "edges"),
        ([[0] * 8 + [1] if i == 0 else [0] * 9 for i in range(9)], ["input"] + ["conv3x3"] * 7 + ["output"], None),  # 9 vertices, but pruned to 2
        (["010", "001", "100"], ["input", "conv3x3", "output"], "upper-triangular"),
        (["011", "001", "000"], ["input", "conv5x5", "output"], "ops"),
        (["011", "001", "000"], ["conv3x3", "conv3x3", "output"], "ops"),
    ],
)
def test_validity(space, matrix, ops, why):
    if why is None:
        c = space.cell(matrix, ops)
        assert c.num_vertices == 2 and c.num_edges == 1
        return
    with pytest.raises(InvalidArchitecture, match=why):
        space.cell(matrix, ops)


def test_too_many_vertices_after_pruning(space):
    n = 8  # a chain input -> 6 convs -> output: 8 vertices
    m = [[1 if j == i + 1 else 0 for j in range(n)] for i in range(n)]
    with pytest.raises(InvalidArchitecture, match="8 vertices"):
        space.cell(m, ["input"] + ["conv3x3"] * 6 + ["output"])


def test_pruning_tricky_cases(space):
    base = space.cell(["0110", "0001", "0001", "0000"], ["input", "conv3x3", "maxpool", "output"])
    # a dead end (reachable from the input, not reaching the output) is removed with its edges
    dead_end = space.cell(
        ["01100", "00011", "00001", "00000", "00000"], ["input", "conv3x3", "maxpool", "conv1x1", "output"]
    )
    assert dead_end == base
    dangling = space.cell(
        ["011000", "000101", "000001", "000000", "000000", "000000"],
        ["input", "conv3x3", "maxpool", "conv1x1", "conv1x1", "output"],
    )
    assert dangling == base and space.key(dangling) == space.key(base)
    # a vertex that reaches the output but is not reached from the input
    orphan = space.cell(
        ["01100", "00001", "00001", "00001", "00000"], ["input", "conv3x3", "maxpool", "conv1x1", "output"]
    )
    assert orphan == base
    # 10 edges before pruning, 9 after: valid (the official check counts after pruning)
    m = ["0111010", "0000001", "0000001", "0000100", "0000001", "0000001", "0000000"]
    m10 = [list(map(int, r)) for r in m]
    ops = list(README_OPS)
    # add a dead-end vertex in place of nothing: re-use vertex 5 (maxpool) as dead end by cutting 5->6
    m10[5][6] = 0
    m10[3][5] = 1
    m10[1][5] = 1  # vertex 5 now only receives edges: pruned with them
    total = sum(map(sum, m10))
    assert total == 10
    c = space.cell(m10, ops)
    assert c.num_vertices == 6 and c.num_edges == 7
    # a graph where the only connection runs through a dangling-looking chain stays valid
    chain = space.cell(["0100", "0010", "0001", "0000"], ["input", "conv3x3", "conv1x1", "output"])
    assert chain.num_vertices == 4 and chain.num_edges == 3


def test_only_canonical_cells_are_members(space):
    cell = space.cell(README_MATRIX, README_OPS)
    raw = Cell(tuple(tuple(map(int, r)) for r in README_MATRIX), tuple(README_OPS))
    if raw != cell:
        assert not space.contains(raw)
        with pytest.raises(InvalidArchitecture, match="canonical"):
            space.validate(raw)
    unpruned = Cell(((0, 1, 0), (0, 0, 0), (0, 0, 0)), ("input", "conv3x3-bn-relu", "output"))
    assert not space.contains(unpruned)
    assert not space.contains((cell.matrix, cell.ops))  # a plain tuple is not a Cell


def test_parse_format_and_codes(space):
    rng = np.random.default_rng(2)
    for _ in range(50):
        c = space.sample(rng)
        assert space.parse(space.format(c)) == c
        assert cell_from_code(cell_code(c)) == c
    with pytest.raises(InvalidArchitecture):
        space.parse("nonsense")


def test_sampling_is_deterministic_and_varied(space):
    a = [space.sample(np.random.default_rng(5)) for _ in range(3)]
    assert a[0] == a[1] == a[2]
    rng = np.random.default_rng(6)
    xs = [space.sample(rng) for _ in range(300)]
    sizes = {c.num_vertices for c in xs}
    assert sizes >= {2, 3, 4, 5, 6} and all(c.num_edges <= 9 for c in xs)
    rng = np.random.default_rng(7)
    sized = [space.sample_by_size(rng) for _ in range(120)]
    counts = np.bincount([c.num_vertices for c in sized], minlength=8)[2:]
    assert (counts > 5).all()  # Ape-X sampler: quasi-uniform over the vertex count


def test_mutation_rates_follow_the_paper(space):
    rng = np.random.default_rng(8)
    c = space.cell(README_MATRIX, README_OPS)
    ms = [space.mutate(c, rng) for _ in range(200)]
    assert all(space.contains(m) and space.key(m) != space.key(c) for m in ms)
    assert len({space.key(m) for m in ms}) > 50
    r1, r2 = np.random.default_rng(9), np.random.default_rng(9)
    assert [space.mutate(c, r1) for _ in range(5)] == [space.mutate(c, r2) for _ in range(5)]
    # a lower mutation rate changes less: more mutants keep all 7 vertices (0.28 vs 0.10 measured)
    kept = lambda xs: np.mean([m.num_vertices == 7 for m in xs])
    low = [space.mutate(c, rng, mutation_rate=0.3) for _ in range(200)]
    assert kept(low) > kept(ms) + 0.08


def test_neighbourhood(space):
    c = space.cell(README_MATRIX, README_OPS)
    nbs = space.neighbours(c)
    keys = [space.key(n) for n in nbs]
    assert len(keys) == len(set(keys)) and space.key(c) not in keys
    assert nbs == space.neighbours(c)
    assert all(space.contains(n) for n in nbs)
    # the README cell has 9 edges and 7 vertices: no edge or vertex can be added
    assert all(n.num_edges <= 9 and n.num_vertices <= 7 for n in nbs)
    assert not any(n.num_vertices == 7 and n.num_edges == 9 and sorted(n.ops) != sorted(c.ops) and False for n in nbs)
    # label changes: 5 inner vertices x 2 other ops, minus isomorphic duplicates
    relabels = [n for n in nbs if n.num_vertices == 7 and n.num_edges == 9]
    assert 1 <= len(relabels) <= 10


def test_vertex_removal_rewires_and_is_not_symmetric(space):
    # Fig. 2 of the Ape-X paper, in spirit: input -> a, b; a, b -> v; v -> c, output; c -> output
    m = ["0110000", "0001000", "0001000", "0000110", "0000001", "0000001", "0000000"]
    ops = ["input", "conv3x3", "conv1x1", "maxpool", "conv3x3", "conv1x1", "output"]
    c = space.cell(m, ops)
    nbs = space.neighbours(c)
    smaller = [n for n in nbs if n.num_vertices == 6]
    assert smaller  # removing the middle vertex with valid re-wirings
    for s in smaller:
        back = {space.key(x) for x in space.neighbours(s)}
        if space.key(c) not in back:
            break
    else:
        pytest.fail("expected a removal neighbour whose neighbourhood does not contain the original")


def test_small_cell_neighbourhood_is_complete(space):
    # input -> conv3x3 -> output: add vertex / edge / change label
    c = space.cell(["010", "001", "000"], ["input", "conv3x3", "output"])
    nbs = space.neighbours(c)
    kinds = {(n.num_vertices, n.num_edges) for n in nbs}
    assert (2, 1) in kinds  # removing the vertex, re-wired input -> output
    assert (3, 3) in kinds  # adding the edge input -> output
    assert (3, 2) in kinds  # changing the label (2 other ops)
    assert (4, 4) in kinds  # adding a vertex
    assert sum(1 for n in nbs if (n.num_vertices, n.num_edges) == (3, 2)) == 2


def test_encodings(space):
    c = space.cell(["011", "001", "000"], ["input", "maxpool", "output"])
    v = space.vector(c)
    assert v.shape == (56,) and v.dtype == np.float32
    # padded before the output: edges 0->1, 0->6, 1->6 in the 7x7 upper triangle
    iu = list(zip(*np.triu_indices(7, 1)))
    assert {iu[k] for k in np.flatnonzero(v[:21])} == {(0, 1), (0, 6), (1, 6)}
    labels = v[21:].reshape(7, 5)
    assert labels[0, 0] == labels[1, 3] == labels[6, 4] == 1 and labels[2:6].sum() == 0
    lt = space.lower_triangular(c)
    il = list(zip(*np.tril_indices(7, -1)))
    # row i lists the inputs of vertex i: (1,0), (2,0), (2,1)
    assert {il[k] for k in np.flatnonzero(lt[:21])} == {(1, 0), (2, 0), (2, 1)}
    assert lt[21:].reshape(7, 5)[2, 4] == 1 and lt[21:].reshape(7, 5)[3:].sum() == 0
    adj, feats = space.graph(c)
    assert adj.shape == (3, 3) and feats.shape == (3, 5) and adj.sum() == 3
    adj7, feats7 = space.graph(c, pad=True)
    assert adj7.shape == (7, 7) and feats7[3:].sum() == 0
    assert space.encode(c, "lower_triangular").shape == (56,)


def test_decisions(space):
    assert len(space.decisions) == 26
    rng = np.random.default_rng(3)
    for _ in range(20):
        c = space.sample(rng)
        d = space.to_decisions(c)
        assert space.from_decisions(d) == c
    with pytest.raises(InvalidArchitecture):
        space.from_decisions([0] * 21 + [0] * 5)  # no edges: input does not reach the output
    with pytest.raises(InvalidArchitecture):
        space.from_decisions([1] * 21 + [0] * 5)  # 21 edges


def test_table_view(space):
    rng = np.random.default_rng(4)
    cells = {}
    while len(cells) < 200:
        c = space.sample(rng)
        cells[space.key(c)] = c
    hs = sorted(cells)
    t = space.with_table(np.array(hs, dtype="S32"), [cell_code(cells[h]) for h in hs])
    assert isinstance(t, NB101TableSpace) and t.finite and t.size == 200
    check_space(t, n=20)
    for i, h in enumerate(hs[:20]):
        assert t.index(cells[h]) == i and t.arch_at(i) == cells[h] and t.key(cells[h]) == h
        assert t.index_of[cells[h]] == i and t.row_of_hash(h) == i
    outside = next(c for c in iter(lambda: space.sample(rng), None) if space.key(c) not in cells)
    assert space.contains(outside) and not t.contains(outside)
    with pytest.raises(InvalidArchitecture, match="no row"):
        t.index(outside)
    assert t.index_of.get(outside) is None


@pytest.mark.slow
def test_enumeration_finds_the_423624_cells():
    """Brute force over every graph without dangling vertices and every labelling (about ten
    minutes of pure Python): the official hash and validity rules give NB101's 423,624 cells."""
    from harness.spaces.nb101 import enumerate_cells

    assert len(enumerate_cells()) == 423_624
