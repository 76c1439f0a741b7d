"""Benchmark commands (``nas-harness bench NAME``): print figures measured in one run, as
ratios against a baseline measured in the same run. One module per NAME with
``add_arguments(parser)`` and ``main(args) -> int``; list new ones in ``BENCHES``
(a ``-`` in a NAME stands for ``_`` in the module name)."""

BENCHES = ("oracle", "bonas", "bonas-gcn")
