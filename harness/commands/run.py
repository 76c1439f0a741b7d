"""``nas-harness run``: run algorithms x seeds on a benchmark, keep raw records, log to MLflow.

With no options it runs the small default job: random search on NB201 CIFAR-10 (the embedded
numbers when no official data is prepared: search = validation accuracy, report = mean
validation accuracy, or test accuracy with ``--data`` a per-cell test table), 3 seeds, 300
queries each. Before running it prints which metric is searched and which reported. ``--protocol NAME|PATH`` runs a shipped protocol (``nas-harness list
protocols``) or the user's own TOML file; ``--algorithm``, ``--seeds``, ``--budget`` and
``--data`` then override it (a different budget makes a derived protocol ``<name>-budget<Q>``,
stored and reported apart). Without ``--protocol`` the options make an ad-hoc protocol whose id
carries a hash of its settings (``adhoc-<benchmark>-<hash>-v1``). Runs whose identity (run key,
:mod:`harness.identity`) already has a finished record are reused (``--rerun`` makes them
anew). Raw records are written under ``results/runs/<protocol id>/`` before anything is
logged, so a tracking failure never loses a finished run; an unreachable store is found before
the first run, and the command to log the runs later is printed.
"""

from __future__ import annotations

import sys

import numpy as np
from tabulate import tabulate

from harness.errors import ConfigError
from harness.protocol import SEEDS_HELP, seeds_arg

# The default job (no --benchmark): held out as the nb201-* protocols are, searching on validation
# and reporting test accuracy when the data has it, else the mean validation accuracy.
DEFAULT_METRICS = {"search_metric": "valid_accuracy", "report_metric": "test_accuracy", "report_fallback": "valid_accuracy"}
DEFAULTS = {"benchmark": "nb201", "dataset": "cifar10", "algorithm": ["random"], "seeds": 3, "budget": 300}


# Where --save-agent without a path keeps the agents ({protocol} and {algorithm} are filled in here,
# {results} and {seed} when each run starts: harness.agents.resolve_path)
DEFAULT_SAVE_AGENT = "{results}/agents/{protocol}/{algorithm}-s{seed}.pt"


def _positive(kind):
    """argparse type: a positive integer, with a message that says so."""
    import argparse

    def parse(text):
        try:
            v = int(text)
        except ValueError:
            v = 0
        if v <= 0:
            raise argparse.ArgumentTypeError(f"{kind} must be a positive integer, got {text!r}")
        return v

    return parse


def register(sub) -> None:
    p = sub.add_parser("run", help="run algorithms x seeds on a benchmark and log them to MLflow")
    p.add_argument("--protocol", metavar="NAME|PATH",
                   help="a shipped protocol (see `nas-harness list protocols`) or your own protocol .toml file")
    p.add_argument("--benchmark", help=f"benchmark name (default {DEFAULTS['benchmark']} {DEFAULTS['dataset']}; see `nas-harness list benchmarks`)")
    p.add_argument("--dataset", help="dataset of a multi-dataset benchmark (e.g. cifar100, cora)")
    p.add_argument("--algorithm", nargs="+", metavar="NAME",
                   help="algorithm name(s) or module:Class (default random), each optionally with settings as the "
                        "leaderboards label rows: 'bonas(sampler=rl)', 'lanas(init_samples=2000, count_reset=zero)' "
                        "(quote them for the shell)")
    p.add_argument("--seeds", type=seeds_arg, metavar="SEEDS", help=f"{SEEDS_HELP} (default 3: 0..2)")
    p.add_argument("--budget", type=_positive("budget"), metavar="Q", help="counted queries per run (default 300)")
    p.add_argument("--data", metavar="PATH", help="benchmark data file: the official file for benchmarks that need one, or for nb201 a per-cell "
                   "test table (e.g. nats_tss_200ep_test_accuracy.csv) whose test accuracy joins the embedded numbers, "
                   "for nb101 a CSV/JSON table keyed by official hash (docs/data.md)")
    p.add_argument("--search-metric", help="metric the algorithm optimizes (default: the benchmark's)")
    p.add_argument("--report-metric", help="metric reported, never shown to the algorithm")
    p.add_argument("--counting", choices=("unique", "all"), help="what a repeated query costs (default unique)")
    p.add_argument("--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI or sqlite under results/)")
    p.add_argument("--workers", type=_positive("number of workers"), default=None,
                   help="parallel worker processes (default: number of cores)")
    p.add_argument("--executor", choices=("local", "ray"), default="local", help="local process pool or Ray (default local)")
    p.add_argument("--address", help="Ray cluster address for --executor ray (default: start Ray on this machine)")
    p.add_argument("--agent", metavar="PATH",
                   help="a trained agent file (apex, l2nas*; see docs/apex.md): search with it instead of training one; "
                        "{seed} in PATH is the run's seed (seed s loads the agent trained by seed s: one agent per "
                        "seed), {results} the results folder")
    p.add_argument("--save-agent", metavar="PATH", nargs="?", const=DEFAULT_SAVE_AGENT,
                   help="keep each run's trained agent (apex, l2nas*) in PATH ({seed}, {results} as for --agent; "
                        f"default {DEFAULT_SAVE_AGENT}); logged to MLflow as the run's artifact agent/")
    p.add_argument("--rerun", action="store_true",
                   help="run every job anew even if a finished record of the same run key exists")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=main)


