"""Settings of an algorithm written as the leaderboards label rows (``bonas(sampler=rl)``):
``algorithms.registry.parse_spec`` / ``spec_text``, over every registered algorithm."""

import pytest

from algorithms.registry import list_algorithms, make_algorithm, parse_spec, spec_text
from harness.errors import ConfigError


@pytest.mark.parametrize("name", list_algorithms())
def test_every_setting_of_every_algorithm_reads_back_as_itself(name):
    """The text of an algorithm's whole default configuration (every field type it has: str,
    int, float, bool, None, lists) parses back to the same values, and those values build it."""
    hp = make_algorithm(name).hyperparameters()
    text = spec_text(name, hp)
    got_name, got = parse_spec(text)
    assert got_name == name
    assert got == hp, text
    assert make_algorithm(name, **got).hyperparameters() == hp


def test_labels_of_the_committed_boards_parse():
    assert parse_spec("bonas(sampler=rl)") == ("bonas", {"sampler": "rl"})
    assert parse_spec("bonas(ea_fill=True, sampler=ea)") == ("bonas", {"ea_fill": True, "sampler": "ea"})
    assert parse_spec("bonas(ea_fill=false,sampler=ea)") == ("bonas", {"ea_fill": False, "sampler": "ea"})
    assert parse_spec("lanas(init_samples=2000, count_reset=zero)") == ("lanas", {"init_samples": 2000, "count_reset": "zero"})
    assert parse_spec("random") == ("random", {})
    # a str field keeps its text even where it would read as a number
    name, hp = parse_spec('bonas(sampler="ea")')
    assert hp == {"sampler": "ea"}


@pytest.mark.parametrize("text, needle", [
    ("bonas(sampler=rl", "write one setting as NAME(key=value"),
    ("bonas(sampler)", "is not key=value"),
    ("bonas(sampler=rl, sampler=ea)", "given twice"),
    ("bonas#1a2b3c", "short label of a setting"),
    ("(a=1)", "write one setting"),
    ("nosuch(a=1)", "unknown algorithm 'nosuch'"),
])
def test_malformed_settings_are_one_line_errors(text, needle):
    with pytest.raises(ConfigError, match=None) as e:
        parse_spec(text)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_a_text_value_with_commas_quotes_and_brackets_reads_back():
    hp = {"checkpoint": 'runs/a, b "c" [d]/{seed}.pt', "epsilon": 0.25}
    text = spec_text("apex", hp)
    assert parse_spec(text) == ("apex", hp)
