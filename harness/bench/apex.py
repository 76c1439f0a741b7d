"""Ape-X throughput: environment steps/s (single, vectorized; cf. 004 Fig. 16), learner updates/s, actor-process speedup.

Figures, each measured for ``--seconds`` after a warm-up (caches of neighbour lists and
encodings filled), on one benchmark (default ``nb201-analog``):

1. objective only (Fig. 16's stripped environment: an architecture in, its value out) through
   the training value source, batches of 1, 32 and 1024 architectures: values/s;
2. environment steps/s with uniformly random valid actions: one gymnasium ``IncrementalNASEnv``;
   ``gymnasium.vector.SyncVectorEnv`` of 8 and 32; the batched core ``IncrementalNAS`` (what the
   actors step) with 1, 8 and 32 environments;
3. learner updates/s (prioritized sample + double-Q update) for the paper's network
   (T = 256, 2 transformer layers, batch 64) and the quick preset used by
   ``nas-harness bench apex-paper`` (T = 64, 1 layer, batch 32);
4. Ape-X with the ``process`` executor and 1 vs 2 actor processes (quick preset, learner
   running): experience env steps/s reaching the learner in steady state, learner updates/s,
   and the speedup 2 actors / 1 actor.

The machine's load average is printed: on a shared 2-core machine the process figures
mostly measure contention.
"""

from __future__ import annotations

import os
import time

import numpy as np

QUICK = {"latent": 64, "transformer_layers": 1, "heads": 4, "batch_size": 32}
PAPER = {"latent": 256, "transformer_layers": 2, "heads": 4, "batch_size": 64}


def add_arguments(p) -> None:
    p.add_argument("--benchmark", default="nb201-analog", help="benchmark name (default nb201-analog)")
    p.add_argument("--data", help="official data file for benchmarks that need one")
    p.add_argument("--seconds", type=float, default=3.0, help="seconds per measurement (default 3)")
    p.add_argument("--process-seconds", type=float, default=40.0,
                   help="seconds per actor-process run, including start-up (default 40)")
    p.add_argument("--skip-processes", action="store_true", help="skip the 1 vs 2 actor-process measurement")
    p.add_argument("--device", action="append", default=[], metavar="DEV",
                   help="learner device(s) to measure, e.g. --device cpu --device cuda (default: cpu)")


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


def bench_learner(space, values, preset: dict, seconds: float, rng, device: str = "cpu") -> float:
    from algorithms.apex.config import ApeXConfig
    from algorithms.apex.encoding import ArchTable, Encoder
    from algorithms.apex.train import Actor, Learner

    cfg = ApeXConfig(**preset, envs_per_actor=16, device=device)
    table = ArchTable(space, Encoder(space))
    learner = Learner(cfg, space, table, rng)
    actor = Actor(cfg, space, values, 0, 1, np.random.default_rng(1), table)
    actor.set_weights(learner.weights())
    while len(learner.replay) < 1000:
        learner.add(actor.collect(4))
    learner.update()

    def upd():
        learner.update()
        return 1

    n, dt = _timed(upd, seconds)
    return n / dt


def bench_processes(bench, n_actors: int, seconds: float) -> dict[str, float]:
    from algorithms.apex.config import ApeXConfig
    from algorithms.apex.train import train
    from harness.oracle import Oracle

    oracle = Oracle(bench, budget=1)
    cfg = ApeXConfig(**QUICK, executor="process", actors=n_actors, envs_per_actor=8, actor_chunk=4,
                     learning_starts=500, log_every=10, train_steps=10**9, max_seconds=seconds, lr=2.5e-4)
    res = train(cfg, bench.space, oracle.training(), np.random.default_rng(0))
    h = res.history
    if len(h) < 3:
        return {"env_steps_per_s": float("nan"), "updates_per_s": float("nan"), "env_steps": res.env_steps}
    a, b = h[1], h[-1]  # steady state: from the second log entry on (start-up excluded)
    dt = b["time"] - a["time"]
    ups = np.mean([x["updates_per_s"] for x in h[1:]])
    return {"env_steps_per_s": (b["env_steps"] - a["env_steps"]) / dt, "updates_per_s": float(ups),
            "env_steps": res.env_steps, "training_queries": oracle.training_queries}


def main(args) -> int:
    import torch
    from tabulate import tabulate

    from harness.benchmarks import get_benchmark
    from harness.oracle import Oracle

    torch.set_num_threads(1)
    devices = args.device or ["cpu"]
    for d in devices:
        if d.startswith("cuda") and not torch.cuda.is_available():
            from harness.errors import ConfigError

            raise ConfigError(f"--device {d}: torch sees no CUDA device on this machine")
    bench = get_benchmark(args.benchmark, data=args.data)
    space = bench.space
    values = Oracle(bench, budget=1).training()
    rng = np.random.default_rng(0)
    load = os.getloadavg()
    print(f"benchmark: {bench.name}; cores: {os.cpu_count()}; load average: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")

    obj = bench_objective(values, space, args.seconds, rng)
    print("\nobjective only (cf. Fig. 16: architecture in, value out)")
    print(tabulate([[b, f"{v:,.0f}"] for b, v in obj.items()], headers=["batch", "values/s"]))

    envs = bench_envs(values, space, args.seconds, rng)
    print("\nenvironment steps/s (random valid actions, 16-step episodes, N = 50)")
    print(tabulate([[k, f"{v:,.0f}"] for k, v in envs.items()], headers=["environment (envs)", "steps/s"]))

    rows = []
    for name, preset in (("paper (T=256, 2 layers, batch 64)", PAPER), ("quick (T=64, 1 layer, batch 32)", QUICK)):
        rows.append([name] + [f"{bench_learner(space, values, preset, args.seconds, rng, d):.1f}" for d in devices])
    print("\nlearner updates/s (prioritized sample + double-Q update; CPU side on 1 torch thread)")
    print(tabulate(rows, headers=["network"] + [f"updates/s ({d})" for d in devices]))

    if not args.skip_processes:
        res = {k: bench_processes(bench, k, args.process_seconds) for k in (1, 2)}
        print(f"\nApe-X process executor, quick preset, {args.process_seconds:.0f} s per run (learner running)")
        print(tabulate([[k, f"{r['env_steps_per_s']:,.0f}", f"{r['updates_per_s']:.1f}", f"{r['env_steps']:,}"]
                        for k, r in res.items()],
                       headers=["actor processes", "env steps/s", "learner updates/s", "env steps"]))
        print(f"speedup 1 -> 2 actor processes: {res[2]['env_steps_per_s'] / res[1]['env_steps_per_s']:.2f}x "
              f"(load average now {os.getloadavg()[0]:.1f})")
    return 0
