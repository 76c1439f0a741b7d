"""Conformance checks run over every registered space and algorithm (cf. scikit-learn's
``check_estimator``, Gymnasium's ``check_env``). Each raises ``AssertionError`` with a message
saying what broke; tests parametrize them over the registries.
"""

from __future__ import annotations

import numpy as np

from harness.errors import BudgetExhausted, InvalidArchitecture


def check_space(space, n: int = 50, seed: int = 0) -> None:
    """Sampling, mutation, neighbourhood, membership, keys, encodings and (finite) indexing."""
    rng = np.random.default_rng(seed)
    archs = [space.sample(rng) for _ in range(n)]
    for a in archs:
        assert space.contains(a), f"{space.id}: sample {a!r} is not a member"
        hash(a)
        m = space.mutate(a, rng)
        assert space.contains(m), f"{space.id}: mutate({a!r}) = {m!r} is not a member"
        assert m != a, f"{space.id}: mutate({a!r}) returned the same architecture"
        nbs = space.neighbours(a)
        assert nbs == space.neighbours(a), f"{space.id}: neighbours({a!r}) order is not deterministic"
        assert len(set(nbs)) == len(nbs), f"{space.id}: neighbours({a!r}) has repeats"
        assert a not in nbs, f"{space.id}: {a!r} is its own neighbour"
        for b in nbs:
            assert space.contains(b), f"{space.id}: neighbour {b!r} of {a!r} is not a member"
            if hasattr(space, "edit_distance"):
                assert space.edit_distance(a, b) == 1, f"{space.id}: neighbour {b!r} of {a!r} is not one edit away"
        for u in (0.0, 0.37, 0.999999):
            pick, n = space.pick_neighbour(a, u)
            assert n == len(nbs) and (pick == nbs[min(int(u * n), n - 1)] if n else pick is None), (
                f"{space.id}: pick_neighbour({a!r}, {u}) disagrees with neighbours()"
            )
        assert isinstance(space.key(a), str)
        assert space.parse(space.format(a)) == a, f"{space.id}: parse(format({a!r})) round trip failed"
        v = space.vector(a)
        assert v.shape == (space.vector_dim,), f"{space.id}: vector shape {v.shape} != ({space.vector_dim},)"
        if "onehot" in space.encodings:
            assert space.discretize(space.onehot(a)) == a, f"{space.id}: discretize(onehot(a)) != a"
        if "graph" in space.encodings:
            adj, feats = space.graph(a)
            assert adj.shape[0] == adj.shape[1] == feats.shape[0]
        if space.finite:
            i = space.index(a)
            assert 0 <= i < space.size and space.arch_at(i) == a, f"{space.id}: index/arch_at round trip failed"
        if space.decisions is not None:
            d = space.to_decisions(a)
            assert len(d) == len(space.decisions)
            assert space.from_decisions(d) == a, f"{space.id}: from_decisions(to_decisions(a)) != a"
    for bad in (None, "not an architecture", (-1,)):
        assert not space.contains(bad), f"{space.id}: contains({bad!r}) is True"
        try:
            space.validate(bad)
        except InvalidArchitecture:
            pass
        else:
            raise AssertionError(f"{space.id}: validate({bad!r}) did not raise InvalidArchitecture")
    # same seed, same samples
    r1, r2 = np.random.default_rng(seed + 1), np.random.default_rng(seed + 1)
    assert [space.sample(r1) for _ in range(5)] == [space.sample(r2) for _ in range(5)]
    # mutate_many = the mutate loop: same children, same generator state afterwards
    parents = archs[:20] + archs[:5]  # repeats included
    r1, r2 = np.random.default_rng(seed + 2), np.random.default_rng(seed + 2)
    assert space.mutate_many(parents, r1) == [space.mutate(a, r2) for a in parents], (
        f"{space.id}: mutate_many disagrees with calling mutate on each architecture"
    )
    assert r1.bit_generator.state == r2.bit_generator.state, f"{space.id}: mutate_many consumes the rng differently"
    assert space.mutate_many([], r1) == []


class _SpyOracle:
    """Wraps an oracle's narrow view (:class:`harness.oracle.OracleView`): checks that every
    queried architecture is a member of the space; anything the view does not offer (the
    benchmark's table, ``report_value``, ...) fails the check with an AssertionError."""

    def __init__(self, oracle):
        from harness.oracle import OracleView

        self._o = oracle.view() if not isinstance(oracle, OracleView) else oracle
        self.space = oracle.space

    def __getattr__(self, name):
        from harness.oracle import OracleView

        if name not in OracleView.EXPOSED:
            raise AssertionError(f"the algorithm reached oracle.{name}, which an algorithm may not use "
                                 f"(allowed: {', '.join(OracleView.EXPOSED)})")
        return getattr(self._o, name)

    def query(self, arch):
        assert self.space.contains(arch), f"queried {arch!r}, not a member of {self.space.id}"
        return self._o.query(arch)

    def query_batch(self, archs):
        for a in archs:
            assert self.space.contains(a), f"queried {a!r}, not a member of {self.space.id}"
        return self._o.query_batch(archs)


def run_once(algorithm_factory, benchmark, budget: int, seed: int, counting: str = "unique", **oracle_kw):
    """Run a fresh algorithm instance on a fresh oracle; return the oracle's trajectory."""
    from harness.oracle import Oracle
    from harness.rng import spawn_streams

    streams = spawn_streams(seed)
    oracle = Oracle(benchmark, budget=budget, counting=counting, rng=streams["noise"], **oracle_kw)
    algo = algorithm_factory()
    try:
        algo.run(_SpyOracle(oracle), streams["algorithm"])
    except BudgetExhausted:
        pass
    assert oracle.used <= budget, f"{oracle.used} counted queries for a budget of {budget}"
    return oracle.trajectory()


def check_algorithm(algorithm_factory, benchmark, budget: int = 60, seeds=(0, 1)) -> None:
    """Determinism (same seed same trajectory, different seeds differ), budget respected,
    only members queried, ``unique`` counting never records a repeat."""
    a = run_once(algorithm_factory, benchmark, budget, seeds[0])
    b = run_once(algorithm_factory, benchmark, budget, seeds[0])
    assert list(a["key"]) == list(b["key"]), "same seed gave different trajectories"
    np.testing.assert_array_equal(a["search"], b["search"])
    c = run_once(algorithm_factory, benchmark, budget, seeds[1])
    assert list(a["key"]) != list(c["key"]), "different seeds gave identical trajectories"
    assert len(set(a["key"])) == len(a["key"]), "a repeat was counted under the unique rule"
    assert len(a["key"]) <= budget
    one = run_once(algorithm_factory, benchmark, 1, seeds[0])
    assert len(one["key"]) <= 1, "budget 1 exceeded"
