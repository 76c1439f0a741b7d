"""``nas-harness bench apex``: Ape-X speed and equal learning across executors, in one run.

Printed (benchmark default ``nb201-analog``; the machine's load average first):

1. **ceiling**: the same actor work (an Ape-X actor stepping 8 environments with the quick
   network, timed after 8,000 steps of warm-up that fill its caches) done by one bare process,
   then split between two bare processes started side by side (no learner, no queues): no executor can beat that speed-up on this machine now
   (as ``bench sweep`` does for sweeps). Three repeats, the two probes of each side by side in
   time (order reversed every other repeat); the figure is the median of the paired ratios, and
   a ratio above the core count is flagged (the machine's speed changed within a repeat);
2. **executors**: for ``inline`` / ``process`` / ``ray`` and 1, 2, 4 actors, one training of the
   quick preset (replay ratio 1/16, ``--train-steps`` environment steps, the same for every
   row) then a greedy evaluation from ``--starts`` fixed start states: steady-state environment
   steps/s and learner updates/s (between the first and the last log entry), the achieved
   replay ratio, the median episode improvement with its 95% bootstrap CI, and the speed-up
   of 2 and 4 actors over 1 per executor. ``--train-seeds`` (e.g. ``1000-1002``) trains one
   agent per seed for every row: the median is over all (agent, start) episodes pooled and its
   CI a two-stage bootstrap (agents with replacement, then starts within each agent:
   :func:`harness.metrics.grouped_bootstrap_ci`), so it holds the spread between trained
   agents; each agent's own median is printed beside it, and the last column says whether the
   row's median lies inside the inline row's CI for the same actors (the quality-parity check). With the ratio held, the experience rate is bounded
   by the learner (env steps/s = updates/s / ratio once the learner is the slower side), so a
   second table repeats process and ray at each ``--speed-ratio`` (1/512 and 1/4096) where the
   actors are the bound: env steps/s and the speed-up over one actor (target: 2 actor processes
   >= 1.6x one), ``--speed-steps`` (40,000) environment steps each, logged at every learner
   update so that the rate is taken between the first and the last update (steady state).
   Each row runs ``--speed-repeats`` (3) times, the actor counts side by side in time, and the
   speed-up is the median of the paired ratios (:func:`speed_table_rows`); ``--speed-credits``
   (default 0: the config's automatic number, 8 at both ratios) repeats the table for each
   ``actor_credits``. The table also gives
   the learner process's CPU share and the bound it leaves: on 2 cores a learner that takes
   0.3 of a core beside one actor caps 2 actors at 2 / 1.3 = 1.54x one, whatever the executor
   does, and the second ratio shows the actors' scaling with the learner's share small. With too few log
   entries a rate falls back to steps / wall time, which counts starting the actor processes
   (torch imported in each): at 8,000 steps that start-up was most of the wall time, and the
   table showed 2 actors slower than 1 (0.88x) where the steady state was 1.5-1.7x;
3. **learner**: the paper's network (T = 256, 2 transformer layers, batch 64) on CPU, one torch
   thread: updates/s (prioritized sample, double-Q targets, update, priorities) against a bare
   forward + backward of the same network on the same batch, measured in the same run, and
   against bare forward + backward + the two no-grad forwards that double-Q targets need.
   ``--only learner`` prints this table alone (the issue-20 figure; seconds, not minutes).

``--environments`` adds the older figures: objective-only values/s (cf. Ape-X NAS Fig. 16) and
environment steps/s of the gymnasium and batched environments.
"""

from __future__ import annotations

import os
import time

import numpy as np

from harness.protocol import SEEDS_HELP, seeds_arg

QUICK = {"latent": 64, "transformer_layers": 1, "heads": 4, "batch_size": 32, "lr": 2.5e-4,
         "replay_ratio": 1 / 16, "envs_per_actor": 8, "learning_starts": 1000, "log_every": 50, "actor_chunk": 4}
PAPER = {"latent": 256, "transformer_layers": 2, "heads": 4, "batch_size": 64}


