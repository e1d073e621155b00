"""The wordpress sink against a real WordPress (scripts/wordpress.sh)."""

from __future__ import annotations

import copy
import html
import itertools
import threading
from typing import Any

import httpx
import pytest

from anp_synth.errors import SinkError, TerminalSinkError
from anp_synth.generate.builder import PostBuilder
from anp_synth.jsonl import content_hash
from anp_synth.sinks.base import Sink, UpsertResult, iter_all
from anp_synth.sinks.wordpress import WordPressSink
from tests.wordpress.site import WordPress

pytestmark = pytest.mark.wordpress
BUILDER = PostBuilder()


_keys = itertools.count()


def _key() -> str:
    """A fresh Idempotency-Key: every write of these tests is a new write (none is a retry)."""
    return f"test-sink-{next(_keys)}"


def _post(seed: int) -> dict[str, Any]:
    return BUILDER.build(seed)


def _rest(site: WordPress, timeout: float = 30) -> httpx.Client:
    return httpx.Client(
        base_url=f"{site.url}/wp-json", auth=(site.user, site.app_password), timeout=timeout
    )


def _ok(result: UpsertResult | SinkError) -> UpsertResult:
    assert isinstance(result, UpsertResult), result
    return result


def test_sink_satisfies_the_protocol(wp_sink: WordPressSink, wp_mode: str) -> None:
    assert isinstance(wp_sink, Sink)
    assert wp_sink.max_batch == (25 if wp_mode == "rest" else 200)
    assert ("batch/v1" in wp_sink.route) == (wp_mode == "rest")


def test_create_unchanged_update_with_previous(wp_sink: WordPressSink) -> None:
    post = _post(910001)
    created = wp_sink.upsert(post, idempotency_key=_key())
    assert created.outcome == "created"
    assert created.hash == content_hash(post)
    assert created.url.endswith(f"/{post['slug']}/")
    assert wp_sink.upsert(post, idempotency_key=_key()).outcome == "unchanged"

    changed = copy.deepcopy(post)
    changed["title"] = "a new title"
    updated = wp_sink.upsert(changed, idempotency_key=_key())
    assert updated.outcome == "updated"
    assert updated.remote_id == created.remote_id
    assert updated.previous == post  # what rollback restores
    remote = wp_sink.get(post["source_id"])
    assert remote is not None
    assert remote.hash == content_hash(changed)
    assert remote.post == changed

    restored = wp_sink.upsert(updated.previous, idempotency_key=_key())
    assert restored.outcome == "updated"
    assert wp_sink.get(post["source_id"]).hash == content_hash(post)  # type: ignore[union-attr]


def test_post_fields_land_in_wordpress(wordpress: WordPress, wp_sink: WordPressSink) -> None:
    post = _post(910002)
    result = wp_sink.upsert(post, idempotency_key=_key())
    with _rest(wordpress) as rest:
        wp = rest.get(f"/wp/v2/posts/{result.remote_id}", params={"context": "edit"}).json()
        tags = rest.get(
            "/wp/v2/tags", params={"include": ",".join(map(str, wp["tags"])), "per_page": 100}
        ).json()
        cats = rest.get(
            "/wp/v2/categories",
            params={"include": ",".join(map(str, wp["categories"])), "per_page": 100},
        ).json()
    assert wp["title"]["raw"] == post["title"]
    assert wp["slug"] == post["slug"]
    assert wp["status"] == "publish"
    assert wp["date_gmt"] == post["published_at"].rstrip("Z")
    assert wp["excerpt"]["raw"] == post["meta"]["summary"]
    assert {t["name"] for t in tags} == set(post["tags"])
    assert {c["name"] for c in cats} == set(post["meta"]["stack"])
    meta = wp["meta"]
    assert meta["source_id"] == post["source_id"]
    assert meta["anp_hash"] == content_hash(post)
    assert meta["anp_view_count"] == post["meta"]["view_count"]
    assert meta["anp_difficulty"] == post["meta"]["difficulty"]
    raw = wp["content"]["raw"]
    for section in post["sections"]:
        assert f"<h2>{section['heading']}</h2>" in raw
    assert '<pre class="wp-block-code' in raw
    assert '<ul class="anp-checklist">' in raw
    assert f'<img src="{html.escape(post["image"]["url"])}"' in raw