PROTOCOL_FIXED = ("benchmark", "dataset", "search_metric", "report_metric", "counting")


def build_protocol(args):
    from dataclasses import replace

    from harness.protocol import Protocol, load_protocol

    if getattr(args, "protocol", None):
        fixed = [o for o in PROTOCOL_FIXED if getattr(args, o, None)]
        if fixed:
            opts = ", ".join("--" + o.replace("_", "-") for o in fixed)
            raise ConfigError(f"{opts} cannot be combined with --protocol (the protocol fixes them); "
                              "copy the protocol file, change it and pass its path")
        p = load_protocol(args.protocol)
        if args.budget:
            p = p.with_budget(args.budget)
        if args.seeds:
            p = replace(p, seeds=tuple(args.seeds))
        if args.data:
            p = replace(p, data=args.data)
        return p
    kw = {} if args.benchmark else dict(DEFAULT_METRICS)
    if getattr(args, "report_metric", None):
        kw.pop("report_fallback", None)  # the user's report metric, no fallback
    for opt in ("search_metric", "report_metric", "counting"):
        if getattr(args, opt, None):
            kw[opt] = getattr(args, opt)
    return Protocol.adhoc(
        args.benchmark or DEFAULTS["benchmark"],
        args.budget or DEFAULTS["budget"],
        args.seeds or DEFAULTS["seeds"],
        dataset=args.dataset or (None if args.benchmark else DEFAULTS["dataset"]),
        data=args.data,
        **kw,
    )


def specs_of(algorithms) -> list[tuple[str, dict]]:
    """``(name, hyperparameters)`` per algorithm: a text is read by
    :func:`algorithms.registry.parse_spec` (``bonas(sampler=rl)``), a pair is kept as it is
    (:func:`check_distinct` refuses one setting named twice)."""
    from algorithms.registry import parse_spec

    return [parse_spec(a) if isinstance(a, str) else (a[0], dict(a[1])) for a in algorithms]


def check_distinct(protocol, specs, texts=None) -> None:
    """A one-line :class:`ConfigError` where two of ``specs`` resolve to the same setting on
    ``protocol`` (same algorithm, same hyperparameters once its defaults and the protocol's
    overrides are applied)."""
    import json

    from algorithms.registry import algorithm_name, make_algorithm, spec_text

    seen: dict[str, str] = {}
    for i, (name, hp) in enumerate(specs):
        resolved = make_algorithm(name, **{**protocol.overrides(name), **hp}).hyperparameters()
        key = algorithm_name(name) + json.dumps(resolved, sort_keys=True, default=str)
        text = texts[i] if texts else spec_text(name, hp)
        if key in seen:
            raise ConfigError(f"--algorithm {seen[key]!r} and {text!r} are the same setting of {name} on protocol "
                              f"{protocol.id}: name it once")
        seen[key] = text


