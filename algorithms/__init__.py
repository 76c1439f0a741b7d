"""Search algorithms, one readable module each, all on the oracle contract of
:mod:`algorithms.base`. Look them up with :func:`algorithms.registry.get_algorithm_class`."""

from algorithms.registry import get_algorithm_class, list_algorithms, make_algorithm

__all__ = ["get_algorithm_class", "list_algorithms", "make_algorithm"]
