"""Official benchmark data: converters from the files users obtain into the checksummed cache.

``PREPARERS`` maps a name (the word after ``nas-harness data prepare``) to a module that
provides:

* ``HOW``: one line saying which official file to obtain and how to prepare it;
* ``prepare(path, force=False) -> str``: convert (or register) ``path``; returns a summary;
* ``check() -> list[tuple[str, bool, str]] | None``: ``None`` when nothing is prepared, else
  named checks ``(name, ok, detail)``; raises :class:`harness.errors.DataError` for a cache
  that cannot be trusted.

A new benchmark (e.g. NB301's surrogate models) registers here with a module of its own.
The cache format is in :mod:`harness.data.cache`.
"""

PREPARERS: dict[str, str] = {
    "nb101": "harness.data.nb101",
    "nb201": "harness.data.nb201",
    "nb301": "harness.data.nb301",
}


def preparer(name: str):
    """The module registered for ``name`` (a ConfigError lists the choices)."""
    import importlib

    from harness.errors import ConfigError

    if name not in PREPARERS:
        raise ConfigError(f"unknown data set {name!r}; choose one of: {', '.join(PREPARERS)}")
    return importlib.import_module(PREPARERS[name])