def check(protocol, algorithms):
    """Fail fast, before any run, on bad names and values (one clear line each); returns the
    oracle that was built (its search and report metrics are the resolved ones). Under a
    simulated time budget, a warm-up over half the queries the budget affords is warned about
    in one line on stderr (:func:`time_warmup_line`)."""
    from algorithms.base import warmup_problem
    from algorithms.registry import make_algorithm
    from harness.runner import make_oracle

    # validates benchmark, data, metrics, budget, counting, noise (the rng only satisfies
    # noise="sample"; this oracle is never queried)
    oracle = make_oracle(protocol, np.random.default_rng(0))
    expected = oracle.expected_queries
    for name, hp in specs_of(algorithms):
        algo = make_algorithm(name, **{**protocol.overrides(name), **hp})  # types and values of the settings
        kind, detail = refusal(algo, protocol.budget, oracle.space, expected) or (None, None)
        if kind == "needs":
            raise ConfigError(f"algorithm {name} needs {', '.join(detail)}, which space {oracle.space.id} does not offer")
        if kind == "warmup":
            raise ConfigError(f"{warmup_problem(algo, name, protocol.budget, oracle.space)} (protocol {protocol.id})")
        if kind == "warmup-time":
            raise ConfigError(time_warmup_line(name, detail, protocol))
        if kind == "warn":
            print(f"note: {time_warmup_line(name, detail, protocol)}", file=sys.stderr)
    return oracle


def refusal(algo, budget: int, space, expected: float | None = None):
    """Why ``run`` refuses ``algo`` on ``space`` with ``budget``: ``("needs", missing
    capabilities)``, ``("warmup", its warm-up)`` when that exceeds the cap of the query budget,
    ``("warmup-time", (warm-up, expected))`` when a simulated time budget affords about
    ``expected`` queries (:attr:`Oracle.expected_queries`) and the warm-up fills them all (the
    run would be random sampling), or None. ``("warn", (warm-up, expected))`` is not a refusal:
    the warm-up exceeds the cap (algorithms.base.WARMUP_CAP) of the expected queries but not
    all of them; the run goes ahead with a note, and its board row is flagged. (Time budgets
    warn rather than refuse there because their query count is an estimate, and the NB201
    time protocols keep the published settings of the algorithms they reproduce: REA's
    population of 10 on ImageNet16-120, where 12,000 s afford about 18 queries.)"""
    from algorithms.base import missing_capabilities, warmup_cap, warmup_problem

    missing = missing_capabilities(type(algo).requires, space)
    if missing:
        return "needs", missing
    if warmup_problem(algo, "", budget, space):
        return "warmup", int(algo.warmup(budget, space))
    if expected is not None and expected < budget:
        w = int(algo.warmup(budget, space))
        if w >= expected:
            return "warmup-time", (w, expected)
        if w > warmup_cap(int(expected)):
            return "warn", (w, expected)
    return None


def time_warmup_line(name: str, detail, protocol) -> str:
    """One line: ``name``'s warm-up against the queries ``protocol``'s time budget affords."""
    w, expected = detail
    verdict = ("fills all of them: it would only sample at random; lower its warm-up in the protocol's "
               f"[algorithms.{name}] table or raise time_budget" if w >= expected else
               "more than half: most of its queries are random samples (its board row is flagged)")
    return (f"algorithm {name} spends {w:,} initial random samples (its warm-up), and the simulated time budget "
            f"of {protocol.time_budget:,g} s affords about {expected:,.0f} queries (protocol {protocol.id}): {verdict}")


def agent_hyperparameters(args, protocol, algorithms, space) -> dict[str, dict]:
    """Per algorithm, the ``agent`` / ``save_agent`` hyperparameters that ``--agent`` and
    ``--save-agent`` give (only algorithms that have them); checks every seed's agent file
    (exists, is an agent of that algorithm family, made on this space) before any run."""
    import dataclasses

    from algorithms.registry import get_algorithm_class
    from harness import agents

    agent, save = getattr(args, "agent", None), getattr(args, "save_agent", None)
    if not agent and not save:
        return {}
    out: dict[str, dict] = {}
    for name in algorithms:
        cls = get_algorithm_class(name)
        fields = {f.name for f in dataclasses.fields(cls.Config)} if cls.Config else set()
        hp = {}
        if agent and "agent" in fields:
            hp["agent"] = agent
        if save and "save_agent" in fields:
            hp["save_agent"] = save.replace("{protocol}", protocol.id).replace("{algorithm}", name.replace(":", "."))
        if hp:
            out[name] = hp
    opt = "--agent" if agent else "--save-agent"
    if not out:
        raise ConfigError(f"{opt}: none of the algorithms {', '.join(algorithms)} has a trained agent "
                          "(algorithms with one: apex, l2nas, l2nas-tuned, l2nas-darts)")
    for name, hp in out.items():
        if "{seed}" not in hp.get("save_agent", "{seed}") and len(protocol.seeds) > 1:
            raise ConfigError(f"--save-agent {hp['save_agent']}: {len(protocol.seeds)} seeds would write one file; "
                              "put {seed} in the path (one agent per seed)")
        if "agent" in hp:
            family = getattr(get_algorithm_class(name), "agent_family", name)
            for seed in protocol.seeds:
                agents.load(agents.resolve_path(hp["agent"], seed), family, space.id)
    return out


