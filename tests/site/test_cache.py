"""Cache rules, HIT/MISS/BYPASS, ETag and 304, and purging exactly the affected routes."""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree

import orjson
import pytest
from fastapi.testclient import TestClient

from anp_synth.edge.keys import MAX_KEYS
from anp_synth.site.app import SiteConfig, create_app
from anp_synth.site.cache import (
    NOT_FOUND_TTL,
    RULES,
    ListingSpan,
    bypass_reason,
    cache_query,
    listing_page_changed,
    rule_for,
)
from anp_synth.site.db import ListingChange
from anp_synth.site.media import media_url
from anp_synth.site.pages import PER_PAGE
from anp_synth.site.terms import slugify
from tests.site.conftest import USERS, make_post


def x_cache(client: TestClient, path: str, **kw) -> str:
    return client.get(path, **kw).headers["x-cache"]


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        ("/", "home"),
        ("/page/3", "home"),
        ("/posts/rust-notes-000001", "post"),
        ("/stack/rust", "stack"),
        ("/stack/rust/page/2", "stack"),
        ("/tag/celery", "tag"),
        ("/tag/celery/page/9", "tag"),
        ("/search", "search"),
        ("/login", "login"),
        ("/logout", "login"),
        ("/api/posts", "api"),
        ("/health", "health"),
        ("/favicon.ico", "asset"),
        ("/robots.txt", "asset"),
        ("/openapi.json", "none"),
    ],
)
def test_every_route_has_its_named_rule(path: str, rule: str) -> None:
    assert rule_for(path).name == rule


def test_rule_names_are_unique_and_documented() -> None:
    names = [r.name for r in RULES]
    assert len(names) == len(set(names))
    doc = (Path(__file__).parents[2] / "docs" / "caching.md").read_text(encoding="utf-8")
    for rule in RULES:
        assert f"`{rule.name}`" in doc
        assert str(rule.ttl) in doc


def test_bypass_conditions() -> None:
    post = rule_for("/posts/x")
    assert bypass_reason(post, "GET", b"", False) is None
    assert bypass_reason(post, "GET", b"utm=1", False) == "query-string"
    assert bypass_reason(post, "GET", b"", True) == "session"
    assert bypass_reason(post, "POST", b"", False) == "method"
    assert bypass_reason(post, "HEAD", b"", False) is None
    assert bypass_reason(rule_for("/search"), "GET", b"", False) == "uncached-route"


def test_miss_then_hit_with_cache_control_and_etag(app_client: TestClient) -> None:
    post = make_post(700_000)
    app_client.put(f"/api/posts/{post['source_id']}", content=orjson.dumps(post))
    path = f"/posts/{post['slug']}"
    first = app_client.get(path)
    assert first.headers["x-cache"] == "MISS; rule=post"
    assert first.headers["cache-control"] == "public, max-age=0, s-maxage=300, must-revalidate"
    second = app_client.get(path)
    assert second.headers["x-cache"] == "HIT; rule=post"
    assert second.content == first.content
    assert second.headers["etag"] == first.headers["etag"]
    conditional = app_client.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert conditional.status_code == 304 and conditional.content == b""
    assert conditional.headers["x-cache"] == "HIT; rule=post"
    other = app_client.get(path, headers={"If-None-Match": '"not-the-etag"'})
    assert other.status_code == 200
    head = app_client.head(path)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["x-cache"] == "HIT; rule=post"
    assert head.headers["content-length"] == str(len(first.content))


def test_bypass_for_query_string_session_and_uncached_routes(app_client: TestClient) -> None:
    post = make_post(700_001)
    app_client.put(f"/api/posts/{post['source_id']}", content=orjson.dumps(post))
    path = f"/posts/{post['slug']}"
    x_cache(app_client, path)
    assert x_cache(app_client, path + "?utm=1") == "BYPASS; rule=post"
    assert app_client.get(path + "?utm=1").headers["cache-control"] == "no-cache"
    assert x_cache(app_client, "/search?q=rust") == "BYPASS; rule=search"
    assert x_cache(app_client, "/health") == "BYPASS; rule=health"
    assert app_client.get("/api/posts").headers["x-cache"] == "BYPASS; rule=api"
    bypass = app_client.get(path, headers={"Cookie": "anp_session=whatever"})
    assert bypass.headers["x-cache"] == "BYPASS; rule=post"
    assert bypass.headers["cache-control"] == "private, no-store"
    # A conditional GET works on uncached answers too.
    etag = app_client.get("/health").headers["etag"]
    assert app_client.get("/health", headers={"If-None-Match": etag}).status_code == 304


