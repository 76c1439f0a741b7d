"""Hostile but realistic input (issue 17): nothing executes, nothing corrupt is accepted, every
mistake is one line.

* malicious pickles for every third-party unpickler (analog-nasbench, nas-bench-graph,
  NATS-Bench, NB301 boosters): refused with one DataError line, and the marker file the
  payload would create does not exist (a control test shows that plain ``pickle`` does run
  every payload, so these tests can fail);
* the free-repeat guard on every kind of benchmark; NaN-safe incumbents;
* table validation (file, row, column) and ``data prepare --force`` keeping the good cache;
* the CLI: exit 2, exactly one line on stderr, no traceback, earlier records byte-identical;
* a Ray runtime started by the harness listens on loopback only.
"""

from __future__ import annotations

import bz2
import os
import pickle
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from harness.errors import BudgetExhausted, DataError

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable


# --- payloads ------------------------------------------------------------------------------------
def _u(s: str) -> bytes:  # SHORT_BINUNICODE / BINUNICODE
    b = s.encode()
    return (b"\x8c" + bytes([len(b)]) if len(b) < 256 else b"X" + len(b).to_bytes(4, "little")) + b


def _sg(module: str, name: str) -> bytes:  # protocol-4 STACK_GLOBAL
    return _u(module) + _u(name) + b"\x93"


P4 = b"\x80\x04"


def _numpy_dotted_module() -> tuple[str, str]:
    """A numpy submodule that has ``os`` as an attribute: ``<module>.os.system`` by dotted name."""
    import importlib

    for m in ("numpy.ctypeslib", "numpy.lib._datasource", "numpy._core._methods", "numpy.testing._private.utils"):
        try:
            if hasattr(importlib.import_module(m), "os"):
                return m, "os.system"
        except ImportError:
            continue
    raise RuntimeError("no numpy submodule imports os")  # pragma: no cover


def payloads(marker: Path) -> dict[str, bytes]:
    """Pickles that create ``marker`` when loaded by an unrestricted unpickler."""
    m = str(marker)
    cmd = f"touch '{m}'"
    code = f"open({m!r}, 'w').close()"
    nmod, nname = _numpy_dotted_module()
    return {
        "builtins.exec (protocol 0 GLOBAL)": b"cbuiltins\nexec\n(V" + code.encode() + b"\ntR.",
        "builtins.eval (protocol 4 STACK_GLOBAL)": P4 + _sg("builtins", "eval") + _u(code) + b"\x85R.",
        "builtins.getattr + __import__": P4 + _sg("builtins", "getattr") + _sg("builtins", "__import__") + _u("os")
        + b"\x85R" + _u("system") + b"\x86R" + _u(cmd) + b"\x85R.",
        "os.system": P4 + _sg("os", "system") + _u(cmd) + b"\x85R.",
        "posix.system (a __reduce__)": pickle.dumps(_Reduce(os.system, (cmd,)), protocol=4),
        "subprocess.getoutput": P4 + _sg("subprocess", "getoutput") + _u(cmd) + b"\x85R.",
        "numpy submodule by dotted name": P4 + _sg(nmod, nname) + _u(cmd) + b"\x85R.",
        "numpy module, dotted name": P4 + _sg("numpy", "_pytesttester.os.system") + _u(cmd) + b"\x85R.",
        "copyreg extension registry": P4 + _sg("copyreg", "add_extension") + _u("posix") + _u("system")
        + b"K\xf0\x87R0" + b"\x82\xf0" + _u(cmd) + b"\x85R.",
        # _reconstructor(cls, base, state) calls base.__init__(obj, state): Popen(["touch", marker])
        "copyreg._reconstructor": P4 + _sg("copyreg", "_reconstructor") + _sg("subprocess", "Popen") + _sg("subprocess", "Popen")
        + b"](" + _u("touch") + _u(m) + b"e\x87R.",
    }


class _Reduce:
    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


PAYLOAD_NAMES = list(payloads(Path("/x")))


