"""Rollback and verify against the in-memory sink."""

from __future__ import annotations

import pytest

from anp_synth.errors import UsageError
from anp_synth.importer import ledger as L
from anp_synth.importer import rollback
from anp_synth.importer.run import Importer
from anp_synth.importer.verify import verify
from anp_synth.sinks.memory import MemorySink
from tests.importer.posts import edited, fast_options, post, write_jsonl


def imp(sink, ledger, target, path):
    with path.open("rb") as fh:
        return Importer(sink, ledger, target, fast_options(batch_size=50)).run(fh, str(path))


def snapshot(sink):
    return {sid: (rid, h) for sid, (rid, _p, h) in sink.store.posts.items()}


def test_rollback_of_an_update_run_restores_the_target_exactly(tmp_path, ledger, target) -> None:
    sink = MemorySink(target)
    imp(sink, ledger, target, write_jsonl(tmp_path / "a.jsonl", [post(s) for s in range(200)]))
    before = snapshot(sink)
    rows = [edited(s) if s < 50 else post(s) for s in range(300)]
    second = imp(sink, ledger, target, write_jsonl(tmp_path / "b.jsonl", rows))
    assert (second.created, second.updated) == (100, 50)
    # A no-op rerun changes nothing, so the default rollback still picks the second run.
    imp(sink, ledger, target, tmp_path / "b.jsonl")
    p = rollback.plan(ledger)
    assert p.run.id == second.run_id and (len(p.delete), len(p.restore)) == (100, 50)
    out = rollback.apply(p, sink, ledger)
    assert (out.deleted, out.restored, out.failed) == (100, 50, [])
    assert snapshot(sink) == before
    assert ledger.run(second.run_id).state == L.ROLLED_BACK
    # The ledger follows: a rerun of the first file is a no-op, of the second redoes the work.
    again = imp(sink, ledger, target, tmp_path / "a.jsonl")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 200)
    # Then the first run is next in line, and rolling it back empties the target.
    first = rollback.plan(ledger)
    assert first.run.id == 1
    rollback.apply(first, sink, ledger)
    assert sink.store.posts == {}


def test_rollback_refuses_a_run_that_later_runs_changed(tmp_path, ledger, target) -> None:
    sink = MemorySink(target)
    imp(sink, ledger, target, write_jsonl(tmp_path / "a.jsonl", [post(s) for s in range(5)]))
    imp(sink, ledger, target, write_jsonl(tmp_path / "b.jsonl", [edited(0)]))
    with pytest.raises(UsageError, match="later runs 2"):
        rollback.plan(ledger, run_id=1)


def test_rollback_with_nothing_to_undo_says_so(ledger) -> None:
    with pytest.raises(UsageError, match="nothing to roll back"):
        rollback.plan(ledger)


def test_verify_finds_missing_extra_and_mismatched_posts_and_repairs(
    tmp_path, ledger, target
) -> None:
    sink = MemorySink(target)
    path = write_jsonl(tmp_path / "a.jsonl", [post(s) for s in range(10)])
    imp(sink, ledger, target, path)
    with path.open("rb") as fh:
        assert verify(fh, sink, ledger, target).ok
    sink.delete("alphanode-000001")
    sink.upsert(post(99), idempotency_key="x")
    sink.upsert(edited(2), idempotency_key="y")
    with path.open("rb") as fh:
        r = verify(fh, sink, ledger, target)
    assert r.missing == ["alphanode-000001"]
    assert r.extra == ["alphanode-000099"]
    assert r.mismatched == ["alphanode-000002"]
    assert set(r.ledger_stale) == {"alphanode-000001", "alphanode-000002", "alphanode-000099"}
    with path.open("rb") as fh:
        r = verify(fh, sink, ledger, target, repair=True)
    assert r.repaired == 10
    rows = {row["source_id"]: row for row in ledger.items(target=target)}
    assert rows["alphanode-000003"]["view_count"] == post(3)["meta"]["view_count"]
    assert rows["alphanode-000099"]["title"] is None  # not in the file: nothing to say
    with path.open("rb") as fh:
        assert verify(fh, sink, ledger, target).ledger_stale == []
    # After the repair, an import sends exactly the missing and the mismatched posts.
    s = imp(sink, ledger, target, path)
    assert (s.created, s.updated, s.unchanged) == (1, 1, 8)
    # The rebuilt rows learnt their line digests: the next rerun takes the fast path.
    assert all(
        row["raw_digest"]
        for row in ledger.items(target=target)
        if row["source_id"] != "alphanode-000099"
    )