def test_logged_in_pages_show_the_name_and_never_enter_the_cache(app_client: TestClient) -> None:
    post = make_post(700_002)
    app_client.put(f"/api/posts/{post['source_id']}", content=orjson.dumps(post))
    user = USERS[0]
    response = app_client.post(
        "/login",
        data={"username": user.username, "password": user.password},
        follow_redirects=False,
    )
    assert response.status_code == 303
    path = f"/posts/{post['slug']}"
    for _ in range(2):
        page = app_client.get(path)
        assert page.headers["x-cache"] == "BYPASS; rule=post"
        assert user.display_name in page.text
    app_client.cookies.clear()
    anonymous = app_client.get(path)
    assert anonymous.headers["x-cache"] == "MISS; rule=post"
    assert user.display_name not in anonymous.text


def test_a_session_cookie_written_with_spaces_still_bypasses_the_cache(
    app_client: TestClient,
) -> None:
    # `anp_session =ID` is a session to the cookie parser that renders the page: the cache must
    # see it too, or the logged-in page is stored and served to anonymous readers.
    post = make_post(700_003)
    app_client.put(f"/api/posts/{post['source_id']}", content=orjson.dumps(post))
    user = USERS[0]
    app_client.post(
        "/login",
        data={"username": user.username, "password": user.password},
        follow_redirects=False,
    )
    session = app_client.cookies.get("anp_session")
    assert session
    app_client.cookies.clear()
    path = f"/posts/{post['slug']}"
    spaced = app_client.get(path, headers={"Cookie": f"anp_session ={session}"})
    assert user.display_name in spaced.text
    assert spaced.headers["x-cache"] == "BYPASS; rule=post"
    assert spaced.headers["cache-control"] == "private, no-store"
    anonymous = app_client.get(path)
    assert anonymous.headers["x-cache"] == "MISS; rule=post"
    assert user.display_name not in anonymous.text


def test_errors_other_than_404_are_not_kept_and_pages_do_not_vary_by_cookie(
    app_client: TestClient,
) -> None:
    bad_page = app_client.get("/page/0")  # a 404 too: kept briefly
    assert bad_page.status_code == 404
    login_redirect = app_client.post("/logout", follow_redirects=False)
    assert login_redirect.status_code == 303
    assert login_redirect.headers["cache-control"] == "no-store"
    post = make_post(700_004)
    app_client.put(f"/api/posts/{post['source_id']}", content=orjson.dumps(post))
    path = f"/posts/{post['slug']}"
    for expected in ("MISS; rule=post", "HIT; rule=post"):
        page = app_client.get(path)
        assert page.headers["x-cache"] == expected
        # Only what changes the body: a page with a session is private, so nothing varies.
        assert "vary" not in page.headers
        assert "s-maxage=" in page.headers["cache-control"]


def test_a_404_is_cacheable_briefly_with_the_404_key_but_not_by_the_site(
    app_client: TestClient,
) -> None:
    for _ in range(2):
        missing = app_client.get("/posts/not-imported-yet-000001")
        assert missing.status_code == 404
        assert missing.headers["cache-control"] == f"public, max-age=0, s-maxage={NOT_FOUND_TTL}"
        assert missing.headers["surrogate-key"] == "404"
        assert missing.headers["x-cache"] == "MISS; rule=post"  # never stored here
    assert (
        app_client.get("/nothing-here")
        .headers["cache-control"]
        .endswith(f"s-maxage={NOT_FOUND_TTL}")
    )
    member = app_client.get("/posts/not-imported-yet-000001", headers={"Cookie": "anp_session=x"})
    assert member.headers["cache-control"] == "no-store"
    assert "surrogate-key" not in member.headers
    api = app_client.get("/api/posts/alphanode-999999")
    assert api.status_code == 404 and api.headers["cache-control"] == "no-store"


