"""Installed plug-ins (entry points of ``nas_harness.algorithms``): found by name, and one named
like a built-in is a one-line error, never a silent shadow."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from algorithms import registry
from harness.errors import ConfigError


@pytest.fixture
def installed(monkeypatch):
    def install(*pairs):
        eps = tuple(EntryPoint(name, value, registry.ENTRY_POINT_GROUP) for name, value in pairs)
        monkeypatch.setattr(registry, "_installed_entry_points", lambda: eps)

    return install


def test_a_plugin_is_found_by_its_name(installed):
    installed(("greedy-plugin", "tests.harness.plugin_algorithms:Greedy"))
    assert "greedy-plugin" in registry.list_algorithms()
    assert registry.get_algorithm_class("greedy-plugin").__name__ == "Greedy"


@pytest.mark.parametrize("asked", ["random", "evolution", "greedy-plugin"])
def test_a_plugin_named_like_a_builtin_is_an_error(installed, asked):
    installed(("greedy-plugin", "tests.harness.plugin_algorithms:Greedy"),
              ("random", "tests.harness.plugin_algorithms:Greedy"))
    with pytest.raises(ConfigError) as e:
        registry.get_algorithm_class(asked)
    msg = str(e.value)
    assert "\n" not in msg and "'random'" in msg and "built-in" in msg and "rename" in msg
    with pytest.raises(ConfigError):
        registry.list_algorithms()


def test_the_cli_says_it_in_one_line(installed, capsys):
    from harness.cli import main

    installed(("evolution", "tests.harness.plugin_algorithms:Greedy"))
    assert main(["list", "algorithms"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and "evolution" in err
