"""NAS-Bench-201 / NATS-Bench topology (TSS) official data into the cache, through ``nats_bench``.

Accepted sources (the official benchmark ``NATS-tss-v1_0-3ffb9``):

* the *simple* archive directory ``NATS-tss-v1_0-3ffb9-simple/`` (what ``nats_bench`` reads in
  fast mode): ``meta.pickle.pbz2`` holds ``{"meta_archs": [arch string per index], ...}`` and
  ``{index:06d}.pickle.pbz2`` holds, per architecture, ``{hp: ArchResults state dict}`` with
  ``hp`` in ``"12"``, ``"200"`` (epochs of the training schedule);
* the single file ``NATS-tss-v1_0-3ffb9.pickle.pbz2`` (non-fast mode):
  ``{"meta_archs", "arch2infos": {index: {hp: state dict}}, "evaluated_indexes"}``.

The files are bz2-compressed pickles (the official format). We open them with the exact
allow-list of :mod:`harness.data.safe_pickle` (numpy scalars only; nothing else is ever
imported or called) and read every number through ``nats_bench.api_utils.ArchResults``
(``get_metrics`` per seed and averaged, ``get_compute_costs``), i.e. with the package's own
semantics. Our cache itself is an npz (:mod:`harness.data.cache`), never a pickle.

Per NATS dataset ``D`` (``cifar10-valid``, ``cifar10``, ``cifar100``, ``ImageNet16-120``) and
schedule ``H`` (12, 200) the cache ``nb201`` holds, in official index order:
``D__H__valid`` / ``D__H__test`` (accuracy %, one column per training seed, NaN-padded),
``..._mean`` (the package's mean over seeds), ``D__H__seeds`` (-1 padded) and
``D__H__train_time`` (total training seconds, mean over seeds); and per dataset ``D__params``
(MB), ``D__flops`` (M) and ``D__latency`` (s). Validation is the package's ``x-valid`` set and
test its ``ori-test`` (cifar10-valid, cifar10) or ``x-test`` (cifar100, ImageNet16-120) set;
cifar10 has no validation set of its own.
"""

from __future__ import annotations

import bz2
import io
import os
import sys
import time
from pathlib import Path

import numpy as np

from harness.data import cache as _cache
from harness.data import safe_pickle as _safe_pickle
from harness.errors import DataError

CACHE_NAME = "nb201"
BASE_NAME = "NATS-tss-v1_0-3ffb9"
NATS_DATASETS = ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120")
HPS = ("12", "200")
VALID_SET = {"cifar10-valid": "x-valid", "cifar10": None, "cifar100": "x-valid", "ImageNet16-120": "x-valid"}
TEST_SET = {"cifar10-valid": "ori-test", "cifar10": "ori-test", "cifar100": "x-test", "ImageNet16-120": "x-test"}
N_ARCHS = 15_625
# best mean test accuracy (%) after 200 epochs, and its index (NB201/NATS-Bench, L2NAS Table 1)
OPTIMA = {"cifar10": (94.3733, 6111), "cifar100": (73.5133, 9930), "ImageNet16-120": (47.3111, 857)}
HOW = (
    f"obtain the NATS-Bench topology benchmark {BASE_NAME} (the directory {BASE_NAME}-simple, or the "
    f"file {BASE_NAME}.pickle.pbz2) and run: nas-harness data prepare nb201 PATH (or pass --data PATH)"
)


# every global the official files may name: numpy scalars (numbers the package's writer took
# from numpy). The state dicts, lists, strings and numbers themselves are pickle opcodes (the
# test writer, which writes the official layout, names no global at all); the package's own
# classes are rebuilt from those dicts by nats_bench (ArchResults.create_from_state_dict).
ALLOWED = dict.fromkeys(_safe_pickle.NUMPY_SCALARS)


