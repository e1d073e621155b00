"""The importer against the in-memory sink: plan/apply, skip path, quarantine, resume, retries."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

from anp_synth.errors import LedgerBusyError, TargetDownError
from anp_synth.importer import ledger as L
from anp_synth.importer.run import CircuitBreaker, Importer, idempotency_key
from anp_synth.jsonl import content_hash
from anp_synth.sinks.memory import MemorySink
from tests.importer.posts import (
    DiesAfterWrite,
    FlakySink,
    Killed,
    edited,
    fast_options,
    post,
    write_jsonl,
)


def run_import(sink, ledger, target, path: Path, **opts):
    with path.open("rb") as fh:
        return Importer(sink, ledger, target, fast_options(**opts)).run(fh, str(path))


def test_import_creates_every_post_and_records_them_confirmed(tmp_path, ledger, target) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [post(s) for s in range(100, 350)])
    sink = MemorySink(target)
    s = run_import(sink, ledger, target, path, batch_size=40, concurrency=3)
    assert (s.created, s.updated, s.unchanged, s.quarantined) == (250, 0, 0, 0)
    assert len(sink.store.posts) == 250
    rows = list(ledger.items(target=target))
    assert len(rows) == 250 and {r["state"] for r in rows} == {"confirmed"}
    r0 = rows[0]
    p0 = post(100)
    assert r0["source_id"] == "alphanode-000100"
    assert r0["content_hash"] == content_hash(p0)
    assert r0["url"] == f"/posts/{p0['slug']}" and r0["remote_id"]
    assert r0["view_count"] == p0["meta"]["view_count"] and r0["title"] == p0["title"]
    assert (
        orjson.loads(r0["tags"]) == p0["tags"] and orjson.loads(r0["stack"]) == p0["meta"]["stack"]
    )
    assert ledger.run(s.run_id).state == L.COMPLETED
    assert ledger.run(s.run_id).counts["created"] == 250


def test_rerun_skips_unchanged_posts_without_a_request(tmp_path, ledger, target) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [post(s) for s in range(50)])
    sink = MemorySink(target)
    run_import(sink, ledger, target, path)
    before = sink.store.requests
    s = run_import(sink, ledger, target, path)
    assert sink.store.requests == before
    assert (s.created, s.updated, s.unchanged) == (0, 0, 50)
    # Same content in another key order: still skipped (content hash, not bytes).
    reordered = [dict(reversed(list(post(s).items()))) for s in range(50)]
    path2 = write_jsonl(tmp_path / "p2.jsonl", reordered)
    s2 = run_import(sink, ledger, target, path2)
    assert sink.store.requests == before and s2.unchanged == 50


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
    assert [c.action for c in changes] == ["updated"] * 5
    assert changes[0].previous == post(0) and changes[0].previous_hash == content_hash(post(0))
    assert sorted(sink.store.purged) == sorted(f"/posts/{post(i)['slug']}" for i in range(5))


def test_bad_lines_duplicates_and_refusals_are_quarantined_with_line_numbers(
    tmp_path, ledger, target
) -> None:
    bad_model = post(7)
    bad_model["meta"]["difficulty"] = "impossible"
    no_id = post(8)
    del no_id["source_id"]
    rows = [post(1), b"{not json\n", bad_model, post(2), post(1), no_id, b"[1,2]\n", post(3)]
    path = write_jsonl(tmp_path / "p.jsonl", rows)
    s = run_import(MemorySink(target), ledger, target, path)
    assert (s.created, s.quarantined) == (3, 5)
    q = [orjson.loads(x) for x in Path(s.quarantine_path).read_bytes().splitlines()]
    by_line = {r["line"]: r for r in q}
    assert set(by_line) == {2, 3, 5, 6, 7}
    assert "invalid JSON" in by_line[2]["reason"] and by_line[2]["raw"] == "{not json"
    assert "meta.difficulty" in by_line[3]["reason"]
    assert by_line[5]["kind"] == "duplicate" and by_line[5]["source_id"] == "alphanode-000001"
    assert "source_id" in by_line[6]["reason"]
    assert ledger.run(s.run_id).state == L.PARTIAL


class RefusingSink(MemorySink):
    """Refuses one post like a target's validation would (422)."""

    refuse = "alphanode-000004"

    def upsert(self, post, *, idempotency_key):  # type: ignore[no-untyped-def]
        from anp_synth.errors import TerminalSinkError

        if post["source_id"] == self.refuse:
            raise TerminalSinkError("422 body.title: too long", status=422)
        return super().upsert(post, idempotency_key=idempotency_key)


