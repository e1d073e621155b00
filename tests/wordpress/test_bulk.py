"""The mu-plugin's bulk route (`POST /anp/v1/posts/bulk`) against a real WordPress: refusals,
replay by Idempotency-Key, WordPress's own counts after an import, no revisions, the hostile
corpus, uninstall — in both write modes (the fallback's guarantees are in test_sink/test_import)."""

from __future__ import annotations

import html
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest

from anp_synth.generate.builder import PostBuilder
from anp_synth.jsonl import content_hash
from anp_synth.sinks.base import UpsertResult
from anp_synth.sinks.wordpress import WordPressSink
from anp_synth.sinks.wordpress.content import bulk_item
from tests.site.hostile import HOSTILE, PageAudit, poison
from tests.wordpress.site import WordPress
from tests.wordpress.test_sink import _ok
from tests.wordpress.test_sink import _rest as _sink_rest

pytestmark = pytest.mark.wordpress
BUILDER = PostBuilder()
BULK_MODES = pytest.mark.parametrize("wp_mode", ["hooks", "direct"])


def _rest(site: WordPress) -> httpx.Client:
    return _sink_rest(site, timeout=60)


def _item(seed: int) -> dict[str, Any]:
    post = BUILDER.build(seed)
    return bulk_item(post, content_hash(post))


@BULK_MODES
def test_a_bad_item_fails_only_itself_on_the_server(
    wordpress: WordPress, wp_sink: WordPressSink, wp_mode: str
) -> None:
    items = [_item(seed) for seed in range(916000, 916004)]
    items[1]["slug"] = "Not A Slug!"
    items[2]["meta"]["anp_view_count"] = "many"  # an integer meta as a string
    del items[3]["date_gmt"]
    with _rest(wordpress) as rest:
        resp = rest.post("/anp/v1/posts/bulk", json={"mode": wp_mode, "posts": items})
    assert resp.status_code == 200, resp.text
    results = resp.json()["results"]
    assert [r["status"] for r in results] == [201, 422, 422, 422]
    assert [r.get("message", "").split(":")[0] for r in results[1:]] == [
        "slug",
        "meta.anp_view_count",
        "date_gmt",
    ]
    assert wp_sink.get(items[0]["source_id"]) is not None
    assert wp_sink.get(items[1]["source_id"]) is None


def test_the_route_refuses_what_it_must(wordpress: WordPress, wp_reader: WordPressSink) -> None:
    with httpx.Client(base_url=f"{wordpress.url}/wp-json", timeout=60) as anonymous:
        resp = anonymous.post("/anp/v1/posts/bulk", json={"posts": [_item(916100)]})
        assert resp.status_code == 401 and resp.json()["code"] == "rest_forbidden"
    with _rest(wordpress) as rest:
        too_many = [_item(916200)] * 201
        resp = rest.post("/anp/v1/posts/bulk", json={"posts": too_many})
        assert resp.status_code == 413 and resp.json()["code"] == "anp_too_many"
        huge = b'{"posts":[], "pad": "' + b"x" * (17 * 1024 * 1024) + b'"}'
        resp = rest.post(
            "/anp/v1/posts/bulk", content=huge, headers={"Content-Type": "application/json"}
        )
        assert resp.status_code == 413
        resp = rest.post("/anp/v1/posts/bulk", json={"mode": "fast", "posts": []})
        assert resp.status_code == 400 and resp.json()["code"] == "anp_bad_mode"
    assert wp_reader.get("alphanode-916100") is None and wp_reader.get("alphanode-916200") is None


@BULK_MODES
def test_a_replayed_key_gets_the_first_answer(wp_sink: WordPressSink, wp_mode: str) -> None:
    # Keys fresh per run: the site keeps answers for a day, and a key an earlier run used for
    # other bytes (another generator version) is rightly refused (422 anp_key_reused).
    run = uuid.uuid4().hex
    post = BUILDER.build(916300)
    first = wp_sink.upsert(post, idempotency_key=f"replay-a-{run}")
    assert first.outcome == "created"
    # The answer was lost and the client sends the same write again: it hears "created".
    again = wp_sink.upsert(post, idempotency_key=f"replay-a-{run}")
    assert (again.outcome, again.remote_id) == ("created", first.remote_id)
    assert wp_sink.upsert(post, idempotency_key=f"replay-b-{run}").outcome == "unchanged"
    changed = dict(post, title="a replayed update")
    updated = wp_sink.upsert(changed, idempotency_key=f"replay-c-{run}")
    replayed = wp_sink.upsert(changed, idempotency_key=f"replay-c-{run}")
    assert updated.outcome == replayed.outcome == "updated"
    assert replayed.previous == post  # rollback still restores the first version


