"""The algorithm contract (scikit-learn's estimator rule: ``__init__`` stores, ``run`` acts).

An algorithm is a class with a ``Config`` dataclass (one docstring line per field, in the
field's ``metadata["doc"]`` or a comment) and:

* ``__init__(self, **hyperparameters)``: validates and stores a ``Config``; does no work;
* ``run(self, oracle, rng)``: searches through ``oracle`` until it raises
  :class:`harness.errors.BudgetExhausted` (the runner catches it), or returns early when the
  algorithm is done. It may own any loop it likes; it must draw every random number from
  ``rng`` (a ``numpy.random.Generator``; derive a torch generator from it when needed) and
  never read the report metric.

Capabilities are declared, not implied: ``requires`` names what the algorithm needs from a
space (``"neighbours"``, ``"mutate"``, ``"vector"``, ``"onehot"``, ``"graph"``,
``"decisions"``, ``"finite"``); ``episodic = True`` marks algorithms that record episodes.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import numbers
import types
import typing
from typing import Any, ClassVar

import numpy as np

from harness.errors import ConfigError


def field(default, doc: str, **kw):
    """A dataclass field with its documentation (shown by ``nas-harness list algorithms``)."""
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda: default, metadata={"doc": doc}, **kw)
    return dataclasses.field(default=default, metadata={"doc": doc}, **kw)


# At most this fraction of a run's budget may be warm-up (initial random samples before the
# method's own proposals); ``nas-harness run`` refuses a protocol whose budget an algorithm's
# warm-up exceeds (:func:`warmup_problem`), so no row of a board is random sampling under
# another name. Scaled defaults (LaNAS ``init_samples=None``) are capped at it instead.
WARMUP_CAP = 0.5


def warmup_cap(budget: int) -> int:
    """The most warm-up queries a run of ``budget`` counted queries may spend."""
    return int(WARMUP_CAP * int(budget))


def warmup_problem(algo, name: str, budget: int, space) -> str | None:
    """One line saying why ``algo`` cannot search within ``budget`` (its warm-up exceeds
    :data:`WARMUP_CAP` of it), or ``None``."""
    w = int(algo.warmup(budget, space))
    if w > warmup_cap(budget):
        return (f"algorithm {name} spends {w:,} initial random samples (its warm-up) of a budget of {budget:,} "
                f"queries, more than {WARMUP_CAP:.0%}: it would hardly search; raise the budget to at least "
                f"{int(w / WARMUP_CAP + 0.999):,} or lower its warm-up")
    return None


class Algorithm:
    """Base class: stores a validated ``Config`` from keyword hyperparameters.

    :meth:`warmup` declares the initial random samples a run spends before the method's own
    proposals (at most :data:`WARMUP_CAP` of the budget, checked by ``nas-harness run``)."""

    name: ClassVar[str] = ""
    Config: ClassVar[type] = None  # a dataclass
    requires: ClassVar[tuple[str, ...]] = ()
    episodic: ClassVar[bool] = False

    def __init__(self, **hyperparameters: Any):
        known = {f.name for f in dataclasses.fields(self.Config)}
        unknown = sorted(set(hyperparameters) - known)
        if unknown:
            raise ConfigError(
                f"algorithm {self.name or type(self).__name__} has no hyperparameter(s) {', '.join(unknown)}; "
                f"it has: {', '.join(sorted(known)) or '(none)'}"
            )
        check_hyperparameters(self.Config, hyperparameters, self.name or type(self).__name__)
        self.config = self.Config(**hyperparameters)

    def hyperparameters(self) -> dict[str, Any]:
        """The full configuration as a plain dict (logged as MLflow params)."""
        return dataclasses.asdict(self.config)

    def run(self, oracle, rng) -> None:  # pragma: no cover - the interface
        raise NotImplementedError

    def warmup(self, budget: int, space) -> int:
        """Counted queries of uniformly random architectures before the method's own proposals
        (default 0: the method proposes from its first query; random search is its own method)."""
        return 0

    def supports(self, space) -> bool:
        """Whether ``space`` offers everything listed in ``requires``."""
        return not missing_capabilities(self.requires, space)


def _type_ok(value: Any, hint: Any) -> bool:
    """Whether ``value`` fits the annotation ``hint`` (the few kinds a Config uses; an
    annotation this does not know accepts anything)."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, a) for a in typing.get_args(hint))
    if hint is type(None) or hint is None:
        return value is None
    if hint is bool:
        return isinstance(value, (bool, np.bool_))
    if hint is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))
    if hint is float:
        return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    if hint is str:
        return isinstance(value, str)
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if origin in (tuple, list, set, frozenset, collections.abc.Sequence):
        return isinstance(value, (tuple, list))
    if origin is dict:
        return isinstance(value, dict)
    try:
        return isinstance(value, origin or hint)
    except TypeError:
        return True


def _type_name(hint: Any) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(hint))
    if hint is type(None):
        return "None"
    return getattr(hint, "__name__", str(hint))


def check_hyperparameters(config_cls, values: dict[str, Any], algorithm: str = "") -> None:
    """A one-line :class:`ConfigError` for the first value whose type is not its Config field's
    (``population = "big"`` for an ``int``); an ``int`` is accepted for a ``float``."""
    try:
        hints = typing.get_type_hints(config_cls)
    except Exception:  # unresolvable annotations: the dataclass alone judges
        return
    for k, v in values.items():
        if k in hints and not _type_ok(v, hints[k]):
            raise ConfigError(
                f"algorithm {algorithm or config_cls.__name__}: hyperparameter {k} must be {_type_name(hints[k])}, "
                f"got {type(v).__name__} {v!r}"[:300]
            )


def missing_capabilities(requires, space) -> list[str]:
    out = []
    for cap in requires:
        if cap == "finite":
            ok = space.finite
        elif cap in ("vector", "onehot", "graph"):
            ok = cap in space.encodings
        elif cap == "decisions":
            ok = space.decisions is not None
        else:
            ok = callable(getattr(space, cap, None))
        if not ok:
            out.append(cap)
    return out


def episode_starts(oracle, rng):
    """Start architectures for an episodic algorithm, one per episode.

    When the protocol fixes start states (``oracle.start_states``), yields each of them once,
    in order, and then stops (the algorithm is done). Otherwise yields ``space.sample(rng)``
    forever (the oracle's budget ends the run).
    """
    if oracle.start_states is not None:
        yield from oracle.start_states
        return
    space = oracle.space
    while True:
        yield space.sample(rng)
