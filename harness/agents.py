"""Trained agents as files: save a learned search policy (Ape-X, L2NAS) and run it elsewhere.

An **agent file** is one ``torch.save`` of plain containers and tensors, read back with
``torch.load(weights_only=True)`` (no pickled objects)::

    {"format": "nas-harness-agent", "format_version": 1,
     "meta": "<JSON text>",                     # what made it (below)
     "state": {name: tensor or {name: tensor}}} # the network weights (state_dicts)

``meta`` is JSON: ``algorithm`` (registry name of the family, e.g. ``apex``), ``config`` (the
hyperparameters the agent was trained with), ``network`` (the shapes needed to rebuild it),
``space`` (space id: an agent runs only on a space with the same id), the source run's
``benchmark``, ``dataset``, ``data_checksum``, ``protocol_id``, ``seed``, ``run_key``, and its
training ledger: ``training_queries`` (values read to train it) and whatever the algorithm adds
(environment steps, updates, seconds).

Paths given to the ``agent`` / ``save_agent`` hyperparameters may hold two placeholders,
resolved when the run starts (:func:`resolve_path`): ``{seed}`` (the run's seed: seed ``s`` of
a transfer run loads the agent trained by seed ``s``, so each seed is one trained agent) and
``{results}`` (the results folder, ``$NAS_HARNESS_RESULTS`` or ``./results``). The *content*
checksum of a loaded agent file enters the run key (:func:`harness.identity.run_key`), so a
retrained agent under the same name is a new experiment.

The runner tells an algorithm its run context through ``bind_run(context)`` and collects extra
record metadata through ``run_meta()`` (both optional; :class:`AgentFiles` implements them).
"""

from __future__ import annotations

import json
import os
from typing import Any

from harness.errors import ConfigError, DataError

FORMAT = "nas-harness-agent"
FORMAT_VERSION = 1
# Context keys the runner passes to bind_run (those a saved agent keeps as its source)
CONTEXT_KEYS = ("seed", "protocol_id", "benchmark", "dataset", "space", "data_checksum", "search_metric", "run_key")


def resolve_path(template: str, seed: int | None = None) -> str:
    """``template`` with ``{results}`` and ``{seed}`` filled in (see the module docstring)."""
    path = str(template)
    if "{results}" in path:
        from harness.paths import results_dir

        path = path.replace("{results}", str(results_dir()))
    if "{seed}" in path:
        if seed is None:
            raise ConfigError(f"agent path {template!r} holds {{seed}} but this run has no seed: run it through "
                              "`nas-harness run`, or give a path without {seed}")
        path = path.replace("{seed}", str(int(seed)))
    return os.path.abspath(os.path.expanduser(path))


def checksum(path: str) -> str:
    """sha256 of the agent file's bytes (``sha256:<hex>``)."""
    from harness.identity import path_checksum

    return path_checksum(path)


def save(path: str, state: dict, meta: dict) -> str:
    """Write an agent file atomically; returns its content checksum.

    ``state``: ``{name: tensor}`` or ``{name: {name: tensor}}`` (state_dicts); ``meta``: plain
    JSON values."""
    import torch

    path = os.path.abspath(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION,
               "meta": json.dumps(meta, sort_keys=True, default=str), "state": _tensors(state)}
    tmp = f"{path}.tmp{os.getpid()}"
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return checksum(path)


def _tensors(state):
    import torch

    if isinstance(state, torch.Tensor):
        return state.detach().cpu().clone()
    if isinstance(state, dict):
        return {str(k): _tensors(v) for k, v in state.items()}
    raise TypeError(f"an agent's state holds tensors and dicts of tensors only, not {type(state).__name__}")