def add_arguments(p) -> None:
    p.add_argument("--benchmark", default="nb201-analog", help="benchmark name (default nb201-analog)")
    p.add_argument("--data", help="official data file for benchmarks that need one")
    p.add_argument("--seconds", type=float, default=3.0, help="seconds per learner / environment measurement (default 3)")
    p.add_argument("--train-steps", type=int, default=8000, help="environment steps of each executor run (default 8,000)")
    p.add_argument("--starts", type=int, default=300, help="evaluation start states per run (default 300)")
    p.add_argument("--actors", default="1,2,4", help="actor counts (default 1,2,4)")
    p.add_argument("--executors", default="inline,process,ray", help="executors (default inline,process,ray)")
    p.add_argument("--train-seeds", type=seeds_arg, default=(0,), metavar="SEEDS",
                   help="training seeds: one agent each per executor row, evaluation pooled over them "
                        "(e.g. 1000-1002; default 0). " + SEEDS_HELP)
    p.add_argument("--address", help="Ray cluster for the ray rows (default RAY_ADDRESS, else a local runtime)")
    p.add_argument("--speed-ratio", type=_ratios, default=(1 / 512, 1 / 4096), metavar="RATIOS",
                   help="replay ratio(s) of the actor-speed table, comma-separated, each a number or a fraction "
                        "(default 1/512,1/4096: the learner does not bound the actors at either, and at the second "
                        "its share of the cores is small; 0 skips the table)")
    p.add_argument("--speed-repeats", type=int, default=3,
                   help="repeats of each actor-speed row (default 3); the speed-up is the median of the repeats' "
                        "paired ratios, each taken between runs side by side in time")
    p.add_argument("--speed-credits", default="0", metavar="LIST",
                   help="actor_credits of the actor-speed rows, comma-separated (default 0: automatic, the config's "
                        "default, 8 at both default ratios; the table shows the number used): messages an actor may "
                        "have in flight; at a small replay ratio more credits add little policy lag (credits x "
                        "message steps x ratio updates) and absorb the actors' jitter")
    p.add_argument("--speed-steps", type=int, default=40_000,
                   help="environment steps of each actor-speed run (default 40,000; its rate is measured between the "
                        "first and the last learner update, so process start-up is left out)")
    p.add_argument("--environments", action="store_true", help="also the objective-only and environment figures")
    p.add_argument("--only", choices=("learner",),
                   help="print only this table: 'learner' skips the ceiling, the executor runs and the environments")
    p.add_argument("--device", action="append", default=[], metavar="DEV",
                   help="learner device(s) to measure, e.g. --device cpu --device cuda (default: cpu)")


def _ratios(text: str) -> tuple[float, ...]:
    """argparse ``type=`` for ``--speed-ratio``: comma-separated numbers or fractions (``1/512``)."""
    import argparse
    from fractions import Fraction

    try:
        out = tuple(float(Fraction(t.strip())) for t in text.split(",") if t.strip())
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"give replay ratios as numbers or fractions, comma-separated "
                                         f"(e.g. 1/512,1/4096; 0 skips the table), got {text!r}") from None
    if not out or any(r < 0 for r in out):
        raise argparse.ArgumentTypeError(f"replay ratios must be >= 0 (0 skips the table), got {text!r}")
    return out


def _timed(fn, seconds: float) -> tuple[int, float]:
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        n += fn()
    return n, time.perf_counter() - t0


def _random_valid(mask: np.ndarray, rng) -> np.ndarray:
    return np.array([rng.choice(np.flatnonzero(m[1:])) + 1 if m[1:].any() else 0 for m in mask])


def bench_objective(values, space, seconds, rng) -> dict[int, float]:
    pool = [space.sample(rng) for _ in range(4096)]
    out = {}
    for b in (1, 32, 1024):
        def one(b=b):
            i = int(rng.integers(0, len(pool) - b + 1))
            values.query_batch(pool[i : i + b])
            return b
        n, dt = _timed(one, seconds)
        out[b] = n / dt
    return out


