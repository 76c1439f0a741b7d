"""Protocols: everything that makes two algorithms' runs comparable on one benchmark setting.

A :class:`Protocol` names the benchmark (+ dataset, + data file), the search and report
metrics, the budget and reporting checkpoints, the counting rule, noise, the seeds,
per-algorithm hyperparameter overrides and episode settings. Shipped protocols live in
``protocols/*.toml`` (see :func:`load_protocol`); ``Protocol.adhoc`` builds one from CLI options.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class EpisodeSettings:
    """Settings for episodic algorithms (random walk, local search, Ape-X).

    Attributes:
        start_states: number of fixed initial architectures drawn (0: the algorithm samples).
        start_seed: seed of the fixed start-state set (shared by all runs of the protocol).
        length: maximum steps per episode.
        episodes: number of episodes per run (0: until the budget is spent).
    """

    start_states: int = 0
    start_seed: int = 0
    length: int = 32
    episodes: int = 0


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
    checkpoints: tuple[int, ...] = ()
    counting: str = "unique"
    noise: str = "mean"
    seeds: tuple[int, ...] = (0,)
    algorithms: dict[str, dict[str, Any]] = field(default_factory=dict)
    episodes: EpisodeSettings = field(default_factory=EpisodeSettings)
    until_optimum: bool = False
    description: str = ""
    source: str = ""

    @property
    def id(self) -> str:
        """Versioned id, e.g. ``nb201-cifar10-v1``."""
        return f"{self.name}-v{self.version}"

    def overrides(self, algorithm: str) -> dict[str, Any]:
        return dict(self.algorithms.get(algorithm, {}))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["checkpoints"] = list(self.checkpoints)
        d["seeds"] = list(self.seeds)
        return d

    @classmethod
    def adhoc(cls, benchmark: str, budget: int, seeds, dataset=None, data=None, **kw) -> "Protocol":
        """A protocol built from command-line options (named after the benchmark)."""
        from harness.benchmarks import resolve

        family, ds = resolve(benchmark, dataset)
        name = f"{family}-{ds}" if ds and family != "nb201-analog" else family
        seeds = tuple(range(seeds)) if isinstance(seeds, int) else tuple(seeds)
        return cls(name=f"adhoc-{name}", benchmark=family, dataset=ds, data=data, budget=int(budget), seeds=seeds, **kw)
