"""The cache-key scheme: what a change purges at the edge (anp_synth.edge.keys)."""

from __future__ import annotations

import subprocess
import sys

from anp_synth.edge.keys import (
    NOT_FOUND,
    SITEMAP,
    change_keys,
    is_safe_key,
    listing_key,
    listing_page_keys,
    page_key,
    post_page_keys,
)
from anp_synth.site.terms import slugify
from tests.site.conftest import make_post


def _families(post: dict) -> set[str]:
    out = {"home"}
    out |= {f"stack-{slugify(s)}" for s in post["meta"]["stack"]}
    out |= {f"tag-{slugify(t)}" for t in post["tags"]}
    return out


def test_key_names() -> None:
    assert listing_key("home") == "home"
    assert listing_key("stack:rust") == "stack-rust"
    assert page_key("tag:celery", 3) == "tag-celery/page/3"
    assert listing_page_keys("home", 2, ["a-1", "b-2", "a-1"]) == [
        "home",
        "home/page/2",
        "post-a-1",
        "post-b-2",
    ]
    assert post_page_keys("a-1", ["b-2", "bad id\u202e"], ["c-3"]) == [
        "post-a-1",
        "post-b-2",
        "post-c-3",
    ]
    assert not is_safe_key("two words") and not is_safe_key("a,b") and is_safe_key("tag-x/page/2")


def test_an_in_place_update_purges_only_the_post_key() -> None:
    before = make_post(1)
    after = {**before, "title": "a new title, same date and terms"}
    assert change_keys(before["source_id"], before, after) == [f"post-{before['source_id']}"]


def test_create_and_delete_purge_every_listing_of_the_post_and_create_the_404s() -> None:
    post = make_post(2)
    sid = post["source_id"]
    created = change_keys(sid, None, post)
    assert created[0] == f"post-{sid}" and NOT_FOUND in created
    assert set(created) - {f"post-{sid}", NOT_FOUND, SITEMAP} == _families(post)
    assert SITEMAP in created
    deleted = change_keys(sid, post, None)
    assert set(deleted) == {f"post-{sid}", SITEMAP} | _families(post)


def test_a_new_date_shifts_every_listing_and_a_new_tag_only_the_tags_that_changed() -> None:
    before = make_post(3)
    sid = before["source_id"]
    moved = {**before, "published_at": "2001-01-01T00:00:00Z"}
    assert set(change_keys(sid, before, moved)) == {f"post-{sid}", SITEMAP} | _families(before)
    retagged = {**before, "tags": [*before["tags"][1:], "brand-new-tag"]}
    expected = {f"post-{sid}", f"tag-{slugify(before['tags'][0])}", "tag-brand-new-tag"}
    assert set(change_keys(sid, before, retagged)) == expected
    renamed = {**before, "slug": "another-slug-000003"}
    assert set(change_keys(sid, before, renamed)) == {f"post-{sid}", NOT_FOUND, SITEMAP}


def test_the_key_scheme_loads_without_the_web_stack() -> None:
    # The importer computes the keys it purges: it must not pay for FastAPI.
    code = "import sys, anp_synth.edge.keys; print('fastapi' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
