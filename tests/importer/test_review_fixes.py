"""Regression tests for the importer review findings (ledger path, stdin resume, rollback of
live runs, unconfirmed writes, a batch that always fails, double counting)."""

from __future__ import annotations

import io
import os
import time

import orjson
import pytest

from anp_synth.errors import (
    LedgerBusyError,
    TerminalSinkError,
    TokenRefusedError,
    TransientSinkError,
    UsageError,
)
from anp_synth.importer import ledger as L
from anp_synth.importer import rollback
from anp_synth.importer.run import Importer
from anp_synth.sinks.memory import MemorySink
from tests.importer.posts import DiesAfterWrite, FlakySink, Killed, fast_options, post


def _jsonl(seeds: range) -> bytes:
    return b"".join(orjson.dumps(post(s)) + b"\n" for s in seeds)


def test_a_ledger_path_that_cannot_be_created_is_a_usage_error_naming_it() -> None:
    with pytest.raises(UsageError, match=r"^ledger: /proc/nope/l\.sqlite"):
        L.Ledger("/proc/nope/l.sqlite")


@pytest.mark.parametrize("state", [L.RUNNING, L.FAILED])
def test_a_stdin_import_never_resumes_a_crashed_stdin_import(ledger, target, state) -> None:
    old = ledger.begin_run("-", target, "memory", {})
    ledger.db.execute("UPDATE runs SET state = ?, pid = 999999999 WHERE id = ?", (state, old.id))
    s = Importer(MemorySink(target), ledger, target, fast_options()).run(
        io.BytesIO(_jsonl(range(3))), "-"
    )
    assert s.run_id != old.id and not s.resumed and s.created == 3


def test_rollback_refuses_a_run_that_is_still_going(ledger, target) -> None:
    Importer(MemorySink(target), ledger, target, fast_options()).run(
        io.BytesIO(_jsonl(range(3))), "f.jsonl"
    )
    run = ledger.runs()[0]
    # The run looks alive again (this process, fresh heartbeat): as if still importing.
    ledger.db.execute(
        "UPDATE runs SET state = 'running', pid = ?, heartbeat = ? WHERE id = ?",
        (os.getpid(), L._now(), run.id),
    )
    with pytest.raises(LedgerBusyError, match=f"run {run.id}"):
        rollback.plan(ledger, run.id)
    # Crashed (dead pid): resume it first.
    ledger.db.execute("UPDATE runs SET pid = 999999999 WHERE id = ?", (run.id,))
    with pytest.raises(UsageError, match="resume it first"):
        rollback.plan(ledger, run.id)


def test_finish_run_does_not_overwrite_a_rolled_back_run(ledger, target) -> None:
    run = ledger.begin_run("f.jsonl", target, "memory", {})
    ledger.set_run_state(run.id, L.ROLLED_BACK)
    ledger.finish_run(run.id, L.COMPLETED, {"created": 1})
    assert ledger.run(run.id).state == L.ROLLED_BACK


class _SplitsThenBlips(MemorySink):
    """Refuses every multi-post batch (413) and fails one post's first single send (503)."""

    def __init__(self, target: str) -> None:
        super().__init__(target, replay=False)
        self.sends: dict[str, int] = {}
        self.blipped = False

    def upsert_many(self, posts, *, idempotency_keys):  # type: ignore[no-untyped-def]
        if len(posts) > 1:
            raise TerminalSinkError("413 too large", status=413)
        sid = posts[0]["source_id"]
        if sid == "alphanode-000002" and not self.blipped:
            self.blipped = True
            raise TransientSinkError("503 blip", status=503)
        self.sends[sid] = self.sends.get(sid, 0) + 1
        return super().upsert_many(posts, idempotency_keys=idempotency_keys)


def test_a_transient_error_while_splitting_a_refused_batch_resends_only_that_post(
    ledger, target
) -> None:
    sink = _SplitsThenBlips(target)
    s = Importer(sink, ledger, target, fast_options(batch_size=5)).run(
        io.BytesIO(_jsonl(range(5))), "f.jsonl"
    )
    assert sink.sends == {f"alphanode-00000{i}": 1 for i in range(5)}
    assert (s.created, s.unchanged, s.failed, s.quarantined) == (5, 0, 0, 0)


class _OnePostAlways503(MemorySink):
    """A target that answers 503 to every request carrying one particular post."""

    bad = "alphanode-000003"

    def upsert_many(self, posts, *, idempotency_keys):  # type: ignore[no-untyped-def]
        if any(p["source_id"] == self.bad for p in posts):
            raise TransientSinkError("503 always", status=503)
        return super().upsert_many(posts, idempotency_keys=idempotency_keys)


