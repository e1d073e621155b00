"""Rollback against the in-memory sink: plan first, then undo exactly one run."""

from __future__ import annotations

import io
import os

import pytest
import stamina

from anp_synth.errors import LedgerBusyError, TargetDownError, TransientSinkError, UsageError
from anp_synth.importer import Importer, rollback
from anp_synth.importer.ledger import RunState
from anp_synth.sinks.memory import MemorySink
from tests.importer.posts import (
    DEAD_PID,
    DiesAfterWrite,
    FlakySink,
    Killed,
    edited,
    fast_options,
    jsonl_bytes,
    post,
)


def snapshot(sink: MemorySink) -> dict[str, tuple[str, str]]:
    """Remote id and hash of every post on the memory target."""
    return {sid: (rid, h) for sid, (rid, _p, h) in sink.store.posts.items()}


def test_rollback_of_an_update_run_restores_the_target_exactly(ledger, sink, imports) -> None:
    imports(sink, "a.jsonl", [post(s) for s in range(200)])
    before = snapshot(sink)
    second = imports(sink, "b.jsonl", [edited(s) if s < 50 else post(s) for s in range(300)])
    assert (second.created, second.updated) == (100, 50)
    # A no-op rerun changes nothing, so the default rollback still picks the second run.
    imports(sink, "b.jsonl")
    p = rollback.plan(ledger)
    assert p.run.id == second.run_id and (len(p.delete), len(p.restore)) == (100, 50)
    out = rollback.apply(p, sink, ledger)
    assert (out.deleted, out.restored, out.failed) == (100, 50, [])
    assert snapshot(sink) == before
    assert ledger.run(second.run_id).state == RunState.ROLLED_BACK
    # The ledger follows: a rerun of the first file is a no-op, of the second redoes the work.
    again = imports(sink, "a.jsonl")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 200)
    # Then the first run is next in line, and rolling it back empties the target.
    first = rollback.plan(ledger)
    assert first.run.id == 1
    rollback.apply(first, sink, ledger)
    assert sink.store.posts == {}


def test_rollback_refuses_a_run_that_later_runs_changed(ledger, sink, imports) -> None:
    imports(sink, "a.jsonl", [post(s) for s in range(5)])
    imports(sink, "b.jsonl", [edited(0)])
    with pytest.raises(UsageError, match="later runs 2"):
        rollback.plan(ledger, run_id=1)


def test_rollback_with_nothing_to_undo_says_so(ledger) -> None:
    with pytest.raises(UsageError, match="nothing to roll back"):
        rollback.plan(ledger)


def test_rollback_refuses_a_run_that_is_still_going(ledger, target) -> None:
    Importer(MemorySink(target), ledger, target, fast_options()).run(
        io.BytesIO(jsonl_bytes(range(3))), "f.jsonl"
    )
    run = ledger.runs()[0]
    # The run looks alive again (this process, fresh heartbeat): as if still importing.
    ledger.mark_running(run.id, pid=os.getpid())
    with pytest.raises(LedgerBusyError, match=f"run {run.id}"):
        rollback.plan(ledger, run.id)
    # Crashed (dead pid): resume it first.
    ledger.mark_running(run.id, pid=DEAD_PID)
    with pytest.raises(UsageError, match="resume it first"):
        rollback.plan(ledger, run.id)


def test_writes_that_landed_before_a_give_up_are_rolled_back_after_a_rerun(ledger, target) -> None:
    inner = MemorySink(target, replay=False)
    flaky = FlakySink(inner, down_for=10**6, write_then_fail=True)
    opts = fast_options(max_attempts=2, breaker_threshold=100)
    s1 = Importer(flaky, ledger, target, opts).run(io.BytesIO(jsonl_bytes(range(5))), "f.jsonl")
    assert s1.failed == 5 and len(inner.store.posts) == 5  # every write landed, no answer
    with pytest.raises(UsageError, match=f"run {s1.run_id} has writes that were sent but never"):
        rollback.plan(ledger, s1.run_id)
    # The rerun is a new run (the first one finished, partial) and finds them unchanged.
    s2 = Importer(inner, ledger, target, opts).run(io.BytesIO(jsonl_bytes(range(5))), "f.jsonl")
    assert s2.run_id != s1.run_id and s2.failed == 0
    p = rollback.plan(ledger)
    assert p.run.id == s1.run_id and len(p.delete) == 5
    rollback.apply(p, inner, ledger)
    assert inner.store.posts == {}


def test_a_crashed_run_superseded_by_another_file_keeps_its_landed_writes(ledger, target) -> None:
    inner = MemorySink(target, replay=False)
    with pytest.raises(Killed):
        Importer(DiesAfterWrite(inner), ledger, target, fast_options(concurrency=1)).run(
            io.BytesIO(jsonl_bytes(range(5))), "a.jsonl"
        )
    crashed = ledger.runs()[0]
    ledger.mark_running(crashed.id, pid=DEAD_PID)
    # Another file with the same 5 posts and one more: a new run; the crashed one is superseded.
    s = Importer(inner, ledger, target, fast_options()).run(
        io.BytesIO(jsonl_bytes(range(6))), "b.jsonl"
    )
    assert s.run_id != crashed.id and ledger.run(crashed.id).state == RunState.INTERRUPTED
    # The new run undoes only what it wrote; the crashed run's writes are undone with it.
    p2 = rollback.plan(ledger)
    assert p2.run.id == s.run_id and [c.source_id for c in p2.delete] == ["alphanode-000005"]
    rollback.apply(p2, inner, ledger)
    p1 = rollback.plan(ledger)
    assert p1.run.id == crashed.id and len(p1.delete) == 5
    rollback.apply(p1, inner, ledger)
    assert inner.store.posts == {}


class _Down:
    """A target that stops answering: every call fails transiently."""

    def __init__(self, inner: MemorySink) -> None:
        self.inner, self.name, self.max_batch = inner, inner.name, inner.max_batch
        self.calls = 0

    def _fail(self, *args: object, **kw: object) -> None:
        self.calls += 1
        raise TransientSinkError("ConnectError: connection refused")

    delete = upsert = purge = _fail

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def test_a_target_that_goes_down_during_rollback_is_fatal_once(
    target, ledger, sink, imports
) -> None:
    imports(sink, "p.jsonl", [post(s) for s in range(40)])
    plan = rollback.plan(ledger, None, target)
    down = _Down(sink)
    stamina.set_testing(True, attempts=2)
    try:
        with pytest.raises(TargetDownError, match="stopped answering during the rollback"):
            rollback.apply(plan, down, ledger, concurrency=1)
    finally:
        stamina.set_testing(False)
    assert down.calls == 2  # one post's retries, then the rest are not tried
    assert len(sink.store.posts) == 40  # nothing undone, nothing recorded as undone
    again = rollback.plan(ledger, None, target)
    assert len(again.delete) == 40