def test_a_terminal_target_error_quarantines_only_that_post(tmp_path, ledger, target) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [post(s) for s in range(10)])
    sink = RefusingSink(target)
    s = run_import(sink, ledger, target, path)
    assert (s.created, s.quarantined, s.failed) == (9, 1, 0)
    q = orjson.loads(Path(s.quarantine_path).read_bytes().splitlines()[0])
    assert q == {
        "line": 5,
        "source_id": "alphanode-000004",
        "kind": "target",
        "reason": "422 body.title: too long",
    }
    # A rerun does not resend the refused, unchanged post...
    before = sink.store.requests
    s2 = run_import(sink, ledger, target, path)
    assert sink.store.requests == before and s2.quarantined == 1
    # ...unless asked to, and then it goes through once the target accepts it.
    sink.refuse = "none"
    s3 = run_import(sink, ledger, target, path, retry_quarantine=True)
    assert (s3.created, s3.quarantined) == (1, 0)


def test_dry_run_plans_without_requests_or_ledger_writes(tmp_path, ledger, target) -> None:
    sink = MemorySink(target)
    run_import(
        sink, ledger, target, write_jsonl(tmp_path / "a.jsonl", [post(s) for s in range(10)])
    )
    before = sink.store.requests
    rows = [edited(0)] + [post(s) for s in range(1, 15)]
    s = run_import(sink, ledger, target, write_jsonl(tmp_path / "b.jsonl", rows), dry_run=True)
    assert (s.would_create, s.would_update, s.unchanged, s.run_id) == (5, 1, 9, None)
    assert sink.store.requests == before and len(ledger.runs()) == 1


def test_only_imports_the_named_posts(tmp_path, ledger, target) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [post(s) for s in range(10)])
    sink = MemorySink(target)
    s = run_import(
        sink, ledger, target, path, only=frozenset({"alphanode-000003", "alphanode-000007"})
    )
    assert s.created == 2 and sorted(sink.store.posts) == ["alphanode-000003", "alphanode-000007"]


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
    from anp_synth.importer import rollback

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
    assert {r["state"] for r in ledger.items(target=target)} == {"failed"}
    assert ledger.run(s.run_id).state == L.PARTIAL


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
    assert ledger.runs()[0].state == L.FAILED


def test_breaker_opens_after_threshold_and_closes_on_success() -> None:
    now = [0.0]
    b = CircuitBreaker(threshold=2, cooldown=1.0, max_pause=10, clock=lambda: now[0])
    b.failure()
    assert not b.is_open
    b.failure()
    assert b.is_open and b.reopen_at == 1.0
    now[0] = 1.5
    b.before_call()  # cooldown over: the probe may go
    b.failure()
    assert b.reopen_at == 3.5  # doubled cooldown
    b.success()
    assert not b.is_open
    now[0] = 20.0
    b.failure(), b.failure()
    now[0] = 31.0
    with pytest.raises(TargetDownError):
        b.before_call()


def test_idempotency_key_is_derived_from_source_id_and_content_hash() -> None:
    p = post(5)
    assert idempotency_key(p["source_id"], content_hash(p)) == idempotency_key(
        "alphanode-000005", content_hash(post(5))
    )
    assert idempotency_key("alphanode-000005", content_hash(edited(5))) != idempotency_key(
        "alphanode-000005", content_hash(p)
    )


def test_a_crashed_run_is_resumed_under_the_same_id(tmp_path, ledger, target) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [post(s) for s in range(40)])
    sink = MemorySink(target)

    class Crash(Exception):
        pass

    calls = [0]

    def crash_after_two(n: int) -> None:
        calls[0] += 1

    imp = Importer(sink, ledger, target, fast_options(batch_size=10, concurrency=1))
    orig = imp._record

    def record(res, *a):  # type: ignore[no-untyped-def]
        orig(res, *a)
        calls[0] += 1
        if calls[0] == 2:
            raise Crash

    imp._record = record  # type: ignore[method-assign]
    with path.open("rb") as fh, pytest.raises(Crash):
        imp.run(fh, str(path))
    first = ledger.runs()[0]
    # Simulate the dead process: the run stays "running" with a pid that no longer exists.
    ledger.db.execute(
        "UPDATE runs SET state = 'running', pid = 999999999 WHERE id = ?", (first.id,)
    )
    s = run_import(sink, ledger, target, path)
    assert s.run_id == first.id and s.resumed
    assert s.created == 40 and len(sink.store.posts) == 40
    assert (s.unchanged, s.read) == (0, 40)  # the first pass's posts count as created once


def test_a_second_live_import_is_refused(tmp_path, target) -> None:
    db = tmp_path / "l.sqlite"
    a, b = L.Ledger(db), L.Ledger(db)
    try:
        a.begin_run("f", target, "memory", {})
        with pytest.raises(LedgerBusyError, match="in use by run 1"):
            b.begin_run("f", target, "memory", {}, pid=1)  # pid 1 is alive, heartbeat is fresh
    finally:
        a.close(), b.close()


