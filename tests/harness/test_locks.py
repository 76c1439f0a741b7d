"""Per-run claims (harness.locks): a claim appears with its content, and only a dead or long
unreadable claim is taken over."""

import json
import os
import time

from harness import locks


def test_claim_is_written_whole_and_released(tmp_path):
    rec = tmp_path / "run.json"
    assert locks.claim(rec)
    info = json.loads(locks.claim_path(rec).read_text())
    assert info["pid"] == os.getpid()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temporary left
    locks.release(rec)
    assert not locks.claim_path(rec).exists()


def test_fresh_unreadable_claim_is_not_taken_over_but_an_old_one_is(tmp_path):
    rec = tmp_path / "run.json"
    path = locks.claim_path(rec)
    path.write_text("")  # what a reader of an owner's half-written claim would see
    assert not locks.claim(rec)
    old = time.time() - 120
    os.utime(path, (old, old))
    assert locks.claim(rec)
    assert json.loads(path.read_text())["pid"] == os.getpid()


def test_claim_of_a_dead_owner_is_taken_over(tmp_path):
    rec = tmp_path / "run.json"
    path = locks.claim_path(rec)
    path.write_text(json.dumps({"host": locks.HOST, "pid": 2**22 + 12345, "start": None, "time": 0}))
    assert locks.claim(rec)


def test_a_killed_claimers_temporary_file_is_cleaned_on_resume(tmp_path):
    """A SIGKILL between writing a claim's temporary file and removing it leaves
    ``.<key>.claim.<host>.<pid>.tmp``; the next sweep's start removes it when that pid is dead,
    and leaves a live process's alone."""
    import subprocess

    from harness.sweep import adopt_staged

    dead = subprocess.Popen(["true"])
    dead.wait()
    gone = tmp_path / f".{'a' * 16}.claim.{locks.HOST}.{dead.pid}.tmp"
    gone.write_text("")  # killed before it wrote anything
    live = tmp_path / f".{'b' * 16}.claim.{locks.HOST}.{os.getpid()}.tmp"
    live.write_text(json.dumps(locks._me()))
    other = tmp_path / f".{'c' * 16}.claim.elsewhere.{dead.pid}.tmp"
    other.write_text("")
    assert locks.is_dead_claim_temp(gone) and not locks.is_dead_claim_temp(live)
    adopt_staged(tmp_path)
    assert not gone.exists() and live.exists() and other.exists()