def bench_envs(values, space, seconds, rng) -> dict[str, float]:
    from algorithms.apex.encoding import ArchTable, Encoder
    from algorithms.apex.env import IncrementalNAS, IncrementalNASEnv, make_vector_env

    table = ArchTable(space, Encoder(space))
    out = {}
    env = IncrementalNASEnv(space, values, max_steps=16, table=table)
    state = {"obs": env.reset(seed=0)[0]}

    def single():
        obs, _, term, trunc, _ = env.step(int(_random_valid(state["obs"]["action_mask"][None], rng)[0]))
        state["obs"] = env.reset()[0] if term or trunc else obs
        return 1

    _timed(single, seconds / 2)  # warm-up: fill the neighbour and encoding caches
    n, dt = _timed(single, seconds)
    out["gymnasium Env (1)"] = n / dt
    for k in (8, 32):
        venv = make_vector_env(k, space, values, max_steps=16, table=table)
        vs = {"obs": venv.reset(seed=0)[0]}

        def vec(k=k, venv=venv, vs=vs):
            vs["obs"] = venv.step(_random_valid(vs["obs"]["action_mask"], rng))[0]
            return k

        _timed(vec, seconds / 4)
        n, dt = _timed(vec, seconds)
        out[f"gymnasium SyncVectorEnv ({k})"] = n / dt
        venv.close()
    for k in (1, 8, 32):
        core = IncrementalNAS(space, values, n_envs=k, max_steps=16, table=table, rng=rng)
        core.reset()

        def step(k=k, core=core):
            _, term, trunc, _ = core.step(_random_valid(core.mask, rng))
            core.reset(np.flatnonzero(term | trunc))
            core.observation()
            return k

        _timed(step, seconds / 4)
        n, dt = _timed(step, seconds)
        out[f"batched core IncrementalNAS ({k})"] = n / dt
    return out


def _learner_with_data(space, values, preset: dict, rng, device: str = "cpu"):
    from algorithms.apex.config import ApeXConfig
    from algorithms.apex.encoding import ArchTable, Encoder
    from algorithms.apex.train import Actor, Learner

    cfg = ApeXConfig(**{k: v for k, v in preset.items() if k in ("latent", "transformer_layers", "heads", "batch_size")},
                     envs_per_actor=16, device=device)
    table = ArchTable(space, Encoder(space))
    learner = Learner(cfg, space, table, rng)
    actor = Actor(cfg, space, values, 0, 1, np.random.default_rng(1), table)
    actor.set_weights(learner.weights())
    while len(learner.replay) < 1000:
        learner.add(actor.collect(4))
    return learner


def bench_learner_vs_bare(space, values, preset: dict, seconds: float, rng, device: str = "cpu") -> dict[str, float]:
    """Learner updates/s against a bare forward+backward of its network on one of its batches."""
    import torch

    learner = _learner_with_data(space, values, preset, rng, device)
    b = learner.replay.sample(learner.cfg.batch_size, rng)
    x, m = learner._tensors(b.obs)
    xn, mn = learner._tensors(b.next_obs)
    a = torch.from_numpy(b.action).to(learner.device)[:, None]

    def bare():
        learner.opt.zero_grad()
        learner.net(x, m).gather(1, a).square().mean().backward()
        return 1

    def bare_targets():
        with torch.no_grad():
            learner.net(xn, mn), learner.target(xn, mn)
        return bare()

    def update():
        learner.update()
        return 1

    for f in (bare, bare_targets, update):
        f()
    out = {"update": [], "bare": [], "bare_targets": []}
    for _ in range(3):  # interleaved, the fastest of each (the least disturbed by other tenants)
        for k, f in (("update", update), ("bare", bare), ("bare_targets", bare_targets)):
            n, dt = _timed(f, seconds / 3)
            out[k].append(n / dt)
    return {k: max(v) for k, v in out.items()}


_CEILING_CHILD = """
import sys, time, numpy as np, torch
torch.set_num_threads(1)
from harness.benchmarks import get_benchmark
from harness.oracle import Oracle
from algorithms.apex.config import ApeXConfig
from algorithms.apex.train import Actor
bench = get_benchmark(sys.argv[1])
cfg = ApeXConfig(latent=64, transformer_layers=1, heads=4, envs_per_actor=8)
actor = Actor(cfg, bench.space, Oracle(bench, budget=1).training(), 0, 1, np.random.default_rng(int(sys.argv[3])))
actor.collect(int(sys.argv[4]))  # warm-up: the caches of neighbours and encodings, as in a long run
t = time.perf_counter()
actor.collect(int(sys.argv[2]))
print(time.perf_counter() - t)
"""