@pytest.mark.parametrize("wp_mode", ["hooks", "direct", "rest"])
def test_wordpress_counts_match_the_import_and_no_revisions(
    wordpress: WordPress, wp_sink: WordPressSink, wp_mode: str
) -> None:
    posts = [BUILDER.build(seed) for seed in range(917000, 917040)]
    with _rest(wordpress) as rest:  # the site's own posts, not imported ones, stay out of it
        before = int(rest.get("/wp/v2/posts", params={"per_page": 1}).headers["X-WP-Total"])
    for start in range(0, 40, 20):
        chunk = posts[start : start + 20]
        assert all(_ok(r) for r in wp_sink.upsert_many(chunk, idempotency_keys=[""] * 20))
    edited = [dict(p, tags=p["tags"][1:], title=f"edited {p['title']}") for p in posts[:10]]
    assert all(_ok(r) for r in wp_sink.upsert_many(edited, idempotency_keys=[""] * 10))
    final = edited + posts[10:]
    carrying = Counter(tag for p in final for tag in dict.fromkeys(p["tags"]))
    with _rest(wordpress) as rest:
        total = rest.get("/wp/v2/posts", params={"per_page": 1, "_fields": "id"})
        assert int(total.headers["X-WP-Total"]) == before + len(final)
        for name, expected in carrying.items():
            found = rest.get("/wp/v2/tags", params={"search": name, "per_page": 100}).json()
            (tag,) = [t for t in found if html.unescape(t["name"]) == name]
            assert tag["count"] == expected, (name, tag)
            tagged = rest.get("/wp/v2/posts", params={"tags": tag["id"], "per_page": 1})
            assert int(tagged.headers["X-WP-Total"]) == expected, name
        if wp_mode == "rest":
            return  # core's REST update keeps a revision: only the bulk route turns them off
        for post_id in {
            _ok(r).remote_id for r in wp_sink.upsert_many(edited[:3], idempotency_keys=[""] * 3)
        }:
            revisions = rest.get(f"/wp/v2/posts/{post_id}/revisions")
            assert revisions.status_code == 200 and revisions.json() == [], post_id


@BULK_MODES
def test_the_hostile_corpus_renders_inert(
    wordpress: WordPress, wp_sink: WordPressSink, wp_mode: str
) -> None:
    posts = []
    for offset, payload in enumerate(HOSTILE):
        post, replaced = poison(BUILDER.build(918000 + offset), payload)
        assert replaced > 5
        post["tags"] = ["hostile"]  # term names are the site's vocabulary, not free text here
        posts.append(post)
    results = wp_sink.upsert_many(posts, idempotency_keys=[""] * len(posts))
    written = [r for r in results if isinstance(r, UpsertResult)]
    assert len(written) >= len(posts) - 5, [
        str(r) for r in results if not isinstance(r, UpsertResult)
    ]
    with _rest(wordpress) as rest:
        for result in written:
            wp = rest.get(f"/wp/v2/posts/{result.remote_id}").json()
            for field in ("title", "content", "excerpt"):
                audit = PageAudit()
                audit.feed(wp[field]["rendered"])
                audit.close()
                assert not audit.problems, (result.source_id, field, audit.problems)
                assert "script" not in audit.tags
    for post, result in zip(posts, results, strict=True):
        if isinstance(result, UpsertResult):
            assert wp_sink.get(post["source_id"]).post == post  # type: ignore[union-attr]


def test_uninstall_drops_what_the_plugin_made(
    wordpress: WordPress, wp_reader: WordPressSink
) -> None:
    wp_reader.upsert(
        BUILDER.build(919000), idempotency_key=f"u-{uuid.uuid4().hex}"
    )  # makes the schema
    dropped = wp_reader.uninstall()
    assert any(name.endswith("anp_synth_replay") for name in dropped)
    assert any(name.endswith("postmeta.anp_source_id") for name in dropped)
    assert wp_reader.uninstall() == []
    # The next import makes them again on first use.
    again = wp_reader.upsert(BUILDER.build(919001), idempotency_key=f"u2-{uuid.uuid4().hex}")
    assert again.outcome == "created"
    assert len(wp_reader.uninstall()) == 2
