"""BONAS GCN predictor: correlation on held-out NB201 cells (BONAS paper Table 1, §4.1).

``nas-harness bench bonas-gcn --data nats_tss_200ep_test_accuracy.csv``

Trains the GCN predictor of :mod:`algorithms.bonas_gcn` (4 GCN layers of 64, global node,
single-hidden-layer regressor, Adam lr 1e-3, batch 128, square loss as in §4.1) on a random
``--train-fraction`` of the 15,625 NB201 cells (default 10 %) and prints Pearson, Spearman and
Kendall correlations between predicted and actual test accuracy on all the other cells, for
each edge mode, to compare with BONAS Table 1 (its published correlation is quoted in docs/bonas.md). The paper trains on 85 % (10 % for
validation, 5 % for testing); ``--train-fraction 0.85`` repeats that split. A baseline
measured in the same run: the same regressor head on the flat one-hot encoding (an MLP with no
graph), so the GCN's gain is visible on this machine's numbers.

``nas-harness bench bonas-gcn --speed --data CSV [--seeds 1000-1009]``: the speed of the two GCN
implementations of ``bonas`` (``gcn_impl``): for each seed, BONAS(EA) runs through the runner
(:func:`harness.runner.execute`, the product path) on the protocol ``--protocol`` (default
``nb201-cifar10-optimum``: until the NB201 CIFAR-10 optimum) once with ``gcn_impl=sparse`` (the
original block-diagonal torch-geometric implementation) and once with ``dense``, one after the
other in the same process. Printed: per run the samples-to-optimum and the wall and CPU seconds
of each, the time ratio sparse / dense; then per implementation the mean and median
samples-to-optimum with bootstrap CIs (:func:`harness.metrics.samples_to_optimum`), and the
verdicts (ratio >= 4; CIs overlap and means within 10 %). The machine's load average is printed
before and after (ratios measured on a shared machine are noisy; CPU-time ratios less so).
"""

from __future__ import annotations

import time

import numpy as np
from harness.protocol import SEEDS_HELP, seeds_arg


def add_arguments(p) -> None:
    p.add_argument("--data", required=True, help="official NB201 table (e.g. nats_tss_200ep_test_accuracy.csv)")
    p.add_argument("--dataset", default="cifar10")
    p.add_argument("--train-fraction", type=float, default=0.1, help="share of cells to train on (default 0.1)")
    p.add_argument("--epochs", type=int, default=300, help="training epochs (default 300, as bonas)")
    p.add_argument("--loss", default="mse", help="mse (default, §4.1), exp, log, linear")
    p.add_argument("--edges", default="undirected,forward", help="comma list of edge modes (default both)")
    p.add_argument("--seeds", type=seeds_arg, default=None, metavar="SEEDS",
                   help=f"repeats with different splits (--speed: run seeds); {SEEDS_HELP} (default 1; --speed: 1000-1009)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--speed", action="store_true", help="time BONAS(EA) runs with gcn_impl sparse vs dense instead")
    p.add_argument("--protocol", default="nb201-cifar10-optimum", help="--speed: protocol (default nb201-cifar10-optimum)")
    p.add_argument("--workers", type=int, default=1,
                   help="--speed: processes (default 1; each runs both implementations of a seed back to back)")
    p.add_argument("--bootstrap", type=int, default=10_000, help="--speed: bootstrap resamples (default 10000)")


SPEED_SEEDS = tuple(range(1000, 1010))
IMPLS = ("sparse", "dense")


