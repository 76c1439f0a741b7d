"""Every algorithm declares its warm-up (initial random samples); ``run`` refuses a protocol whose
budget the warm-up exceeds (more than algorithms.base.WARMUP_CAP of it), so no board row is
random sampling under another name. Warm-ups are computed, the algorithms are not run."""

import pytest

from algorithms.base import WARMUP_CAP, missing_capabilities, warmup_cap, warmup_problem
from algorithms.registry import list_algorithms, make_algorithm
from harness.errors import ConfigError
from harness.protocol import list_protocols
from harness.spaces import get_space


def _space(p):
    if p.benchmark == "nasbench-graph":
        return get_space("nasbench-graph-proteins" if p.dataset == "proteins" else "nasbench-graph")
    return get_space({"nb201-analog": "nb201", "nb301": "darts", "nb301-yahpo": "darts"}.get(p.benchmark, p.benchmark))


def test_every_algorithm_searches_on_every_shipped_protocol_or_is_refused():
    refused = set()
    for p in list_protocols():
        space = _space(p)
        for name in list_algorithms():
            algo = make_algorithm(name, **p.overrides(name))
            if missing_capabilities(type(algo).requires, space):
                continue
            w = algo.warmup(p.budget, space)
            assert isinstance(w, int) and w >= 0, (name, w)
            why = warmup_problem(algo, name, p.budget, space)
            if w <= warmup_cap(p.budget):
                assert why is None
            else:
                assert why and name in why and f"{p.budget:,}" in why and "\n" not in why
                refused.add((p.name, name))
    # the scaled LaNAS default is capped, never refused: 124 > 50 on NAS-Bench-Graph's 100 queries
    assert not any(a == "lanas" for _, a in refused)
    assert ("nb201-cifar10", "l2nas-darts") in refused  # 3,000 random warm-up steps of 1,000 queries


def test_lanas_default_warmup_is_capped_and_an_explicit_one_is_kept():
    space = get_space("nasbench-graph")
    lanas = make_algorithm("lanas")
    assert lanas.warmup(10**6, space) == 124  # the paper's share of the space
    assert lanas.warmup(100, space) == int(WARMUP_CAP * 100)
    assert make_algorithm("lanas", init_samples=90).warmup(100, space) == 90


def test_run_check_refuses_a_budget_the_warmup_exceeds():
    from dataclasses import replace

    from harness.commands.run import check
    from harness.protocol import Protocol

    p = Protocol.adhoc("nb201-analog", 40, 1)
    check(p, ["evolution", "random", "bonas"])  # population 10, n_init 10: at most 20 of 40
    big = replace(p, algorithms={"evolution": {"population": 30}})
    with pytest.raises(ConfigError, match="evolution spends 30 initial random samples .* budget of 40"):
        check(big, ["evolution"])
    with pytest.raises(ConfigError, match="lanas spends 32"):  # 2^h = 32 > 20: too small a budget for h = 5
        check(p, ["lanas"])


def test_lanas_paper_has_the_papers_settings_and_is_refused_below_4000_queries():
    space = get_space("nb201")
    c = make_algorithm("lanas-paper").config
    assert (c.init_samples, c.count_reset, c.height, c.selects, c.c) == (2000, "zero", 5, 100, 0.5)
    algo = make_algorithm("lanas-paper")
    assert algo.warmup(15625, space) == 2000 and warmup_problem(algo, "lanas-paper", 15625, space) is None
    assert "at least 4,000" in warmup_problem(algo, "lanas-paper", 1000, space)
