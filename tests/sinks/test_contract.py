"""The sink contract: one suite that every sink passes (meltano's SDK does this for targets)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from anp_synth.errors import SinkError, TerminalSinkError
from anp_synth.importer import idempotency_key
from anp_synth.importer.send import url_path
from anp_synth.jsonl import content_hash
from anp_synth.sinks.base import Sink, UpsertResult, iter_all
from tests.importer.posts import edited, post


def key(p: dict[str, Any]) -> str:
    return idempotency_key(p["source_id"], content_hash(p), "contract")


def test_upsert_creates_then_reports_unchanged_then_updates_with_previous(sink: Sink) -> None:
    p = post(1001)
    first = sink.upsert(p, idempotency_key=key(p))
    assert first.outcome == "created"
    assert first.source_id == "alphanode-001001"
    assert first.hash == content_hash(p)
    # The URL layout is the target's (/posts/slug on the reference site, /slug/ on WordPress).
    assert p["slug"] in first.url and first.remote_id
    again = sink.upsert(post(1001), idempotency_key=key(p) + ".again")
    assert (again.outcome, again.remote_id, again.hash) == (
        "unchanged",
        first.remote_id,
        first.hash,
    )
    assert again.previous is None
    changed = edited(1001, "a new title")
    upd = sink.upsert(changed, idempotency_key=key(changed))
    assert upd.outcome == "updated" and upd.remote_id == first.remote_id
    assert upd.hash == content_hash(changed) != first.hash
    assert upd.previous is not None and content_hash(upd.previous) == first.hash


def test_upsert_many_fails_only_the_bad_item(sink: Sink) -> None:
    posts = [post(s) for s in range(1100, 1105)]
    posts[2]["meta"]["score"]["quality"] = 1000
    res = sink.upsert_many(posts, idempotency_keys=[key(p) for p in posts])
    assert len(res) == 5
    assert isinstance(res[2], TerminalSinkError) and "quality" in str(res[2])
    good = [r for i, r in enumerate(res) if i != 2]
    assert all(isinstance(r, UpsertResult) and r.outcome == "created" for r in good)
    assert [r.source_id for r in good if isinstance(r, UpsertResult)] == [
        p["source_id"] for i, p in enumerate(posts) if i != 2
    ]
    assert sink.get(posts[2]["source_id"]) is None


def test_upsert_many_reports_per_item_outcomes_in_order(sink: Sink) -> None:
    sink.upsert(post(1200), idempotency_key=key(post(1200)))
    sink.upsert(post(1201), idempotency_key=key(post(1201)))
    batch = [post(1200), edited(1201), post(1202)]
    res = sink.upsert_many(batch, idempotency_keys=[key(p) for p in batch])
    assert [r.outcome for r in res if isinstance(r, UpsertResult)] == [
        "unchanged",
        "updated",
        "created",
    ]


def test_get_returns_the_post_and_its_hash_or_none(sink: Sink) -> None:
    p = post(1300)
    created = sink.upsert(p, idempotency_key=key(p))
    got = sink.get("alphanode-001300")
    assert got is not None and got.hash == content_hash(p) == created.hash
    assert got.remote_id == created.remote_id and got.url == created.url
    assert got.post is not None and content_hash(got.post) == created.hash
    assert sink.get("alphanode-001399") is None


def test_list_is_a_keyset_listing_in_source_id_order(sink: Sink) -> None:
    seeds = [1407, 1401, 1405, 1403, 1402, 1404, 1406]
    posts = [post(s) for s in seeds]
    sink.upsert_many(posts, idempotency_keys=[key(p) for p in posts])
    page = sink.list(limit=3)
    assert [r.source_id for r in page.items] == [f"alphanode-00{s}" for s in (1401, 1402, 1403)]
    assert page.next is not None
    listed = list(iter_all(sink, page_size=2))
    assert [r.source_id for r in listed] == sorted(p["source_id"] for p in posts)
    assert {r.source_id: r.hash for r in listed} == {p["source_id"]: content_hash(p) for p in posts}
    last = sink.list(after="alphanode-001407")
    assert last.items == [] and last.next is None


def test_delete_removes_and_reports_absence(sink: Sink) -> None:
    p = post(1500)
    sink.upsert(p, idempotency_key=key(p))
    assert sink.delete("alphanode-001500") is True
    assert sink.get("alphanode-001500") is None
    assert sink.delete("alphanode-001500") is False
    assert list(iter_all(sink)) == []


def test_a_repeated_write_never_duplicates(sink: Sink) -> None:
    p = post(1600)
    for _ in range(3):
        sink.upsert(p, idempotency_key=key(p))
        sink.upsert_many([p], idempotency_keys=[key(p)])
    assert [r.source_id for r in iter_all(sink)] == ["alphanode-001600"]


def _x_cache(url: str) -> str:
    return httpx.get(url, timeout=10).headers.get("x-cache", "")


def test_purge_drops_exactly_the_named_routes(sink: Sink, request: pytest.FixtureRequest) -> None:
    p, other = post(1700), post(1701)
    res = sink.upsert(p, idempotency_key=key(p))
    kept = sink.upsert(other, idempotency_key=key(other))
    route, kept_route = url_path(res.url), url_path(kept.url)
    which = request.node.callspec.params["sink"]
    if which == "anp_sink":  # the reference site caches pages: warm both, purge one
        base = request.getfixturevalue("reference_site").url
        for r in (route, kept_route):
            _x_cache(base + r)
            assert _x_cache(base + r).startswith("HIT")
        sink.purge([route])
        assert not _x_cache(base + route).startswith("HIT")
        assert _x_cache(base + kept_route).startswith("HIT")
    elif which == "memory_sink":  # no cache: the store records what was purged
        sink.purge([route])
        assert sink.store.purged == [route]  # type: ignore[attr-defined]
    else:  # core WordPress has no page cache: purge is a documented no-op that must not fail
        assert sink.purge([route]) is None


def test_purge_takes_routes_and_leaves_the_posts_alone(sink: Sink) -> None:
    # What a purge empties is each target's own cache: tests/sinks/test_anp.py and
    # test_memory.py check that; every sink must take the call and keep its posts.
    p = post(1702)  # not 1700: the site would replay that key's answer from the test above
    created = sink.upsert(p, idempotency_key=key(p))
    sink.purge(["/", "/posts/" + p["slug"]])
    sink.purge([])
    held = sink.get(p["source_id"])
    assert held is not None and held.hash == created.hash


def test_batches_over_the_limit_are_refused_as_terminal(sink: Sink) -> None:
    n = sink.max_batch + 1
    with pytest.raises(TerminalSinkError):
        sink.upsert_many([post(1)] * n, idempotency_keys=["k"] * n)


def test_errors_are_sink_errors(sink: Sink) -> None:
    bad = post(1800)
    bad["slug"] = "Not A Slug"
    with pytest.raises(SinkError) as info:
        sink.upsert(bad, idempotency_key="bad")
    assert isinstance(info.value, TerminalSinkError) and info.value.status == 422