def test_html_in_a_post_is_escaped(wordpress: WordPress, wp_sink: WordPressSink) -> None:
    post = _post(910003)
    post["title"] = "<script>alert(1)</script> & co"
    post["sections"][0]["paragraphs"][0] = '<img src=x onerror="alert(2)">'
    post["code"][0]["source"] = "if a < b && c > d: print('<b>')"
    result = wp_sink.upsert(post, idempotency_key=_key())
    page = httpx.get(result.url, timeout=30).text
    assert "<script>alert(1)</script>" not in page
    assert '<img src=x onerror="alert(2)">' not in page
    assert "&lt;img src=x onerror=" in page
    assert "<b>')" not in page
    assert wp_sink.get(post["source_id"]).post == post  # type: ignore[union-attr]


def test_upsert_keys_on_source_id_not_slug_or_title(
    wordpress: WordPress, wp_sink: WordPressSink
) -> None:
    post = _post(910004)
    with _rest(wordpress) as rest:
        # A post of the site's own with the same title and slug, and no source_id.
        own = rest.post(
            "/wp/v2/posts",
            json={"title": post["title"], "slug": post["slug"], "status": "publish"},
        ).json()
        try:
            created = wp_sink.upsert(post, idempotency_key=_key())
            assert created.outcome == "created"
            assert created.remote_id != str(own["id"])
            mine = rest.get(f"/wp/v2/posts/{own['id']}", params={"context": "edit"}).json()
            assert mine["title"]["raw"] == post["title"]
            assert mine["meta"]["source_id"] == ""
        finally:
            rest.delete(f"/wp/v2/posts/{own['id']}", params={"force": "true"})


def test_trashed_post_is_restored_not_duplicated(
    wordpress: WordPress, wp_sink: WordPressSink
) -> None:
    post = _post(910005)
    created = wp_sink.upsert(post, idempotency_key=_key())
    with _rest(wordpress) as rest:
        assert rest.delete(f"/wp/v2/posts/{created.remote_id}").json()["status"] == "trash"
    assert wp_sink.get(post["source_id"]) is None
    again = wp_sink.upsert(post, idempotency_key=_key())
    assert again.outcome == "updated"
    assert again.remote_id == created.remote_id
    remote = wp_sink.get(post["source_id"])
    assert remote is not None and remote.url.endswith(f"/{post['slug']}/")


def test_delete_is_for_good(wordpress: WordPress, wp_sink: WordPressSink) -> None:
    post = _post(910006)
    created = wp_sink.upsert(post, idempotency_key=_key())
    assert wp_sink.delete(post["source_id"]) is True
    assert wp_sink.delete(post["source_id"]) is False
    with _rest(wordpress) as rest:
        assert rest.get(f"/wp/v2/posts/{created.remote_id}").status_code == 404  # not in trash
    assert wp_sink.get(post["source_id"]) is None


def test_existing_tag_is_reused_by_id(wordpress: WordPress, wp_sink: WordPressSink) -> None:
    post = _post(910007)
    name = "anp-preexisting-tag"
    post["tags"] = [name, *post["tags"]]
    with _rest(wordpress) as rest:
        made = rest.post("/wp/v2/tags", json={"name": name})
        tag_id = made.json()["id"] if made.status_code == 201 else made.json()["data"]["term_id"]
        result = wp_sink.upsert(post, idempotency_key=_key())
        wp = rest.get(f"/wp/v2/posts/{result.remote_id}").json()
        assert tag_id in wp["tags"]
        assert len(rest.get("/wp/v2/tags", params={"search": name}).json()) == 1


