"""MLflow logging and reading back. Only the launching process writes to the store.

One MLflow run per (protocol, algorithm, seed), in the experiment ``nas-harness/<protocol>``:

* tags: ``run_key``, ``protocol``, ``algorithm``, ``seed``, ``status``;
* params: protocol, benchmark (+ version, dataset), metrics, budget, counting, noise, seed,
  code version, and every hyperparameter as ``hp.<name>``;
* metrics: ``incumbent_search`` and ``incumbent_report`` at every counted query (the query
  number is the MLflow step), ``final_*``, ``wall_time``, ``training_queries``, sent with
  ``log_batch`` in chunks of 1,000 (one call per step would be ~70x slower);
* artifacts: ``trajectory.csv`` (the whole trajectory) and ``record.json`` (the raw record).

Default store: ``sqlite:///results/mlflow.db`` (no server); ``--tracking-uri`` or
``MLFLOW_TRACKING_URI`` selects another (e.g. a shared ``mlflow server``).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from typing import Iterable

from harness.record import RunRecord

BATCH = 1000


def resolve_uri(uri: str | None = None) -> str:
    from harness.paths import default_tracking_uri

    return uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()


def _client(uri: str):
    import logging

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def experiment_name(protocol: str) -> str:
    return f"nas-harness/{protocol}"


def _experiment_id(client, name: str, uri: str) -> str:
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    artifact_location = None
    if uri.startswith("sqlite:///"):
        from pathlib import Path

        db = Path(uri[len("sqlite:///"):])
        artifact_location = (db.parent / "mlartifacts" / name.replace("/", "_")).absolute().as_uri()
    try:
        return client.create_experiment(name, artifact_location=artifact_location)
    except Exception:  # created concurrently
        return client.get_experiment_by_name(name).experiment_id


def _params(rec: RunRecord) -> dict[str, str]:
    m = rec.meta
    keys = ("protocol", "protocol_id", "algorithm", "algorithm_class", "benchmark", "benchmark_version", "dataset",
            "space", "search_metric", "report_metric", "budget", "counting", "noise", "seed", "code_version")
    out = {k: str(m.get(k)) for k in keys}
    for k, v in (m.get("hyperparameters") or {}).items():
        out[f"hp.{k}"] = json.dumps(v) if not isinstance(v, str) else v
    return {k: v[:6000] for k, v in out.items()}


def log_record(rec: RunRecord, uri: str | None = None, client=None) -> str:
    """Log one record as one MLflow run; returns the MLflow run id."""
    from mlflow.entities import Metric, Param, RunTag

    uri = resolve_uri(uri)
    client = client or _client(uri)
    exp_id = _experiment_id(client, experiment_name(rec.meta["protocol"]), uri)
    m = rec.meta
    run_name = f"{m['algorithm']}-s{m['seed']}"
    tags = {"run_key": rec.run_key, "protocol": m["protocol"], "algorithm": m["algorithm"],
            "seed": str(m["seed"]), "status": m.get("status", "finished")}
    run = client.create_run(exp_id, run_name=run_name, tags=tags)
    rid = run.info.run_id
    client.log_batch(rid, params=[Param(k, v) for k, v in _params(rec).items()])
    ts = int(time.time() * 1000)
    metrics = []
    t = rec.trajectory
    for step, (s, r) in enumerate(zip(t.get("incumbent_search", []), t.get("incumbent_report", [])), start=1):
        metrics.append(Metric("incumbent_search", float(s), ts, step))
        metrics.append(Metric("incumbent_report", float(r), ts, step))
    summary = {"wall_time": m.get("wall_time", 0.0), "training_queries": m.get("training_queries", 0),
               "queries": rec.n_queries}
    if rec.n_queries:
        summary["final_incumbent_search"] = float(t["incumbent_search"][-1])
        summary["final_incumbent_report"] = float(t["incumbent_report"][-1])
    metrics.extend(Metric(k, float(v), ts, 0) for k, v in summary.items())
    for i in range(0, len(metrics), BATCH):
        client.log_batch(rid, metrics=metrics[i : i + BATCH])
    with tempfile.TemporaryDirectory() as d:
        rec.trajectory_frame().to_csv(os.path.join(d, "trajectory.csv"), index=False)
        rec.write(os.path.join(d, "record.json"))
        client.log_artifacts(rid, d)
        if m.get("error"):
            client.set_tag(rid, "error", m["error"][-5000:])
    client.set_terminated(rid, status="FINISHED" if m.get("status", "finished") == "finished" else "FAILED")
    return rid


def log_records(records: Iterable[RunRecord], uri: str | None = None) -> list[str]:
    uri = resolve_uri(uri)
    client = _client(uri)
    return [log_record(r, uri, client) for r in records]


def logged_run_keys(protocol: str, uri: str | None = None, client=None) -> set[str]:
    """Run keys of the FINISHED runs already logged for a protocol (for idempotent logging)."""
    uri = resolve_uri(uri)
    client = client or _client(uri)
    exp = client.get_experiment_by_name(experiment_name(protocol))
    if exp is None:
        return set()
    keys, token = set(), None
    while True:
        page = client.search_runs([exp.experiment_id], filter_string="attributes.status = 'FINISHED'",
                                  max_results=5000, page_token=token)
        keys.update(r.data.tags.get("run_key", "") for r in page)
        token = page.token
        if not token:
            return keys


def search_runs(protocol: str | None = None, uri: str | None = None):
    """Runs of a protocol (or all nas-harness experiments) as a pandas DataFrame."""
    import mlflow

    uri = resolve_uri(uri)
    mlflow.set_tracking_uri(uri)
    client = _client(uri)
    if protocol:
        exp = client.get_experiment_by_name(experiment_name(protocol))
        names = [exp.name] if exp else []
    else:
        names = [e.name for e in client.search_experiments() if e.name.startswith("nas-harness/")]
    if not names:
        import pandas as pd

        return pd.DataFrame()
    return mlflow.search_runs(experiment_names=names, max_results=100_000)


def load_record(run_id: str, uri: str | None = None) -> RunRecord:
    """The raw record stored as an artifact of an MLflow run."""
    import mlflow.artifacts

    uri = resolve_uri(uri)
    with tempfile.TemporaryDirectory() as d:
        path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="record.json", dst_path=d, tracking_uri=uri)
        return RunRecord.read(path)


def log_artifacts(paths, protocol: str, uri: str | None = None, run_name: str = "report",
                  artifact_path: str | None = None, tags: dict | None = None) -> str:
    """Log files (e.g. a report's plots) as artifacts of a new MLflow run in the protocol's
    experiment, tagged ``kind=<run_name>``; returns the run id."""
    uri = resolve_uri(uri)
    client = _client(uri)
    exp_id = _experiment_id(client, experiment_name(protocol), uri)
    run = client.create_run(exp_id, run_name=run_name, tags={"kind": run_name, "protocol": protocol, **(tags or {})})
    rid = run.info.run_id
    for p in paths:
        client.log_artifact(rid, str(p), artifact_path=artifact_path)
    client.set_terminated(rid, status="FINISHED")
    return rid
