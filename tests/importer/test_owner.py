"""Rule 3, one owner per run, with two real import processes and the real site.

Import A is paused with SIGSTOP mid-run; once its heartbeat is stale, import B resumes the run
and finishes it; then A gets SIGCONT. A must notice at its next batch, stop with one line naming
B as the ledger records it, and write nothing more: B's counts stand, nothing counted twice.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from anp_synth.importer.ledger import ItemState, Ledger, Liveness, RunState
from anp_synth.sinks.anp import AnpSink
from anp_synth.sinks.base import iter_all
from anp_synth.site.launcher import SiteProcess
from tests.importer.posts import post, write_jsonl

POSTS = 600
WAIT_S = 60  # bound of every wait below (a hang guard, not a speed test)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[SiteProcess]:
    s = SiteProcess(tmp_path / "site" / "site.db")
    s.start()
    yield s
    s.stop()


def _import(path: Path, site: SiteProcess, ledger: Path, *extra: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "anp_synth", "import", str(path), "--target", site.url]
    return subprocess.Popen(
        [*cmd, "--ledger", str(ledger), "-q", *extra],
        env={**os.environ, "ANP_TARGET_TOKEN": site.token},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _until(what: str, ok, bound: float = WAIT_S) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + bound
    while not ok():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


def _confirmed(ledger: Path) -> int:
    if not ledger.exists():
        return 0
    with Ledger.open_readonly(ledger) as led:
        return led.item_states().get(ItemState.CONFIRMED, 0)


def _write_lock_free(ledger: Path) -> bool:
    # The test reaches inside SQLite here (not the Ledger API) on purpose: it asks only
    # whether another process holds the write lock, which the ledger has no method for.
    db = sqlite3.connect(ledger, timeout=0.2, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        db.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        db.close()


def _pause_outside_a_write(proc: subprocess.Popen[str], ledger: Path) -> None:
    """SIGSTOP `proc` at a moment it holds no ledger transaction.

    A process stopped inside a write transaction blocks every other writer (SQLite's lock),
    which is not what this test is about; on a busy machine a stop can land there, so the
    pause is retried, bounded, until the lock is free while the process is stopped.
    """
    for _ in range(100):
        os.kill(proc.pid, signal.SIGSTOP)
        if _write_lock_free(ledger):
            return
        os.kill(proc.pid, signal.SIGCONT)
        time.sleep(0.05)
    raise AssertionError("could not pause the import outside a ledger write in 100 tries")


def _liveness(ledger: Path) -> Liveness:
    with Ledger.open_readonly(ledger) as led:
        return led.run(1).liveness()


def test_a_paused_import_whose_run_was_taken_over_stops_naming_the_new_owner(
    tmp_path, site
) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [post(s) for s in range(POSTS)])
    ledger = tmp_path / "ledger.sqlite"
    # A: small batches, one at a time, so it is still mid-run when paused
    a = _import(path, site, ledger, "--batch-size", "2", "--concurrency", "1")
    try:
        _until("A's first confirmed batch", lambda: _confirmed(ledger) > 0)
        _pause_outside_a_write(a, ledger)
        _until("A's heartbeat to go stale", lambda: _liveness(ledger) is Liveness.STALE)
        paused_at = _confirmed(ledger)
        assert paused_at < POSTS
        b = _import(path, site, ledger)
        b_out, b_err = b.communicate(timeout=WAIT_S)
        assert b.returncode == 0, b_err
        with Ledger.open_readonly(ledger) as led:
            after_b = led.run(1)
        assert (after_b.state, after_b.pid, after_b.resumed) == (RunState.COMPLETED, b.pid, 1)
        os.kill(a.pid, signal.SIGCONT)
        _a_out, a_err = a.communicate(timeout=WAIT_S)
    finally:
        if a.poll() is None:
            os.kill(a.pid, signal.SIGCONT)
            os.killpg(a.pid, signal.SIGKILL)
            a.wait(timeout=WAIT_S)
    assert a.returncode == 1, a_err
    lines = [x for x in a_err.splitlines() if x.strip()]
    assert "Traceback" not in a_err
    assert [x for x in lines if x.startswith("error:")] == lines[-1:]
    assert lines[-1].startswith("error: run 1 was taken over by another import")
    assert f"pid {b.pid}, as the ledger records it; now completed" in lines[-1]
    with Ledger.open_readonly(ledger) as led:
        final = led.run(1)
        changes = led.change_counts(1)
        items = led.item_states()
    # A wrote nothing after B: the run, its counts and its heartbeat are B's
    assert (final.state, final.pid, final.counts, final.heartbeat) == (
        after_b.state, after_b.pid, after_b.counts, after_b.heartbeat,
    )  # fmt: skip
    assert final.counts["created"] == POSTS and final.counts["read"] == POSTS
    assert changes == {"created": POSTS} and items == {ItemState.CONFIRMED: POSTS}
    sink = AnpSink(site.url, site.token)
    try:
        assert sum(1 for _ in iter_all(sink)) == POSTS
    finally:
        sink.close()
