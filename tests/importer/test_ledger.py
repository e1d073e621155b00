"""The ledger: opening it, who holds it (liveness, takeover), the heartbeat, run states."""

from __future__ import annotations

import os
import time

import pytest

from anp_synth.errors import LedgerBusyError, RunTakenOverError, UsageError
from anp_synth.importer.ledger import (
    Failure,
    ItemState,
    Ledger,
    Liveness,
    Planned,
    RunState,
    liveness,
)
from tests.importer.posts import DEAD_PID


def test_a_ledger_path_that_cannot_be_created_is_a_usage_error_naming_it() -> None:
    with pytest.raises(UsageError, match=r"^ledger: /proc/nope/l\.sqlite"):
        Ledger("/proc/nope/l.sqlite")


def test_a_second_live_import_is_refused(tmp_path, target) -> None:
    db = tmp_path / "l.sqlite"
    a, b = Ledger(db), Ledger(db)
    try:
        a.begin_run("f", target, "memory", {})
        with pytest.raises(LedgerBusyError, match="in use by run 1"):
            b.begin_run("f", target, "memory", {}, pid=1)  # pid 1 is alive, heartbeat is fresh
    finally:
        a.close(), b.close()


def test_a_stale_heartbeat_is_taken_over_even_if_the_pid_lives(tmp_path, target) -> None:
    led = Ledger(tmp_path / "l.sqlite")
    try:
        run = led.begin_run("f", target, "memory", {}, pid=1)
        led.mark_running(run.id, pid=1, heartbeat=time.time() - 100)  # pid 1 lives, no beat
        again = led.begin_run("f", target, "memory", {})
        assert again.id == run.id and again.resumed == 1
    finally:
        led.close()


def test_a_crashed_run_on_another_file_is_marked_interrupted(tmp_path, target) -> None:
    led = Ledger(tmp_path / "l.sqlite")
    try:
        run = led.begin_run("f", target, "memory", {}, pid=DEAD_PID)
        new = led.begin_run("g", target, "memory", {})
        assert new.id != run.id and led.run(run.id).state == RunState.INTERRUPTED
    finally:
        led.close()


def test_the_heartbeat_beats_in_the_background(tmp_path, target) -> None:
    import time

    led = Ledger(tmp_path / "l.sqlite")
    try:
        run = led.begin_run("f", target, "memory", {})
        led.mark_running(run.id, pid=os.getpid(), heartbeat=0)
        led.start_heartbeat(run.id, every=0.02)
        deadline = time.monotonic() + 5
        while led.run(run.id).heartbeat == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert led.run(run.id).heartbeat > 0
    finally:
        led.close()


def test_a_heartbeat_stopped_before_it_started_stops_quietly(tmp_path) -> None:
    # A Ctrl-C/SIGTERM landing between the heartbeat's making and its start() must still let
    # the run be finished as interrupted (it used to raise "cannot join thread before it is
    # started" and end with a traceback and exit 1). The class is reached directly: the window
    # is between two statements of Ledger.start_heartbeat.
    from anp_synth.importer.ledger.heartbeat import Heartbeat

    Heartbeat(tmp_path / "l.sqlite", 1, os.getpid()).stop()


def test_finish_run_does_not_overwrite_a_run_no_longer_running(ledger, target) -> None:
    run = ledger.begin_run("f.jsonl", target, "memory", {})
    ledger.set_run_state(run.id, RunState.ROLLED_BACK)
    with pytest.raises(RunTakenOverError, match="marked it rolled_back"):
        ledger.finish_run(run.id, RunState.COMPLETED, {"created": 1})
    assert ledger.run(run.id).state == RunState.ROLLED_BACK and ledger.run(run.id).counts == {}
    # a run finished by its own process is recorded (and the ledger holds no run after it)
    other = ledger.begin_run("g.jsonl", target, "memory", {})
    ledger.finish_run(other.id, RunState.COMPLETED, {"created": 1})
    assert ledger.run(other.id).counts == {"created": 1} and not ledger.holds_run