def test_control_plain_pickle_runs_every_payload(tmp_path):
    """Without the allow-list each payload does create its marker (so the tests below can fail)."""
    script = (
        "import pickle, sys\n"
        "from pathlib import Path\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from tests.harness.test_hostile_input import payloads\n"
        "for i, (name, data) in enumerate(payloads(Path(sys.argv[2])).items()):\n"
        "    marker = Path(sys.argv[2])\n"
        "    data = payloads(Path(f'{marker}.{i}'))[name]\n"
        "    try:\n"
        "        pickle.loads(data)\n"
        "    except Exception:\n"
        "        pass\n"
    )
    subprocess.run([PY, "-c", script, str(ROOT), str(tmp_path / "m")], check=True, timeout=120,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import time

    for _ in range(50):  # Popen's child may finish after the script
        made = sorted(int(p.suffix[1:]) for p in tmp_path.glob("m.*"))
        if len(made) == len(PAYLOAD_NAMES):
            break
        time.sleep(0.1)
    assert made == list(range(len(PAYLOAD_NAMES)))


def _loaders():
    """name -> function(path) reading a third-party pickle file the way the harness does."""
    from harness.benchmarks import analog, nasbench_graph, nb301
    from harness.data import nb201 as nb201_data

    return {
        "analog": lambda p: analog._columns(str(p)),
        "nasbench-graph": lambda p: nasbench_graph._columns(str(p), "cora"),
        "nats-bench": lambda p: nb201_data.load_pbz2(p),
        "nb301": lambda p: nb301._load_member(Path(p)),
    }


@pytest.mark.parametrize("loader", ["analog", "nasbench-graph", "nats-bench", "nb301"])
@pytest.mark.parametrize("payload", PAYLOAD_NAMES)
def test_malicious_pickle_is_refused(loader, payload, tmp_path):
    marker = tmp_path / "pwned"
    data = payloads(marker)[payload]
    path = tmp_path / ("evil.pickle.pbz2" if loader == "nats-bench" else "evil.bench")
    path.write_bytes(bz2.compress(data) if loader == "nats-bench" else data)
    with pytest.raises(DataError) as e:
        _loaders()[loader](path)
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg
    assert "refusing to load" in msg or "not a valid pickle" in msg
    assert not marker.exists(), f"{payload} ran code through the {loader} loader"


def test_allow_lists_are_exact_pairs_without_dotted_names():
    from harness.benchmarks import analog, nasbench_graph, nb301
    from harness.data import nb201 as nb201_data
    from harness.data.safe_pickle import RestrictedUnpickler

    for allowed in (analog.ALLOWED, nasbench_graph.ALLOWED, nb201_data.ALLOWED, nb301.BOOSTER_ALLOWED):
        assert all(isinstance(k, tuple) and len(k) == 2 and "." not in k[1] for k in allowed)
        assert not any(m == "builtins" and n in ("exec", "eval", "getattr", "__import__", "open") for m, n in allowed)
    import io

    u = RestrictedUnpickler(io.BytesIO(b""), {("numpy", "dtype"): None}, "x")
    assert u.find_class("numpy", "dtype") is np.dtype
    for m, n in (("numpy", "dtype.__class__"), ("numpy", "ctypeslib.os.system"), ("numpy.ctypeslib", "os")):
        with pytest.raises(pickle.UnpicklingError):
            u.find_class(m, n)


def test_real_embedded_files_pass_the_allow_lists(analog, graph_cora):
    assert analog.optimum("baseline_accuracy")[0] == pytest.approx(94.0664)
    assert graph_cora.space.size == 26206 and np.isfinite(graph_cora.columns["valid_accuracy"]).all()


def test_nasbench_graph_is_read_once_into_the_cache(graph_cora, tmp_path, monkeypatch):
    from harness.benchmarks import nasbench_graph
    from harness.data import cache

    monkeypatch.setenv("NAS_HARNESS_CACHE", str(tmp_path / "c"))
    calls = []
    real = nasbench_graph._columns
    monkeypatch.setattr(nasbench_graph, "_columns", lambda p, d: calls.append(p) or real(p, d))
    a = nasbench_graph.load("cora")
    b = nasbench_graph.load("cora")
    assert len(calls) == 1 and cache.read_sidecar("nasbench-graph-cora-v1")["sha256"]
    np.testing.assert_array_equal(a.columns["test_accuracy"], b.columns["test_accuracy"])
    np.testing.assert_array_equal(a.columns["test_accuracy"], graph_cora.columns["test_accuracy"])


# --- the oracle: free repeats on every kind, NaN-safe incumbent ------------------------------------
class TinySurrogate:
    """A surrogate benchmark (``kind != "tabular"``) over the NB201 space: value = index / 100,
    or NaN for the architectures in ``nan``."""

    kind = "surrogate"
    name = "tiny-surrogate"
    version = "tiny-surrogate-v1"
    dataset = None
    default_search = default_report = "score"

    def __init__(self, nan=()):
        from harness.spaces import get_space

        self.space = get_space("nb201")
        self.nan = set(nan)
        self.predicted = 0

    def check_metric(self, metric):
        assert metric == "score"
        return metric

    def maximize(self, metric):
        return True

    def predict(self, archs, metric, rng=None):
        self.predicted += len(archs)
        return np.array([np.nan if self.space.index(a) in self.nan else self.space.index(a) / 100 for a in archs])


def _stall(oracle, arch, batch: bool) -> int:
    n = 0
    with pytest.raises(BudgetExhausted):
        while True:
            oracle.query_batch([arch, arch]) if batch else oracle.query(arch)
            n += 2 if batch else 1
            assert n < 10 * oracle._free_limit, "the free-repeat guard never stopped the run"
    return n


@pytest.mark.parametrize("batch", [False, True])
def test_free_repeat_guard_on_a_tabular_benchmark(analog, batch):
    from harness.oracle import Oracle

    o = Oracle(analog, budget=5)
    arch = analog.space.arch_at(7)
    _stall(o, arch, batch)
    assert o.stalled and o.used == 1 and o._free == 100 * 5 + 10_000 + 1


@pytest.mark.parametrize("batch", [False, True])
def test_free_repeat_guard_on_a_surrogate_benchmark(batch):
    from harness.oracle import Oracle

    bench = TinySurrogate()
    o = Oracle(bench, budget=5)
    arch = bench.space.arch_at(7)
    _stall(o, arch, batch)
    assert o.stalled and o.used == 1 and o._free == 100 * 5 + 10_000 + 1
    assert len(o.trajectory()["search"]) == 1


def test_best_positions_is_nan_safe():
    from harness.record import best_positions

    nan = np.nan
    assert best_positions([nan, 1.0, 0.5, 2.0, 2.0, nan, 3.0]).tolist() == [0, 1, 1, 3, 3, 3, 6]
    assert best_positions([nan, nan, 0.2], maximize=False).tolist() == [0, 0, 2]
    assert best_positions([5.0, nan, 1.0], maximize=False).tolist() == [0, 0, 2]
    assert best_positions([1.0, 1.0, 0.5]).tolist() == [0, 0, 0]  # ties keep the earlier


def test_a_nan_value_never_becomes_the_incumbent():
    from harness.oracle import Oracle

    bench = TinySurrogate(nan={3})
    o = Oracle(bench, budget=4)
    for i in (3, 1, 9, 2):
        o.query(bench.space.arch_at(i))
    t = o.trajectory()
    assert np.isnan(t["incumbent_search"][0])
    assert t["incumbent_search"][1:].tolist() == [0.01, 0.09, 0.09]
    assert t["incumbent_key"][-1] == bench.space.key(bench.space.arch_at(9))


# --- tables ------------------------------------------------------------------------------------------
class TinySpace:
    """A finite space of 12 architectures written ``a0`` .. ``a11``."""

    id = "tiny-v1"
    size = 12
    finite = True

    def parse(self, s):
        from harness.errors import InvalidArchitecture

        if not (s.startswith("a") and s[1:].isdigit() and int(s[1:]) < self.size):
            raise InvalidArchitecture(f"{s!r} is not a tiny architecture")
        return int(s[1:])

    def index(self, a):
        return a


def tiny_csv(rows=None) -> str:
    rows = rows or [(f"a{i}", f"{50 + i}.5", f"{i * 10}") for i in range(TinySpace.size)]
    return "arch,acc,time\n" + "".join(",".join(r) + "\n" for r in rows)


def load_tiny(path):
    from harness.benchmarks.tabular_file import load_table

    return load_table(str(path), TinySpace(), {"valid_accuracy": "acc", "training_time": "time"},
                      arch_column="arch", name="tiny", version="tiny-v1")


def test_a_valid_table_loads(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text(tiny_csv())
    b = load_tiny(p)
    assert b.columns["valid_accuracy"].tolist() == [50.5 + i for i in range(12)]


@pytest.mark.parametrize("cell, column, why", [
    ("", "acc", "empty or NaN"), ("inf", "acc", "not a finite number"), ("1e9", "acc", r"\[0, 100\]"),
    ("-0.5", "acc", r"\[0, 100\]"), ("abc", "acc", "not a number"), ("-3", "time", "cannot be negative"),
    ("nan", "time", "empty or NaN"),
])
def test_bad_cells_name_file_row_and_column(tmp_path, cell, column, why):
    rows = [[f"a{i}", f"{50 + i}.5", f"{i * 10}"] for i in range(TinySpace.size)]
    rows[4][1 if column == "acc" else 2] = cell
    p = tmp_path / "t.csv"
    p.write_text(tiny_csv(rows))
    with pytest.raises(DataError, match=why) as e:
        load_tiny(p)
    msg = str(e.value)
    assert "\n" not in msg and str(p) in msg and "row 5" in msg and repr(column) in msg


def test_nb101_values_are_validated(tmp_path):
    import base64
    import json

    from harness.data import nb101 as nb101_data
    from tests.harness.data.nb101_writer import evaluation_data, frame, make_cells, model_metrics

    cells = make_cells(2, seed=3)
    recs = []
    for k, (h, cell) in enumerate(cells.items()):
        for r in range(3):
            va = 1.7 if (k, r) == (1, 2) else 0.9  # 170 %: corrupt
            raw = model_metrics([evaluation_data(0, 0, 0.1, 0.1, 0.1), evaluation_data(54, 5, 0.5, 0.5, 0.5),
                                 evaluation_data(108, 10, 0.9, va, 0.8)], 1000, 11.0)
            m = "".join(str(x) for row in cell.matrix for x in row)
            recs.append(frame(json.dumps([h, 108, m, ",".join(cell.ops), base64.b64encode(raw).decode()]).encode()))
    p = tmp_path / "bad.tfrecord"
    p.write_bytes(b"".join(recs))
    bad_hash = list(cells)[1]
    with pytest.raises(DataError, match=rf"cell {bad_hash} \(repeat 3\), column 'valid_accuracy_108' is 170"):
        nb101_data.build(p)


def test_nb201_values_are_validated_and_missing_seeds_are_not(tmp_path):
    from harness.data import nb201 as nb201_data
    from harness.spaces import get_space
    from tests.harness.data.nats_writer import simple_arch, write_simple_dir

    sp = get_space("nb201")
    strs = [sp.format(sp.arch_at(i)) for i in range(nb201_data.N_ARCHS)]
    ok = {5: simple_arch(5, strs[5], {"cifar100": (60.0, 61.0)}, seeds=(777, 888, 999)),
          6: simple_arch(6, strs[6], {"cifar100": (50.0, 51.0)}, seeds=(777,))}  # fewer seeds: fine
    arrays, _ = nb201_data.build(write_simple_dir(tmp_path / "ok", strs, ok), allow_missing=True)
    assert np.isnan(arrays["cifar100__200__valid"][6, 1:]).all()
    bad = dict(ok)
    bad[7] = simple_arch(7, strs[7], {"cifar100": (60.0, 161.0)}, seeds=(777,))
    with pytest.raises(DataError, match=r"architecture 7 \(repeat 1\), column 'cifar100__\d+__test' is 1\d\d: an accuracy in %"):
        nb201_data.build(write_simple_dir(tmp_path / "bad", strs, bad), allow_missing=True)


# --- the command line ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def world():
    """A world-traversable folder (so an unprivileged user can run the CLI in it) with results
    of one finished run and the caches it used."""
    base = Path(tempfile.mkdtemp(prefix="nas-hostile-"))
    os.chmod(base, 0o755)
    env = {**os.environ, "NAS_HARNESS_RESULTS": str(base / "results"), "NAS_HARNESS_CACHE": str(base / "cache"),
           "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    (base / "a-file").write_text("not a folder")
    r = cli(["run", "--algorithm", "random", "--seeds", "2", "--budget", "20", "--workers", "1", "--no-progress"], env)
    assert r.returncode == 0, r.stderr
    yield base, env
    for p in base.rglob("*"):
        if p.is_dir():
            os.chmod(p, 0o755)
    shutil.rmtree(base, ignore_errors=True)


def cli(args, env, **kw):
    return subprocess.run([PY, "-m", "harness", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, **kw)


def snapshot(base: Path) -> dict[str, bytes]:
    return {str(p.relative_to(base)): p.read_bytes() for p in sorted((base / "results" / "runs").rglob("*.npz"))}


def one_line_exit_2(r, *needles):
    err = r.stderr.strip()
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert "Traceback" not in r.stderr and len(err.splitlines()) == 1, r.stderr[-2000:]
    for n in needles:
        assert n in err, err
    return err


def test_results_folder_read_only(world):
    base, env = world
    before = snapshot(base)
    assert len(before) == 2
    prefix = []
    if os.geteuid() == 0:  # root writes anywhere: drop the capability that lets it
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot make a folder read-only for the CLI")
        prefix = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]
    folders = [base / "results", base / "results" / "runs"]
    for f in folders:
        os.chmod(f, 0o555)
    try:
        r = subprocess.run([*prefix, PY, "-m", "harness", "run", "--algorithm", "random", "--seeds", "3", "--budget", "20",
                            "--workers", "1", "--no-progress"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    finally:
        for f in folders:
            os.chmod(f, 0o755)
    one_line_exit_2(r, "results folder", "not writable", "NAS_HARNESS_RESULTS")
    assert snapshot(base) == before


def test_results_env_unwritable(world):
    base, env = world
    before = snapshot(base)
    r = cli(["run", "--budget", "5", "--seeds", "1", "--no-progress"], {**env, "NAS_HARNESS_RESULTS": str(base / "a-file" / "results")})
    one_line_exit_2(r, "not writable", "NAS_HARNESS_RESULTS")
    assert snapshot(base) == before


def write_protocol(base: Path, name: str, body: str) -> Path:
    p = base / f"{name}.toml"
    p.write_text(f'name = "{name}"\nbenchmark = "nb201-analog"\nbudget = 20\nseeds = 1\n' + body)
    return p


@pytest.mark.parametrize("case", [
    "binary protocol", "protocol is a directory", "population is a string", "not an Algorithm", "a function",
    "raising __init__", "empty module:class", "report alpha 7", "report budget 0", "leaderboard out unwritable",
    "prepare nb101 directory", "nb201 table with inf", "prepare nb201 evil pickle",
])
def test_hostile_cli_input_is_one_line(world, case):
    base, env = world
    before = snapshot(base)
    marker = base / "pwned"
    plugin = "tests.harness.hostile_plugins"
    if case == "binary protocol":
        p = base / "binary.toml"
        p.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00name = 1")
        r, needles = cli(["run", "--protocol", str(p)], env), ("not a text file",)
    elif case == "protocol is a directory":
        d = base / "dir.toml"
        d.mkdir(exist_ok=True)
        r, needles = cli(["run", "--protocol", str(d)], env), ("is a directory",)
    elif case == "population is a string":
        p = write_protocol(base, "big-population", '[algorithms.evolution]\npopulation = "big"\n')
        r, needles = cli(["run", "--protocol", str(p), "--algorithm", "evolution", "--no-progress"], env), (
            "population must be int", "'big'")
    elif case == "not an Algorithm":
        r, needles = cli(["run", "--algorithm", f"{plugin}:NotAnAlgorithm", "--no-progress"], env), ("is not an algorithm",)
    elif case == "a function":
        r, needles = cli(["run", "--algorithm", f"{plugin}:a_function", "--no-progress"], env), ("is not an algorithm",)
    elif case == "raising __init__":
        r, needles = cli(["run", "--algorithm", f"{plugin}:RaisingInit", "--no-progress"], env), (
            "could not be created", "RuntimeError: cannot configure myself")
    elif case == "empty module:class":
        r, needles = cli(["run", "--algorithm", "::", "--no-progress"], env), ("module:Class",)
    elif case == "report alpha 7":
        r, needles = cli(["report", "--protocol", "nb201-cifar10", "--alpha", "7"], env), ("alpha",)
    elif case == "report budget 0":
        r, needles = cli(["report", "--protocol", "nb201-cifar10", "--budget", "0"], env), ("budget must be a positive",)
    elif case == "leaderboard out unwritable":
        r, needles = cli(["leaderboard", "--protocol", "nb201-cifar10", "--out", str(base / "a-file" / "boards")], env), (
            "leaderboard folder", "not writable")
    elif case == "prepare nb101 directory":
        r, needles = cli(["data", "prepare", "nb101", str(base)], env), ("is a directory",)
    elif case == "nb201 table with inf":
        from harness.spaces import get_space

        sp = get_space("nb201")
        lines = ["ArchitectureString,CIFAR10TestAccuracy200Epochs"]
        lines += [f"{sp.format(sp.arch_at(i))},{90 if i != 17 else 'inf'}" for i in range(sp.size)]
        t = base / "nb201-bad.csv"
        t.write_text("\n".join(lines) + "\n")
        r, needles = cli(["run", "--benchmark", "nb201", "--data", str(t), "--no-progress"], env), (
            str(t), "row 18", "'CIFAR10TestAccuracy200Epochs'", "not a finite number")
    elif case == "prepare nb201 evil pickle":
        d = base / "NATS-tss-v1_0-3ffb9-simple"
        d.mkdir(exist_ok=True)
        (d / "meta.pickle.pbz2").write_bytes(bz2.compress(payloads(marker)["numpy submodule by dotted name"]))
        r, needles = cli(["data", "prepare", "nb201", str(d)], env), ("refusing to load",)
    one_line_exit_2(r, *needles)
    assert not marker.exists()
    assert snapshot(base) == before


def test_system_exit_in_run_is_a_failed_run_and_the_sweep_goes_on(world):
    base, env = world
    before = snapshot(base)
    r = cli(["run", "--algorithm", f"{sys.modules[__name__].__package__}.hostile_plugins:ExitsInRun", "random",
             "--seeds", "2", "--budget", "20", "--workers", "1", "--no-progress"], env)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert "2 failed" in r.stdout
    after = snapshot(base)
    assert all(after[k] == v for k, v in before.items())
    from harness.record import RunRecord

    new = [RunRecord.decode(v).to_dict() for k, v in after.items() if k not in before]
    failed = [d for d in new if d["meta"]["status"] == "failed"]
    assert len(failed) == 2 and all("SystemExit: 3" in d["meta"]["error"] for d in failed)
    assert all(len(d["trajectory"]["search"]) == 1 for d in failed)  # the query before the exit is kept


def test_prepare_force_with_a_bad_file_keeps_the_good_cache(world):
    from tests.harness.data.nb101_writer import make_cells, write_tfrecord

    base, env = world
    env = {**env, "NAS_HARNESS_CACHE": str(base / "cache-nb101")}
    good = base / "nasbench_only108.tfrecord"
    write_tfrecord(good, make_cells(30, seed=1))
    r = cli(["data", "prepare", "nb101", str(good)], env)
    assert "nb101: cache" in r.stdout, r.stderr  # verify fails on a tiny file (cell count): fine
    cache = base / "cache-nb101"
    kept = {p.name: p.read_bytes() for p in cache.iterdir()}
    assert set(kept) == {"nb101.npz", "nb101.json"}
    bad = base / "damaged.tfrecord"
    data = bytearray(good.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    for path in (bad, base):
        r = cli(["data", "prepare", "nb101", str(path), "--force"], env)
        one_line_exit_2(r)
        assert {p.name: p.read_bytes() for p in cache.iterdir()} == kept


# --- Ray -------------------------------------------------------------------------------------------
def test_listening_addresses_sees_a_socket_on_all_interfaces():
    from harness.ray_local import is_loopback, listening_addresses

    s = socket.socket()
    s.bind(("0.0.0.0", 0))
    s.listen()
    try:
        found = [a for a in listening_addresses([os.getpid()]) if a[2] == s.getsockname()[1]]
        assert found and not is_loopback(found[0][1])
    finally:
        s.close()


def test_harness_started_ray_listens_on_loopback_only(tmp_path):
    """Takes ~10-20 s (a Ray start); in a subprocess so that no Ray state leaks into the suite."""
    pytest.importorskip("ray")
    script = (
        "import os, sys, psutil\n"
        "from harness.ray_local import listening_addresses, is_loopback\n"
        "from harness.sweep import _execute_ray\n"
        "from harness.protocol import Protocol\n"
        "from harness.runner import Job\n"
        "p = Protocol.adhoc('nb201-analog', 5, 1)\n"
        "recs = [r for r in _execute_ray([Job(p, 'random', 0)], 1, None) if r is not None]\n"
        "assert recs and recs[0][0].meta['status'] == 'finished'\n"
        "me = psutil.Process()\n"
        "pids = [me.pid] + [c.pid for c in me.children(recursive=True)]\n"
        "found = listening_addresses(pids)\n"
        "print(len(pids), found)\n"
        "bad = [a for a in found if not is_loopback(a[1])]\n"
        "import ray; ray.shutdown()\n"
        "sys.exit(3 if bad or len(found) < 3 else 0)\n"
    )
    env = {**os.environ, "NAS_HARNESS_RESULTS": str(tmp_path / "r"), "NAS_HARNESS_CACHE": str(tmp_path / "c")}
    env.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", None)
    r = subprocess.run([PY, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