def test_batches_and_keyset_listing(wp_sink: WordPressSink) -> None:
    posts = [_post(seed) for seed in range(911059, 910999, -1)]  # 60, in descending order
    results: list[UpsertResult | SinkError] = []
    for start in range(0, len(posts), 25):
        chunk = posts[start : start + 25]
        results += wp_sink.upsert_many(chunk, idempotency_keys=[""] * len(chunk))
    assert [_ok(r).outcome for r in results] == ["created"] * 60
    assert len({_ok(r).remote_id for r in results}) == 60
    again = wp_sink.upsert_many(posts[:25], idempotency_keys=[""] * 25)
    assert {_ok(r).outcome for r in again} == {"unchanged"}

    first = wp_sink.list(limit=25)
    assert len(first.items) == 25 and first.next is not None
    listed = list(iter_all(wp_sink, page_size=25))
    assert [r.source_id for r in listed] == sorted(p["source_id"] for p in posts)
    assert {r.source_id: r.hash for r in listed} == {p["source_id"]: content_hash(p) for p in posts}
    middle = wp_sink.list(after="alphanode-911029", limit=5)
    assert [r.source_id for r in middle.items] == [f"alphanode-9110{n}" for n in range(30, 35)]


def test_listing_shows_a_duplicate_made_behind_the_sinks_back(
    wordpress: WordPress, wp_sink: WordPressSink
) -> None:
    # Only a foreign write can make one (the plugin refuses a second create): verify must see it.
    post = _post(911500)
    created = wp_sink.upsert(post, idempotency_key=_key())
    with _rest(wordpress) as rest:
        copy_ = rest.post("/wp/v2/posts", json={"title": "copy", "status": "publish"}).json()
        # Meta written on an existing post goes around the plugin's create check.
        rest.post(f"/wp/v2/posts/{copy_['id']}", json={"meta": {"source_id": post["source_id"]}})
    listed = [r.remote_id for r in iter_all(wp_sink, page_size=1)]
    assert listed == [created.remote_id, str(copy_["id"])]


def test_one_bad_item_fails_only_itself(wp_sink: WordPressSink) -> None:
    posts = [_post(seed) for seed in range(912000, 912005)]
    posts[2] = copy.deepcopy(posts[2])
    posts[2]["published_at"] = "not a date"  # WordPress refuses the date: 400
    results = wp_sink.upsert_many(posts, idempotency_keys=[""] * 5)
    assert isinstance(results[2], TerminalSinkError)
    assert [isinstance(r, UpsertResult) for r in results] == [True, True, False, True, True]


def test_concurrent_creates_of_one_source_id_make_one_post(
    wordpress: WordPress, wp_sink: WordPressSink, wp_mode: str
) -> None:
    # Four clients that all looked the post up before any of them created it (a retry racing
    # its own timed-out request looks like this): the mu-plugin's lock lets one create win.
    post = _post(913000)
    sinks = [wordpress.sink(wp_mode=wp_mode) for _ in range(4)]
    for sink in sinks:  # warm the term caches so the creates start together
        sink.check()
        sink._term_ids("tags", post["tags"])
        sink._term_ids("categories", post["meta"]["stack"])
    barrier = threading.Barrier(len(sinks))
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def run(sink: WordPressSink) -> None:
        try:
            barrier.wait(10)
            outcomes.append(sink.upsert(post, idempotency_key=f"k{id(sink)}").outcome)
        except BaseException as exc:  # collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(sink,)) for sink in sinks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for sink in sinks:
        sink.close()
    assert not errors
    assert sorted(outcomes) == ["created", "unchanged", "unchanged", "unchanged"]
    listed = [r for r in iter_all(wp_sink) if r.source_id == post["source_id"]]
    assert len(listed) == 1


def test_one_request_per_post_without_batch(wordpress: WordPress, wp_reader: WordPressSink) -> None:
    posts = [_post(seed) for seed in range(915000, 915003)]
    single = wordpress.sink(use_batch=False, wp_mode="rest")
    try:
        results = single.upsert_many(posts, idempotency_keys=[""] * 3)
    finally:
        single.close()
    assert [_ok(r).outcome for r in results] == ["created"] * 3
    assert [r.source_id for r in iter_all(wp_reader)] == [p["source_id"] for p in posts]