def test_a_batch_that_always_gets_a_5xx_fails_only_its_bad_post(ledger, target) -> None:
    sink = _OnePostAlways503(target)
    opts = fast_options(
        batch_size=5, concurrency=1, breaker_threshold=2, max_retry_time=0.2, max_pause=1.0
    )
    s = Importer(sink, ledger, target, opts).run(io.BytesIO(_jsonl(range(10))), "f.jsonl")
    assert (s.created, s.failed) == (9, 1)
    assert sorted(sink.store.posts) == [f"alphanode-00000{i}" for i in range(10) if i != 3]
    states = {r["source_id"]: r["state"] for r in ledger.items(target=target)}
    assert states["alphanode-000003"] == "failed" and ledger.run(s.run_id).state == L.PARTIAL


class _SlowFirstThenRefusesToken(MemorySink):
    """The batch with post 0 is slow but lands; the batch with post 2 gets a 401 (fatal)."""

    def upsert_many(self, posts, *, idempotency_keys):  # type: ignore[no-untyped-def]
        ids = {p["source_id"] for p in posts}
        if "alphanode-000000" in ids:
            time.sleep(0.5)  # still running when the 401 stops the run
        if "alphanode-000002" in ids:
            raise TerminalSinkError("401 bad token", status=401)
        return super().upsert_many(posts, idempotency_keys=idempotency_keys)


def test_batches_in_flight_when_a_run_stops_are_still_confirmed(ledger, target) -> None:
    sink = _SlowFirstThenRefusesToken(target)
    imp = Importer(sink, ledger, target, fast_options(batch_size=2, concurrency=2))
    with pytest.raises(TokenRefusedError):
        imp.run(io.BytesIO(_jsonl(range(10))), "f.jsonl")
    run = ledger.runs()[0]
    states = {r["source_id"]: r["state"] for r in ledger.items(target=target)}
    assert states["alphanode-000000"] == states["alphanode-000001"] == "confirmed"
    created = {c.source_id for c in ledger.changes(run.id)}
    assert {"alphanode-000000", "alphanode-000001"} <= created


def test_writes_that_landed_before_a_give_up_are_rolled_back_after_a_rerun(ledger, target) -> None:
    inner = MemorySink(target, replay=False)
    flaky = FlakySink(inner, down_for=10**6, write_then_fail=True)
    opts = fast_options(max_attempts=2, breaker_threshold=100)
    s1 = Importer(flaky, ledger, target, opts).run(io.BytesIO(_jsonl(range(5))), "f.jsonl")
    assert s1.failed == 5 and len(inner.store.posts) == 5  # every write landed, no answer
    with pytest.raises(UsageError, match=f"run {s1.run_id} has writes that were sent but never"):
        rollback.plan(ledger, s1.run_id)
    # The rerun is a new run (the first one finished, partial) and finds them unchanged.
    s2 = Importer(inner, ledger, target, opts).run(io.BytesIO(_jsonl(range(5))), "f.jsonl")
    assert s2.run_id != s1.run_id and s2.failed == 0
    p = rollback.plan(ledger)
    assert p.run.id == s1.run_id and len(p.delete) == 5
    rollback.apply(p, inner, ledger)
    assert inner.store.posts == {}


def test_a_crashed_run_superseded_by_another_file_keeps_its_landed_writes(ledger, target) -> None:
    inner = MemorySink(target, replay=False)
    with pytest.raises(Killed):
        Importer(DiesAfterWrite(inner), ledger, target, fast_options(concurrency=1)).run(
            io.BytesIO(_jsonl(range(5))), "a.jsonl"
        )
    crashed = ledger.runs()[0]
    ledger.db.execute(
        "UPDATE runs SET state = 'running', pid = 999999999 WHERE id = ?", (crashed.id,)
    )
    # Another file with the same 5 posts and one more: a new run; the crashed one is superseded.
    s = Importer(inner, ledger, target, fast_options()).run(io.BytesIO(_jsonl(range(6))), "b.jsonl")
    assert s.run_id != crashed.id and ledger.run(crashed.id).state == L.INTERRUPTED
    # The new run undoes only what it wrote; the crashed run's writes are undone with it.
    p2 = rollback.plan(ledger)
    assert p2.run.id == s.run_id and [c.source_id for c in p2.delete] == ["alphanode-000005"]
    rollback.apply(p2, inner, ledger)
    p1 = rollback.plan(ledger)
    assert p1.run.id == crashed.id and len(p1.delete) == 5
    rollback.apply(p1, inner, ledger)
    assert inner.store.posts == {}