def load_pbz2(path) -> object:
    """One official ``.pickle.pbz2`` file, unpickled with the exact allow-list."""
    try:
        with bz2.open(path, "rb") as f:
            return _safe_pickle.load(
                io.BufferedReader(f), ALLOWED, f"NATS-Bench file {path}",
                f"expected a bz2-compressed pickle of {BASE_NAME} (the '-simple' archive, without weights)",
            )
    except FileNotFoundError:
        raise DataError(f"NATS-Bench file {path} does not exist; {HOW}") from None
    except OSError as e:
        raise DataError(f"cannot read NATS-Bench file {path} ({e}); expected a bz2-compressed pickle of {BASE_NAME}") from None


def _arch_file(root: Path, i: int) -> Path:
    p = root / f"{i:06d}.pickle.pbz2"
    return p if p.exists() else root / f"{i}.pickle.pbz2"


def iter_archs(path, allow_missing: bool = False):
    """``(meta_archs, iterator of (index, {hp: state dict} or None))`` of a directory or file."""
    path = Path(path)
    if path.is_dir():
        meta = load_pbz2(path / "meta.pickle.pbz2")
        archs = _meta_archs(meta, path / "meta.pickle.pbz2")

        def gen():
            for i in range(len(archs)):
                f = _arch_file(path, i)
                if not f.exists():
                    if allow_missing:
                        yield i, None
                        continue
                    raise DataError(f"NATS-Bench archive {path} lacks {i:06d}.pickle.pbz2 (architecture {i}): incomplete copy; {HOW}")
                d = load_pbz2(f)
                if not isinstance(d, dict):
                    raise DataError(f"{f} holds a {type(d).__name__}, expected a dict of hp -> results")
                yield i, d

        return archs, gen()
    if path.is_file():
        d = load_pbz2(path)
        archs = _meta_archs(d, path)
        infos = d.get("arch2infos") if isinstance(d, dict) else None
        if not isinstance(infos, dict):
            raise DataError(f"{path} has no 'arch2infos' dict: not the {BASE_NAME}.pickle.pbz2 benchmark file")

        def gen():
            for i in range(len(archs)):
                x = infos.get(i)
                if x is None and not allow_missing:
                    raise DataError(f"{path} has no results for architecture {i}: incomplete file; {HOW}")
                yield i, x

        return archs, gen()
    raise DataError(f"NATS-Bench data {path} does not exist; {HOW}")


def _meta_archs(meta, where) -> list[str]:
    archs = meta.get("meta_archs") if isinstance(meta, dict) else None
    if not isinstance(archs, list) or not all(isinstance(a, str) for a in archs):
        raise DataError(f"{where} has no 'meta_archs' list of architecture strings: not NATS-Bench TSS data")
    return archs


def _records(state_by_hp: dict):
    """``{(dataset, hp): (seeds, valid per seed, test per seed, valid mean, test mean, costs)}``."""
    from nats_bench.api_utils import ArchResults

    out = {}
    for hp, state in state_by_hp.items():
        hp = str(hp)
        if hp not in HPS:
            continue
        ar = ArchResults.create_from_state_dict(state)
        for d in ar.get_dataset_names():
            if d not in TEST_SET:
                continue
            seeds = ar.get_dataset_seeds(d)

            def acc(setname, seed):
                if setname is None:
                    return np.nan
                try:
                    return float(ar.get_metrics(d, setname, is_random=seed)["accuracy"])
                except (KeyError, ValueError):
                    return np.nan

            valid = [acc(VALID_SET[d], s) for s in seeds]
            test = [acc(TEST_SET[d], s) for s in seeds]
            costs = ar.get_compute_costs(d)
            out[(d, hp)] = (list(seeds), valid, test, acc(VALID_SET[d], False), acc(TEST_SET[d], False), costs)
    return out


def _num(x) -> float:
    return np.nan if x is None else float(x)


