"""Hostile content renders inert on every page; search input cannot reach SQL or FTS syntax."""

from __future__ import annotations

import orjson
import pytest
from fastapi.testclient import TestClient

from anp_synth.post import Post
from anp_synth.site.assets import SCRIPT
from anp_synth.site.terms import slugify
from tests.site.conftest import USERS, make_post
from tests.site.hostile import BIDI, HOSTILE, audit, poison

FIRST_SEED = 600_000


def test_the_corpus_is_big_and_covers_every_kind() -> None:
    assert len(HOSTILE) >= 30
    joined = "".join(HOSTILE)
    for needle in (
        "<script>",
        "onerror=",
        "javascript:",
        "<svg",
        "&#",
        "\u202e",
        '"><',
        "A" * 20000,
    ):
        assert needle in joined


LIVE_MARKUP = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "<svg/onload=alert(1)>",
    "\u202e",
    # Look-alikes of the site's own head elements: each is what an injection would write.
    '<script src="/static/evil.js" defer></script>',
    f'<script src="{SCRIPT.url}" defer>alert(1)</script>',
    f'<script src="{SCRIPT.url}"></script>',
    '<link rel="stylesheet" href="/static/evil.css">',
    '<link rel="preload" href="/favicon.ico">',
    '<link rel="canonical" href="javascript:alert(1)">',
    '<meta http-equiv="refresh" content="0;url=/x">',
    '<meta property="og:title" content="x" onload="alert(1)">',
    '<meta name="referrer" content="unsafe-url">',
    "<style>body{display:none}</style>",
    '<p style="background:url(javascript:alert(1))">x</p>',
    '<base href="/">',
]


def test_the_audit_passes_the_sites_own_markup_and_catches_live_markup(
    app_client: TestClient,
) -> None:
    app_client.put(
        f"/api/posts/{make_post(FIRST_SEED)['source_id']}",
        content=orjson.dumps(make_post(FIRST_SEED)),
    ).raise_for_status()
    pages = [app_client.get(p).text for p in ("/", f"/posts/{make_post(FIRST_SEED)['slug']}")]
    for page in pages:  # the theme: stylesheet, script, canonical, Open Graph, description
        assert not audit(page)[0]
        assert all(f"<{own}" in page for own in ("script", "link", "meta"))
    # The audit must be able to fail: the same page with a payload in its body or head.
    for payload in LIVE_MARKUP:
        for place in ("<main", "</head>"):
            problems, _ = audit(pages[1].replace(place, payload + place, 1))
            assert problems, (payload, place)
    body_meta = pages[1].replace("<main", '<meta name="description" content="x"><main', 1)
    assert "outside the head" in " ".join(audit(body_meta)[0])


@pytest.fixture()
def hostile_site(app_client: TestClient) -> tuple[TestClient, list[dict]]:
    posts = []
    for number, payload in enumerate(HOSTILE):
        post, replaced = poison(make_post(FIRST_SEED + number), payload)
        assert replaced >= 40  # every free-text field of the post holds the payload
        Post.model_validate(post)
        posts.append(post)
    response = app_client.post("/api/posts/bulk", content=orjson.dumps({"posts": posts}))
    assert response.status_code == 200, response.text
    assert response.json()["counts"]["created"] == len(HOSTILE), response.text
    return app_client, posts


def _pages(post: dict) -> list[str]:
    pages = [f"/posts/{post['slug']}", "/", "/page/2"]
    pages += [f"/stack/{slugify(s)}" for s in post["meta"]["stack"][:1]]
    pages += [f"/tag/{slugify(t)}" for t in post["tags"][:1]]
    pages.append("/search?q=alert")
    return pages


def _check(client: TestClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    problems, text = audit(response.text)
    assert not problems, (path, problems[:5])
    return text


def test_every_payload_is_inert_on_every_page(hostile_site: tuple[TestClient, list[dict]]) -> None:
    client, posts = hostile_site
    for post, payload in zip(posts, HOSTILE, strict=True):
        for path in _pages(post):
            _check(client, path)
        text = _check(client, f"/posts/{post['slug']}")
        # Rendered, not dropped: the payload shows as text (minus bidi controls and NUL).
        shown = "".join(ch for ch in payload[:200] if ch not in BIDI and ch != "\x00")
        assert shown.strip() in text.replace("\x00", "").replace("\ufffd", ""), payload[:40]


def test_every_payload_is_inert_for_a_logged_in_user(
    hostile_site: tuple[TestClient, list[dict]],
) -> None:
    client, posts = hostile_site
    user = USERS[0]
    login = client.post(
        "/login",
        data={"username": user.username, "password": user.password},
        follow_redirects=False,
    )
    assert login.status_code == 303
    for post in posts[:10]:
        for path in _pages(post):
            text = _check(client, path)
            assert user.display_name in text


def test_the_login_form_echo_is_inert(app_client: TestClient) -> None:
    for payload in HOSTILE[:10]:
        response = app_client.post("/login", data={"username": payload, "password": "x"})
        assert response.status_code == 401
        problems, _ = audit(response.text)
        assert not problems, problems


SQL_AND_FTS_META = [
    "' OR 1=1 --",
    '"; DROP TABLE posts; --',
    "'; DELETE FROM posts; --",
    "' UNION SELECT id_hash, username FROM sessions --",
    "%",
    "_",
    "*",
    "\\",
    "')) OR (('a'='a",
    "NEAR(a b)",
    "title:rust",
    "rust AND NOT python OR",
    '"unbalanced',
    "^rust",
    "rust*",
    "(((",
    "-rust",
    "\x00",
    ";",
    "/* comment */",
]


@pytest.mark.parametrize("q", SQL_AND_FTS_META)
def test_search_with_sql_meta_characters_is_harmless(app_client: TestClient, q: str) -> None:
    posts = [make_post(seed) for seed in range(610_000, 610_010)]
    app_client.post("/api/posts/bulk", content=orjson.dumps(posts)).raise_for_status()
    response = app_client.get("/search", params={"q": q})
    assert response.status_code == 200
    assert not audit(response.text)[0]
    assert app_client.get("/health").json()["posts"] == 10
    for post in posts:
        assert app_client.get(f"/posts/{post['slug']}").status_code == 200


def test_search_finds_words_and_only_matching_posts(app_client: TestClient) -> None:
    one = make_post(620_000, title="zebracorn migrations in practice")
    two = make_post(620_001)
    app_client.post("/api/posts/bulk", content=orjson.dumps([one, two])).raise_for_status()
    found = app_client.get("/search", params={"q": "Zebracorn' OR 1=1 --"})
    # Words are matched, operators are not: "zebracorn" AND "or" AND "1" AND "1".
    assert two["title"] not in found.text
    hits = app_client.get("/search", params={"q": "zebracorn"})
    assert one["title"] in hits.text and two["title"] not in hits.text
