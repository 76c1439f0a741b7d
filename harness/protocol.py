"""Protocols: everything that makes two algorithms' runs comparable on one benchmark setting.

A :class:`Protocol` names the benchmark (+ dataset, + data file), the search and report
metrics, the budget and reporting checkpoints, the counting rule, noise, the seeds,
per-algorithm hyperparameter overrides and episode settings. Shipped protocols live in
``protocols/*.toml`` (see :func:`load_protocol` and ``docs/protocols.md``);
``Protocol.adhoc`` builds one from CLI options.

A protocol file is TOML::

    name = "nb201-cifar10"          # id = name + "-v" + version
    version = 1
    description = "..."
    benchmark = "nb201"             # a family (see `nas-harness list benchmarks`) ...
    dataset = "cifar10"             # ... and its dataset (or a combined name as benchmark)
    data = "path/to/table.csv"      # optional default data file (relative to this file)
    search_metric = "test_accuracy" # what the algorithm sees
    report_metric = "test_accuracy" # what is reported (never shown to the algorithm)
    report_fallback = "valid_accuracy"  # optional: reported instead when the data lacks
                                    # report_metric (e.g. embedded NB201 without a test table)
    budget = 1000                   # counted queries per run
    checkpoints = [100, 500, 1000]  # query counts reported in tables (<= budget)
    counting = "unique"             # or "all"
    noise = "mean"                  # or "sample" (one training repeat per query)
    seeds = 10                      # a count (0..9) or a list [0, 4, 7]
    until_optimum = false           # stop a run when the global optimum is queried: true (any
                                    # architecture with the optimal value) or "index" (the
                                    # benchmark's optimum architecture, its index, only)

    [algorithms.random]             # per-algorithm hyperparameter overrides
    replace = false

    [episodes]                      # for episodic algorithms
    start_states = 10000
    start_seed = 0
    length = 32
    episodes = 0

Every key is checked on load; an error names the file and the key (:class:`ConfigError`).
Metric names are checked against :data:`BENCHMARK_METRICS` (a static list per benchmark
family, so no data file is needed to validate a protocol).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.errors import ConfigError


@dataclass(frozen=True)
class EpisodeSettings:
    """Settings for episodic algorithms (random walk, local search, Ape-X).

    Attributes:
        start_states: number of initial architectures drawn per run (0: the algorithm samples).
            Each run draws its own set from its seed's ``starts`` stream
            (:func:`harness.rng.spawn_streams`), so different seeds are independent samples.
        start_seed: seed of the one shared set, used only with ``shared_starts``.
        shared_starts: opt-in for one protocol-wide set drawn from ``start_seed`` and shared by
            every run (a paper that evaluates all runs on one fixed set). Runs of a deterministic
            algorithm (best-improvement local search) are then identical across seeds; reports
            flag such copies and count them once (:func:`harness.metrics.collapse_duplicates`).
        length: maximum steps per episode.
        episodes: number of episodes per run (0: until the budget is spent).
    """

    start_states: int = 0
    start_seed: int = 0
    length: int = 32
    episodes: int = 0
    shared_starts: bool = False


@dataclass(frozen=True)
class Protocol:
    """One benchmark setting. See the module docstring; fields mirror ``protocols/*.toml``."""

    name: str
    benchmark: str
    budget: int
    version: int = 1
    dataset: str | None = None
    data: str | None = None
    search_metric: str | None = None
    report_metric: str | None = None
    report_fallback: str | None = None  # reported when the loaded data lacks report_metric
    checkpoints: tuple[int, ...] = ()
    counting: str = "unique"
    noise: str = "mean"
    seeds: tuple[int, ...] = (0,)
    algorithms: dict[str, dict[str, Any]] = field(default_factory=dict)
    episodes: EpisodeSettings = field(default_factory=EpisodeSettings)
    until_optimum: bool | str = False  # False, True (by value) or "index" (the optimum's index)
    # simulated wall-clock budget (harness.simclock): seconds of simulated training, or None
    time_budget: float | None = None
    time_metric: str | None = None  # column charged per counted query (default training_time)
    time_scale: float = 1.0  # factor on time_metric (e.g. 12/200: 200-epoch time -> 12 epochs)
    sim_workers: int = 1  # simulated asynchronous workers
    charge_compute: bool = False  # also charge the algorithm's measured compute (not reproducible)
    time_checkpoints: tuple[float, ...] = ()  # simulated seconds reported in tables (default: budget)
    cost_metrics: tuple[str, ...] = ()  # report-only costs recorded per query, e.g. latency
    pareto_cost: str | None = None  # cost minimized in the Pareto front (default: latency if listed)
    description: str = ""
    source: str = ""

    @property
    def id(self) -> str:
        """Versioned id, e.g. ``nb201-cifar10-v1``."""
        return f"{self.name}-v{self.version}"

    @property
    def report_checkpoints(self) -> tuple[int, ...]:
        """The checkpoints, or ``(budget,)`` when the protocol names none."""
        return self.checkpoints or (self.budget,)

    @property
    def report_time_checkpoints(self) -> tuple[float, ...]:
        """Simulated-time checkpoints (s): the protocol's, or ``(time_budget,)``; ``()``
        without a time budget."""
        if self.time_budget is None:
            return ()
        return self.time_checkpoints or (float(self.time_budget),)

    @property
    def pareto_metric(self) -> str | None:
        """The cost minimized in the per-run Pareto front: ``pareto_cost``, else ``latency``
        when it is a cost metric, else None (no front)."""
        if self.pareto_cost:
            return self.pareto_cost
        return "latency" if "latency" in self.cost_metrics else None

    def overrides(self, algorithm: str) -> dict[str, Any]:
        return dict(self.algorithms.get(algorithm, {}))

    def resolve_metrics(self, benchmark) -> tuple[str, str]:
        """``(search metric, report metric)`` on a loaded benchmark.

        Unset metrics take the benchmark's defaults. When ``report_metric`` is not among the
        benchmark's metrics and ``report_fallback`` is set, the fallback is reported instead
        (the run's record then names the metric actually reported).
        """
        search = self.search_metric or benchmark.default_search
        report = self.report_metric or benchmark.default_report
        metrics = getattr(benchmark, "metrics", None)
        if self.report_fallback and metrics is not None and report not in metrics:
            report = self.report_fallback
        return search, report

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if not self.episodes.start_states:  # shared_starts means nothing without start states:
            d["episodes"].pop("shared_starts")  # left out, so those protocols keep their run keys
        d["checkpoints"] = list(self.checkpoints)
        d["seeds"] = list(self.seeds)
        d["time_checkpoints"] = list(self.time_checkpoints)
        d["cost_metrics"] = list(self.cost_metrics)
        return d

    def to_file_dict(self) -> dict[str, Any]:
        """The protocol as the keys of a protocol file (what :func:`protocol_from_dict` reads):
        ``None`` values, settings at their defaults and the ``source`` left out (a file may not
        name e.g. ``time_scale`` without ``time_budget``, so defaults must not be written)."""
        d = self.to_dict()
        d.pop("source", None)
        default = Protocol(name=self.name, benchmark=self.benchmark, budget=self.budget).to_dict()
        return {k: v for k, v in d.items()
                if k in REQUIRED or k == "version" or (v is not None and v != {} and v != default.get(k))}

    def with_budget(self, budget: int) -> "Protocol":
        """The same protocol with another budget, under a derived name (``<name>-budget<Q>``).

        The name changes because the budget changes the numbers: runs of the derived protocol
        are stored, resumed and reported apart from the original's. Checkpoints beyond the new
        budget are dropped.
        """
        budget = int(budget)
        if budget == self.budget:
            return self
        if budget <= 0:
            raise ConfigError(f"budget must be a positive number of queries, got {budget}")
        cps = tuple(c for c in self.checkpoints if c <= budget)
        if self.checkpoints and budget not in cps:
            cps = cps + (budget,)
        return replace(self, name=f"{self.name}-budget{budget}", budget=budget, checkpoints=cps)

    @classmethod
    def adhoc(cls, benchmark: str, budget: int, seeds, dataset=None, data=None, **kw) -> "Protocol":
        """A protocol built from command-line options, named after the benchmark and a hash of
        its settings (``adhoc-<benchmark>-<8 hex>``): different ad-hoc settings (budget,
        counting, metrics, ...) never share a results folder or an MLflow experiment. The
        seeds and the data *path* are not in the name (the data's content is in each run key)."""
        from harness.benchmarks import resolve
        from harness.identity import protocol_hash

        family, ds = resolve(benchmark, dataset)
        name = f"{family}-{ds}" if ds and family != "nb201-analog" else family
        seeds = tuple(range(seeds)) if isinstance(seeds, int) else tuple(seeds)
        p = cls(name="adhoc", benchmark=family, dataset=ds, data=data, budget=int(budget), seeds=seeds, **kw)
        settings = replace(p, name="adhoc", description="", source="")
        p = replace(p, name=f"adhoc-{name}-{protocol_hash(settings)[:8]}")
        return replace(p, description=p.description or f"ad-hoc protocol (nas-harness run options) on {name}, "
                                                          f"{p.budget} queries")


# --- what a protocol may name ------------------------------------------------------------------
# Metric names per benchmark family, so that a protocol is validated without loading its data.
# Add a family here when you add a benchmark (harness.benchmarks.BENCHMARKS). ``tabular`` says
# whether the benchmark knows its global optimum (needed by ``until_optimum``).
def _yahpo_metrics() -> tuple[str, ...]:
    from harness.benchmarks.nb301_yahpo import metric_names  # light: numpy only, no onnxruntime

    return metric_names()


BENCHMARK_METRICS: dict[str, dict[str, Any]] = {
    "nb201": {
        # the union over the accepted data: the NATS-Bench TSS CSV export has test_accuracy only;
        # the official data adds the rest (see harness.benchmarks.nb201). The oracle checks the
        # metric against the actual file when a run starts.
        "metrics": ("test_accuracy", "valid_accuracy", "test_accuracy_12ep", "valid_accuracy_12ep", "parameters",
                    "flops", "latency", "training_time", "training_time_12ep"),
        "datasets": ("cifar10", "cifar100", "imagenet16-120", "cifar10-valid"),
        "aliases": {"imagenet16": "imagenet16-120", "imagenet": "imagenet16-120"},
        "tabular": True,
    },
    "nb201-analog": {
        "metrics": ("baseline_accuracy", "ptq_accuracy", "qat_accuracy", "noisy_accuracy", "analog_accuracy")
        + tuple(f"{k}_drift_{t}" for k in ("baseline", "analog") for t in (60, 3600, 86400, 2592000)),
        "datasets": (),
        "tabular": True,
    },
    "nasbench-graph": {
        "metrics": ("valid_accuracy", "test_accuracy", "latency", "parameters"),
        "datasets": ("cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv", "proteins"),
        "tabular": True,
    },
    "nb101": {  # 108 epochs unsuffixed, the other budgets as _<e>ep (harness.benchmarks.nb101)
        "metrics": ("valid_accuracy", "test_accuracy", "training_time", "parameters")
        + tuple(f"{m}_{e}ep" for e in (4, 12, 36) for m in ("valid_accuracy", "test_accuracy", "training_time")),
        "datasets": (),
        "tabular": True,
    },
    # NB301 (surrogate) lands separately; its XGB ensemble predicts validation accuracy (%) only.
    "nb301": {"metrics": ("valid_accuracy",), "datasets": (), "tabular": False},
    # YAHPO surrogate of NB301 (harness.benchmarks.nb301_yahpo): 4 outputs at epoch 98, and _<e>ep
    "nb301-yahpo": {"metrics": _yahpo_metrics(), "datasets": (), "tabular": False},
}

KEYS = {
    "name": str, "version": int, "description": str, "benchmark": str, "dataset": str, "data": str,
    "search_metric": str, "report_metric": str, "report_fallback": str, "budget": int, "checkpoints": list, "counting": str,
    "noise": str, "seeds": (int, list), "until_optimum": (bool, str), "algorithms": dict, "episodes": dict,
    "time_budget": (int, float), "time_metric": str, "time_scale": (int, float), "sim_workers": int,
    "charge_compute": bool, "time_checkpoints": list, "cost_metrics": list, "pareto_cost": str,
}
TIME_KEYS = ("time_metric", "time_scale", "sim_workers", "charge_compute", "time_checkpoints")
EPISODE_KEYS = ("start_states", "start_seed", "length", "episodes", "shared_starts")
REQUIRED = ("name", "benchmark", "budget")


def _resolve_benchmark(benchmark: str, dataset: str | None, err) -> tuple[str, str | None, dict | None]:
    """``(family, dataset, static info or None)``; unknown names raise through ``err``."""
    from harness.benchmarks import BENCHMARKS, resolve

    names = dict(BENCHMARK_METRICS)
    for fam in BENCHMARKS:
        names.setdefault(fam, None)
    fam = benchmark if benchmark in names else None
    ds = dataset
    if fam is None:  # a combined name such as nasbench-graph-cora
        for f in sorted(names, key=len, reverse=True):
            if benchmark.startswith(f + "-"):
                fam, rest = f, benchmark[len(f) + 1:]
                if dataset is not None and dataset != rest:
                    err("dataset", f"benchmark {benchmark!r} already names dataset {rest!r}, but dataset is {dataset!r}")
                ds = rest
                break
    if fam is None:
        err("benchmark", f"unknown benchmark {benchmark!r}; choose one of: {', '.join(sorted(names))}")
    info = BENCHMARK_METRICS.get(fam)
    if info is None:  # registered family without a static entry: let the registry judge
        try:
            fam, ds = resolve(fam, ds)
        except ConfigError as e:
            err("dataset" if ds else "benchmark", str(e))
        return fam, ds, None
    datasets = info["datasets"]
    ds = info.get("aliases", {}).get(ds, ds)
    if datasets:
        if ds is None:
            ds = datasets[0]
        elif ds not in datasets:
            err("dataset", f"benchmark {fam} has no dataset {ds!r}; choose one of: {', '.join(datasets)}")
    elif ds not in (None, "cifar10"):
        err("dataset", f"benchmark {fam} has no datasets to choose (got {ds!r})")
    else:
        ds = None
    return fam, ds, info


def _metrics_of(family: str, dataset: str | None, info: dict | None) -> tuple[str, ...] | None:
    if info is not None:
        return tuple(info["metrics"])
    from harness.benchmarks import BENCHMARKS, get_benchmark

    if BENCHMARKS[family].needs_data:
        return None  # cannot know without the file; the oracle checks at run time
    return tuple(get_benchmark(family, dataset).metrics)


def protocol_from_dict(d: dict[str, Any], source: str = "<dict>") -> Protocol:
    """A validated :class:`Protocol` from the parsed TOML ``d``; errors name ``source`` and the key."""
    from harness.oracle import COUNTING_RULES, NOISE_MODES

    def err(key, msg):
        raise ConfigError(f"{source}: key {key!r}: {msg}")

    def typename(t):
        return " or ".join(x.__name__ for x in t) if isinstance(t, tuple) else t.__name__

    if not isinstance(d, dict):
        raise ConfigError(f"{source}: a protocol file must be a TOML table")
    for k in d:
        if k not in KEYS:
            err(k, f"unknown key; allowed keys: {', '.join(KEYS)}")
    for k in REQUIRED:
        if k not in d:
            err(k, "missing (required)")
    for k, t in KEYS.items():
        if k in d:
            v = d[k]
            ok = isinstance(v, t) and not (isinstance(v, bool) and t in (int, (int, list), (int, float)))
            if not ok:
                err(k, f"must be {typename(t)}, got {type(v).__name__} {v!r}")

    def int_ge(key, v, lo, where=None):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            err(where or key, f"must be an integer >= {lo}, got {v!r}")
        return v

    name = d["name"]
    if not name or not name.isprintable() or any(c in name for c in "/\\ \t"):
        err("name", f"must be a non-empty name without spaces or slashes, got {name!r}")
    version = int_ge("version", d.get("version", 1), 1)
    budget = d["budget"]
    if budget <= 0:
        err("budget", f"must be a positive number of queries, got {budget}")
    cps = d.get("checkpoints", [])
    for c in cps:
        if isinstance(c, bool) or not isinstance(c, int) or c <= 0:
            err("checkpoints", f"must be positive integers, got {c!r}")
        if c > budget:
            err("checkpoints", f"checkpoint {c} lies beyond the budget {budget}")
    if list(cps) != sorted(set(cps)):
        err("checkpoints", f"must be strictly increasing, got {cps}")
    counting = d.get("counting", "unique")
    if counting not in COUNTING_RULES:
        err("counting", f"unknown counting rule {counting!r}; choose one of: {', '.join(COUNTING_RULES)}")
    noise = d.get("noise", "mean")
    if noise not in NOISE_MODES:
        err("noise", f"unknown noise mode {noise!r}; choose one of: {', '.join(NOISE_MODES)}")
    seeds = d.get("seeds", 1)
    if isinstance(seeds, int):
        if seeds <= 0:
            err("seeds", f"a count of seeds must be positive, got {seeds}")
        seeds = tuple(range(seeds))
    else:
        if not seeds:
            err("seeds", "the list of seeds is empty")
        for s in seeds:
            if isinstance(s, bool) or not isinstance(s, int) or s < 0:
                err("seeds", f"seeds must be non-negative integers, got {s!r}")
        if len(set(seeds)) != len(seeds):
            err("seeds", f"repeated seeds in {seeds}")
        seeds = tuple(seeds)

    family, dataset, info = _resolve_benchmark(d["benchmark"], d.get("dataset"), err)
    metrics = _metrics_of(family, dataset, info)
    for key in ("search_metric", "report_metric", "report_fallback"):
        m = d.get(key)
        if m is not None and metrics is not None and m not in metrics:
            err(key, f"benchmark {family} has no metric {m!r}; choose one of: {', '.join(metrics)}")
    until_optimum = d.get("until_optimum", False)
    if isinstance(until_optimum, str) and until_optimum != "index":
        err("until_optimum", f"must be true, false or \"index\", got {until_optimum!r}")
    if until_optimum and info is not None and not info.get("tabular", True):
        err("until_optimum", f"benchmark {family} is a surrogate without a known global optimum")

    time_budget, time_metric, time_scale, sim_workers, time_cps, cost_metrics = _time_and_costs(d, metrics, family, err)

    algos = {}
    for a, hp in d.get("algorithms", {}).items():
        if not isinstance(hp, dict):
            err(f"algorithms.{a}", f"must be a table of hyperparameters, got {type(hp).__name__} {hp!r}")
        algos[a] = dict(hp)
    ep = d.get("episodes", {})
    for k in ep:
        if k not in EPISODE_KEYS:
            err(f"episodes.{k}", f"unknown key; allowed keys: {', '.join(EPISODE_KEYS)}")
    episodes = EpisodeSettings(
        start_states=int_ge("start_states", ep.get("start_states", 0), 0, "episodes.start_states"),
        start_seed=int_ge("start_seed", ep.get("start_seed", 0), 0, "episodes.start_seed"),
        length=int_ge("length", ep.get("length", 32), 1, "episodes.length"),
        episodes=int_ge("episodes", ep.get("episodes", 0), 0, "episodes.episodes"),
        shared_starts=_bool(ep.get("shared_starts", False), err, "episodes.shared_starts"),
    )
    data = d.get("data")
    if data is not None and (not data or not data.isprintable()):
        err("data", f"must be a file path, got {data!r}")
    if data is not None and source not in ("<dict>", ""):
        p = Path(os.path.expanduser(data))
        data = str(p if p.is_absolute() else (Path(source).parent / p).resolve())
    return Protocol(
        name=name, version=version, benchmark=family, dataset=dataset, data=data, budget=budget,
        search_metric=d.get("search_metric"), report_metric=d.get("report_metric"),
        report_fallback=d.get("report_fallback"), checkpoints=tuple(cps),
        counting=counting, noise=noise, seeds=seeds, algorithms=algos, episodes=episodes,
        until_optimum=until_optimum, time_budget=time_budget, time_metric=time_metric, time_scale=time_scale,
        sim_workers=sim_workers, charge_compute=d.get("charge_compute", False), time_checkpoints=time_cps,
        cost_metrics=cost_metrics, pareto_cost=d.get("pareto_cost"),
        description=d.get("description", "").strip(), source=source,
    )


def _bool(v, err, key):
    if not isinstance(v, bool):
        err(key, f"must be true or false, got {v!r}")
    return v


def _time_and_costs(d: dict, metrics, family: str, err):
    """Validated ``(time_budget, time_metric, time_scale, sim_workers, time_checkpoints,
    cost_metrics)`` of a protocol table ``d``."""
    import math

    def known(key, m):
        if metrics is not None and m not in metrics:
            err(key, f"benchmark {family} has no metric {m!r}; choose one of: {', '.join(metrics)}")

    def positive(key, v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            err(key, f"must be a positive number, got {v!r}")
        return float(v)

    tb = d.get("time_budget")
    if tb is None:
        for k in TIME_KEYS:
            if k in d:
                err(k, "needs time_budget (seconds of simulated training) in the same protocol")
    else:
        tb = positive("time_budget", tb)
    time_metric = d.get("time_metric")
    if time_metric is not None:
        known("time_metric", time_metric)
    elif tb is not None and metrics is not None and "training_time" not in metrics:
        err("time_metric", f"benchmark {family} has no training_time; name the column to charge "
                           f"(one of: {', '.join(metrics)})")
    time_scale = positive("time_scale", d.get("time_scale", 1.0))
    sim_workers = d.get("sim_workers", 1)
    if isinstance(sim_workers, bool) or not isinstance(sim_workers, int) or sim_workers < 1:
        err("sim_workers", f"must be an integer >= 1, got {sim_workers!r}")
    cps = d.get("time_checkpoints", [])
    for c in cps:
        positive("time_checkpoints", c)
        if tb is not None and c > tb:
            err("time_checkpoints", f"checkpoint {c} s lies beyond the time budget {tb:g} s")
    if list(cps) != sorted(set(cps)):
        err("time_checkpoints", f"must be strictly increasing, got {cps}")
    costs = d.get("cost_metrics", [])
    for m in costs:
        if not isinstance(m, str):
            err("cost_metrics", f"must be metric names, got {m!r}")
        known("cost_metrics", m)
    if len(set(costs)) != len(costs):
        err("cost_metrics", f"repeated metrics in {costs}")
    for key in ("search_metric", "report_metric"):
        if d.get(key) is not None and d.get(key) in costs:
            err("cost_metrics", f"{d[key]!r} is the {key.split('_')[0]} metric; a cost metric is report-only")
    pc = d.get("pareto_cost")
    if pc is not None and pc not in costs:
        err("pareto_cost", f"{pc!r} must be one of the cost_metrics ({', '.join(costs) or 'none given'})")
    return tb, time_metric, time_scale, sim_workers, tuple(float(c) for c in cps), tuple(costs)


# --- where shipped protocols are ---------------------------------------------------------------
def protocol_dirs() -> list[Path]:
    """Folders searched for shipped protocols, in order.

    ``$NAS_HARNESS_PROTOCOLS`` (``os.pathsep``-separated), then ``protocols/`` of the source
    checkout this package runs from (when there is one), then the copy shipped inside the
    installed package (``harness/_protocols``, written by the build).
    """
    out = [Path(p) for p in os.environ.get("NAS_HARNESS_PROTOCOLS", "").split(os.pathsep) if p]
    pkg = Path(__file__).resolve().parent
    checkout = pkg.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "protocols").is_dir():
        out.append(checkout / "protocols")
    if (pkg / "_protocols").is_dir():
        out.append(pkg / "_protocols")
    return out


def _shipped() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for d in protocol_dirs():
        for f in sorted(d.glob("*.toml")):
            found.setdefault(f.stem, f)
    return found


def load_protocol_file(path: str | os.PathLike) -> Protocol:
    """Load and validate one protocol file."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            d = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"protocol file {path} does not exist") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {str(e).splitlines()[0] if str(e) else e!r}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not a text file (byte {e.start} is not UTF-8); a protocol is a TOML text file") from None
    except IsADirectoryError:
        raise ConfigError(f"protocol file {path} is a directory; give the path of a .toml file") from None
    except OSError as e:
        raise ConfigError(f"cannot read protocol file {path}: {e.strerror or e}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid TOML (nested too deeply)") from None
    return protocol_from_dict(d, str(path))


def load_protocol(name_or_path: str | os.PathLike) -> Protocol:
    """A shipped protocol by name (``nb201-cifar10``) or the protocol file at a path.

    A name may carry its version (``nb201-cifar10-v1``); it must then match the file's.
    """
    s = str(name_or_path)
    p = Path(os.path.expanduser(s))
    if s.endswith(".toml") or os.sep in s or "/" in s or p.is_file():
        return load_protocol_file(p)
    shipped = _shipped()
    if s in shipped:
        return load_protocol_file(shipped[s])
    base, _, ver = s.rpartition("-v")
    if base in shipped and ver.isdigit():
        prot = load_protocol_file(shipped[base])
        if prot.version != int(ver):
            raise ConfigError(f"protocol {base} is at version {prot.version}, not {ver} (file {shipped[base]})")
        return prot
    stored = stored_protocol(s)
    if stored is not None:
        return stored
    raise ConfigError(f"unknown protocol {s!r}; choose one of: {', '.join(shipped) or '(none found)'} "
                      "(or give the path of your own .toml file, or the id of a protocol you ran, e.g. an ad-hoc one)")


def _stored_dir() -> Path:
    from harness.paths import results_dir

    return results_dir() / "protocols"


def save_stored(protocol: Protocol) -> None:
    """Keep the resolved protocol of a run (``results/protocols/<id>.json``), so that
    ``report``/``leaderboard --protocol <id>`` find protocols made from options."""
    import json

    folder = _stored_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{protocol.id}.json"
    text = json.dumps(protocol.to_file_dict(), indent=1, sort_keys=True)
    if not path.exists() or path.read_text() != text:
        tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
        tmp.write_text(text)
        os.replace(tmp, path)


def stored_protocol(name_or_id: str) -> Protocol | None:
    """A protocol saved beside its runs by :func:`save_stored`, by id (``adhoc-...-v1``) or
    name; ``None`` when there is none."""
    import json

    root = _stored_dir()
    for cand in (name_or_id, f"{name_or_id}-v1"):
        path = root / f"{cand}.json"
        if cand and "/" not in cand and path.is_file():
            try:
                d = json.loads(path.read_text())
            except (OSError, ValueError) as e:
                raise ConfigError(f"{path}: unreadable stored protocol ({type(e).__name__})") from None
            return protocol_from_dict(d, "<dict>")
    return None


def list_protocols() -> list[Protocol]:
    """Every shipped protocol, loaded and validated, sorted by name."""
    return [load_protocol_file(f) for _, f in sorted(_shipped().items())]


# --- seed lists on the command line ------------------------------------------------------------
MAX_SEEDS = 1_000_000  # a guard against "0-99999999" typos, far above any real sweep


def parse_seeds(text: str) -> tuple[int, ...]:
    """The seeds named by a ``--seeds`` text, in order: ``N`` (a count: seeds 0..N-1), ``A-B``
    (A..B inclusive) or a comma list of numbers and ranges (``1000,1003,1010-1012``; a single
    number in a list is that seed, not a count). Raises :class:`ConfigError` (one line) on
    anything else: empty parts, negative or reversed ranges, repeated seeds."""
    s = str(text).strip()
    hint = "use N (seeds 0..N-1), A-B (A..B inclusive) or a comma list like 1000,1003,1010-1012"
    if not s:
        raise ConfigError(f"--seeds is empty; {hint}")
    parts = [p.strip() for p in s.split(",")]
    single = len(parts) == 1 and "-" not in parts[0]
    seeds: list[int] = []
    for part in parts:
        lo, sep, hi = part.partition("-")
        try:
            if not part or not lo.strip().isdigit() or (sep and not hi.strip().isdigit()):
                raise ValueError
            a = int(lo)
            b = int(hi) if sep else a
        except ValueError:
            raise ConfigError(f"--seeds {text!r}: {part!r} is not a seed number or range; {hint}") from None
        if single:
            if a <= 0:
                raise ConfigError(f"--seeds {text!r}: a count of seeds must be positive; {hint}")
            a, b = 0, a - 1
        if b < a:
            raise ConfigError(f"--seeds {text!r}: the range {part!r} is reversed; write it as {b}-{a}")
        if len(seeds) + b - a + 1 > MAX_SEEDS:
            raise ConfigError(f"--seeds {text!r} names more than {MAX_SEEDS:,} seeds")
        seeds.extend(range(a, b + 1))
    if len(set(seeds)) != len(seeds):
        dup = sorted({x for x in seeds if seeds.count(x) > 1})[:5]
        raise ConfigError(f"--seeds {text!r} repeats seed(s) {', '.join(map(str, dup))}; name each seed once")
    return tuple(seeds)


def seeds_arg(text: str) -> tuple[int, ...]:
    """argparse ``type=`` for ``--seeds``: :func:`parse_seeds`, its error as argparse's one line
    (exit 2)."""
    import argparse
    import sys

    try:
        seeds = parse_seeds(text)
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if str(text).strip().isdigit() and len(seeds) >= COUNT_NOTE:
        # `--seeds 1000` reads like "seed 1000"; say what it means before thousands of runs start
        n = len(seeds)
        print(f"nas-harness: note: --seeds {n} is a count: seeds 0..{n - 1} ({n:,} seeds); for seed {n} alone "
              f"write --seeds {n}-{n}", file=sys.stderr)
    return seeds


COUNT_NOTE = 1000  # a bare --seeds count this large is noted (it looks like a fresh seed number)


SEEDS_HELP = "seeds: N (0..N-1), A-B (inclusive) or a comma list (1000,1003,1010-1012)"
