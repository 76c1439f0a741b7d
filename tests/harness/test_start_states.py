"""Start states are drawn per seed (the run's ``starts`` stream); copies of one run across seeds
are flagged and counted once by report/leaderboard."""

import copy
from dataclasses import replace

import numpy as np

from harness import metrics
from harness.protocol import list_protocols, load_protocol
from harness.rng import spawn_streams
from harness.runner import Job, execute, start_states
from harness.spaces import get_space

SPACE_OF = {"nb201-analog": "nb201", "nb201": "nb201", "nb101": "nb101", "nb301": "darts", "nb301-yahpo": "darts"}


def test_no_two_seeds_of_a_shipped_protocol_share_start_states():
    checked = 0
    for p in list_protocols():
        if not p.episodes.start_states:
            continue
        assert p.benchmark in SPACE_OF, f"add {p.benchmark}'s space to SPACE_OF"
        assert not p.episodes.shared_starts, f"{p.name} shares one start set between seeds"
        space = get_space(SPACE_OF[p.benchmark])
        # the first 20 of each seed's set (the set is drawn in order, so this is its prefix)
        small = replace(p, episodes=replace(p.episodes, start_states=min(20, p.episodes.start_states)))
        sets = {s: tuple(space.key(a) for a in start_states(small, space, spawn_streams(s)["starts"])) for s in p.seeds}
        assert len(set(sets.values())) == len(sets), f"{p.name}: two seeds share start states"
        checked += 1
    assert checked >= 3  # nb201-analog, nb101, nb301


def test_shared_starts_is_an_opt_in_that_changes_the_run_key():
    p = load_protocol("nb201-analog")
    shared = replace(p, episodes=replace(p.episodes, shared_starts=True))
    space = get_space("nb201")
    a = start_states(shared, space, spawn_streams(0)["starts"])
    b = start_states(shared, space, spawn_streams(1)["starts"])
    assert [space.key(x) for x in a] == [space.key(x) for x in b]
    assert Job(p, "local-search", 0).identity()["run_key"] != Job(shared, "local-search", 0).identity()["run_key"]


def test_local_search_differs_across_seeds_and_a_planted_copy_is_counted_once():
    p = load_protocol("nb201-analog").with_budget(60)
    r0, r1 = (execute(Job(p, "local-search", s)) for s in (0, 1))
    assert not np.array_equal(r0.trajectory["index"], r1.trajectory["index"])
    kept, notes = metrics.collapse_duplicates([r0, r1])
    assert len(kept) == 2 and notes == []
    # a copy of seed 0's run under seed 7: flagged in one line and counted once
    planted = copy.deepcopy(r0)
    planted.meta["seed"] = 7
    planted.meta["run_key"] = "planted"
    kept, notes = metrics.collapse_duplicates([planted, r1, r0])
    assert sorted(r.meta["seed"] for r in kept) == [0, 1]
    assert len(notes) == 1 and "local-search" in notes[0] and "7" in notes[0] and "\n" not in notes[0]
    # under shared start states local search repeats itself: the guard catches it
    shared = replace(p, episodes=replace(p.episodes, shared_starts=True))
    s0, s1 = (execute(Job(shared, "local-search", s)) for s in (0, 1))
    assert np.array_equal(s0.trajectory["index"], s1.trajectory["index"])
    kept, notes = metrics.collapse_duplicates([s0, s1])
    assert len(kept) == 1 and len(notes) == 1
