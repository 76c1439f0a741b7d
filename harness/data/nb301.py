"""``nas-harness data prepare|verify nb301``: register the NAS-Bench-301 surrogate models.

Nothing is converted: the model folder is validated and registered (a small JSON under the
cache folder), and ``get_benchmark("nb301")`` then loads it. The work is done in
:mod:`harness.benchmarks.nb301` (``prepare_nb301``, ``check_nb301``); see docs/nb301.md.
"""

from __future__ import annotations

HOW = (
    "obtain the NAS-Bench-301 surrogate models v1.0 (the nb_models_1.0 folder published with NAS-Bench-301), "
    "then run: nas-harness data prepare nb301 /path/to/nb_models_1.0 (and pip install 'nas-harness[nb301]')"
)


def prepare(path, force: bool = False) -> str:
    """Validate and register the model folder at ``path`` (``force`` changes nothing: registering is cheap)."""
    from harness.benchmarks.nb301 import prepare_nb301

    return "nb301: " + prepare_nb301(path)


def check():
    """``None`` when nothing is registered, else the checks of the registered folder."""
    from harness.benchmarks.nb301 import check_nb301

    return check_nb301()