def test_a_run_taken_over_refuses_every_write_of_its_old_process(tmp_path, target) -> None:
    db = tmp_path / "l.sqlite"
    old, new = Ledger(db), Ledger(db)
    try:
        run = old.begin_run("f", target, "memory", {}, pid=1)  # pid 1 lives; it stops beating
        old.mark_running(run.id, pid=1, heartbeat=time.time() - 100)
        taken = new.begin_run("f", target, "memory", {})
        assert taken.id == run.id and taken.pid == os.getpid()
        planned = [Planned("alphanode-000001", 1, "h", b"d", 1, "t", [], [])]
        writes = [
            lambda: old.check_owner(),
            lambda: old.mark_pending(target, run.id, planned, {}),
            lambda: old.mark_sent(target, ["alphanode-000001"]),
            lambda: old.save_counts(run.id, {"created": 99}),
            lambda: old.finish_run(run.id, RunState.FAILED, {"created": 99}),
        ]
        for write in writes:
            with pytest.raises(RunTakenOverError, match=rf"pid {os.getpid()}, as the ledger"):
                write()
            old._held = (run.id, 1)  # each write on its own (finish_run forgets the run)
        now = new.run(run.id)
        assert (now.state, now.pid, now.counts) == (RunState.RUNNING, os.getpid(), {})
        assert list(new.items()) == []
    finally:
        old.close(), new.close()


def test_a_taken_over_run_gets_no_heartbeat_from_its_old_process(tmp_path, target) -> None:
    db = tmp_path / "l.sqlite"
    old, new = Ledger(db), Ledger(db)
    try:
        run = old.begin_run("f", target, "memory", {}, pid=1)
        old.start_heartbeat(run.id, every=0.01)  # beats for pid 1 …
        new.mark_running(run.id, pid=DEAD_PID, heartbeat=0)  # … but the row is another pid's
        time.sleep(0.2)  # ~20 beats would have landed
        assert new.run(run.id).heartbeat == 0
        new.mark_running(run.id, pid=1, heartbeat=0)
        deadline = time.monotonic() + 5
        while new.run(run.id).heartbeat == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert new.run(run.id).heartbeat > 0  # its own run again: it beats
    finally:
        old.close(), new.close()


def test_liveness_tells_alive_crashed_and_stale() -> None:
    now = time.time()
    assert liveness(os.getpid(), now) is Liveness.ALIVE
    assert liveness(DEAD_PID, now) is Liveness.CRASHED
    assert liveness(os.getpid(), now - 100, stale_after=15) is Liveness.STALE
    assert liveness(os.getpid(), now - 10, stale_after=15) is Liveness.ALIVE


def test_a_read_only_ledger_reads_and_refuses_what_is_not_a_ledger(tmp_path, target) -> None:
    path = tmp_path / "l.sqlite"
    with Ledger(path) as led:
        led.begin_run("f", target, "memory", {})
    with Ledger.open_readonly(path) as ro:
        assert [r.file for r in ro.runs()] == ["f"] and ro.item_states() == {}
    with pytest.raises(UsageError, match="^ledger: no ledger file"):
        Ledger.open_readonly(tmp_path / "none.sqlite")
    (tmp_path / "bad.sqlite").write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(UsageError, match="^ledger: .*bad.sqlite: not a usable SQLite ledger"):
        Ledger.open_readonly(tmp_path / "bad.sqlite")


def test_a_schema_1_ledger_is_migrated_and_its_gave_up_posts_are_still_resent(
    tmp_path, target
) -> None:
    path = tmp_path / "l.sqlite"
    with Ledger(path) as led:
        run = led.begin_run("f", target, "memory", {})
        planned = [Planned(f"alphanode-00000{i}", i, "h", b"d", 1, "t", [], []) for i in (1, 2)]
        led.mark_pending(target, run.id, planned, {})
        led.fail(target, [Failure("alphanode-000001", "gave up after 8 attempts: 503")])
        led.fail(target, [Failure("alphanode-000002", "422 refused")])
        # Reaching inside on purpose: turn the file back into what version 1 wrote (no
        # gave_up column: a "gave up" prefix on last_error said it), which no API writes.
        led.db.execute("ALTER TABLE items DROP COLUMN gave_up")
        led.db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    with Ledger(path) as led:
        known = led.known(target, ["alphanode-000001", "alphanode-000002"])
        assert known["alphanode-000001"].gave_up and not known["alphanode-000002"].gave_up
        assert {i.source_id: i.state for i in led.items()} == {
            "alphanode-000001": ItemState.FAILED,
            "alphanode-000002": ItemState.FAILED,
        }


def test_a_ledger_locked_past_the_busy_timeout_is_one_line_not_a_traceback(
    tmp_path, target
) -> None:
    path = tmp_path / "l.sqlite"
    holder, waiter = Ledger(path), Ledger(path)
    try:
        waiter.db.execute("PRAGMA busy_timeout = 50")  # instead of waiting out 30 s
        locked = pytest.raises(LedgerBusyError, match=r"stayed locked by another process")
        with holder._tx(), locked:  # another process stopped in the middle of a write
            waiter.begin_run("f", target, "memory", {})
        assert waiter.begin_run("f", target, "memory", {}).id == 1  # free again: it goes on
    finally:
        holder.close(), waiter.close()