def note_shared_agents(protocol, algorithms, agent_hp) -> None:
    """A note (stderr) when several seeds of a learned policy would share one agent: one
    training ``checkpoint`` file, or one ``agent`` file, for every seed. Their spread is then
    evaluation variance only; each seed should be one trained agent (``{seed}`` in the path)."""
    from algorithms.registry import make_algorithm

    if len(protocol.seeds) < 2:
        return
    for name, given in specs_of(algorithms):
        hp = make_algorithm(name, **{**protocol.overrides(name), **given, **agent_hp.get(name, {})}).hyperparameters()
        for k in ("checkpoint", "agent"):
            v = hp.get(k)
            if isinstance(v, str) and v and (k == "checkpoint" or "{seed}" not in v):  # checkpoint: no {seed}
                print(f"nas-harness: note: {name}: the {len(protocol.seeds)} seeds share one {k} file ({v}), i.e. "
                      "one trained agent: their spread is evaluation variance only, not training variance",
                      file=sys.stderr)


def metrics_line(protocol, oracle) -> str:
    """One line: what the algorithm searches on and what is reported (after any fallback)."""
    bench = oracle.benchmark
    line = (f"{protocol.id} on {bench.name} ({bench.version}): searched metric {oracle.search_metric} "
            f"(noise {protocol.noise}), reported metric {oracle.report_metric}")
    if protocol.report_metric and oracle.report_metric != protocol.report_metric:
        line += f" (mean over seeds; the data has no {protocol.report_metric}: report_fallback)"
    elif oracle.report_metric == oracle.search_metric:
        line += " (the same metric: not a held-out evaluation)"
    return line