def bench_ceiling(benchmark: str, rounds: int = 600, repeat: int = 3, warmup: int = 1000) -> dict:
    """Actor env steps/s of one bare process and of two side by side (module docstring, 1), each
    timed over ``rounds`` rounds after ``warmup`` rounds that fill the caches of neighbours and
    encodings as a training run's steady state has them (with 20 rounds of warm-up the probe
    ran at 3,300-4,700 env steps/s where the process executor's single actor reached
    4,400-6,700, so the ceiling's one-process figure was not the steady state)."""
    import subprocess
    import sys

    from harness.runner import single_threaded_children

    def run(procs: int) -> float:
        with single_threaded_children():
            ps = [subprocess.Popen([sys.executable, "-c", _CEILING_CHILD, benchmark, str(rounds), str(i),
                                    str(warmup)],
                                   stdout=subprocess.PIPE, text=True) for i in range(procs)]
        outs = [p.communicate()[0] for p in ps]
        if any(p.returncode for p in ps):
            raise RuntimeError("a ceiling probe process failed")
        return sum(rounds * 8 / float(o.strip().splitlines()[-1]) for o in outs)

    one, two = [], []
    for r in range(repeat):  # side by side in time, the order reversed every other repeat
        for procs in ((1, 2) if r % 2 == 0 else (2, 1)):
            (one if procs == 1 else two).append(run(procs))
    pairs = np.array(two) / np.array(one)
    return {"one": float(np.median(one)), "two": float(np.median(two)), "ceiling": float(np.median(pairs)),
            "pairs": pairs}


def ceiling_line(c: dict, cores: int) -> str:
    """The printed ceiling: the median paired ratio and its range; a ratio above the core count
    cannot be a speed-up of the same work (the machine's speed changed between the two probes
    of a repeat, as seen here: 2.51x on 2 cores from the best of each), and is said to be so."""
    pairs = c["pairs"]
    line = (f"ceiling: bare actor processes (quick network, 8 envs): 1 process {c['one']:,.0f} env steps/s, "
            f"2 side by side {c['two']:,.0f}: {c['ceiling']:.2f}x [{pairs.min():.2f}, {pairs.max():.2f}] over "
            f"{len(pairs)} paired repeats is the most any executor can gain here now")
    if c["ceiling"] > cores:
        line += (f" (above the {cores} cores: the machine's speed changed between the probes; "
                 f"read the executors' speed-ups against {cores:.2f}x)")
    return line


def _evaluate(net, table, space, oracle, starts, rng, batch: int = 256) -> None:
    """One greedy episode (N = 50, at most 32 moves) of the trained policy from each start,
    charged to ``oracle`` (the algorithm's own evaluation functions)."""
    from algorithms.apex.evaluate import charge_episodes, rollout
    from harness.errors import BudgetExhausted

    try:
        for i in range(0, len(starts), batch):
            charge_episodes(oracle, rollout(net, table, space, starts[i : i + batch], 50, 32, rng))
    except BudgetExhausted:
        pass