def load(path: str, algorithm: str | None = None, space_id: str | None = None) -> tuple[dict, dict]:
    """``(state, meta)`` of an agent file; a one-line error when it is missing, not an agent
    file, of another algorithm family than ``algorithm``, or made on another space than
    ``space_id``."""
    import torch

    if not os.path.isfile(path):
        raise ConfigError(f"agent file {path} not found: train one first (hyperparameter save_agent, or "
                          "`nas-harness run --save-agent`), or fix the path")
    try:
        d = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # not a torch file, truncated, or holding pickled objects
        msg = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise DataError(f"{path} is not a readable nas-harness agent file ({msg})") from None
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise DataError(f"{path} is not a nas-harness agent file (no format marker {FORMAT!r}); "
                        "a training checkpoint (hyperparameter checkpoint) is not an agent file")
    if int(d.get("format_version", 0)) > FORMAT_VERSION:
        raise DataError(f"{path}: agent file format {d.get('format_version')} is newer than this nas-harness "
                        f"reads ({FORMAT_VERSION}): upgrade nas-harness")
    try:
        meta = json.loads(d["meta"])
        state = d["state"]
    except (KeyError, TypeError, ValueError):
        raise DataError(f"{path}: damaged agent file (its metadata cannot be read)") from None
    if algorithm is not None and meta.get("algorithm") != algorithm:
        raise ConfigError(f"{path} holds a {meta.get('algorithm')!r} agent, not a {algorithm!r} one: "
                          f"run it with algorithm {meta.get('algorithm')}")
    if space_id is not None and meta.get("space") != space_id:
        raise ConfigError(f"{path} holds an agent trained on space {meta.get('space')!r}; this run's space is "
                          f"{space_id!r}: an agent transfers only between benchmarks of one space")
    return state, meta


class AgentFiles:
    """Mixin for algorithms whose trained agent can be saved (``save_agent``) and loaded
    (``agent``) instead of trained. ``input_files`` names the hyperparameters whose file
    *content* enters the run key (:func:`harness.identity.run_key`)."""

    input_files = ("agent",)

    def bind_run(self, context: dict) -> None:
        """Called by the runner before ``run``: the run's seed, benchmark, data checksum, ..."""
        self._run_context = {k: context.get(k) for k in CONTEXT_KEYS}

    def run_context(self) -> dict:
        return dict(getattr(self, "_run_context", None) or {})

    def run_meta(self) -> dict[str, Any]:
        """Extra record metadata of the last run (read by the runner after ``run``)."""
        return dict(getattr(self, "_agent_run_meta", None) or {})

    def _agent_path(self, template: str) -> str:
        return resolve_path(template, self.run_context().get("seed"))

    def _load_agent(self, space) -> tuple[dict, dict]:
        """Load the ``agent`` file for this run; notes its source for :meth:`run_meta`."""
        path = self._agent_path(self.config.agent)
        state, meta = load(path, self.agent_family, space.id)
        self._agent_run_meta = {
            "agent": {"path": path, "checksum": checksum(path),
                      "source": {k: meta.get(k) for k in (*CONTEXT_KEYS, "training_queries")}},
            "source_training_queries": int(meta.get("training_queries", 0)),
        }
        return state, meta

    def _save_agent(self, space, state: dict, ledger: dict, network: dict) -> str:
        """Write the trained agent to ``save_agent`` (this run's path); returns the path."""
        import dataclasses

        path = self._agent_path(self.config.save_agent)
        config = {k: v for k, v in dataclasses.asdict(self.config).items() if k not in ("agent", "save_agent")}
        meta = {**self.run_context(), "algorithm": self.agent_family, "config": config, "network": network,
                "space": space.id, **ledger}
        sha = save(path, state, meta)
        out = dict(getattr(self, "_agent_run_meta", None) or {})
        out["saved_agent"] = {"path": path, "checksum": sha}
        out["artifacts"] = {**out.get("artifacts", {}), "agent": path}
        self._agent_run_meta = out
        return path


# --- statistics over agents ---------------------------------------------------------------------
def agent_id(record) -> str:
    """Which trained agent a record's numbers come from: the checksum of the agent file it
    loaded, else of the agent it saved, else its run key (a run that trained its own agent).
    Runs that share an agent are one sample of training variance, not several."""
    m = record.meta if hasattr(record, "meta") else record
    for k in ("agent", "saved_agent"):
        c = (m.get(k) or {}).get("checksum")
        if c:
            return str(c)
    return str(m.get("run_key", ""))


def by_agent(records) -> dict[str, list]:
    """Records grouped by :func:`agent_id`, in order of first appearance."""
    out: dict[str, list] = {}
    for r in records:
        out.setdefault(agent_id(r), []).append(r)
    return out


def per_agent(records, value) -> "np.ndarray":
    """One number per trained agent: the mean of ``value(record)`` over the records (evaluation
    seeds) of each agent. Bootstrap CIs of these are CIs over agents, training variance included;
    evaluating one agent with many seeds gives one value, however many seeds ran."""
    import numpy as np

    return np.array([float(np.mean([value(r) for r in rs])) for rs in by_agent(records).values()])
