"""Verify against the in-memory sink: file ↔ ledger ↔ target, and --repair."""

from __future__ import annotations

from anp_synth.importer.verify import verify
from anp_synth.sinks.memory import MemorySink
from tests.importer.posts import edited, post, run_import, write_jsonl


def test_verify_finds_missing_extra_and_mismatched_posts_and_repairs(
    tmp_path, ledger, target
) -> None:
    sink = MemorySink(target)
    path = write_jsonl(tmp_path / "a.jsonl", [post(s) for s in range(10)])
    run_import(sink, ledger, target, path)
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
    rows = {item.source_id: item for item in ledger.items(target=target)}
    assert rows["alphanode-000003"].view_count == post(3)["meta"]["view_count"]
    assert rows["alphanode-000099"].title is None  # not in the file: nothing to say
    with path.open("rb") as fh:
        assert verify(fh, sink, ledger, target).ledger_stale == []
    # After the repair, an import sends exactly the missing and the mismatched posts.
    s = run_import(sink, ledger, target, path)
    assert (s.created, s.updated, s.unchanged) == (1, 1, 8)
    # The rebuilt rows learnt their line digests: the next rerun takes the fast path.
    assert all(
        item.raw_digest
        for item in ledger.items(target=target)
        if item.source_id != "alphanode-000099"
    )
