"""Algorithms by name: the built-ins, a user's ``module:Class``, and installed plug-ins.

A user's algorithm is a first-class citizen: ``--algorithm mypackage.module:MyAlgorithm``, or
an entry point in the group ``nas_harness.algorithms`` (name = the algorithm's name). An entry
point named like a built-in is an error (ConfigError), never a silent shadow of either.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib

from harness.errors import ConfigError

# name -> "module:Class"; modules are imported only when the algorithm is used.
BUILTIN: dict[str, str] = {
    "random": "algorithms.random_search:RandomSearch",
    "lanas": "algorithms.lanas:LaNAS",
    "lanas-paper": "algorithms.lanas:LaNASPaper",
    "apex": "algorithms.apex:ApeX",
    "evolution": "algorithms.evolution:RegularizedEvolution",
    "local-search": "algorithms.local_search:LocalSearch",
    "local-search-first": "algorithms.local_search:FirstImprovementLocalSearch",
    "random-walk": "algorithms.random_walk:RandomWalk",
    "mcts": "algorithms.mcts:MCTS",
    "reinforce": "algorithms.reinforce:Reinforce",
    "tpe": "algorithms.tpe:TPE",
    "l2nas": "algorithms.l2nas:L2NAS",
    "l2nas-tuned": "algorithms.l2nas:L2NASTuned",
    "l2nas-darts": "algorithms.l2nas:L2NASDarts",
    "bonas": "algorithms.bonas:BONAS",
}

# The baselines every method is compared against (issue 5; docs/baselines.md).
BASELINES: tuple[str, ...] = (
    "random", "evolution", "local-search", "local-search-first", "random-walk", "mcts", "reinforce", "tpe",
)

ENTRY_POINT_GROUP = "nas_harness.algorithms"


def _entry_points() -> dict[str, str]:
    """Installed plug-ins, ``{name: "module:Class"}``; ConfigError when one is named like a built-in."""
    eps = _installed_entry_points()
    clash = sorted({ep.name for ep in eps} & set(BUILTIN))
    if clash:
        ep = next(e for e in eps if e.name == clash[0])
        dist = getattr(getattr(ep, "dist", None), "name", None) or "an installed package"
        raise ConfigError(f"entry point {ep.name!r} ({ep.value}) of {dist} in group {ENTRY_POINT_GROUP} has the name "
                          f"of the built-in algorithm {ep.name!r} ({BUILTIN[ep.name]}); rename the entry point")
    return {ep.name: ep.value for ep in eps}


@functools.lru_cache(maxsize=1)
def _installed_entry_points() -> tuple:
    """The group's entry points, read once per process (scanning the installed packages takes
    tens of milliseconds, and every job resolves its algorithm several times)."""
    from importlib.metadata import entry_points

    return tuple(entry_points(group=ENTRY_POINT_GROUP))


def list_algorithms() -> list[str]:
    names = dict(BUILTIN)
    names.update(_entry_points())
    return sorted(names)


def _load_target(target: str):
    mod_name, _, cls_name = target.partition(":")
    if not all(part.isidentifier() for part in mod_name.split(".")) or not cls_name.isidentifier():
        raise ConfigError(
            f"algorithm {target!r} is not of the form module:Class (e.g. mypackage.search:MySearch)"
        )
    try:
        mod = _import_module(mod_name)
    except ImportError as e:
        raise ConfigError(f"cannot import module {mod_name!r} for algorithm {target!r}: {e}") from None
    except (Exception, SystemExit) as e:  # the user's module fails while being imported
        raise ConfigError(
            f"importing module {mod_name!r} for algorithm {target!r} failed: {type(e).__name__}: {_first_line(e)}"
        ) from None
    try:
        cls = getattr(mod, cls_name)
    except AttributeError:
        raise ConfigError(f"module {mod_name!r} has no class {cls_name!r}") from None
    from algorithms.base import Algorithm

    if not (isinstance(cls, type) and issubclass(cls, Algorithm)) or not dataclasses.is_dataclass(cls.Config):
        raise ConfigError(
            f"{target} is not an algorithm: expected a subclass of algorithms.base.Algorithm with a "
            f"Config dataclass and run(oracle, rng), got {type(cls).__name__} {getattr(cls, '__qualname__', cls)!r}"[:300]
        )
    return cls


def _import_module(mod_name: str):
    """Import ``mod_name``; a module that is not on ``sys.path`` but lies in the current folder
    (``mypackage/greedy.py`` for ``mypackage.greedy``) is found there too, as ``python -m``
    would: the current folder is appended to ``sys.path`` (after everything else, so it never
    shadows an installed module; worker processes inherit it)."""
    import os
    import sys

    try:
        return importlib.import_module(mod_name)
    except ModuleNotFoundError as e:
        top = mod_name.split(".")[0]
        cwd = os.getcwd()
        if e.name != top or cwd in sys.path or not (os.path.isdir(top) or os.path.isfile(f"{top}.py")):
            raise
        sys.path.append(cwd)
        return importlib.import_module(mod_name)


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [""])[0][:200]


def algorithm_name(algorithm) -> str:
    """The name under which ``algorithm`` is run and recorded: a name stays as it is; an
    algorithm class becomes ``module:Class``, which must import back to that same class (runs
    may execute in other processes, and the run identity records the path)."""
    if isinstance(algorithm, str):
        return algorithm
    from algorithms.base import Algorithm

    if not (isinstance(algorithm, type) and issubclass(algorithm, Algorithm)):
        raise ConfigError(f"an algorithm is a name, a module:Class path or a subclass of algorithms.base.Algorithm, "
                          f"got {type(algorithm).__name__} {algorithm!r}"[:300])
    target = f"{algorithm.__module__}:{algorithm.__qualname__}"
    try:
        found = getattr(importlib.import_module(algorithm.__module__), algorithm.__qualname__, None)
    except Exception:
        found = None
    if found is not algorithm or "." in algorithm.__qualname__ or algorithm.__module__ == "__main__":
        raise ConfigError(f"algorithm class {algorithm.__qualname__} cannot be imported as {target}: define it at the "
                          "top level of an importable module (a .py file on sys.path, not __main__ or a notebook cell)")
    return target


def get_algorithm_class(name):
    """The algorithm class for a registered name, a ``module:Class`` path or a class."""
    name = algorithm_name(name)
    eps = _entry_points()  # first: a plug-in clashing with a built-in is an error, whichever is asked for
    if name in BUILTIN:
        return _load_target(BUILTIN[name])
    if name in eps:
        return _load_target(eps[name])
    if ":" in name:
        return _load_target(name)
    raise ConfigError(
        f"unknown algorithm {name!r}; choose one of: {', '.join(list_algorithms())} "
        "(or give your own as module:Class)"
    )


def make_algorithm(name: str, **hyperparameters):
    """An instance of algorithm ``name`` with the given hyperparameters.

    A constructor that fails with anything but a :class:`ConfigError` (a user's ``__init__``
    raising) is reported as one ConfigError line naming the algorithm.
    """
    from harness.errors import HarnessError

    name = algorithm_name(name)
    cls = get_algorithm_class(name)
    try:
        return cls(**hyperparameters)
    except HarnessError:
        raise
    except Exception as e:
        raise ConfigError(
            f"algorithm {name} could not be created with {hyperparameters or 'its defaults'}: "
            f"{type(e).__name__}: {_first_line(e)}"[:400]
        ) from None


def parse_spec(text: str) -> tuple[str, dict]:
    """``NAME`` or ``NAME(key=value, ...)`` -> ``(name, hyperparameters)``: one setting of an
    algorithm, written as the leaderboards label a row (``bonas(sampler=rl)``,
    ``bonas(ea_fill=True, sampler=ea)``). ``NAME`` is a registered name or ``module:Class``.

    A value is read as TOML (``true``, ``3``, ``1e-3``, ``"text"``, ``[1, 2]``); ``True``,
    ``False`` and ``None`` as Python writes them (the labels do); anything else is the text
    itself (``sampler=rl``). Where the hyperparameter is a ``str`` field, the text is kept as
    written (``name=1`` is the string ``"1"``). A malformed spec, an unknown hyperparameter or
    a value of the wrong type is one :class:`ConfigError` line."""
    import tomllib
    import typing

    text = str(text).strip()
    if "(" not in text and ")" not in text:
        if "#" in text:
            raise ConfigError(f"{text!r} is the short label of a setting (its hyperparameters hashed), not an "
                              "algorithm: write the setting out as NAME(key=value, ...)")
        return text, {}
    name, sep, rest = text.partition("(")
    name = name.strip()
    if not sep or not rest.endswith(")") or not name:
        raise ConfigError(f"algorithm {text!r}: write one setting as NAME(key=value, key=value), e.g. bonas(sampler=rl)")
    body = rest[:-1]
    parts, depth, quote, cur = [], 0, "", ""
    for ch in body:  # split on the commas outside brackets and quotes
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        if ch == "," and not depth and not quote:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    cls = get_algorithm_class(name)
    try:
        hints = typing.get_type_hints(cls.Config) if cls.Config else {}
    except Exception:
        hints = {}
    hp: dict = {}
    for part in parts:
        if not part.strip() and len(parts) == 1:
            continue
        key, eq, raw = part.partition("=")
        key, raw = key.strip(), raw.strip()
        if not eq or not key or not raw:
            raise ConfigError(f"algorithm {text!r}: {part.strip()!r} is not key=value; write NAME(key=value, ...)")
        if key in hp:
            raise ConfigError(f"algorithm {text!r}: hyperparameter {key} given twice")
        if hints.get(key) is str:
            hp[key] = raw
            if len(raw) > 1 and raw[0] == raw[-1] and raw[0] in "\"'":  # quoted: read as a TOML string
                try:
                    hp[key] = tomllib.loads(f"v = {raw}")["v"]
                except tomllib.TOMLDecodeError:
                    hp[key] = raw[1:-1]
            continue
        if raw in ("True", "False", "None"):
            hp[key] = {"True": True, "False": False, "None": None}[raw]
            continue
        try:
            hp[key] = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            hp[key] = raw
    return name, hp


def spec_text(name: str, hyperparameters: dict) -> str:
    """The :func:`parse_spec` text of one setting: ``name`` or ``name(k=v, ...)`` (keys sorted;
    strings bare where they read back as themselves, else quoted)."""
    import json

    if not hyperparameters:
        return name

    def value(v):
        if isinstance(v, bool) or v is None:
            return str(v)
        if isinstance(v, str):
            plain = v and all(c.isalnum() or c in "-_./:" for c in v) and v not in ("True", "False", "None")
            if plain:
                try:
                    import tomllib

                    tomllib.loads(f"v = {v}")
                    plain = False  # it would read back as a number or a boolean
                except Exception:
                    pass
            return v if plain else json.dumps(v)
        return json.dumps(v)

    return f"{name}(" + ", ".join(f"{k}={value(v)}" for k, v in sorted(hyperparameters.items())) + ")"
