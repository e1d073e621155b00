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
    assert r.repaired == 9  # the file's posts the target holds; 000001's row is dropped
    assert not r.ok  # the target still lacks one post of the file and holds another edited
    rows = {item.source_id: item for item in ledger.items(target=target)}
    assert rows["alphanode-000003"].view_count == post(3)["meta"]["view_count"]
    assert "alphanode-000001" not in rows
    assert "alphanode-000099" not in rows  # not in the file: the repair leaves it alone
    with path.open("rb") as fh:
        assert verify(fh, sink, ledger, target).ledger_stale == ["alphanode-000099"]
    # After the repair, an import sends exactly the missing and the mismatched posts.
    s = run_import(sink, ledger, target, path)
    assert (s.created, s.updated, s.unchanged) == (1, 1, 8)
    # The rebuilt rows learnt their line digests: the next rerun takes the fast path.
    assert all(item.raw_digest for item in ledger.items(target=target))


def test_repair_touches_only_the_files_posts_and_is_ok_when_it_repaired(
    tmp_path, ledger, target
) -> None:
    from anp_synth.importer.ledger import Ledger

    sink = MemorySink(target)
    a = write_jsonl(tmp_path / "a.jsonl", [post(s) for s in range(10)])
    b = write_jsonl(tmp_path / "b.jsonl", [post(s) for s in range(50, 53)])
    run_import(sink, ledger, target, a)
    run_import(sink, ledger, target, b)
    others = {
        i.source_id: i for i in ledger.items(target=target) if i.source_id >= "alphanode-000050"
    }
    # a ledger that lost the rows of file a (its posts are all on the target)
    with Ledger(tmp_path / "lost.sqlite") as lost:
        run_import(sink, lost, target, b)
        with a.open("rb") as fh:
            r = verify(fh, sink, lost, target, repair=True)
        assert r.repaired == 10 and r.ok  # every post of the file is on the target, as it is
        assert r.extra == sorted(others) and r.missing == r.mismatched == []
        assert len(list(lost.items(target=target))) == 13
    # on the full ledger, a repair with file a leaves the rows of file b exactly as they were
    with a.open("rb") as fh:
        assert verify(fh, sink, ledger, target, repair=True).repaired == 10
    after = {i.source_id: i for i in ledger.items(target=target) if i.source_id in others}
    assert after == others
