"""Sending: retries, Retry-After, give-ups, the breaker's pause, split batches, purges, keys."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

from anp_synth.errors import TargetDownError, TerminalSinkError, TransientSinkError
from anp_synth.importer import Importer, idempotency_key, rollback
from anp_synth.importer.ledger import Action, ItemState, RunState
from anp_synth.jsonl import content_hash
from anp_synth.sinks.memory import MemorySink
from tests.importer.posts import (
    FlakySink,
    edited,
    fast_options,
    jsonl_bytes,
    post,
    run_import,
    write_jsonl,
)


def test_changed_posts_are_updated_with_their_previous_version_and_purged(
    tmp_path, ledger, target
) -> None:
    sink = MemorySink(target)
    run_import(
        sink, ledger, target, write_jsonl(tmp_path / "a.jsonl", [post(s) for s in range(20)])
    )
    rows = [edited(s) if s < 5 else post(s) for s in range(20)]
    s = run_import(sink, ledger, target, write_jsonl(tmp_path / "b.jsonl", rows))
    assert (s.created, s.updated, s.unchanged) == (0, 5, 15)
    changes = ledger.changes(s.run_id)
    assert [c.action for c in changes] == [Action.UPDATED] * 5
    assert changes[0].previous == post(0) and changes[0].previous_hash == content_hash(post(0))
    assert sorted(sink.store.purged) == sorted(f"/posts/{post(i)['slug']}" for i in range(5))


def test_transient_failures_are_retried_and_honour_retry_after(tmp_path, ledger, target) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [post(s) for s in range(60)])
    sink = FlakySink(MemorySink(target), fail_calls={1, 2, 4}, retry_after=0.05)
    s = run_import(sink, ledger, target, path, batch_size=10, concurrency=1)
    assert s.created == 60 and s.failed == 0 and sink.failed == 3
    log = [orjson.loads(x) for x in Path(s.log_path).read_bytes().splitlines()]
    retries = [r for r in log if r.get("action") == "retry"]
    assert len(retries) == 3 and all(r["status"] == 503 for r in retries)
    assert max(r["attempt"] for r in log if "attempt" in r) == 3


def test_lost_answers_still_count_as_created_so_rollback_deletes_them(
    tmp_path, ledger, target
) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [post(s) for s in range(30)])
    inner = MemorySink(target, replay=False)  # the fallback: no replay of the first answer
    sink = FlakySink(inner, fail_calls={1, 3}, write_then_fail=True)
    s = run_import(sink, ledger, target, path, batch_size=10, concurrency=1)
    assert s.created == 30
    rollback.apply(rollback.plan(ledger), inner, ledger)
    assert inner.store.posts == {}


def test_retries_give_up_at_the_attempt_cap_and_mark_posts_failed(tmp_path, ledger, target) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [post(s) for s in range(5)])
    sink = FlakySink(MemorySink(target), down_for=10**6)
    s = run_import(sink, ledger, target, path, max_attempts=3, breaker_threshold=100)
    # max_attempts (3) for the batch, then each of the 5 posts alone (3 each): no post is
    # failed before it has been tried on its own, and the count of calls stays bounded.
    assert s.failed == 5 and sink.calls == 3 + 5 * 3
    assert {r.state for r in ledger.items(target=target)} == {ItemState.FAILED}
    assert ledger.run(s.run_id).state == RunState.PARTIAL


def test_circuit_breaker_pauses_instead_of_burning_attempts(tmp_path, ledger, target) -> None:
    # Down for 12 calls: more than max_attempts, yet nothing fails because the breaker holds.
    path = write_jsonl(tmp_path / "p.jsonl", [post(s) for s in range(20)])
    sink = FlakySink(MemorySink(target), down_for=12)
    imp = Importer(
        sink, ledger, target, fast_options(max_attempts=3, breaker_threshold=3, batch_size=10)
    )
    with path.open("rb") as fh:
        s = imp.run(fh, str(path))
    assert s.created == 20 and s.failed == 0
    assert imp.breaker.opened >= 2


def test_target_down_for_good_stops_the_run_with_a_fatal_error(tmp_path, ledger, target) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [post(s) for s in range(5)])
    sink = FlakySink(MemorySink(target), down_for=10**6)
    with pytest.raises(TargetDownError):
        run_import(sink, ledger, target, path, breaker_threshold=2, max_pause=0.3)
    assert ledger.runs()[0].state == RunState.FAILED


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
        io.BytesIO(jsonl_bytes(range(5))), "f.jsonl"
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
    s = Importer(sink, ledger, target, opts).run(io.BytesIO(jsonl_bytes(range(10))), "f.jsonl")
    assert (s.created, s.failed) == (9, 1)
    assert sorted(sink.store.posts) == [f"alphanode-00000{i}" for i in range(10) if i != 3]
    states = {r.source_id: r.state for r in ledger.items(target=target)}
    assert states["alphanode-000003"] == ItemState.FAILED
    assert ledger.run(s.run_id).state == RunState.PARTIAL


def test_idempotency_key_is_derived_from_source_id_and_content_hash() -> None:
    p = post(5)
    assert idempotency_key(p["source_id"], content_hash(p)) == idempotency_key(
        "alphanode-000005", content_hash(post(5))
    )
    assert idempotency_key("alphanode-000005", content_hash(edited(5))) != idempotency_key(
        "alphanode-000005", content_hash(p)
    )


def test_a_new_ledger_is_not_answered_from_a_lost_ledgers_keys(tmp_path, ledger, target) -> None:
    # A target that keeps Idempotency-Keys (memory, like the site) and a lost ledger made
    # again: its run 1 is not the first ledger's run 1, so nothing is replayed as "created".
    src = write_jsonl(tmp_path / "p.jsonl", [post(s) for s in range(3)])
    assert run_import(MemorySink(target), ledger, target, src).created == 3
    from anp_synth.importer.ledger import Ledger

    with Ledger(tmp_path / "again.sqlite") as other:
        again = run_import(MemorySink(target), other, target, src)
        assert other.ledger_id() != ledger.ledger_id()
        assert other.ledger_id() == other.ledger_id()  # one id a ledger, kept
    assert (again.run_id, again.created, again.unchanged) == (1, 0, 3)
