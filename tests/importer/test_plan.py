"""Planning against the ledger: the skip path, quarantine, dry run, --only, refusals."""

from __future__ import annotations

from pathlib import Path

import orjson

from anp_synth.errors import TerminalSinkError
from anp_synth.importer.ledger import RunState
from anp_synth.jsonl import dumps_line
from anp_synth.sinks.memory import MemorySink
from tests.importer.posts import edited, post, run_import, write_jsonl


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
    assert ledger.run(s.run_id).state == RunState.PARTIAL


class RefusingSink(MemorySink):
    """Refuses one post like a target's validation would (422)."""

    refuse = "alphanode-000004"

    def upsert(self, post, *, idempotency_key):  # type: ignore[no-untyped-def]

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


def test_a_fresh_import_asks_the_ledger_about_each_post_once_before_it_plans(
    tmp_path, ledger, target
) -> None:
    # The guess from the raw bytes already asked about every id: a post the ledger did not
    # know then is new, not asked about a second time.
    path = write_jsonl(tmp_path / "a.jsonl", [post(s) for s in range(1, 31)])
    asked: list[str] = []
    real = ledger.known

    def known(tgt, source_ids):  # type: ignore[no-untyped-def]
        asked.extend(source_ids)
        return real(tgt, source_ids)

    ledger.known = known  # type: ignore[method-assign]
    summary = run_import(MemorySink(target), ledger, target, path)
    assert summary.created == 30
    # once while screening, once when each batch is confirmed: two lookups per post, not three
    assert sorted(asked) == sorted([f"alphanode-{s:06d}" for s in range(1, 31)] * 2)


def test_a_line_whose_id_the_guess_misses_is_still_looked_up(tmp_path, ledger, target) -> None:
    # A source id the raw-bytes guess cannot read (escaped in the JSON) is looked up by its
    # parsed id, so a rerun of it is still planned against what the ledger holds.
    raw = dumps_line(post(7)).replace(b'"alphanode-000007"', b'"alphanode-00000\\u0037"', 1)
    path = write_jsonl(tmp_path / "a.jsonl", [raw])
    assert run_import(MemorySink(target), ledger, target, path).created == 1
    again = run_import(MemorySink(target), ledger, target, path)
    assert (again.created, again.unchanged) == (0, 1)


def test_a_post_whose_only_change_is_its_meta_hash_is_updated(tmp_path, ledger, target) -> None:
    # meta.hash is a field like any other (generate draws it), so the content hash covers
    # it: a dataset that changed only there still converges on the target
    path = write_jsonl(tmp_path / "p.jsonl", [post(s) for s in range(5)])
    sink = MemorySink(target)
    run_import(sink, ledger, target, path)
    changed = post(3)
    changed["meta"]["hash"] = "0" * 24
    path2 = write_jsonl(tmp_path / "p2.jsonl", [*(post(s) for s in range(3)), changed, post(4)])
    s = run_import(sink, ledger, target, path2)
    assert (s.created, s.updated, s.unchanged) == (0, 1, 4)
    assert sink.store.posts["alphanode-000003"].post["meta"]["hash"] == "0" * 24