def main(args) -> int:
    import os

    from harness import tracking
    from harness.paths import runs_dir
    from harness.runner import Job
    from harness.paths import check_results_writable
    from harness.sweep import run_sweep

    from harness.protocol import save_stored
    from harness.sweep import check_store

    check_results_writable()  # before computing anything
    uri = tracking.check_uri(tracking.resolve_uri(args.tracking_uri))  # a malformed URI: exit 2 before any run
    protocol = build_protocol(args)
    texts = args.algorithm or DEFAULTS["algorithm"]
    specs = specs_of(texts)
    oracle = check(protocol, specs)
    check_distinct(protocol, specs, texts)
    print(metrics_line(protocol, oracle), flush=True)
    names = list(dict.fromkeys(n for n, _ in specs))
    agent_hp = agent_hyperparameters(args, protocol, names, oracle.space)
    several = sorted({n for n, _ in specs if n in agent_hp and sum(m == n for m, _ in specs) > 1})
    if several and getattr(args, "save_agent", None):
        raise ConfigError(f"--save-agent with several settings of {', '.join(several)}: their agents would share "
                          "one file per seed; run one setting per command")
    note_shared_agents(protocol, specs, agent_hp)
    jobs = [Job(protocol, a, s, {**hp, **agent_hp.get(a, {})}) for a, hp in specs for s in protocol.seeds]
    why = check_store(uri)
    sync_cmd = f"nas-harness sync --tracking-uri {uri}"
    if why:
        print(f"nas-harness: warning: the MLflow store {uri} cannot be reached ({why}); running on raw records "
              f"only: log them later with `{sync_cmd}`", file=sys.stderr)
    workers = args.workers or os.cpu_count() or 1
    from tqdm import tqdm

    tqdm.monitor_interval = 0  # no monitor thread: the pool may fork (harness.runner.start_method)

    bar = tqdm(total=len(jobs), desc="runs", unit="run", disable=args.no_progress or not sys.stderr.isatty(), file=sys.stderr)

    def progress(i, total):
        bar.total = total
        bar.n = i
        bar.refresh()

    save_stored(protocol)
    res = run_sweep(jobs, workers=workers, executor=args.executor, address=args.address, tracking_uri=uri,
                    progress=progress, log=not why, rerun=args.rerun)
    bar.close()
    out_dir = runs_dir(protocol.id)
    remember_last(protocol)
    if res.log_error and not why:
        print(f"nas-harness: warning: could not log to MLflow at {uri} ({res.log_error}); raw records are "
              f"kept in {out_dir}: run `{sync_cmd}` when the store is reachable", file=sys.stderr)
    if res.records:
        print(summary_table(res.records))
    others = f" ({res.from_others} made by another nas-harness process)" if res.from_others else ""
    adopted = f", {res.adopted} finished run(s) of an interrupted sweep kept" if res.adopted else ""
    print(f"\n{res.ran} runs done, {res.skipped} reused (same run key already finished){others}{adopted}, "
          f"{res.failed} failed; raw records in {out_dir}; "
          + (f"MLflow store {uri}" if not why else f"not logged: run `{sync_cmd}`"))
    if getattr(args, "protocol", None):
        extra = f" --budget {protocol.budget}" if protocol.name.endswith(f"-budget{protocol.budget}") else ""
        data = f" --data {args.data}" if getattr(args, "data", None) else ""
        print(f"statistics and plots: nas-harness report --protocol {args.protocol}{extra}{data}")
    else:
        data = f" --data {args.data}" if getattr(args, "data", None) else ""
        print(f"statistics and plots: nas-harness report --protocol {protocol.id}{data}")
    if res.interrupted:
        print("nas-harness: interrupted; finished runs are kept, run the same command to resume", file=sys.stderr)
        return 130
    return 0 if res.failed == 0 else 1


def remember_last(protocol) -> None:
    """Note the protocol of the last ``run`` (``results/last_run.json``): ``report`` and
    ``leaderboard`` without ``--protocol`` use it."""
    import json
    import os

    from harness.paths import results_dir

    path = results_dir() / "last_run.json"
    tmp = path.with_name(f"last_run.json.tmp{os.getpid()}")
    tmp.write_text(json.dumps({"protocol_id": protocol.id, "protocol": protocol.name}))
    os.replace(tmp, path)


def last_protocol_id() -> str | None:
    """The protocol id of the last ``run`` in this results folder, or None."""
    import json

    from harness.paths import results_dir

    try:
        return json.loads((results_dir() / "last_run.json").read_text())["protocol_id"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def summary_table(records) -> str:
    """Per algorithm: runs, best search/report value (mean ± std over seeds), queries to best."""
    rows = []
    by_algo: dict[str, list] = {}
    for r in records:
        by_algo.setdefault(r.meta.get("variant") or r.meta["algorithm"], []).append(r)
    for algo, recs in by_algo.items():
        ok = [r for r in recs if r.n_queries]
        fs = np.array([r.trajectory["incumbent_search"][-1] for r in ok])
        fr = np.array([r.trajectory["incumbent_report"][-1] for r in ok])
        # first query at which the final incumbent was found
        qb = np.array([int(np.argmax(r.trajectory["incumbent_search"] == r.trajectory["incumbent_search"][-1])) + 1 for r in ok])
        failed = sum(r.meta["status"] != "finished" for r in recs)
        m = recs[0].meta
        rows.append([
            algo, len(recs), failed,
            f"{fs.mean():.3f} ± {fs.std():.3f}" if len(ok) else "-",
            f"{fr.mean():.3f} ± {fr.std():.3f}" if len(ok) else "-",
            f"{np.median(qb):.0f}" if len(ok) else "-",
            f"{m.get('optimum_report', float('nan')):.3f}",
        ])
    m = records[0].meta if records else {}
    headers = ["algorithm", "runs", "failed", f"best {m.get('search_metric', 'search')}",
               f"its {m.get('report_metric', 'report')}", "median queries to best", "optimum (report)"]
    return tabulate(rows, headers=headers)