def bench_executor(bench, executor: str, actors: int, train_steps: int, starts, address=None,
                   replay_ratio: float | None = None, seed: int = 0, log_every: int | None = None,
                   credits: int | None = None) -> dict:
    """One quick-preset training (generator ``default_rng(seed)``) and its evaluation (module
    docstring, 2; no evaluation when ``starts`` is empty): ``improvements`` per start."""
    from algorithms.apex.config import ApeXConfig
    from algorithms.apex.train import train
    from harness.metrics import bootstrap_ci
    from harness.oracle import Oracle

    oracle = Oracle(bench, budget=1)
    preset = {**QUICK, **{k: v for k, v in (("replay_ratio", replay_ratio), ("log_every", log_every),
                                            ("actor_credits", credits)) if v}}
    cfg = ApeXConfig(**preset, executor=executor, actors=actors, train_steps=train_steps)
    clock: dict[int, list] = {}  # env steps -> (wall, CPU time of this process) at its log entries

    def diagnostic(name, value, step):
        clock.setdefault(int(step), []).append((time.perf_counter(), time.process_time()))

    t0, c0 = time.perf_counter(), time.process_time()
    res = train(cfg, bench.space, oracle.training(), np.random.default_rng(seed), address=address,
                diagnostic=diagnostic)
    wall = time.perf_counter() - t0
    learner_cores = (time.process_time() - c0) / wall  # whole run, unless the steady state is known below
    h = [e for e in res.history if e["updates_per_s"] > 0]
    if len(h) >= 3:  # steady state: first to last log entry once learning runs (start-up excluded)
        a, b = h[0], h[-1]
        dt = b["time"] - a["time"]
        steps_s = (b["env_steps"] - a["env_steps"]) / dt
        ups = np.mean([e["updates_per_s"] for e in h[1:]])
        if a["env_steps"] in clock and b["env_steps"] in clock:
            (w0, p0), (w1, p1) = clock[a["env_steps"]][0], clock[b["env_steps"]][-1]
            learner_cores = (p1 - p0) / max(w1 - w0, 1e-9)  # the learner's process, all its threads, steady state
    else:
        steps_s, ups = res.env_steps / wall, res.updates / wall
    if not starts:
        return {"env_steps_per_s": steps_s, "updates_per_s": float(ups), "updates": res.updates,
                "ratio": res.history[-1]["achieved_replay_ratio"], "wall": wall, "policy_lag": _mean_lag(res.history),
                "learner_cores": learner_cores}
    ev = Oracle(bench, budget=10**9, start_states=starts)
    _evaluate(res.learner.net, res.table, bench.space, ev, list(starts), np.random.default_rng(1))
    imp = np.array([e["end_report"] - e["start_report"] for e in ev.episodes()])
    lo, hi = bootstrap_ci(imp, np.random.default_rng(2), "median")
    return {"env_steps_per_s": steps_s, "updates_per_s": float(ups), "ratio": res.history[-1]["achieved_replay_ratio"],
            "updates": res.updates, "env_steps": res.env_steps, "median": float(np.median(imp)), "ci": (lo, hi),
            "wall": wall, "improvements": imp, "policy_lag": _mean_lag(res.history)}


def speed_table_rows(bench, executor: str, actor_counts, steps: int, ratio: float, repeats: int, seed: int,
                     address=None, credits: int | None = None) -> list[list]:
    """The actor-speed rows of one executor at one replay ratio (module docstring, 2): each repeat
    runs every actor count side by side in time (the order reversed every other repeat, so a
    machine that slows down or speeds up favours no row), and the speed-up over the first count
    is the median of the per-repeat ratios: on a machine whose speed drifts by tens of percent
    between runs (seen here: one bare actor process 3,300-6,000 env steps/s within an hour),
    runs side by side share its state and their ratio is stable where rates are not."""
    runs: dict[int, list[dict]] = {k: [] for k in actor_counts}
    for rep in range(repeats):
        for k in (actor_counts if rep % 2 == 0 else actor_counts[::-1]):
            runs[k].append(bench_executor(bench, executor, k, steps, [], address, replay_ratio=ratio, seed=seed,
                                          log_every=1, credits=credits))
    k0 = actor_counts[0]
    rate = {k: np.array([r["env_steps_per_s"] for r in runs[k]]) for k in actor_counts}
    learner0 = float(np.median([r["learner_cores"] for r in runs[k0]]))
    cores = os.cpu_count() or 1
    rows = []
    for k in actor_counts:
        pair = rate[k] / rate[k0]
        bound = min(k / k0, cores / (k0 + learner0)) if k0 + learner0 <= cores else float("nan")
        inv = 1 / ratio
        shown = f"1/{inv:.0f}" if abs(inv - round(inv)) < 1e-9 * inv else f"{ratio:.6g}"
        rows.append([executor, shown, _credits(ratio, credits), k, f"{np.median(rate[k]):,.0f}",
                     f"{np.median(pair):.2f}x [{pair.min():.2f}, {pair.max():.2f}]", f"{bound:.2f}x",
                     f"{np.median([r['learner_cores'] for r in runs[k]]):.2f}",
                     f"{np.median([r['updates_per_s'] for r in runs[k]]):.1f}",
                     f"{np.median([r['ratio'] for r in runs[k]]):.6f}"])
    return rows


def _credits(ratio: float, credits: int | None) -> int:
    """The credits a speed row's actors had: ``credits``, or the config's automatic number."""
    from algorithms.apex.config import ApeXConfig

    return ApeXConfig(**{**QUICK, "replay_ratio": ratio, "actor_credits": credits or 0}).credits()


def _mean_lag(history) -> float:
    lag = [(e["policy_lag"], e["env_steps"]) for e in history if np.isfinite(e.get("policy_lag", np.nan))]
    return float(np.mean([x for x, _ in lag])) if lag else float("nan")


