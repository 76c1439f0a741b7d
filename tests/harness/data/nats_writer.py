"""Test helper: NATS-Bench TSS data in the official layout (what ``nats_bench`` reads): the
``-simple`` directory with ``meta.pickle.pbz2`` and ``{index:06d}.pickle.pbz2`` files, each a
bz2-compressed pickle of ``{hp: ArchResults state dict}``."""

from __future__ import annotations

import bz2
import pickle

VALID = {"cifar10-valid": "x-valid", "cifar10": None, "cifar100": "x-valid", "ImageNet16-120": "x-valid"}
TEST = {"cifar10-valid": "ori-test", "cifar10": "ori-test", "cifar100": "x-test", "ImageNet16-120": "x-test"}
CLASSES = {"cifar10-valid": 10, "cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}


def results_count(dataset, seed, epochs, arch_str, valid, test, params=1.5, flop=200.0, latency=0.01, with_times=False):
    """A ``ResultsCount`` state dict with evaluations at the last epoch only."""
    last = epochs - 1
    accs, losses, times = {}, {}, {}
    names = []
    for setname, acc in ((VALID[dataset], valid), (TEST[dataset], test)):
        if setname is None or acc is None:
            continue
        names.append(setname)
        accs[f"{setname}@{last}"] = acc
        losses[f"{setname}@{last}"] = 1.0
    return {
        "name": dataset,
        "net_state_dict": None,
        "train_acc1es": {last: 99.0},
        "train_acc5es": None,
        "train_losses": {last: 0.01},
        "train_times": {i: 2.0 for i in range(epochs)} if with_times else None,
        "arch_config": {"name": "infer.tiny", "C": 16, "N": 5, "arch_str": arch_str, "class_num": CLASSES[dataset]},
        "params": params,
        "flop": flop,
        "seed": seed,
        "epochs": epochs,
        "latency": [latency],
        "eval_names": names,
        "eval_acc1es": accs,
        "eval_times": times,
        "eval_losses": losses,
    }


def arch_results(index, arch_str, runs: dict):
    """An ``ArchResults`` state dict from ``{(dataset, seed): results_count state}``."""
    seeds = {}
    for d, s in runs:
        seeds.setdefault(d, []).append(s)
    return {
        "arch_index": index,
        "arch_str": arch_str,
        "all_results": dict(runs),
        "dataset_seed": {d: sorted(v) for d, v in seeds.items()},
        "clear_net_done": True,
    }


def dump(obj, path):
    with bz2.open(path, "wb", compresslevel=1) as f:
        pickle.dump(obj, f, protocol=4)


def write_simple_dir(root, arch_strs, per_arch: dict):
    """``root`` as a ``NATS-tss-v1_0-3ffb9-simple`` directory: ``per_arch[index] = {hp: state}``."""
    root.mkdir(parents=True, exist_ok=True)
    dump({"meta_archs": list(arch_strs), "arch2infos": {}, "evaluated_indexes": set()}, root / "meta.pickle.pbz2")
    for i, states in per_arch.items():
        dump(states, root / f"{i:06d}.pickle.pbz2")
    return root


def simple_arch(index, arch_str, acc: dict, seeds=(777, 888), spread=0.25, with_times=False):
    """Both schedules, every dataset: test/valid accuracies per dataset, ``acc[d] = (valid, test)``,
    spread over the seeds symmetrically so that their mean is exactly the given value."""
    states = {}
    for hp, epochs in (("12", 12), ("200", 200)):
        runs = {}
        for d, (va, te) in acc.items():
            shift = -2.0 if hp == "12" else 0.0
            for k, s in enumerate(seeds):
                delta = spread * (2 * k - (len(seeds) - 1))
                runs[(d, s)] = results_count(
                    d, s, epochs, arch_str,
                    None if va is None else va + shift + delta, te + shift + delta,
                    params=0.1 + index / 1e4, flop=10.0 + index / 100, latency=0.001 * (1 + index % 7),
                    with_times=with_times,
                )
        states[hp] = arch_results(index, arch_str, runs)
    return states
