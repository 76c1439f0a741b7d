"""``nas-harness data prepare|verify`` and ``nas-harness bench data`` (format of its synthetic cache,
the enumeration figures)."""

import numpy as np
import pytest

from harness.cli import main
from tests.harness.data.nb101_writer import make_cells, write_tfrecord


@pytest.fixture(scope="module")
def tfrecord(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "nasbench_only108.tfrecord"
    write_tfrecord(path, make_cells(60, seed=3))
    return path


def test_verify_with_nothing_prepared_says_what_to_obtain(capsys):
    assert main(["data", "verify"]) == 0
    out = capsys.readouterr().out
    assert "nb101: missing" in out and "nasbench_only108.tfrecord" in out
    assert "nb201: missing" in out and "NATS-tss-v1_0-3ffb9" in out


def test_prepare_converts_then_verify_compares_with_the_official_facts(tfrecord, capsys):
    # a fixture is not the official file: prepared fine, but the known facts do not hold
    assert main(["data", "prepare", "nb101", str(tfrecord)]) == 2
    cap = capsys.readouterr()
    assert "nb101: cache" in cap.out and "FAIL cells: 60 unique cells (official: 423,624)" in cap.out
    assert "ok   checksum" in cap.out
    err = cap.err.strip().splitlines()
    errors = [line for line in err if line.startswith("nas-harness: error")]
    assert len(errors) == 1 and err[-1].startswith("nas-harness: error: data verification failed: nb101")
    assert len(err) == 1 and "converting" in cap.out  # progress of the one-time conversion: stdout
    assert main(["data", "prepare", "nb101", str(tfrecord)]) == 2  # up to date: no conversion
    assert "converting" not in capsys.readouterr().out


def test_bad_files_give_one_line_errors(tfrecord, tmp_path, capsys):
    assert main(["data", "prepare", "nb101", str(tmp_path / "nope.tfrecord")]) == 2
    assert "nope.tfrecord does not exist" in capsys.readouterr().err
    cut = tmp_path / "cut.tfrecord"
    cut.write_bytes(tfrecord.read_bytes()[:-7])
    assert main(["data", "prepare", "nb101", str(cut)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "cut.tfrecord is truncated at byte offset" in err[-1] and err[-1].startswith("nas-harness: error:")
    assert main(["data", "prepare", "nb201", str(tmp_path)]) == 2
    assert "meta.pickle.pbz2" in capsys.readouterr().err


def test_verify_reports_a_corrupt_cache_with_the_rebuild_command(tfrecord, capsys):
    from harness.data import cache

    main(["data", "prepare", "nb101", str(tfrecord)])
    capsys.readouterr()
    npz, _ = cache.paths("nb101")
    npz.write_bytes(npz.read_bytes()[:-50])
    assert main(["data", "verify", "nb101"]) == 2
    out = capsys.readouterr().out
    assert "nb101: FAILED" in out and "corrupt" in out and f"data prepare nb101 {tfrecord} --force" in out


def test_bench_synthetic_cache_has_the_loader_format(tmp_path):
    from harness.bench.data import synthetic_cache
    from harness.benchmarks.nb101 import from_cache
    from harness.data import cache

    synthetic_cache(tmp_path, n=500, full=True)
    c = cache.read("nb101", root=tmp_path)
    b = from_cache(c)
    assert b.space.size == 500 and b.columns["test_accuracy_12ep"].shape == (500, 3)
    assert np.isfinite(b.mean("valid_accuracy")).all()


def test_bench_data_prints_the_enumeration_figures(capsys):
    """Smoke test of ``nas-harness bench data --what enumeration`` on the spaces of up to 4
    vertices (the full space's run is the command itself)."""
    assert main(["bench", "data", "--what", "enumeration", "--max-vertices", "4", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "91 cells, 91 distinct hashes" in out  # 1 + 6 + 84 cells of 2, 3 and 4 vertices
    for line in ("enumeration wall time:", "CPU time of all its processes", "peak RSS: enumerating process",
                 "cached hash index load", "targets enumeration < 60 s, cached load < 2 s and < 1 GB:"):  # met or not: timing is not tested
        assert line in out
