"""The importer end to end against the in-memory sink: a run, its resume, stdin, a stop."""

from __future__ import annotations

import gc
import io
import time
import weakref

import orjson
import pytest

from anp_synth.errors import TargetDownError, TerminalSinkError, TokenRefusedError
from anp_synth.importer import Importer, rollback
from anp_synth.importer.ledger import ItemState, RunState
from anp_synth.importer.run import collected_per_chunk
from anp_synth.jsonl import content_hash
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
    run_import,
    write_jsonl,
)


def test_import_creates_every_post_and_records_them_confirmed(
    ledger, target, sink, imports
) -> None:
    s = imports(sink, "p.jsonl", [post(s) for s in range(100, 350)], batch_size=40, concurrency=3)
    assert (s.created, s.updated, s.unchanged, s.quarantined) == (250, 0, 0, 0)
    assert len(sink.store.posts) == 250
    rows = list(ledger.items(target=target))
    assert len(rows) == 250 and {r.state for r in rows} == {ItemState.CONFIRMED}
    r0 = rows[0]
    p0 = post(100)
    assert r0.source_id == "alphanode-000100"
    assert r0.content_hash == content_hash(p0)
    assert r0.url == f"/posts/{p0['slug']}" and r0.remote_id
    assert r0.view_count == p0["meta"]["view_count"] and r0.title == p0["title"]
    assert r0.tags == p0["tags"] and r0.stack == p0["meta"]["stack"]
    assert ledger.run(s.run_id).state == RunState.COMPLETED
    assert ledger.run(s.run_id).counts["created"] == 250


def test_a_crashed_run_is_resumed_under_the_same_id(tmp_path, ledger, target) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [post(s) for s in range(40)])
    sink = MemorySink(target)

    class Crash(Exception):
        pass

    recorded = [0]

    def crash_after_two_batches(n: int) -> None:
        # Progress of 10 is one recorded batch (batch_size 10): crash right after the 2nd.
        recorded[0] += n == 10
        if recorded[0] == 2:
            raise Crash

    imp = Importer(
        sink,
        ledger,
        target,
        fast_options(batch_size=10, concurrency=1),
        on_progress=crash_after_two_batches,
    )
    with path.open("rb") as fh, pytest.raises(Crash):
        imp.run(fh, str(path))
    first = ledger.runs()[0]
    # Simulate the dead process: the run stays "running" with a pid that no longer exists.
    ledger.mark_running(first.id, pid=DEAD_PID)
    s = run_import(sink, ledger, target, path)
    assert s.run_id == first.id and s.resumed
    assert s.created == 40 and len(sink.store.posts) == 40
    assert (s.unchanged, s.read) == (0, 40)  # the first pass's posts count as created once


def test_stdin_stream_imports(ledger, target) -> None:
    data = b"".join(orjson.dumps(post(s)) + b"\n" for s in range(5))
    s = Importer(MemorySink(target), ledger, target, fast_options()).run(io.BytesIO(data), "-")
    assert s.created == 5


@pytest.mark.parametrize("state", [RunState.RUNNING, RunState.FAILED])
def test_a_stdin_import_never_resumes_a_crashed_stdin_import(ledger, target, state) -> None:
    old = ledger.begin_run("-", target, "memory", {})
    if state == RunState.RUNNING:
        ledger.mark_running(old.id, pid=DEAD_PID)  # the stdin import crashed
    else:
        ledger.finish_run(old.id, state, {})  # the stdin import stopped on a fatal error
    s = Importer(MemorySink(target), ledger, target, fast_options()).run(
        io.BytesIO(jsonl_bytes(range(3))), "-"
    )
    assert s.run_id != old.id and not s.resumed and s.created == 3


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
        imp.run(io.BytesIO(jsonl_bytes(range(10))), "f.jsonl")
    run = ledger.runs()[0]
    states = {r.source_id: r.state for r in ledger.items(target=target)}
    assert states["alphanode-000000"] == states["alphanode-000001"] == ItemState.CONFIRMED
    created = {c.source_id for c in ledger.changes(run.id)}
    assert {"alphanode-000000", "alphanode-000001"} <= created


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
    assert first.state == RunState.FAILED
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
    tmp_path, ledger, target, imports, replay
) -> None:
    sink = MemorySink(target, replay=replay)
    imports(sink, "a.jsonl", [post(s) for s in range(20)])
    before = {sid: h for sid, (_r, _p, h) in sink.store.posts.items()}
    second = write_jsonl(tmp_path / "b.jsonl", [edited(s) if s < 5 else post(s) for s in range(20)])
    with pytest.raises(Killed):
        run_import(DiesAfterWrite(sink), ledger, target, second, batch_size=3)
    crashed = ledger.runs()[0]
    ledger.mark_running(crashed.id, pid=DEAD_PID)
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


