"""``nb301``: the NAS-Bench-301 surrogate ensemble over the DARTS space (``darts-v1``).

NAS-Bench-301 (Siems et al.) predicts the CIFAR-10 validation accuracy (%) of a DARTS genotype
with an ensemble of surrogate models (v1.0: 10 XGBoost models) and its training time (s) with
a second ensemble (LightGBM). As in the denoised setting of Ape-X NAS (docs/references.md, §4.2.1, "the
included ensemble of XGB estimators, without using noisy predictions (i.e., taking the mean of
all predictors in the ensemble)"), a query returns the **mean of the ensemble members**. With
an ``rng`` (protocol noise ``sample``) it returns the official noisy value, mean + N(0, σ²)
with σ the standard deviation of the members' predictions, drawn from that ``rng`` (the
official code draws from numpy's global generator, which the harness never touches).

Metrics: ``valid_accuracy`` (%, higher is better; search and report metric by default, the
surrogate predicts no test accuracy) and, when the runtime ensemble is present, ``runtime``
(seconds, lower is better). No global optimum is known, so this benchmark has no
``optimum``; the runner then records none.

Model directory (``--data DIR`` or registered once with ``nas-harness data prepare nb301 DIR``):
the official ``nb_models_1.0`` (or ``0.9``) folder, or one ensemble folder inside it. An
ensemble folder holds one sub-folder per member with ``surrogate_model.model`` and
``model_config.json``/``data_config.json``, as ``nasbench301.load_ensemble`` expects (see
:func:`inspect_model_dir`). The accuracy ensemble is the XGBoost one when there are several.

Two backends (environment variable ``NAS_HARNESS_NB301_BACKEND``):

* ``direct`` (default): reads the member models itself and feeds them the exact feature
  vector the official code builds (``ConfigSpace`` ``get_array`` of the genotype's
  configuration, NaN -> -1), batched: one call per member per batch. It needs ``xgboost<3.1``
  (3.1 dropped the model format of the 2020 files; ``lightgbm`` for the runtime ensemble) and
  the ``configspace.json`` shipped with the ``nasbench301`` package (its wheel has no
  dependencies; the package is located, never imported, because importing it pulls
  ``torch_scatter``, ``torch_cluster``, ``h5py``, ... which have no builds for the project's
  torch). The column order is ConfigSpace's (parents before children, then by name), the
  order the models were trained with. Only the architecture columns vary between genotypes;
  the loader checks that the members' trees split on nothing else, so the fixed training
  hyperparameters cannot affect a prediction.
* ``official``: ``nasbench301.load_ensemble`` in an environment where ``nasbench301`` imports
  (see docs/nb301.md); predictions are batched through the members' own config loaders.

The member pickles are read with the exact allow-list of :mod:`harness.data.safe_pickle` (the XGBoost and
LightGBM booster classes and what their state needs). Predictions are cached in memory per canonical genotype key, so an
architecture is sent to the surrogate once per process and metric.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import pickle
import random
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from harness.data.safe_pickle import RestrictedUnpickler
from harness.errors import ConfigError, DataError
from harness.spaces import get_space
from harness.spaces.darts import CELLS, N_NODES, N_ROWS, OPS, ROW_START

REGISTRATION_FILE = "nb301.json"
REGISTRATION_FORMAT = 1
METRICS = ("valid_accuracy", "runtime")
BACKENDS = ("direct", "official")
MEMBER_FILE = "surrogate_model.model"
MEMBER_CONFIGS = ("model_config.json", "data_config.json")
# official member classes whose ``query`` is ``model.predict(get_array() with NaN -> -1)``
ARRAY_MEMBERS = ("XGBModel", "XGBModelTime", "LGBModel", "LGBModelTime")
_P = "NetworkSelectorDatasetInfo:darts:"


# --- genotype -> NB301 configuration ---------------------------------------------------------
def genotype_config(arch) -> dict[str, str]:
    """The architecture part of the NB301 configuration of ``arch``.

    Same result as ``nasbench301.representations.convert_genotype_to_config``:
    ``edge_<cell>_<row>`` = op name for the 8 selected α rows of each cell, and
    ``inputs_node_<cell>_<k+2>`` = ``"a_b"`` (sorted sources) for intermediate nodes 1..3.
    """
    cfg = {}
    for name, cell in zip(CELLS, arch):
        for k in range(N_NODES):
            pair = cell[2 * k : 2 * k + 2]
            for s, o in pair:
                cfg[f"{_P}edge_{name}_{ROW_START[k] + int(s)}"] = OPS[o]
            if k:
                a, b = sorted(int(s) for s, _ in pair)
                cfg[f"{_P}inputs_node_{name}_{k + 2}"] = f"{a}_{b}"
    return cfg


# --- the feature vector of the official members (direct backend) -------------------------------
class ConfigEncoder:
    """Genotype -> the members' input row: ConfigSpace's ``get_array`` with NaN -> -1.

    Built from the official ``configspace.json``. Columns are ordered as ConfigSpace orders
    hyperparameters (by depth in the condition graph, then by name). A categorical column holds
    the index of the value among its choices; inactive columns (edges from unselected sources)
    -1. Columns that are not architecture choices hold one fixed value for every genotype
    (the hyperparameter's default); ``check_members`` makes sure no model splits on them.
    """

    def __init__(self, space_json: dict):
        try:
            hps = {h["name"]: h for h in space_json["hyperparameters"]}
            parents = defaultdict(set)
            for c in space_json.get("conditions", []):
                parents[c["child"]].add(c["parent"])
        except (KeyError, TypeError):
            raise DataError("configspace.json is not a ConfigSpace JSON file (hyperparameters/conditions)") from None
        depth: dict[str, int] = {}

        def level(n, seen=()):
            if n not in depth:
                if n in seen:
                    raise DataError(f"configspace.json: cyclic conditions at {n}")
                depth[n] = 0 if not parents[n] else 1 + max(level(p, seen + (n,)) for p in parents[n])
            return depth[n]

        self.names = sorted(hps, key=lambda n: (level(n), n))
        self.column = {n: i for i, n in enumerate(self.names)}
        self.dim = len(self.names)
        self.choices = {n: list(h["choices"]) for n, h in hps.items() if h.get("type") == "categorical"}
        base = np.empty(self.dim)
        for i, n in enumerate(self.names):
            base[i] = _default_vector_value(hps[n])
        arch_cols = []
        for name in CELLS:
            for row in range(N_ROWS):
                arch_cols.append(f"{_P}edge_{name}_{row}")
            for k in range(1, N_NODES):
                arch_cols.append(f"{_P}inputs_node_{name}_{k + 2}")
        missing = [c for c in arch_cols if c not in self.column]
        if missing:
            raise DataError(f"configspace.json lacks the DARTS hyperparameters {missing[:3]} ... (is it NB301's?)")
        for c in arch_cols:
            if c.split(":")[-1].startswith("edge_") and self.choices.get(c) != list(OPS):
                raise DataError(f"configspace.json: {c} has choices {self.choices.get(c)}, expected {list(OPS)}")
        self.arch_columns = sorted(self.column[c] for c in arch_cols)
        for c in arch_cols:
            base[self.column[c]] = -1.0  # inactive unless set below
        self.base = base

    def encode(self, archs: Sequence) -> np.ndarray:
        """Rows for ``archs``: shape ``(len(archs), dim)``, float64."""
        X = np.repeat(self.base[None, :], len(archs), axis=0)
        for r, arch in enumerate(archs):
            for name, value in genotype_config(arch).items():
                X[r, self.column[name]] = self.choices[name].index(value)
        return X


def _default_vector_value(h: dict) -> float:
    """A fixed value for a non-architecture column (ConfigSpace's vector form of the default)."""
    t = h.get("type")
    if t == "categorical":
        return float(h["choices"].index(h["default"])) if h.get("default") in h["choices"] else 0.0
    if t in ("uniform_float", "uniform_int") and h["upper"] > h["lower"]:
        lo, hi, v = float(h["lower"]), float(h["upper"]), float(h.get("default", h["lower"]))
        if h.get("log") and lo > 0 and v > 0:
            lo, hi, v = np.log(lo), np.log(hi), np.log(v)
        return (v - lo) / (hi - lo)
    return 0.0


def find_configspace(model_dir: str | os.PathLike | None = None) -> Path:
    """``configspace.json`` in the model folder, else the one of the installed nasbench301 package."""
    for d in ([Path(model_dir)] if model_dir else []):
        if (d / "configspace.json").is_file():
            return d / "configspace.json"
    spec = importlib.util.find_spec("nasbench301")  # locates the package without importing it
    if spec is not None and spec.submodule_search_locations:
        p = Path(list(spec.submodule_search_locations)[0]) / "configspace.json"
        if p.is_file():
            return p
    raise ConfigError(
        "the nb301 benchmark needs NAS-Bench-301's configspace.json: install the nasbench301 package "
        "(pip install 'nas-harness[nb301]') or copy its configspace.json into the model directory"
    )


# --- ensembles: objects with member_predictions(archs) -> (members, n) ---------------------------
def _array_predict(model, X: np.ndarray) -> np.ndarray:
    if type(model).__module__.split(".")[0] == "xgboost":
        import xgboost

        return np.ravel(model.predict(xgboost.DMatrix(X)))
    return np.ravel(model.predict(X))


def _used_features(model) -> set[int] | None:
    mod = type(model).__module__.split(".")[0]
    if mod == "xgboost":
        names = model.feature_names
        score = model.get_score(importance_type="weight")
        return {names.index(f) if names else int(f[1:]) for f in score}
    if mod == "lightgbm":
        return {i for i, v in enumerate(model.feature_importance("split")) if v > 0}
    used = getattr(model, "used_features", None)
    return set(used) if used is not None else None


def _n_features(model) -> int | None:
    mod = type(model).__module__.split(".")[0]
    if mod == "xgboost":
        return int(model.num_features())
    if mod == "lightgbm":
        return int(model.num_feature())
    return getattr(model, "n_features", None)


class DirectEnsemble:
    """Member models (anything with ``predict(X)``; XGBoost boosters get a DMatrix) + encoder."""

    def __init__(self, models: Sequence[Any], encoder: ConfigEncoder, where: str = "ensemble"):
        if not models:
            raise DataError(f"{where}: no ensemble members")
        self.models = list(models)
        self.encoder = encoder
        self.n_members = len(self.models)
        self.check_members(where)

    def check_members(self, where: str) -> None:
        """Every member reads ``encoder.dim`` features and splits only on architecture columns."""
        allowed = set(self.encoder.arch_columns)
        for i, m in enumerate(self.models):
            n = _n_features(m)
            if n is not None and n != self.encoder.dim:
                raise DataError(f"{where}: member {i} expects {n} features, configspace.json gives {self.encoder.dim}")
            used = _used_features(m)
            if used is not None and not used <= allowed:
                names = [self.encoder.names[j] for j in sorted(used - allowed)]
                raise DataError(
                    f"{where}: member {i} splits on non-architecture features {names}; "
                    "use NAS_HARNESS_NB301_BACKEND=official (docs/nb301.md)"
                )

    def member_predictions(self, archs: Sequence) -> np.ndarray:
        X = self.encoder.encode(archs)
        return np.stack([_array_predict(m, X) for m in self.models]).astype(float)


class APIEnsemble:
    """An object with the official ``SurrogateAPI`` interface, ``predict(config, representation,
    with_noise)``. When it exposes its ensemble members (``api.model.ensemble_members``, as the
    official one does) predictions are batched per member; otherwise each genotype goes through
    ``api.predict(..., with_noise=False)`` (one member: the mean; no noisy mode)."""

    def __init__(self, api, fixed: dict | None = None):
        self.api = api
        self.fixed = dict(fixed or {})
        members = getattr(getattr(api, "model", None), "ensemble_members", None)
        self.members = list(members) if members else None
        self.n_members = len(self.members) if self.members else 1

    def member_predictions(self, archs: Sequence) -> np.ndarray:
        space = get_space("darts")
        if self.members is None:
            row = [
                float(np.ravel(self.api.predict(config=space.to_genotype(a), representation="genotype", with_noise=False))[0])
                for a in archs
            ]
            return np.asarray([row], dtype=float)
        configs = [{**self.fixed, **genotype_config(a)} for a in archs]
        rows, X = [], None
        for m in self.members:
            if type(m).__name__ in ARRAY_MEMBERS:
                if X is None:  # same configspace for every member: build the rows once
                    X = np.stack([np.asarray(m.config_loader.query_config_dict(dict(c)).get_array(), dtype=float) for c in configs])
                    X[np.isnan(X)] = -1
                rows.append(_array_predict(m.model, X))
            else:  # e.g. GNN members: their own query, one configuration at a time
                rows.append(np.array([float(np.ravel(m.query(dict(c)))[0]) for c in configs]))
        return np.stack(rows).astype(float)


def as_ensemble(obj):
    """``obj`` if it already has ``member_predictions``, else an :class:`APIEnsemble` around it."""
    return obj if hasattr(obj, "member_predictions") else APIEnsemble(obj)


# --- the benchmark ----------------------------------------------------------------------------
class NB301Benchmark:
    """Surrogate benchmark over ``darts-v1`` with the oracle's surrogate interface.

    Args:
        models: metric name -> ensemble (``member_predictions``) or ``SurrogateAPI``-like object.
        version: versioned id of the numbers (names the surrogate ensemble).
    """

    kind = "surrogate"

    def __init__(self, models: dict, name: str = "nb301", version: str = "nb301-v1", dataset: str = "cifar10",
                 default_search: str = "valid_accuracy", default_report: str = "valid_accuracy", notes: str = ""):
        if not models:
            raise ConfigError("NB301Benchmark needs at least one surrogate model")
        self.space = get_space("darts")
        self.models = {m: as_ensemble(obj) for m, obj in models.items()}
        self.name, self.version, self.dataset, self.notes = name, version, dataset, notes
        self.higher_is_better = {"runtime": False}
        self.default_search = self.check_metric(default_search)
        self.default_report = self.check_metric(default_report)
        self._cache: dict[str, dict[str, tuple[float, float]]] = {m: {} for m in self.models}
        self.surrogate_calls = 0  # batches sent to the surrogate
        self.predicted = 0  # architectures sent to the surrogate

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(self.models)

    def check_metric(self, metric: str) -> str:
        if metric not in self.models:
            raise ConfigError(f"benchmark {self.name} has no metric {metric!r}; choose one of: {', '.join(self.models)}")
        return metric

    def maximize(self, metric: str) -> bool:
        return self.higher_is_better.get(metric, True)

    def describe(self) -> str:
        return self.notes

    def predict(self, archs: Sequence, metric: str, rng: np.random.Generator | None = None) -> np.ndarray:
        """Ensemble-mean ``metric`` of each architecture, shape ``(len(archs),)``.

        Architectures not yet predicted (by canonical key) go to the surrogate in one batch;
        the rest come from the in-memory cache. With ``rng``: mean + N(0, σ²) per architecture,
        σ = standard deviation of the ensemble members (the official noisy prediction).
        """
        self.check_metric(metric)
        archs = list(archs)
        keys = [self.space.key(a) for a in archs]  # validates
        cache = self._cache[metric]
        todo: dict[str, Any] = {}
        for a, k in zip(archs, keys):
            if k not in cache and k not in todo:
                todo[k] = self.space.canonical(a)
        if todo:
            ens = self.models[metric]
            preds = np.asarray(ens.member_predictions(list(todo.values())), dtype=float)
            if preds.ndim != 2 or preds.shape[1] != len(todo):
                raise DataError(f"nb301 surrogate returned predictions of shape {preds.shape} for {len(todo)} architectures")
            self.surrogate_calls += 1
            self.predicted += len(todo)
            for k, m, s in zip(todo, preds.mean(axis=0), preds.std(axis=0)):
                cache[k] = (float(m), float(s))
        mean = np.array([cache[k][0] for k in keys], dtype=float)
        if rng is None:
            return mean
        if getattr(self.models[metric], "n_members", 1) < 2:
            raise ConfigError("noisy nb301 predictions need the individual ensemble members (this model gives only their mean)")
        std = np.array([cache[k][1] for k in keys], dtype=float)
        return mean + std * rng.standard_normal(len(keys))


# --- model directory: layout, registration, loading -------------------------------------------------
def _config_file(member: Path, ensemble: Path, name: str) -> Path | None:
    for d in (member, ensemble):
        if (d / name).is_file() and (d / name).stat().st_size > 0:
            return d / name
    return None


def inspect_model_dir(path) -> dict:
    """Validate a NB301 model folder; return its ensembles by metric.

    Members are the folders holding a ``surrogate_model.model`` (at any depth, as
    ``nasbench301.load_ensemble`` finds them); an ensemble is the top-level folder under
    ``path`` that contains them, or ``path`` itself when members sit directly in it. Each
    member needs a non-empty model file and a ``model_config.json`` (in the member folder or the
    ensemble folder); the first member also a ``data_config.json`` (the official loader reads
    both from it). Returns ``{"root", "ensembles": {metric: {"dir", "label", "model",
    "members"}}, "files": {relative path: size}}``; raises :class:`DataError` naming what is wrong.
    """
    root = Path(path).expanduser().resolve()
    if not root.is_dir():
        raise DataError(f"NB301 model directory {root} does not exist (expected the official nb_models_1.0 folder)")
    groups: dict[Path, list[Path]] = defaultdict(list)
    for f in sorted(root.rglob(MEMBER_FILE)):
        member = f.parent
        rel = member.relative_to(root).parts
        groups[root if len(rel) <= 1 else root / rel[0]].append(member)
    if not groups:
        raise DataError(
            f"no NB301 surrogate ensemble under {root}: expected <ensemble>/<member>/{MEMBER_FILE} with "
            f"{' and '.join(MEMBER_CONFIGS)}, as in the official nb_models_1.0/xgb_v1.0"
        )
    found, files = {}, {}
    for d, members in sorted(groups.items()):
        models, files[d] = set(), {}
        for i, m in enumerate(members):
            mf = m / MEMBER_FILE
            if mf.stat().st_size == 0:
                raise DataError(f"NB301 ensemble member {m} has an empty {MEMBER_FILE}")
            needed = MEMBER_CONFIGS if i == 0 else MEMBER_CONFIGS[:1]
            paths = [mf]
            for name in needed:
                cfg = _config_file(m, d, name)
                if cfg is None:
                    raise DataError(f"NB301 ensemble member {m} lacks a non-empty {name}")
                paths.append(cfg)
            try:
                models.add(str(json.loads(paths[1].read_text())["model"]))
            except (ValueError, KeyError, TypeError):
                raise DataError(f"{paths[1]} is not a NB301 model config (JSON with a 'model' entry)") from None
            files[d].update({str(p.relative_to(root)): p.stat().st_size for p in paths})
        if len(models) != 1:
            raise DataError(f"NB301 ensemble {d} mixes member model types {sorted(models)}")
        found[d] = (models.pop(), members)
    ensembles: dict[str, dict] = {}
    perf = {d: v for d, v in found.items() if not v[0].endswith("_time")}
    time_ = {d: v for d, v in found.items() if v[0].endswith("_time")}
    for metric, group in (("valid_accuracy", perf), ("runtime", time_)):
        if not group:
            continue
        # prefer XGBoost (the ensemble Ape-X NAS used), then the first by folder name
        d = sorted(group, key=lambda p: (not group[p][0].startswith("xgb"), p.name))[0]
        model, members = group[d]
        ensembles[metric] = {"dir": str(d), "label": d.name, "model": model,
                             "members": [str(m.relative_to(d)) for m in members]}
    if "valid_accuracy" not in ensembles:
        raise DataError(f"{root} holds only runtime ensembles {[d.name for d in time_]}; the accuracy ensemble (xgb_v1.0) is missing")
    used = {k: v for e in ensembles.values() for k, v in files[Path(e["dir"])].items()}
    return {"root": str(root), "ensembles": ensembles, "files": used}


def registration_path() -> Path:
    from harness.paths import cache_dir

    return cache_dir() / REGISTRATION_FILE


def prepare_nb301(path) -> str:
    """Register a NB301 model folder (``nas-harness data prepare nb301 DIR``).

    Validates the layout and writes a small JSON (folder, ensembles, file sizes) to
    ``<cache dir>/nb301.json``; ``get_benchmark("nb301")`` without ``data`` then uses it.
    Returns a one-line summary for the user.
    """
    layout = inspect_model_dir(path)
    reg = {"format_version": REGISTRATION_FORMAT, "benchmark": "nb301", **layout}
    target = registration_path()
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(reg, indent=1, sort_keys=True))
    tmp.replace(target)
    what = "; ".join(f"{m}: {e['label']} ({e['model']}, {len(e['members'])} members)" for m, e in layout["ensembles"].items())
    return f"registered NB-301 surrogate models at {layout['root']} ({what}) in {target}"


def registration() -> dict | None:
    """The registration written by :func:`prepare_nb301`, or ``None``; a corrupt one is an error."""
    p = registration_path()
    if not p.exists():
        return None
    try:
        reg = json.loads(p.read_text())
        if reg.get("format_version") != REGISTRATION_FORMAT or reg.get("benchmark") != "nb301" or "root" not in reg:
            raise ValueError
    except (ValueError, AttributeError):
        raise DataError(f"NB301 registration {p} is corrupt; run `nas-harness data prepare nb301 DIR` again") from None
    return reg


def check_nb301() -> list[tuple[str, bool, str]] | None:
    """``nas-harness data verify`` checks of the registration: ``None`` when nothing is
    registered, else ``(check, ok, detail)`` for the folder, its files and configspace.json."""
    reg = registration()
    if reg is None:
        return None
    try:
        now = inspect_model_dir(reg["root"])
    except DataError as e:
        return [("model folder", False, f"{e}; run `nas-harness data prepare nb301 DIR` again")]
    what = ", ".join(f"{m}: {e['label']} ({e['model']}, {len(e['members'])} members)" for m, e in now["ensembles"].items())
    checks = [("model folder", True, f"{reg['root']}: {what}")]
    changed = sorted(k for k in set(reg.get("files", {})) | set(now["files"]) if reg.get("files", {}).get(k) != now["files"].get(k))
    checks.append((
        "files unchanged since registration", not changed,
        f"{len(now['files'])} files" if not changed else
        f"{changed[0]} changed (and {len(changed) - 1} more); run `nas-harness data prepare nb301 {reg['root']}` again",
    ))
    try:
        checks.append(("configspace.json", True, str(find_configspace(reg["root"]))))
    except ConfigError as e:
        checks.append(("configspace.json", False, str(e)))
    return checks


# every global the official booster pickles name: the XGBoost/LightGBM booster classes and the
# builtins and numpy reconstructors their state uses (exact pairs; see harness.data.safe_pickle)
BOOSTER_ALLOWED = dict.fromkeys([
    ("xgboost.core", "Booster"), ("lightgbm.basic", "Booster"), ("copyreg", "_reconstructor"),
    ("builtins", "object"), ("builtins", "bytearray"), ("builtins", "bytes"), ("builtins", "dict"),
    ("builtins", "list"), ("builtins", "set"), ("builtins", "tuple"), ("collections", "OrderedDict"), ("collections", "defaultdict"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
])


def _load_member(path: Path):
    try:
        with open(path, "rb") as f:
            return RestrictedUnpickler(f, BOOSTER_ALLOWED, "a NB301 model file").load()
    except ModuleNotFoundError as e:
        raise ConfigError(
            f"loading {path} needs the package {e.name}: pip install 'nas-harness[nb301]' (xgboost<3.1, lightgbm)"
        ) from None
    except pickle.UnpicklingError as e:
        raise DataError(f"{path}: {e}") from None
    except Exception as e:  # xgboost/lightgbm refusing the model format
        versions = ", ".join(f"{m} {sys.modules[m].__version__}" for m in ("xgboost", "lightgbm") if m in sys.modules)
        first = (str(e).strip().splitlines() or [""])[0][:200]
        raise DataError(
            f"{path} could not be loaded ({versions}; {type(e).__name__}: {first}); the NB301 v1.0 models need xgboost<3.1"
        ) from None


def load_direct(info: dict, model_dir: str) -> DirectEnsemble:
    """Direct backend: the members of one ensemble (``inspect_model_dir`` entry) + encoder."""
    cs_path = find_configspace(model_dir)
    try:
        encoder = ConfigEncoder(json.loads(Path(cs_path).read_text()))
    except ValueError:
        raise DataError(f"{cs_path} is not valid JSON") from None
    models = [_load_member(Path(info["dir"]) / m / MEMBER_FILE) for m in info["members"]]
    return DirectEnsemble(models, encoder, where=info["dir"])


@contextlib.contextmanager
def _global_rngs_preserved():
    """Restore numpy's, Python's and torch's global RNG states (the official loader seeds them)."""
    np_state, py_state = np.random.get_state(), random.getstate()
    torch = sys.modules.get("torch")
    t_state = torch.get_rng_state() if torch is not None else None
    try:
        yield
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
        if t_state is not None:
            torch.set_rng_state(t_state)


def load_official(info: dict) -> APIEnsemble:
    """Official backend: ``nasbench301.load_ensemble`` (global RNG states restored afterwards)."""
    try:
        with _global_rngs_preserved():
            import nasbench301
            from nasbench301.api import fixed_hyperparameters

            api = nasbench301.load_ensemble(info["dir"])
    except ImportError as e:
        raise ConfigError(
            f"NAS_HARNESS_NB301_BACKEND=official needs an importable nasbench301 ({e}); "
            "see docs/nb301.md, or use the default direct backend"
        ) from None
    return APIEnsemble(api, fixed=fixed_hyperparameters)


def load(dataset: str | None = None, data: str | None = None) -> NB301Benchmark:
    """``get_benchmark("nb301", data=DIR)``; without ``data`` the registered folder."""
    if dataset not in (None, "cifar10"):
        raise ConfigError(f"benchmark nb301 has only the dataset cifar10, got {dataset!r}")
    if data is None:
        reg = registration()
        if reg is None:
            raise ConfigError(
                "benchmark nb301 needs the NAS-Bench-301 surrogate models: pass --data DIR (the official "
                "nb_models_1.0 folder) or register it once with `nas-harness data prepare nb301 DIR`"
            )
        data = reg["root"]
    backend = os.environ.get("NAS_HARNESS_NB301_BACKEND", "direct")
    if backend not in BACKENDS:
        raise ConfigError(f"NAS_HARNESS_NB301_BACKEND={backend!r}; choose one of: {', '.join(BACKENDS)}")
    layout = inspect_model_dir(data)
    models = {}
    for metric, info in layout["ensembles"].items():
        models[metric] = load_direct(info, layout["root"]) if backend == "direct" else load_official(info)
    perf = layout["ensembles"]["valid_accuracy"]
    notes = (
        f"NAS-Bench-301 surrogate ({perf['label']}, {perf['model']}, {len(perf['members'])} members; "
        f"{backend} backend), CIFAR-10 validation accuracy (%), ensemble mean"
        + ("; runtime (s)" if "runtime" in models else "")
    )
    bench = NB301Benchmark(models, version=f"nb301-{perf['label']}-v1", notes=notes)
    bench.data_path = layout["root"]  # its files' content is the benchmark's identity (harness.identity)
    bench.backend = backend
    return bench