def bench_executor_seeds(bench, executor: str, actors: int, train_steps: int, starts, seeds, address=None) -> dict:
    """:func:`bench_executor` for every training seed, the evaluation pooled over the agents
    (module docstring, 2)."""
    from harness.metrics import grouped_bootstrap_ci

    runs = [bench_executor(bench, executor, actors, train_steps, starts, address, seed=s) for s in seeds]
    imps = [r.get("improvements", np.zeros(0)) for r in runs]  # none without starts
    lo, hi = grouped_bootstrap_ci(imps, np.random.default_rng(2), "median")
    mean = {k: float(np.mean([r.get(k, np.nan) for r in runs]))
            for k in ("env_steps_per_s", "updates_per_s", "ratio", "updates", "policy_lag")}
    pooled = np.concatenate(imps)
    return {**mean, "median": float(np.median(pooled)) if len(pooled) else float("nan"), "ci": (lo, hi),
            "per_agent": [r.get("median", float("nan")) for r in runs], "wall": float(sum(r["wall"] for r in runs))}


def main(args) -> int:
    import torch
    from tabulate import tabulate

    from harness.benchmarks import get_benchmark
    from harness.errors import ConfigError
    from harness.oracle import Oracle

    torch.set_num_threads(1)
    devices = args.device or ["cpu"]
    for d in devices:
        if d.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(f"--device {d}: torch sees no CUDA device on this machine")
    executors = [e.strip() for e in args.executors.split(",") if e.strip()]
    bad = [e for e in executors if e not in ("inline", "process", "ray")]
    if bad:
        raise ConfigError(f"--executors: unknown {', '.join(bad)}; choose from inline, process, ray")
    try:
        actor_counts = [int(a) for a in args.actors.split(",")]
    except ValueError:
        raise ConfigError(f"--actors: give comma-separated integers, got {args.actors!r}") from None
    if not actor_counts or min(actor_counts) < 1:
        raise ConfigError(f"--actors: every actor count must be >= 1, got {args.actors!r}")
    if args.speed_steps < 1:
        raise ConfigError(f"--speed-steps must be a positive number of environment steps, got {args.speed_steps}")
    try:
        speed_credits = [int(x) for x in str(args.speed_credits).split(",") if x.strip()]
    except ValueError:
        speed_credits = []
    if not speed_credits or min(speed_credits) < 0:
        raise ConfigError(f"--speed-credits: give comma-separated integers >= 1 (0: automatic), got {args.speed_credits!r}")
    bench = get_benchmark(args.benchmark, data=args.data)
    space = bench.space
    values = Oracle(bench, budget=1).training()
    rng = np.random.default_rng(0)
    load = os.getloadavg()
    print(f"benchmark: {bench.name}; cores: {os.cpu_count()}; load average: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")

    if getattr(args, "only", None) == "learner":
        _print_learner(space, values, devices, args.seconds, rng)
        return 0

    if args.environments:
        obj = bench_objective(values, space, args.seconds, rng)
        print("\nobjective only (cf. Fig. 16: architecture in, value out)")
        print(tabulate([[b, f"{v:,.0f}"] for b, v in obj.items()], headers=["batch", "values/s"]))
        envs = bench_envs(values, space, args.seconds, rng)
        print("\nenvironment steps/s (random valid actions, 16-step episodes, N = 50)")
        print(tabulate([[k, f"{v:,.0f}"] for k, v in envs.items()], headers=["environment (envs)", "steps/s"]))

    c = bench_ceiling(bench.name)
    print("\n" + ceiling_line(c, os.cpu_count() or 1))

    srng = np.random.default_rng(12345)
    starts = [space.sample(srng) for _ in range(args.starts)]
    ray_started = False
    if "ray" in executors:
        from harness.ray_local import code_path_env, connect

        ray_started = connect(args.address, num_cpus=max(2, max(actor_counts) + 1),
                              runtime_env=code_path_env({"OMP_NUM_THREADS": "1"}))
    rows, res = [], {}
    seeds = list(args.train_seeds)
    try:
        for ex in executors:
            for k in actor_counts:
                r = res[ex, k] = bench_executor_seeds(bench, ex, k, args.train_steps, starts, seeds, args.address)
                base = res.get((ex, actor_counts[0]))
                speed = r["env_steps_per_s"] / base["env_steps_per_s"] if base else float("nan")
                ref = res.get(("inline", k))
                parity = "reference" if ex == "inline" else (
                    "-" if ref is None else ("inside" if ref["ci"][0] <= r["median"] <= ref["ci"][1] else "OUTSIDE"))
                rows.append([ex, k, f"{r['env_steps_per_s']:,.0f}", f"{speed:.2f}x", f"{r['updates_per_s']:.1f}",
                             f"{r['ratio']:.4f}", f"{r['updates']:,.0f}", f"{r['policy_lag']:.1f}", f"{r['median']:+.2f}",
                             "[{:+.2f}, {:+.2f}]".format(*r["ci"]), " ".join(f"{m:+.2f}" for m in r["per_agent"]),
                             parity, f"{r['wall']:.0f}"])
                print(f"  {ex} x{k}: done in {r['wall']:.0f} s (medians {r['per_agent']})", flush=True)
        speed_rows = []
        for ratio in [r for r in args.speed_ratio if r > 0]:
            for credits in speed_credits:
                for ex in [e for e in executors if e != "inline"]:
                    speed_rows += speed_table_rows(bench, ex, actor_counts, args.speed_steps, ratio,
                                                   args.speed_repeats, seeds[0], args.address, credits)
    finally:
        if ray_started:
            import ray

            ray.shutdown()
    print(f"\nexecutors, quick preset, replay ratio {QUICK['replay_ratio']:.4f}, {args.train_steps:,} env steps each, "
          f"{len(seeds)} training seed(s) {','.join(map(str, seeds))} (one agent each; figures: mean over agents), "
          f"median episode improvement over {len(seeds)} agent(s) x {args.starts} fixed starts (greedy, 32 moves), "
          f"95% CI: two-stage bootstrap (agents, then starts); policy lag: learner updates since the weights "
          f"the experience was collected with")
    print(tabulate(rows, headers=["executor", "actors", "env steps/s", f"vs {actor_counts[0]} actor(s)",
                                  "updates/s", "achieved ratio", "updates", "policy lag", "median impr.", "95% CI",
                                  "per agent", "vs inline CI", "wall s"]))

    if speed_rows:
        print(f"\nactor speed (the actors, not the learner, bound the rate), {args.speed_steps:,} env steps per run, "
              f"steady state (between the first and the last learner update: process start-up left out), "
              f"{args.speed_repeats} repeat(s), the actor counts side by side in time (order reversed every other "
              f"repeat); env steps/s: median over repeats; speed-up: median [min, max] of the repeats' paired ratios; "
              f"learner cores: CPU its process used (steady state); bound: the most {os.cpu_count()} cores allow at the "
              f"first row's costs per step, min(actors / a0, cores / (a0 + l0)) with a0, l0 that row's actors and "
              f"learner cores; ceiling above "
              f"{c['ceiling']:.2f}x (target: 2 actor processes >= 1.6x one)")
        print(tabulate(speed_rows, headers=["executor", "replay ratio", "credits", "actors", "env steps/s",
                                            f"vs {actor_counts[0]} actor(s)", "bound", "learner cores", "updates/s",
                                            "achieved ratio"]))
    _print_learner(space, values, devices, args.seconds, rng)
    return 0


def _print_learner(space, values, devices, seconds, rng) -> None:
    from tabulate import tabulate

    rows = []
    for d in devices:
        r = bench_learner_vs_bare(space, values, PAPER, seconds, rng, d)
        rows.append([d, f"{r['update']:.2f}", f"{r['bare']:.2f}", f"{100 * r['update'] / r['bare']:.0f}%",
                     f"{r['bare_targets']:.2f}", f"{100 * r['update'] / r['bare_targets']:.0f}%"])
    print("\nlearner, paper network (T=256, 2 layers, batch 64), 1 torch thread")
    print(tabulate(rows, headers=["device", "updates/s", "bare fwd+bwd/s", "updates / bare",
                                  "bare + 2 no-grad fwd /s", "updates / that"]))
    print("(an exact double-Q update is a forward + backward, about 3 forwards of arithmetic, plus 2 gradient-free "
          "forwards: at equal kernel speed 'updates / bare' is bounded by about 3 / 5 = 60%; 'updates / that' is the "
          f"learner against that bound; load average now {os.getloadavg()[0]:.1f})")