def test_a_run_taken_over_mid_import_stops_at_its_next_batch_and_writes_nothing(
    tmp_path, ledger, target
) -> None:
    from anp_synth.errors import RunTakenOverError
    from anp_synth.importer.ledger import Ledger

    path = write_jsonl(tmp_path / "p.jsonl", [post(s) for s in range(60)])
    other = Ledger(ledger.path)
    batches = [0]

    def take_over_after_the_first_batch(n: int) -> None:
        batches[0] += n == 10
        if batches[0] == 1 and n == 10:
            # another import finds the run stale (stale_after 0) and resumes it as pid 1
            other.begin_run(str(path), target, "memory", {}, stale_after=0, pid=1)

    imp = Importer(
        MemorySink(target), ledger, target, fast_options(batch_size=10, concurrency=1),
        on_progress=take_over_after_the_first_batch,
    )  # fmt: skip
    try:
        with path.open("rb") as fh, pytest.raises(RunTakenOverError) as info:
            imp.run(fh, str(path))
        assert "run 1 was taken over by another import (pid 1, as the ledger records it" in str(
            info.value
        )
        run = other.run(1)
        assert (run.state, run.pid, run.counts, run.resumed) == (RunState.RUNNING, 1, {}, 1)
        assert other.change_counts(1) == {"created": 10}  # the batch it confirmed, no more
        assert not ledger.holds_run
        log = (tmp_path / "ledger.sqlite.runs" / "run-1.log.jsonl").read_bytes().splitlines()
        assert orjson.loads(log[-1])["action"] == "lost"
    finally:
        other.close()


def test_a_run_folder_that_cannot_be_made_stops_before_the_run_begins(
    tmp_path, ledger, sink, imports
) -> None:
    from anp_synth.errors import UsageError

    (tmp_path / "ledger.sqlite.runs").write_text("not a folder")
    with pytest.raises(UsageError, match=r"^ledger: .*ledger\.sqlite\.runs: cannot hold"):
        imports(sink, "p.jsonl", [post(1)])
    assert ledger.runs() == [] and list(ledger.items()) == []


def test_a_ctrl_c_while_the_run_is_being_set_up_still_records_it_interrupted(
    ledger, sink, imports, monkeypatch
) -> None:
    # the moment between the run's commit and the import proper (a SIGTERM under load)
    def interrupted(run_id: int, every: float = 2.0) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(ledger, "start_heartbeat", interrupted)
    with pytest.raises(KeyboardInterrupt):
        imports(sink, "p.jsonl", [post(1)])
    assert ledger.runs()[0].state == RunState.INTERRUPTED and not ledger.holds_run


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_the_collector_is_paused_for_a_pass_and_collects_each_chunk_s_cycles() -> None:
    assert gc.isenabled()
    with collected_per_chunk() as collect:
        assert not gc.isenabled()  # no automatic collection while the chunks are planned
        cycle = _Cycle()
        ref = weakref.ref(cycle)
        del cycle
        assert ref() is not None  # only the collector frees a cycle
        collect()
        assert ref() is None  # the chunk's cyclic garbage is gone after it
    assert gc.isenabled()


def test_a_pass_leaves_a_paused_collector_paused(tmp_path, ledger, target) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [post(s) for s in range(1, 4)])
    seen: list[bool] = []

    class Sink(MemorySink):
        def upsert_many(self, posts, *, idempotency_keys):  # type: ignore[no-untyped-def]
            seen.append(gc.isenabled())
            return super().upsert_many(posts, idempotency_keys=idempotency_keys)

    assert run_import(Sink(target), ledger, target, path).created == 3
    assert seen == [False] and gc.isenabled()  # paused during the pass, on again after it
    gc.disable()
    try:
        run_import(Sink(target), ledger, target, write_jsonl(tmp_path / "b.jsonl", [post(9)]))
        assert not gc.isenabled()  # the caller's choice stays
    finally:
        gc.enable()
