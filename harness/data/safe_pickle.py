"""Restricted unpickling of third-party benchmark files: an exact allow-list, nothing else.

Some benchmarks ship their numbers only as pickles (analog-nasbench, nas-bench-graph,
NATS-Bench, the NB301 boosters). A pickle may name any importable global and call it, so
every such file is opened here, with one rule for all of them:

* a global is resolved only when its exact ``(module, name)`` pair is on the loader's
  allow-list (found by instrumenting the real files); a dotted name (``os.system`` reached
  through a module's attributes) is never resolved, whatever the module;
* a pair maps either to ``None`` (import exactly that module, take exactly that attribute) or
  to a stand-in object (e.g. a plain attribute holder for a package's own class, so that the
  package is never imported);
* anything else is refused before it is imported or called, as a one-line
  :class:`harness.errors.DataError` naming the file and the refused global.

The loaders read such a file once and convert it into the checksummed npz cache
(:mod:`harness.data.cache`); the pickle is not read again while the file is unchanged.
"""

from __future__ import annotations

import importlib
import pickle
from typing import Any, BinaryIO, Mapping

from harness.errors import DataError, first_line

# what numpy scalars and dtypes need (``np.float64(1.0)`` pickles as ``scalar(dtype, bytes)``);
# numpy 2 writes ``numpy._core``, numpy 1 ``numpy.core``
NUMPY_SCALARS: frozenset[tuple[str, str]] = frozenset({
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
})

# the numpy module a pickle may name -> where the object lives in this numpy
_NUMPY_HOMES = {
    "numpy.core.multiarray": ("numpy._core.multiarray", "numpy.core.multiarray"),
    "numpy._core.multiarray": ("numpy._core.multiarray", "numpy.core.multiarray"),
}


def _resolve(module: str, name: str) -> Any:
    """``module.name`` itself (a module attribute, never reached through another attribute);
    an allowed module that is not installed raises its ModuleNotFoundError."""
    homes = _NUMPY_HOMES.get(module, (module,))
    for k, home in enumerate(homes):
        try:
            mod = importlib.import_module(home)
        except ImportError:
            if k == len(homes) - 1:
                raise
            continue
        if name in vars(mod):
            return vars(mod)[name]
    raise pickle.UnpicklingError(f"{module}.{name} is allowed but not found in this installation")


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the exact ``(module, name)`` pairs of ``allowed``.

    Args:
        file: a binary file object.
        allowed: ``(module, name) -> None`` (resolve that very attribute) or a stand-in object.
        what: what the file is, for the error (e.g. ``"analog-nasbench data /path/data.anb"``).
    """

    def __init__(self, file: BinaryIO, allowed: Mapping[tuple[str, str], Any], what: str):
        super().__init__(file)
        self._allowed = dict(allowed)
        self._what = what

    def find_class(self, module: str, name: str) -> Any:
        key = (module, name)
        if key in self._allowed and "." not in name:
            target = self._allowed[key]
            return _resolve(module, name) if target is None else target
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name}: not one of the "
            f"{len(self._allowed)} plain data types {self._what} may hold"
        )

    def persistent_load(self, pid):  # pragma: no cover - the default already refuses
        raise pickle.UnpicklingError(f"refusing a persistent id in {self._what}")


def load(file: BinaryIO, allowed: Mapping[tuple[str, str], Any], what: str, how: str = "") -> Any:
    """Unpickle ``file`` through :class:`RestrictedUnpickler`.

    Every failure (a refused global, a truncated or malformed stream, an allowed constructor
    refusing its arguments) is one :class:`DataError` line: ``what``, the reason, then ``how``
    (what to do, e.g. "reinstall analog-nasbench").
    """
    try:
        return RestrictedUnpickler(file, allowed, what).load()
    except DataError:
        raise
    except ModuleNotFoundError as e:
        reason = f"it needs the package {e.name}, which is not installed"
    except RecursionError:
        reason = "nested too deeply"
    except pickle.UnpicklingError as e:
        reason = first_line(e)
    except EOFError:
        reason = "truncated (ends in the middle of the data)"
    except MemoryError:
        reason = "asks for more memory than there is (not a benchmark file)"
    except Exception as e:  # a malformed stream raises many kinds (ValueError, KeyError, struct.error, ...)
        reason = f"not a valid pickle ({type(e).__name__}: {first_line(e)})"
    raise DataError(f"cannot read {what}: {reason}" + (f"; {how}" if how else "")) from None