def test_a_stale_heartbeat_is_taken_over_even_if_the_pid_lives(tmp_path, target) -> None:
    led = L.Ledger(tmp_path / "l.sqlite")
    try:
        run = led.begin_run("f", target, "memory", {}, pid=1)
        led.db.execute("UPDATE runs SET heartbeat = heartbeat - 100 WHERE id = ?", (run.id,))
        again = led.begin_run("f", target, "memory", {})
        assert again.id == run.id and again.resumed == 1
    finally:
        led.close()


def test_a_crashed_run_on_another_file_is_marked_interrupted(tmp_path, target) -> None:
    led = L.Ledger(tmp_path / "l.sqlite")
    try:
        run = led.begin_run("f", target, "memory", {}, pid=999999999)
        new = led.begin_run("g", target, "memory", {})
        assert new.id != run.id and led.run(run.id).state == L.INTERRUPTED
    finally:
        led.close()


def test_stdin_stream_imports(ledger, target) -> None:
    data = b"".join(orjson.dumps(post(s)) + b"\n" for s in range(5))
    s = Importer(MemorySink(target), ledger, target, fast_options()).run(io.BytesIO(data), "-")
    assert s.created == 5


def test_a_run_stopped_by_a_fatal_error_is_resumed_and_its_gave_up_posts_resent(
    tmp_path, ledger, target
) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [post(s) for s in range(5)])
    inner = MemorySink(target)
    with pytest.raises(TargetDownError):
        run_import(
            FlakySink(inner, down_for=10**6),
            ledger,
            target,
            path,
            breaker_threshold=2,
            max_pause=0.2,
        )
    first = ledger.runs()[0]
    assert first.state == L.FAILED
    s = run_import(inner, ledger, target, path)
    assert s.run_id == first.id and s.resumed and s.created == 5
    # Posts that only failed transiently are resent by a plain rerun (no --retry-quarantine).
    path2 = write_jsonl(tmp_path / "q.jsonl", [post(s) for s in range(10, 13)])
    s2 = run_import(
        FlakySink(inner, down_for=10**6),
        ledger,
        target,
        path2,
        max_attempts=2,
        breaker_threshold=100,
    )
    assert s2.failed == 3
    s3 = run_import(inner, ledger, target, path2)
    assert s3.created == 3 and s3.failed == 0


@pytest.mark.parametrize("replay", [True, False])
def test_a_crash_during_an_update_batch_keeps_rollback_exact_when_the_target_replays(
    tmp_path, ledger, target, replay
) -> None:
    from anp_synth.importer import rollback

    sink = MemorySink(target, replay=replay)
    run_import(
        sink, ledger, target, write_jsonl(tmp_path / "a.jsonl", [post(s) for s in range(20)])
    )
    before = {sid: h for sid, (_r, _p, h) in sink.store.posts.items()}
    second = write_jsonl(tmp_path / "b.jsonl", [edited(s) if s < 5 else post(s) for s in range(20)])
    with pytest.raises(Killed):
        run_import(DiesAfterWrite(sink), ledger, target, second, batch_size=3)
    crashed = ledger.runs()[0]
    ledger.db.execute(
        "UPDATE runs SET state = 'running', pid = 999999999 WHERE id = ?", (crashed.id,)
    )
    # The rerun uses another batch size: the interrupted batch still goes again as it was.
    s = run_import(sink, ledger, target, second, batch_size=50)
    assert s.run_id == crashed.id and s.updated == 5
    p = rollback.plan(ledger)
    if replay:  # the first answer, with `previous`, came back: the rollback is exact
        assert (len(p.restore), len(p.unrestorable)) == (5, 0)
        rollback.apply(p, sink, ledger)
        assert {sid: h for sid, (_r, _p, h) in sink.store.posts.items()} == before
    else:  # known to be updated by the run, but the previous version is lost: said so
        assert len(p.restore) + len(p.unrestorable) == 5 and p.unrestorable


def test_the_heartbeat_beats_in_the_background(tmp_path, target) -> None:
    import time

    led = L.Ledger(tmp_path / "l.sqlite")
    try:
        run = led.begin_run("f", target, "memory", {})
        led.db.execute("UPDATE runs SET heartbeat = 0 WHERE id = ?", (run.id,))
        led.start_heartbeat(run.id, every=0.02)
        deadline = time.monotonic() + 5
        while led.run(run.id).heartbeat == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert led.run(run.id).heartbeat > 0
    finally:
        led.close()