def test_the_origin_verdict_survives_a_proxy_and_hits_carry_age(app_client: TestClient) -> None:
    post = make_post(700_005)
    app_client.put(f"/api/posts/{post['source_id']}", content=orjson.dumps(post))
    path = f"/posts/{post['slug']}"
    first = app_client.get(path)
    assert first.headers["x-origin-cache"] == "MISS; rule=post"
    assert "age" not in first.headers
    hit = app_client.get(path)
    assert hit.headers["x-origin-cache"] == "HIT; rule=post"
    assert hit.headers["age"].isdigit() and int(hit.headers["age"]) <= 300
    revalidated = app_client.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert revalidated.status_code == 304 and revalidated.headers["age"].isdigit()


def test_tracking_parameters_are_ignored_by_the_cache_rules(app_client: TestClient) -> None:
    post = make_post(700_006)
    app_client.put(f"/api/posts/{post['source_id']}", content=orjson.dumps(post))
    path = f"/posts/{post['slug']}"
    assert x_cache(app_client, path + "?utm_source=news&fbclid=abc") == "MISS; rule=post"
    assert x_cache(app_client, path) == "HIT; rule=post"
    assert x_cache(app_client, path + "?gclid=1&utm_campaign=x&_ga=2") == "HIT; rule=post"
    assert x_cache(app_client, path + "?utm_source=a&preview=1") == "BYPASS; rule=post"
    assert cache_query(b"utm_medium=x&page=2&mc_cid=1") == b"page=2"
    assert cache_query(b"utmost=1") == b"utmost=1"  # only `utm_*`, not every "utm"


def _keys(response) -> list[str]:
    keys = response.headers["surrogate-key"].split(" ")
    assert response.headers["xkey"].split(" ") == keys  # one list, in every key header
    return keys


def test_every_cacheable_page_carries_the_keys_of_what_it_shows(app_client: TestClient) -> None:
    posts = _seed_site(app_client, PER_PAGE + 5)
    newest = posts[0]
    home = app_client.get("/")
    keys = _keys(home)
    assert keys[:2] == ["home", "home/page/1"]
    assert set(keys[2:]) == {f"post-{p['source_id']}" for p in posts[:PER_PAGE]}
    page2 = app_client.get("/page/2")
    assert _keys(page2)[:2] == ["home", "home/page/2"]
    assert f"post-{posts[PER_PAGE]['source_id']}" in _keys(page2)
    tag = slugify(newest["tags"][0])
    tag_keys = _keys(app_client.get(f"/tag/{tag}"))
    assert tag_keys[:2] == [f"tag-{tag}", f"tag-{tag}/page/1"]
    assert f"post-{newest['source_id']}" in tag_keys
    stack = slugify(newest["meta"]["stack"][0])
    assert _keys(app_client.get(f"/stack/{stack}"))[0] == f"stack-{stack}"
    post_page = app_client.get(f"/posts/{newest['slug']}")
    post_keys = _keys(post_page)
    assert post_keys[0] == f"post-{newest['source_id']}"
    for declared in newest["similar"]:  # shown or not yet imported: both change the box
        assert f"post-{declared}" in post_keys
    shown = re.findall(r'<section class="similar">.*?</section>', post_page.text, re.S)[0]
    for slug in re.findall(r'href="/posts/([^"]+)"', shown):
        shown_post = next(p for p in posts if p["slug"] == slug)
        assert f"post-{shown_post['source_id']}" in post_keys
    again = app_client.get(f"/posts/{newest['slug']}")
    assert again.headers["x-cache"].startswith("HIT")
    assert _keys(again) == post_keys
    assert "surrogate-key" not in app_client.get("/search?q=x").headers


