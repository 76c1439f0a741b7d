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
