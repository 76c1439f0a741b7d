"""``nb301-yahpo``: the YAHPO surrogate of NAS-Bench-301 over the DARTS space (``darts-v1``).

This is **YAHPO Gym's surrogate of NB301** (scenario ``nb301``, version-2 files, Apache-2.0):
one neural network (ONNX) fitted by the YAHPO Gym authors on the public NAS-Bench-301
training data. It is **not** the official NAS-Bench-301 ensemble (``nb_models_1.0``, the
``nb301`` benchmark of :mod:`harness.benchmarks.nb301`); its numbers differ from the official
surrogate's and from the published tables that used it. Everything it produces is labelled
"YAHPO surrogate of NB301".

Files (the user's folder, ``--data DIR`` / ``harness.benchmark("nb301-yahpo", data=DIR)``):
``model_v2.onnx``, ``encoding_v2.json``, ``param_set_v2.R`` and ``config_space_v2.json`` as
published in YAHPO Gym's data repository (folder ``nb301``). They are read, never downloaded.

The model: input ``x_cat`` int32 ``[batch, 34]`` and ``x_cont`` float32 ``[batch, 1]`` (the
training epoch, 1..98); output float32 ``[batch, 4]``. Encoding of a genotype (see
:class:`YahpoEncoder`): its NB301 configuration (:func:`harness.benchmarks.nb301.genotype_config`,
the official genotype -> configuration conversion: ``edge_<cell>_<row>`` = op of the 8 selected
α rows, ``inputs_node_<cell>_<3|4|5>`` = sorted sources ``"a_b"``), names written YAHPO's way
(``:`` as ``_COLON_``), each value replaced by its integer code from ``encoding_v2.json``, an
inactive edge (a row no edge selects) coded ``#na#`` = 0. The column order is that of the
categorical parameters in ``param_set_v2.R`` (edges ``normal_0..13``, ``reduce_0..13``, then
``inputs_node_normal_3..5``, ``inputs_node_reduce_3..5``), the order of YAHPO Gym's ``nb301``
scenario (``cat_names``). Checked against the model itself (tests/harness/benchmarks/
test_nb301_yahpo.py): its embedding tables have 8 rows for the first 28 columns and 4, 7, 11,
4, 7, 11 rows for the last six (an out-of-range code is refused), which excludes the order of
``config_space_v2.json``; and with this order the predicted parameter counts follow the cells'
operations far more closely than with the names sorted as in ``encoding_v2.json``.

Metrics (one ONNX call predicts all four; ``_<e>ep`` = at epoch ``e`` in 1..97, unsuffixed =
epoch 98, the last, the default fidelity):

* ``val_accuracy`` (``_<e>ep``): CIFAR-10 validation accuracy in **%** (the model's fraction
  × 100, as every accuracy in the harness), higher is better; search and report metric (the
  surrogate predicts no test accuracy);
* ``val_cross_entropy``: validation cross-entropy, lower is better;
* ``runtime``: training time in seconds up to that epoch, lower is better;
* ``model_parameters``: the parameter count in the unit of the NB301 training data (the
  model's raw output), lower is better.

Documented ranges (tests check them on random cells at several epochs): accuracy in
[0, 100] %, the three others >= 0. Random cells at epoch 98 give about 90-93.5 %.

Deterministic: no noise model (protocol noise ``sample`` is refused). The ONNX session runs
single-threaded by default (``intra_op_num_threads = inter_op_num_threads = 1``) so parallel
sweep workers do not oversubscribe the cores; ``NAS_HARNESS_ONNX_THREADS=N`` changes it.
Predictions are cached in memory per (canonical genotype key, epoch).
The data checksum (run identity) is the sha256 of the four files' bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from harness.errors import ConfigError, DataError, InvalidArchitecture
from harness.spaces import get_space
from harness.spaces.darts import CELLS, N_NODES, OPS, ROW_START, DartsGenotype

FILES = ("model_v2.onnx", "encoding_v2.json", "param_set_v2.R", "config_space_v2.json")
OUTPUTS = ("val_accuracy", "val_cross_entropy", "runtime", "model_parameters")
EPOCHS = tuple(range(1, 99))
LAST_EPOCH = 98
NA = "#na#"
PREFIX = "NetworkSelectorDatasetInfo_COLON_darts_COLON_"
LABEL = "YAHPO surrogate of NB301"
HOW = ("pass --data DIR, the folder of YAHPO Gym's nb301 surrogate (model_v2.onnx, encoding_v2.json, "
       "param_set_v2.R, config_space_v2.json from YAHPO Gym's data repository, folder nb301)")
_SUFFIX = re.compile(r"^(?P<base>[a-z_]+?)(?:_(?P<ep>\d+)ep)?$")


def metric_names() -> tuple[str, ...]:
    """Every metric name: the four outputs at epoch 98, then at each epoch 1..97 (``_<e>ep``)."""
    return OUTPUTS + tuple(f"{m}_{e}ep" for e in EPOCHS[:-1] for m in OUTPUTS)


def parse_metric(metric: str) -> tuple[str, int]:
    """``(output, epoch)`` of a metric name; a ConfigError names the valid ones."""
    m = _SUFFIX.match(str(metric))
    if m and m["base"] in OUTPUTS:
        ep = int(m["ep"]) if m["ep"] else LAST_EPOCH
        if 1 <= ep < LAST_EPOCH or (ep == LAST_EPOCH and not m["ep"]):
            return m["base"], ep
    raise ConfigError(
        f"benchmark nb301-yahpo has no metric {metric!r}; choose one of {', '.join(OUTPUTS)} "
        f"(epoch 98), or one of them suffixed _<e>ep for epoch e in 1..97 (e.g. val_accuracy_12ep)"
    )


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise ConfigError("benchmark nb301-yahpo needs onnxruntime: pip install 'nas-harness[nb301-yahpo]'") from None
    return onnxruntime


# --- the files ------------------------------------------------------------------------------------
def parse_param_set(text: str) -> dict:
    """``param_set_v2.R`` -> ``{"cat": [names in order], "levels": {name: [...]}, "epoch": (lo, hi),
    "outputs": [codomain names in order]}`` (the commented-out codomain entry included: the
    model predicts it)."""
    cat, levels = [], {}
    for m in re.finditer(r'ParamFct\$new\(\s*"([^"]+)"\s*,\s*levels\s*=\s*c\(([^)]*)\)', text):
        cat.append(m[1])
        levels[m[1]] = re.findall(r'"([^"]+)"', m[2])
    ep = re.search(r'ParamInt\$new\(\s*"epoch"\s*,\s*lower\s*=\s*(\d+)L?\s*,\s*upper\s*=\s*(\d+)L?', text)
    cod = re.search(r"codomain\s*=\s*ps\((.*?)\n\)", text, re.S)
    outputs = re.findall(r"(\w+)\s*=\s*p_(?:dbl|int)", cod[1]) if cod else []
    if not cat or ep is None:
        raise DataError("param_set_v2.R: no ParamFct/epoch definitions found (is it YAHPO's nb301 param set?)")
    return {"cat": cat, "levels": levels, "epoch": (int(ep[1]), int(ep[2])), "outputs": outputs}


def files_checksum(folder: Path) -> str:
    """sha256 over the four files (name and bytes, in :data:`FILES` order)."""
    h = hashlib.sha256()
    for name in FILES:
        h.update(name.encode() + b"\0")
        with open(folder / name, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return "sha256:" + h.hexdigest()


class YahpoEncoder:
    """DARTS genotype <-> the model's ``x_cat`` row, as the YAHPO files define it.

    Built from ``encoding_v2.json`` (value -> code per column), ``param_set_v2.R`` (the column
    order) and ``config_space_v2.json`` (choices and activity conditions, used by
    :meth:`check_config` and :meth:`decode`).
    """

    def __init__(self, encoding: dict, param_set: dict, config_space: dict):
        self.columns = list(param_set["cat"])
        self.column = {n: i for i, n in enumerate(self.columns)}
        self.dim = len(self.columns)
        expected = {f"{PREFIX}edge_{c}_{r}" for c in CELLS for r in range(14)} | {
            f"{PREFIX}inputs_node_{c}_{k + 2}" for c in CELLS for k in range(1, N_NODES)}
        if set(self.columns) != expected or len(self.columns) != len(expected):
            raise DataError(f"param_set_v2.R: the categorical parameters are not the 34 DARTS columns of YAHPO's nb301 ({HOW})")
        if set(encoding) != expected:
            raise DataError(f"encoding_v2.json does not encode exactly the 34 DARTS columns ({HOW})")
        self.codes = {n: dict(encoding[n]) for n in self.columns}
        self.values = {n: {c: v for v, c in self.codes[n].items()} for n in self.columns}
        for n in self.columns:
            if self.codes[n].get(NA) != 0 or len(self.values[n]) != len(self.codes[n]):
                raise DataError(f"encoding_v2.json: {n} must code '#na#' as 0 and give distinct codes")
            if n.split("_COLON_")[-1].startswith("edge_") and set(self.codes[n]) - {NA} != set(OPS):
                raise DataError(f"encoding_v2.json: {n} has values {sorted(self.codes[n])}, expected {list(OPS)}")
        try:
            hps = {h["name"]: h for h in config_space["hyperparameters"]}
            conds = config_space.get("conditions", [])
        except (KeyError, TypeError):
            raise DataError("config_space_v2.json is not a ConfigSpace JSON file (hyperparameters/conditions)") from None
        self.choices = {n: list(hps[n]["choices"]) for n in self.columns if n in hps and "choices" in hps[n]}
        if set(self.choices) != expected:
            raise DataError("config_space_v2.json lacks some of the 34 DARTS hyperparameters")
        self.epoch_range = param_set["epoch"]
        self.conditions: dict[str, tuple[str, set]] = {}
        for c in conds:
            if c.get("type") != "IN" or c.get("child") not in self.choices or c.get("parent") not in self.choices:
                raise DataError(f"config_space_v2.json: unexpected condition {c!r}")
            self.conditions[c["child"]] = (c["parent"], set(c["values"]))
        for n, ch in self.choices.items():
            if set(ch) != set(self.codes[n]) - {NA}:
                raise DataError(f"config_space_v2.json and encoding_v2.json disagree on the values of {n}")

    # configuration <-> genotype
    @staticmethod
    def config(arch) -> dict[str, str]:
        """The YAHPO configuration of ``arch`` (active hyperparameters only)."""
        from harness.benchmarks.nb301 import genotype_config

        return {k.replace(":", "_COLON_"): v for k, v in genotype_config(arch).items()}

    def check_config(self, cfg: dict) -> None:
        """Raise DataError unless ``cfg`` is a valid configuration of ``config_space_v2.json``:
        every value among its choices, exactly the hyperparameters whose conditions hold present."""
        for n, ch in self.choices.items():
            cond = self.conditions.get(n)
            active = cond is None or cfg.get(cond[0]) in cond[1]
            if active and cfg.get(n) not in ch:
                raise DataError(f"configuration: {n} = {cfg.get(n)!r}, expected one of {ch}")
            if not active and n in cfg:
                raise DataError(f"configuration: {n} is set but inactive ({cond[0]} = {cfg.get(cond[0])!r})")
        extra = set(cfg) - set(self.choices)
        if extra:
            raise DataError(f"configuration: unknown hyperparameters {sorted(extra)[:3]}")

    def encode(self, archs: Sequence) -> np.ndarray:
        """``x_cat`` rows for ``archs`` (valid DARTS genotypes): int32 ``(len(archs), 34)``."""
        X = np.zeros((len(archs), self.dim), dtype=np.int32)
        for r, arch in enumerate(archs):
            for n, v in self.config(arch).items():
                X[r, self.column[n]] = self.codes[n][v]
        return X

    def decode(self, row) -> DartsGenotype:
        """The canonical genotype of an ``x_cat`` row (inverse of :meth:`encode`); the decoded
        configuration is checked against ``config_space_v2.json``."""
        row = [int(x) for x in row]
        if len(row) != self.dim:
            raise InvalidArchitecture(f"an nb301-yahpo row has {self.dim} codes, got {len(row)}")
        try:
            cfg = {n: self.values[n][c] for n, c in zip(self.columns, row) if c != 0}
        except KeyError:
            raise InvalidArchitecture(f"{row} holds a code outside encoding_v2.json") from None
        self.check_config(cfg)
        cells = []
        for name in CELLS:
            cell = []
            for k in range(N_NODES):
                srcs = (0, 1) if k == 0 else tuple(int(s) for s in cfg[f"{PREFIX}inputs_node_{name}_{k + 2}"].split("_"))
                for s in srcs:
                    cell.append((s, OPS.index(cfg[f"{PREFIX}edge_{name}_{ROW_START[k] + s}"])))
            cells.append(tuple(cell))
        return get_space("darts").canonical(DartsGenotype(*cells))


# --- the benchmark ----------------------------------------------------------------------------------
class YahpoNB301Benchmark:
    """YAHPO surrogate of NB301 (see the module docstring): DARTS space, batched ONNX predictions.

    ``predict(archs, metric)`` -> float64 ``(len(archs),)``; ``predict_all(archs, epoch)`` ->
    the four outputs ``(len(archs), 4)`` in :data:`OUTPUTS` order, accuracy in %.
    """

    kind = "surrogate"
    name = "nb301-yahpo"
    dataset = "cifar10"

    def __init__(self, folder, threads: int | None = None):
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            raise DataError(f"nb301-yahpo: {folder} is not a folder; {HOW}")
        missing = [f for f in FILES if not (folder / f).is_file()]
        if missing:
            raise DataError(f"nb301-yahpo: {folder} lacks {', '.join(missing)}; {HOW}")
        try:
            encoding = json.loads((folder / "encoding_v2.json").read_text())
            space_json = json.loads((folder / "config_space_v2.json").read_text())
        except ValueError as e:
            raise DataError(f"nb301-yahpo: a JSON file in {folder} is not valid JSON ({e})") from None
        pset = parse_param_set((folder / "param_set_v2.R").read_text())
        if tuple(pset["outputs"]) != OUTPUTS:
            raise DataError(f"param_set_v2.R: the codomain is {pset['outputs']}, expected {list(OUTPUTS)}")
        if pset["epoch"] != (1, LAST_EPOCH):
            raise DataError(f"param_set_v2.R: epoch ranges over {pset['epoch']}, expected (1, {LAST_EPOCH})")
        self.encoder = YahpoEncoder(encoding, pset, space_json)
        self.folder = folder.resolve()
        self.checksum = files_checksum(self.folder)
        self.version = "nb301-yahpo-v1"  # the harness binding (encoding, units) of the v2 files
        self.space = get_space("darts")
        self.higher_is_better = {m: parse_metric(m)[0] == "val_accuracy" for m in metric_names()}
        self.default_search = self.default_report = "val_accuracy"
        self.notes = (f"{LABEL} (YAHPO Gym nb301 v2 ONNX model, not the official NB301 ensemble): CIFAR-10 "
                      "val_accuracy (%), val_cross_entropy, runtime (s), model_parameters at epoch 1..98 (default 98)")
        rt = _onnxruntime()
        n = int(os.environ.get("NAS_HARNESS_ONNX_THREADS", threads or 1))
        opts = rt.SessionOptions()
        opts.intra_op_num_threads = n
        opts.inter_op_num_threads = n
        opts.log_severity_level = 3
        try:
            self.session = rt.InferenceSession(str(self.folder / "model_v2.onnx"), sess_options=opts,
                                               providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime's own error types
            raise DataError(f"nb301-yahpo: {self.folder / 'model_v2.onnx'} is not a loadable ONNX model ({str(e)[:200]})") from None
        ins = {i.name: i.shape for i in self.session.get_inputs()}
        outs = self.session.get_outputs()
        if set(ins) != {"x_cat", "x_cont"} or ins["x_cat"][-1] != self.encoder.dim or len(outs) != 1 or outs[0].shape[-1] != len(OUTPUTS):
            raise DataError(f"nb301-yahpo: model_v2.onnx has inputs {ins} and {len(outs)} outputs; expected "
                            f"x_cat [batch, {self.encoder.dim}], x_cont [batch, 1] -> [batch, {len(OUTPUTS)}]")
        self._out = outs[0].name
        self._run_options = rt.RunOptions()
        self._run_options.log_severity_level = 4  # errors come back as exceptions; no log lines
        self._cache: dict[tuple[str, int], np.ndarray] = {}
        self.surrogate_calls = 0  # ONNX calls
        self.predicted = 0  # architectures sent to the model

    @property
    def metrics(self) -> tuple[str, ...]:
        return metric_names()

    def check_metric(self, metric: str) -> str:
        parse_metric(metric)
        return metric

    def maximize(self, metric: str) -> bool:
        return parse_metric(metric)[0] == "val_accuracy"

    def describe(self) -> str:
        return self.notes

    def run_model(self, x_cat: np.ndarray, epochs: np.ndarray) -> np.ndarray:
        """One ONNX call: ``x_cat`` int32 ``(n, 34)``, ``epochs`` ``(n,)`` -> raw float32 ``(n, 4)``."""
        self.surrogate_calls += 1
        self.predicted += len(x_cat)
        x_cont = np.asarray(epochs, dtype=np.float32).reshape(-1, 1)
        return self.session.run([self._out], {"x_cat": np.ascontiguousarray(x_cat, dtype=np.int32), "x_cont": x_cont}, self._run_options)[0]

    def predict_all(self, archs: Sequence, epoch: int = LAST_EPOCH) -> np.ndarray:
        """The four outputs of each architecture at ``epoch``: float64 ``(len(archs), 4)``
        (accuracy in %). Uncached architectures go to the model in one call."""
        epoch = int(epoch)
        if not 1 <= epoch <= LAST_EPOCH:
            raise ConfigError(f"nb301-yahpo: epoch must be in 1..{LAST_EPOCH}, got {epoch}")
        archs = list(archs)
        keys = [self.space.key(a) for a in archs]  # validates
        todo: dict[str, object] = {}
        for a, k in zip(archs, keys):
            if (k, epoch) not in self._cache and k not in todo:
                todo[k] = self.space.canonical(a)
        if todo:
            y = self.run_model(self.encoder.encode(list(todo.values())), np.full(len(todo), epoch)).astype(np.float64)
            y[:, 0] *= 100.0
            for k, row in zip(todo, y):
                self._cache[(k, epoch)] = row
        return np.array([self._cache[(k, epoch)] for k in keys], dtype=np.float64).reshape(len(keys), len(OUTPUTS))

    def predict(self, archs: Sequence, metric: str, rng: np.random.Generator | None = None) -> np.ndarray:
        """``metric`` of each architecture, float64 ``(len(archs),)`` (one ONNX call for the
        uncached ones). The surrogate is deterministic: ``rng`` (noise ``sample``) is refused."""
        out, epoch = parse_metric(metric)
        if rng is not None:
            raise ConfigError(f"{LABEL} is deterministic (one model, no noise): use protocol noise 'mean'")
        return self.predict_all(archs, epoch)[:, OUTPUTS.index(out)]


def load(dataset: str | None = None, data: str | None = None) -> YahpoNB301Benchmark:
    """``get_benchmark("nb301-yahpo", data=DIR)``."""
    if dataset not in (None, "cifar10"):
        raise ConfigError(f"benchmark nb301-yahpo has only the dataset cifar10, got {dataset!r}")
    if data is None:
        raise ConfigError(f"benchmark nb301-yahpo ({LABEL}) needs its files: {HOW}")
    return YahpoNB301Benchmark(data)