def test_the_key_headers_are_configurable(tmp_path: Path, token: str) -> None:
    config = SiteConfig(
        str(tmp_path / "site.db"), token, USERS, access_log=False, key_headers=("Cache-Tag",)
    )
    with TestClient(create_app(config)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        post = make_post(700_007)
        client.put(f"/api/posts/{post['source_id']}", content=orjson.dumps(post))
        page = client.get("/")
        assert "surrogate-key" not in page.headers and "xkey" not in page.headers
        assert page.headers["cache-tag"] == f"home,home/page/1,post-{post['source_id']}"


def test_a_full_listing_page_stays_within_the_cdn_key_limits(app_client: TestClient) -> None:
    _seed_site(app_client, PER_PAGE + 1)
    header = app_client.get("/").headers["surrogate-key"]
    keys = header.split(" ")
    assert len(keys) <= MAX_KEYS <= 50  # CloudFront's 50 tags, Akamai's 128
    assert len(header.encode()) < 16 * 1024 and max(map(len, keys)) <= 128


def test_a_write_purges_other_posts_whose_similar_posts_show_it(app_client: TestClient) -> None:
    shown = make_post(700_020)
    # A post on another stack with other tools, whose box cannot fill up with `shown`.
    meta = {**make_post(700_021)["meta"], "stack": ["zz"], "tools": ["zz-tool"]}
    other = make_post(700_021, similar=[], meta=meta)
    showing = make_post(700_022, similar=[shown["source_id"]])
    app_client.post("/api/posts/bulk", content=orjson.dumps([shown, other, showing]))
    showing_path, other_path = f"/posts/{showing['slug']}", f"/posts/{other['slug']}"
    assert shown["title"] in app_client.get(showing_path).text
    assert f"post-{shown['source_id']}" not in _keys(app_client.get(other_path))
    renamed = {**shown, "title": "a brand new title for the similar post"}
    app_client.put(f"/api/posts/{shown['source_id']}", content=orjson.dumps(renamed))
    page = app_client.get(showing_path)
    assert page.headers["x-cache"].startswith("MISS")
    assert renamed["title"] in page.text
    assert x_cache(app_client, other_path).startswith("HIT")
    # Deleting it empties the box at once too.
    x_cache(app_client, showing_path)
    app_client.delete(f"/api/posts/{shown['source_id']}")
    page = app_client.get(showing_path)
    assert page.headers["x-cache"].startswith("MISS") and renamed["title"] not in page.text


def test_a_created_post_reaches_the_boxes_that_declared_it(app_client: TestClient) -> None:
    later = make_post(700_030)
    waiting = make_post(700_031, similar=[later["source_id"]])
    app_client.put(f"/api/posts/{waiting['source_id']}", content=orjson.dumps(waiting))
    path = f"/posts/{waiting['slug']}"
    assert later["title"] not in app_client.get(path).text
    app_client.put(f"/api/posts/{later['source_id']}", content=orjson.dumps(later))
    page = app_client.get(path)
    assert page.headers["x-cache"].startswith("MISS") and later["title"] in page.text


def test_purge_api_takes_keys(app_client: TestClient) -> None:
    posts = _seed_site(app_client, 3)
    paths = [f"/posts/{p['slug']}" for p in posts]
    for path in [*paths, "/"]:
        x_cache(app_client, path)
    key = f"post-{posts[0]['source_id']}"
    answer = app_client.post("/api/purge", content=orjson.dumps({"keys": [key]}))
    assert answer.status_code == 200
    body = answer.json()
    assert body["keys"] == [key] and body["purged"] == []
    assert paths[0] in body["purged_by_key"] and "/" in body["purged_by_key"]
    assert x_cache(app_client, paths[0]).startswith("MISS")
    assert x_cache(app_client, "/").startswith("MISS")
    others = [x_cache(app_client, p).split(";")[0] for p in paths[1:]]
    expected = ["MISS" if posts[0]["source_id"] in p["similar"] else "HIT" for p in posts[1:]]
    assert others == expected
    bad = app_client.post("/api/purge", content=orjson.dumps({"keys": ["two words"]}))
    assert bad.status_code == 422 and bad.json()["field"] == "keys[0]"


def test_purge_api_purges_exactly_the_routes_named(app_client: TestClient) -> None:
    posts = [make_post(seed) for seed in range(700_010, 700_013)]
    app_client.post("/api/posts/bulk", content=orjson.dumps(posts)).raise_for_status()
    paths = [f"/posts/{p['slug']}" for p in posts] + ["/"]
    for path in paths:
        x_cache(app_client, path)
    answer = app_client.post("/api/purge", content=orjson.dumps({"routes": [paths[0], "/"]}))
    assert answer.status_code == 200
    assert sorted(answer.json()["purged"]) == sorted([paths[0], "/"])
    assert x_cache(app_client, paths[0]).startswith("MISS")
    assert x_cache(app_client, "/").startswith("MISS")
    assert x_cache(app_client, paths[1]).startswith("HIT")
    assert x_cache(app_client, paths[2]).startswith("HIT")
    bad = app_client.post("/api/purge", content=orjson.dumps({"routes": ["no-slash"]}))
    assert bad.status_code == 422 and bad.json()["field"] == "routes[0]"


def _seed_site(client: TestClient, count: int) -> list[dict]:
    posts = [make_post(seed) for seed in range(710_000, 710_000 + count)]
    client.post("/api/posts/bulk", content=orjson.dumps(posts)).raise_for_status()
    return sorted(posts, key=lambda p: p["published_at"], reverse=True)


def test_update_purges_its_page_and_its_listing_pages_only(app_client: TestClient) -> None:
    posts = _seed_site(app_client, 3 * PER_PAGE)  # three home pages
    target = posts[PER_PAGE + 3]  # on home page 2
    other = posts[5]  # on home page 1, not the target
    target_tag = slugify(target["tags"][0])
    tags_of_target = {slugify(t) for t in target["tags"]}
    unrelated_tag = next(
        slugify(t) for p in posts for t in p["tags"] if slugify(t) not in tags_of_target
    )
    watched = [
        "/",
        "/page/2",
        "/page/3",
        f"/posts/{target['slug']}",
        f"/posts/{other['slug']}",
        f"/tag/{target_tag}",
        f"/tag/{unrelated_tag}",
    ]
    for path in watched:
        assert x_cache(app_client, path).startswith("MISS"), path
    changed = {**target, "title": "retitled: the same post, same date"}
    result = app_client.put(f"/api/posts/{target['source_id']}", content=orjson.dumps(changed))
    assert result.json()["result"] == "updated"
    after = {path: x_cache(app_client, path).split(";")[0] for path in watched}
    assert after == {
        "/": "HIT",
        "/page/2": "MISS",  # the page that shows the post
        "/page/3": "HIT",
        f"/posts/{target['slug']}": "MISS",
        f"/posts/{other['slug']}": "HIT",
        f"/tag/{target_tag}": "MISS",
        f"/tag/{unrelated_tag}": "HIT",
    }
    assert "retitled: the same post" in app_client.get("/page/2").text


def test_create_and_delete_purge_the_pages_that_shift(app_client: TestClient) -> None:
    posts = _seed_site(app_client, 3 * PER_PAGE)
    for path in ("/", "/page/2", "/page/3"):
        x_cache(app_client, path)
    # A post older than every other lands at the end: only the final page changes.
    oldest = make_post(710_900, published_at="2000-01-01T00:00:00Z")
    assert (
        app_client.put(
            f"/api/posts/{oldest['source_id']}", content=orjson.dumps(oldest)
        ).status_code
        == 201
    )
    states = {p: x_cache(app_client, p).split(";")[0] for p in ("/", "/page/2", "/page/3")}
    assert states == {"/": "HIT", "/page/2": "HIT", "/page/3": "MISS"}
    assert (
        oldest["title"] in app_client.get("/page/4").text
        or oldest["title"] in app_client.get("/page/3").text
    )
    # Deleting a post on page 2 shifts pages 2 and 3, not page 1.
    victim = posts[PER_PAGE + 1]
    assert app_client.delete(f"/api/posts/{victim['source_id']}").status_code == 204
    states = {p: x_cache(app_client, p).split(";")[0] for p in ("/", "/page/2", "/page/3")}
    assert states == {"/": "HIT", "/page/2": "MISS", "/page/3": "MISS"}
    assert app_client.get(f"/posts/{victim['slug']}").status_code == 404
    # A brand-new newest post shifts every page.
    newest = make_post(710_901, published_at="2099-01-01T00:00:00Z")
    app_client.put(f"/api/posts/{newest['source_id']}", content=orjson.dumps(newest))
    states = {p: x_cache(app_client, p).split(";")[0] for p in ("/", "/page/2", "/page/3")}
    assert states == {"/": "MISS", "/page/2": "MISS", "/page/3": "MISS"}
    assert newest["title"] in app_client.get("/").text


def test_unchanged_upsert_purges_nothing(app_client: TestClient) -> None:
    posts = _seed_site(app_client, 5)
    x_cache(app_client, "/")
    x_cache(app_client, f"/posts/{posts[0]['slug']}")
    app_client.post("/api/posts/bulk", content=orjson.dumps(posts)).raise_for_status()
    assert x_cache(app_client, "/").startswith("HIT")
    assert x_cache(app_client, f"/posts/{posts[0]['slug']}").startswith("HIT")


K = ("2025-01-10T00:00:00Z", 50)


def _span(first: tuple[str, int] | None, last: tuple[str, int] | None, peek=None) -> ListingSpan:
    return ListingSpan("home", first, last, peek)


def test_listing_page_changed_rules() -> None:
    page = _span(
        ("2025-02-01T00:00:00Z", 9), ("2025-01-01T00:00:00Z", 3), ("2024-12-01T00:00:00Z", 1)
    )
    final = _span(("2025-02-01T00:00:00Z", 9), ("2025-01-01T00:00:00Z", 3), None)
    newer = ListingChange()
    newer.shift(("2025-03-01T00:00:00Z", 99), insert=True)
    older = ListingChange()
    older.shift(("2024-06-01T00:00:00Z", 98), insert=True)
    assert listing_page_changed(page, newer) and listing_page_changed(final, newer)
    assert not listing_page_changed(page, older)  # lands after this page
    assert listing_page_changed(final, older)  # lands on (or after) the final page
    gone_peek = ListingChange()
    gone_peek.shift(("2024-12-01T00:00:00Z", 1), insert=False)
    assert listing_page_changed(page, gone_peek)  # the "older" link may vanish
    inside = ListingChange()
    inside.inplace(K)
    assert listing_page_changed(page, inside)
    outside = ListingChange()
    outside.inplace(("2026-01-01T00:00:00Z", 1))
    assert not listing_page_changed(page, outside)
    empty = _span(None, None)
    assert listing_page_changed(empty, older)


def test_favicon_and_robots_are_served_and_cached(app_client: TestClient) -> None:
    icon = app_client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO with one 16x16 image
    assert icon.content[6:8] == b"\x10\x10"
    assert icon.headers["x-cache"] == "MISS; rule=asset"
    assert app_client.get("/favicon.ico").headers["x-cache"] == "HIT; rule=asset"
    robots = app_client.get("/robots.txt")
    assert robots.status_code == 200 and "Disallow: /api/" in robots.text
    assert robots.headers["content-type"].startswith("text/plain")


def test_page_one_redirects_to_the_listing_itself(app_client: TestClient) -> None:
    post = make_post(700_040)
    app_client.put(f"/api/posts/{post['source_id']}", content=orjson.dumps(post))
    tag = slugify(post["tags"][0])
    for path, where in [("/page/1", "/"), (f"/tag/{tag}/page/1", f"/tag/{tag}")]:
        moved = app_client.get(path, follow_redirects=False)
        assert moved.status_code == 301 and moved.headers["location"] == where
        assert moved.headers["cache-control"] == "no-store"


def _login(client: TestClient, **headers: str):
    user = USERS[0]
    return client.post(
        "/login",
        data={"username": user.username, "password": user.password},
        headers=headers,
        follow_redirects=False,
    )


def test_the_session_cookie_is_secure_over_https_only(tmp_path: Path, token: str) -> None:
    plain = SiteConfig(str(tmp_path / "a.db"), token, USERS, access_log=False)
    with TestClient(create_app(plain), base_url="http://testserver") as client:
        cookie = _login(client).headers["set-cookie"]
        assert "anp_session=" in cookie and "secure" not in cookie.lower()
        # A forwarded https from a client that is not a loopback proxy is not believed.
        forged = _login(client, **{"X-Forwarded-Proto": "https"}).headers["set-cookie"]
        assert "secure" not in forged.lower()
    with TestClient(create_app(plain), base_url="https://testserver") as client:
        assert "secure" in _login(client).headers["set-cookie"].lower()
    behind = SiteConfig(str(tmp_path / "b.db"), token, USERS, access_log=False, behind_https=True)
    with TestClient(create_app(behind), base_url="http://testserver") as client:
        assert "secure" in _login(client).headers["set-cookie"].lower()


def test_the_feed_is_the_home_listing_and_is_purged_like_it(app_client: TestClient) -> None:
    posts = _seed_site(app_client, PER_PAGE + 3)
    feed = app_client.get("/feed.xml")
    assert feed.status_code == 200 and feed.headers["content-type"].startswith(
        "application/atom+xml"
    )
    root = ElementTree.fromstring(feed.content)
    atom = "{http://www.w3.org/2005/Atom}"
    titles = [e.findtext(f"{atom}title") for e in root.findall(f"{atom}entry")]
    assert titles == [p["title"] for p in posts[:PER_PAGE]]
    assert _keys(feed)[:2] == ["feed", "home"]
    assert app_client.get("/feed.xml").headers["x-cache"] == "HIT; rule=feed"
    # A post in place on home page 2 leaves the feed alone; a new newest post does not.
    moved = {**posts[PER_PAGE + 1], "title": "retitled on page two"}
    app_client.put(f"/api/posts/{moved['source_id']}", content=orjson.dumps(moved))
    assert app_client.get("/feed.xml").headers["x-cache"] == "HIT; rule=feed"
    newest = make_post(710_950, published_at="2099-01-01T00:00:00Z")
    app_client.put(f"/api/posts/{newest['source_id']}", content=orjson.dumps(newest))
    fresh = app_client.get("/feed.xml")
    assert fresh.headers["x-cache"] == "MISS; rule=feed" and newest["title"] in fresh.text


def test_the_sitemap_lists_every_post_and_is_paginated(
    app_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anp_synth.site import feeds

    posts = _seed_site(app_client, 5)
    monkeypatch.setattr(feeds, "SITEMAP_PAGE", 2)  # the protocol's 50,000, scaled down
    sm = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
    index = ElementTree.fromstring(app_client.get("/sitemap.xml").content)
    locs = [e.findtext(f"{sm}loc") for e in index.findall(f"{sm}sitemap")]
    assert locs == [f"http://testserver/sitemap-{n}.xml" for n in (1, 2, 3)]
    listed = []
    for n in (1, 2, 3):
        page = ElementTree.fromstring(app_client.get(f"/sitemap-{n}.xml").content)
        listed += [e.findtext(f"{sm}loc") for e in page.findall(f"{sm}url")]
    assert listed[0] == "http://testserver/"
    assert sorted(listed[1:]) == sorted(f"http://testserver/posts/{p['slug']}" for p in posts)
    assert app_client.get("/sitemap-4.xml").status_code == 404
    assert "Sitemap: http://testserver/sitemap.xml" in app_client.get("/robots.txt").text
    # A create purges the sitemap (key `sitemap`); an update in place does not.
    assert app_client.get("/sitemap-3.xml").headers["x-cache"].startswith("HIT")
    retitled = {**posts[0], "title": "same url, same date"}
    app_client.put(f"/api/posts/{retitled['source_id']}", content=orjson.dumps(retitled))
    assert app_client.get("/sitemap-3.xml").headers["x-cache"].startswith("HIT")
    created = make_post(710_960)
    app_client.put(f"/api/posts/{created['source_id']}", content=orjson.dumps(created))
    assert app_client.get("/sitemap-3.xml").headers["x-cache"].startswith("MISS")


def test_search_says_no_results_and_a_blank_query_asks_for_words(app_client: TestClient) -> None:
    _seed_site(app_client, 3)
    nothing = app_client.get("/search", params={"q": "zzzz-no-such-word"})
    assert "No results" in nothing.text and "No posts yet" not in nothing.text
    blank = app_client.get("/search", params={"q": "   "})
    assert "Type words to search" in blank.text and "No results" not in blank.text


def test_post_images_are_placeholders_served_by_the_site_for_a_year(
    app_client: TestClient,
) -> None:
    post = make_post(700_050)
    app_client.put(f"/api/posts/{post['source_id']}", content=orjson.dumps(post))
    page = app_client.get(f"/posts/{post['slug']}").text
    src = media_url(post["image"]["url"])
    assert src.startswith("/media/") and f'src="{src}"' in page
    # an image on a host that does not exist is shown as the site's placeholder
    old = "https://upload.wikimedia.org/wikipedia/commons/1584864322605-42a51a032205.png"
    assert media_url(old) == "/media/1584864322605-42a51a032205.svg"
    assert media_url("javascript:alert(1)") == "#"
    stem = src.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    first = app_client.get(src)
    assert first.status_code == 200 and first.headers["content-type"] == "image/svg+xml"
    assert first.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert first.content.startswith(b"<svg") and stem.encode() in first.content
    again = app_client.get(f"/media/{stem}.svg")  # any extension: the same placeholder
    assert again.content == first.content  # deterministic
    assert app_client.get("/media/other-name.svg").content != first.content
    assert app_client.get("/media/..%2Fetc.svg").status_code == 404
    assert app_client.get(f"/media/{stem}.exe").status_code == 404