def build(path, progress=None, allow_missing: bool = False) -> tuple[dict, dict]:
    """Convert the official TSS data at ``path`` into the cache arrays and metadata."""
    from harness.spaces import get_space

    archs, it = iter_archs(path, allow_missing)
    if len(archs) != N_ARCHS:
        raise DataError(f"{path} lists {len(archs):,} architectures, expected {N_ARCHS:,} (NATS-Bench TSS)")
    space = get_space("nb201")
    for i in (0, 1, N_ARCHS // 2, N_ARCHS - 1):
        if space.parse(archs[i]) != space.arch_at(i):
            raise DataError(f"{path}: architecture {i} is {archs[i]}, which is not NATS-Bench index {i}")
    per: dict = {}  # (d, hp) -> dict of lists
    costs: dict = {}  # d -> (params, flops, latency) lists
    covered = 0
    t0 = time.time()
    for i, states in it:
        if states is None:
            continue
        covered += 1
        try:
            records = _records(states)
        except DataError:
            raise
        except Exception as e:  # nats_bench meets a state dict that is not its own
            raise DataError(f"{path}: architecture {i} is not NATS-Bench results ({type(e).__name__}: "
                            f"{(str(e).splitlines() or [''])[0][:200]}); the data is damaged or not {BASE_NAME}") from None
        for (d, hp), (seeds, valid, test, vmean, tmean, c) in records.items():
            rec = per.setdefault((d, hp), {"rows": [], "seeds": [], "valid": [], "test": [], "vmean": [], "tmean": [], "time": []})
            rec["rows"].append(i)
            rec["seeds"].append(seeds)
            rec["valid"].append(valid)
            rec["test"].append(test)
            rec["vmean"].append(vmean)
            rec["tmean"].append(tmean)
            rec["time"].append(_num(c.get("T-train@total")))
            if hp == "200" or d not in costs:
                costs.setdefault(d, {})[i] = (_num(c.get("params")), _num(c.get("flops")), _num(c.get("latency")))
        if progress and covered % 1000 == 0:
            progress(covered, time.time() - t0)
    if covered == 0:
        raise DataError(f"{path} holds no architecture results; {HOW}")
    arrays: dict[str, np.ndarray] = {"arch_str": np.array(archs, dtype="S")}
    for (d, hp), rec in per.items():
        rows = np.asarray(rec["rows"])
        s = max(len(x) for x in rec["seeds"])
        seeds = np.full((N_ARCHS, s), -1, dtype=np.int64)
        valid = np.full((N_ARCHS, s), np.nan)
        test = np.full((N_ARCHS, s), np.nan)
        for r, sd, va, te in zip(rows, rec["seeds"], rec["valid"], rec["test"]):
            seeds[r, : len(sd)] = sd
            valid[r, : len(va)] = va
            test[r, : len(te)] = te
        for name, vals in (("valid_mean", rec["vmean"]), ("test_mean", rec["tmean"]), ("train_time", rec["time"])):
            col = np.full(N_ARCHS, np.nan)
            col[rows] = vals
            arrays[f"{d}__{hp}__{name}"] = col
        arrays[f"{d}__{hp}__seeds"] = seeds
        arrays[f"{d}__{hp}__valid"] = valid
        arrays[f"{d}__{hp}__test"] = test
        # documented gaps: a cell trained with fewer seeds (NaN beyond its seeds), a cell absent
        # from a partial copy, and cifar10, which has no validation set of its own
        absent = seeds < 0
        uncovered = absent.all(axis=1)
        for part, setname in (("valid", VALID_SET[d]), ("test", TEST_SET[d])):
            where_nan = True if setname is None else absent
            _check(arrays[f"{d}__{hp}__{part}"], path, f"{d}__{hp}__{part}", "%", where_nan)
            _check(arrays[f"{d}__{hp}__{part}_mean"], path, f"{d}__{hp}__{part}_mean", "%", True if setname is None else uncovered)
        _check(arrays[f"{d}__{hp}__train_time"], path, f"{d}__{hp}__train_time", "nonnegative", True)
    for d, by_row in costs.items():
        cols = np.full((3, N_ARCHS), np.nan)
        for r, vals in by_row.items():
            cols[:, r] = vals
        arrays[f"{d}__params"], arrays[f"{d}__flops"], arrays[f"{d}__latency"] = cols
        for name in ("params", "flops", "latency"):  # a cost the file does not give stays NaN
            _check(arrays[f"{d}__{name}"], path, f"{d}__{name}", "nonnegative", True)
    meta = {
        "benchmark": "nb201",
        "architectures": N_ARCHS,
        "covered": covered,
        "datasets": sorted({d for d, _ in per}),
        "hps": sorted({hp for _, hp in per}, key=int),
        "units": {"accuracy": "%", "params": "MB", "flops": "M", "latency": "s", "train_time": "s"},
    }
    return arrays, meta


def _check(values, path, column, unit, missing) -> None:
    from harness.benchmarks.base import check_column

    check_column(values, where=str(path), column=column, unit=unit, missing=missing,
                 row_name=lambda r: f"architecture {r}", how=f"the data is damaged or not {BASE_NAME}")


def _stderr_progress(n, secs):
    print(f"  {n:,} architectures, {secs:.0f} s", file=sys.stderr, flush=True)


def load(source=None, progress=None, force: bool = False, announce=None) -> _cache.Cache:
    """The NB201 cache, converted from ``source`` (directory or file) first when needed."""

    def _build(path):
        # announced on stderr, or on ``announce`` (``data prepare``: stdout, so that stderr holds errors only)
        print(f"nas-harness: converting {path} into the NB201 cache (one time; minutes)", file=announce or sys.stderr, flush=True)
        return build(path, progress=progress or _stderr_progress)

    if source is not None:
        source = os.fspath(source)
        if Path(source).is_dir():
            # a directory's identity is its meta file (the archive is written once)
            source_id = Path(source) / "meta.pickle.pbz2"
            if not source_id.exists():
                raise DataError(f"{source} has no meta.pickle.pbz2: not the {BASE_NAME}-simple directory; {HOW}")
            return _cache.open_cache(CACHE_NAME, lambda _p: _build(source), source=source_id, what=HOW, force=force)
    return _cache.open_cache(CACHE_NAME, _build_dispatch(_build), source=source, what=HOW, force=force)


def _build_dispatch(_build):
    def run(path):
        p = Path(path)
        if p.name == "meta.pickle.pbz2":  # recorded identity of a directory source
            p = p.parent
        return _build(str(p))

    return run


def verify(c: _cache.Cache) -> list[tuple[str, bool, str]]:
    """Checks of a loaded NB201 cache against the known facts of the official data."""
    a, out = c.arrays, []
    n = int(a["arch_str"].shape[0])
    out.append(("architectures", n == N_ARCHS, f"{n:,} architectures (official: {N_ARCHS:,})"))
    covered = c.meta.get("meta", {}).get("covered", 0)
    out.append(("covered", covered == N_ARCHS, f"{covered:,} architectures with results"))
    for d, (best, idx) in OPTIMA.items():
        key = f"{d}__200__test_mean"
        if key not in a:
            out.append((f"{d} optimum", False, f"no 200-epoch test results for {d}"))
            continue
        col = a[key]
        i = int(np.nanargmax(col))
        got = float(col[i])
        ok = abs(got - best) < 5e-4 and i == idx
        out.append((f"{d} optimum", ok, f"best mean test accuracy {got:.4f}% at index {i} (official: {best}% at {idx})"))
    return out


# --- the ``nas-harness data`` protocol (see :mod:`harness.data`) -----------------------------
def prepare(path, force: bool = False) -> str:
    """Convert the official data at ``path`` into the cache (again with ``force``)."""
    return _cache.prepare_from(CACHE_NAME, path, load, HOW, force)


def check():
    """``None`` when there is no cache, else :func:`verify` of it plus its checksum."""
    return _cache.check_with(CACHE_NAME, verify)