def _mlp_baseline(X, y, tr, te, rng, epochs, lr=1e-3, batch=128, hidden=64):
    import torch
    from torch import nn

    net = nn.Sequential(nn.Linear(X.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    Xt, yt = torch.from_numpy(X.astype(np.float32)), torch.from_numpy(y.astype(np.float32))
    mu, sd = float(y[tr].mean()), float(y[tr].std())
    for _ in range(epochs):
        order = rng.permutation(tr)
        for s in range(0, len(order), batch):
            idx = torch.from_numpy(order[s : s + batch])
            opt.zero_grad()
            loss = ((mu + sd * net(Xt[idx]).squeeze(-1) - yt[idx]) ** 2).mean()
            loss.backward()
            opt.step()
    with torch.no_grad():
        return (mu + sd * net(Xt[torch.from_numpy(te)]).squeeze(-1)).numpy()


def speed_one(protocol, seed: int, impls=IMPLS) -> list[dict]:
    """Both implementations on one seed, back to back in this process: per implementation
    ``{"seed", "impl", "hit", "queries", "wall", "cpu"}`` (``hit``: counted queries to the
    optimum, NaN if not reached; seconds of :func:`harness.runner.execute`, with the run key
    computed beforehand)."""
    from harness.metrics import hitting_times
    from harness.runner import Job, execute

    _warm_up()
    out = []
    for impl in impls:
        job = Job(protocol, "bonas", int(seed), {"sampler": "ea", "gcn_impl": impl})
        job.identity()  # source hashes, data checksum: not the run's cost
        t0, c0 = time.perf_counter(), time.process_time()
        rec = execute(job)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        hit, queries = hitting_times([rec])
        out.append({"seed": int(seed), "impl": impl, "hit": float(hit[0]), "queries": int(queries[0]),
                    "wall": wall, "cpu": cpu})
    return out


def _warm_up() -> None:
    """Lazy imports and torch-geometric's generated code, once per process, outside the timings."""
    import torch

    from algorithms.bonas_gcn import make_batch, make_gcn

    rng = np.random.default_rng(0)
    graphs = [(np.triu(np.ones((4, 4), np.float32), 1), np.eye(3, dtype=np.float32)[rng.integers(0, 3, 4)])] * 2
    model = make_gcn(3, hidden=4, regressor_hidden=4)
    with torch.no_grad():
        for impl in IMPLS:
            model(make_batch(graphs, impl=impl))


def speed(args) -> int:
    import dataclasses
    import os

    from tabulate import tabulate

    from harness.metrics import samples_to_optimum
    from harness.protocol import load_protocol

    protocol = dataclasses.replace(load_protocol(args.protocol), data=args.data)
    seeds = list(args.seeds or SPEED_SEEDS)
    load0 = os.getloadavg()
    print(f"BONAS(EA) on {protocol.id}, gcn_impl sparse vs dense, seeds {seeds[0]}..{seeds[-1]} ({len(seeds)}), "
          f"{args.workers} worker(s); load average {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f} on "
          f"{os.cpu_count()} cores", flush=True)
    t0 = time.perf_counter()
    rows: list[dict] = []
    if args.workers <= 1:
        for s in seeds:
            rows += speed_one(protocol, s)
            _print_pair(rows[-2:])
    else:
        from harness.runner import job_pool

        with job_pool(args.workers) as pool:
            for pair in pool.map(speed_one, [protocol] * len(seeds), seeds):
                rows += pair
                _print_pair(pair)
    elapsed = time.perf_counter() - t0
    by = {impl: [r for r in rows if r["impl"] == impl] for impl in IMPLS}
    ratio_wall = np.array([s["wall"] / d["wall"] for s, d in zip(by["sparse"], by["dense"])])
    ratio_cpu = np.array([s["cpu"] / d["cpu"] for s, d in zip(by["sparse"], by["dense"])])
    rng = np.random.default_rng(0)
    stats = {impl: samples_to_optimum(np.array([r["hit"] for r in rs]), np.array([r["queries"] for r in rs]), rng,
                                      resamples=args.bootstrap) for impl, rs in by.items()}
    table = []
    for impl in IMPLS:
        st, rs = stats[impl], by[impl]
        table.append([impl, f"{st.successes}/{st.n_runs}", f"{st.mean:.1f} [{st.mean_ci[0]:.1f}, {st.mean_ci[1]:.1f}]",
                      f"{st.median:.1f} [{st.median_ci[0]:.1f}, {st.median_ci[1]:.1f}]",
                      f"{np.mean([r['wall'] for r in rs]):.2f}", f"{np.mean([r['cpu'] for r in rs]):.2f}"])
    print()
    print(tabulate(table, headers=["gcn_impl", "found", "samples-to-optimum mean [95% CI]", "median [95% CI]",
                                   "wall s/run", "CPU s/run"], tablefmt="github"))
    geo = lambda x: float(np.exp(np.mean(np.log(x))))  # noqa: E731
    print(f"time ratio sparse/dense per run: wall geometric mean {geo(ratio_wall):.2f}x (min {ratio_wall.min():.2f}, "
          f"max {ratio_wall.max():.2f}); CPU geometric mean {geo(ratio_cpu):.2f}x (min {ratio_cpu.min():.2f}, "
          f"max {ratio_cpu.max():.2f}); ratio of total CPU {sum(r['cpu'] for r in by['sparse']) / sum(r['cpu'] for r in by['dense']):.2f}x")
    a, b = stats["sparse"], stats["dense"]
    overlap = a.mean_ci[0] <= b.mean_ci[1] and b.mean_ci[0] <= a.mean_ci[1]
    rel = abs(b.mean - a.mean) / a.mean
    print(f"speed target (>= 4x, CPU geometric mean): {'met' if geo(ratio_cpu) >= 4 else 'NOT met'}; "
          f"samples-to-optimum: mean CIs {'overlap' if overlap else 'DO NOT overlap'}, dense mean "
          f"{100 * (b.mean - a.mean) / a.mean:+.1f}% of sparse ({'within' if rel <= 0.1 else 'NOT within'} 10%)")
    load1 = os.getloadavg()
    print(f"(total {elapsed:.0f} s; load average after {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}; percentile "
          f"bootstrap, {args.bootstrap} resamples)")
    return 0


def _print_pair(pair) -> None:
    s, d = pair
    print(f"  seed {s['seed']}: samples sparse {s['hit']:.0f} dense {d['hit']:.0f}; wall {s['wall']:.2f} / "
          f"{d['wall']:.2f} s = {s['wall'] / d['wall']:.2f}x; CPU {s['cpu']:.2f} / {d['cpu']:.2f} s = "
          f"{s['cpu'] / d['cpu']:.2f}x", flush=True)


def main(args) -> int:
    if args.speed:
        return speed(args)
    args.seeds = args.seeds or (0,)
    import torch
    from scipy.stats import kendalltau, pearsonr, spearmanr
    from tabulate import tabulate

    from algorithms.bonas_gcn import GraphBatch, make_gcn, train_gcn
    from harness.benchmarks import get_benchmark

    torch.set_num_threads(args.threads)
    bench = get_benchmark("nb201", args.dataset, data=args.data)
    space = bench.space
    y = bench.mean(bench.default_search) / 100.0
    graphs = [space.graph(space.arch_at(i)) for i in range(space.size)]
    A = np.stack([g[0] for g in graphs])
    X = np.stack([g[1] for g in graphs])
    flat = space.vectors(space.cells)
    n_train = int(round(args.train_fraction * space.size))
    rows = []
    for seed in args.seeds:
        rng = np.random.default_rng(seed)
        perm = rng.permutation(space.size)
        tr, te = np.sort(perm[:n_train]), np.sort(perm[n_train:])
        for edges in [e.strip() for e in args.edges.split(",") if e.strip()] + ["mlp"]:
            g = torch.Generator().manual_seed(seed)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=g)))
                t0 = time.perf_counter()
                if edges == "mlp":
                    pred = _mlp_baseline(flat, y, tr, te, rng, args.epochs)
                else:
                    model = make_gcn(X.shape[2])
                    train_gcn(model, A[tr], X[tr], y[tr], rng, epochs=args.epochs, loss=args.loss, edges=edges)
                    with torch.no_grad():
                        pred = model(GraphBatch.from_arrays(A[te], X[te], edges)).numpy()
                wall = time.perf_counter() - t0
            truth = y[te]
            top = truth >= np.quantile(truth, 0.9)
            rows.append([seed, "GCN " + edges if edges != "mlp" else "MLP one-hot (baseline)", len(tr), len(te),
                         f"{100 * pearsonr(pred, truth)[0]:.1f}", f"{100 * spearmanr(pred, truth)[0]:.1f}",
                         f"{100 * kendalltau(pred, truth)[0]:.1f}", f"{100 * spearmanr(pred[top], truth[top])[0]:.1f}",
                         f"{wall:.1f}"])
            print(tabulate([rows[-1]], tablefmt="plain"), flush=True)
    print()
    print(tabulate(rows, headers=["seed", "predictor", "train", "test", "Pearson %", "Spearman %", "Kendall %",
                                  "Spearman top-10% %", "train s"], tablefmt="github"))
    print(f"(NB201 {args.dataset} test accuracy; {args.epochs} epochs, loss {args.loss}, Adam lr 1e-3, batch 128; "
          "compare with BONAS Table 1 in docs/bonas.md, which trains on 85 % of the cells)")
    return 0
