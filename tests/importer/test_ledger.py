"""The ledger: opening it, who holds it (liveness, takeover), the heartbeat, run states."""

from __future__ import annotations

import os
import time

import pytest

from anp_synth.errors import (
    LedgerBusyError,
    UsageError,
)
from anp_synth.importer.ledger import Ledger, RunState
from tests.importer.posts import (
    DEAD_PID,
)


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


def test_finish_run_does_not_overwrite_a_rolled_back_run(ledger, target) -> None:
    run = ledger.begin_run("f.jsonl", target, "memory", {})
    ledger.set_run_state(run.id, RunState.ROLLED_BACK)
    ledger.finish_run(run.id, RunState.COMPLETED, {"created": 1})
    assert ledger.run(run.id).state == RunState.ROLLED_BACK
