"""The HTML pages: post page like the seed article, listings, stack and tag pages, search, login."""

from __future__ import annotations

import html
import re

import orjson
from fastapi.testclient import TestClient

from anp_synth.site.assets import SCRIPT, STYLESHEET
from anp_synth.site.media import media_url
from anp_synth.site.pages import PER_PAGE
from anp_synth.site.terms import slugify
from tests.site.conftest import USERS, make_post
from tests.site.hostile import audit


def _put(client: TestClient, post: dict) -> None:
    response = client.put(f"/api/posts/{post['source_id']}", content=orjson.dumps(post))
    assert response.status_code in (200, 201), response.text


def _items_of(html_text: str, label: str) -> list[str]:
    """The <li> texts of one row of the post-meta box."""
    row = re.search(rf"<tr><th>{re.escape(label)}</th><td>(.*?)</td></tr>", html_text, re.S)
    assert row, label
    return [html.unescape(li) for li in re.findall(r"<li>([^<]*)</li>", row.group(1))]


def test_post_page_shows_everything_of_the_post_like_the_seed_article(
    app_client: TestClient,
) -> None:
    post = make_post(2852)
    _put(client := app_client, post)
    page = client.get(f"/posts/{post['slug']}").text
    text = html.unescape(page)
    assert f"<h1>{html.escape(post['title'], quote=False)}</h1>" in page
    for value in (
        post["lead"],
        post["author"],
        post["image"]["caption"],
        post["code"][0]["source"],
    ):
        assert value in text
    assert f"image source: {post['image']['source']}" in text
    # the image is the site's own placeholder route
    assert f'<img src="{media_url(post["image"]["url"])}"' in page
    assert media_url(post["image"]["url"]) == post["image"]["url"]  # already /media/<id>.jpg
    for section in post["sections"]:
        assert f"<h2>{section['heading']}</h2>" in page
        for paragraph in section["paragraphs"]:
            assert f"<p>{html.escape(paragraph, quote=False)}</p>" in page
    assert f'<pre><code class="language-{post["code"][0]["language"]}">' in page
    assert all(f"<li>{item}</li>" in page for item in post["checklist"])
    assert "alphanode post meta" in page and "Similar Posts" in page
    meta = post["meta"]
    # Every array of the meta box renders as a list, as the seed's note asks.
    assert _items_of(page, "stack") == meta["stack"]
    assert _items_of(page, "tools") == meta["tools"]
    assert _items_of(page, "checklist") == meta["checklist"]
    assert _items_of(page, "notes") == meta["notes"]
    assert _items_of(page, "ai outline") == [
        f"{k.replace('_', ' ')}: {v}" for k, v in meta["outline"].items()
    ]
    assert _items_of(page, "score") == [f"{k}: {v}" for k, v in meta["score"].items()]
    assert _items_of(page, "flags") == [
        f"{k.replace('_', ' ')}: {v}" for k, v in meta["flags"].items()
    ]
    entities = _items_of(page, "entities")
    assert entities == [
        x for e in meta["entities"] for x in (f"name: {e['name']}", f"type: {e['type']}")
    ]
    images = _items_of(page, "image sources")
    assert f"url: {meta['image_sources'][0]['url']}" in images
    assert _items_of(page, "payload")[0] == f"source id: {meta['payload']['source_id']}"
    for label, value in (("topic", meta["topic"]), ("reference", meta["reference"]),
                         ("hash", meta["hash"]), ("view count", str(meta["view_count"])),
                         ("difficulty", meta["difficulty"]), ("ai brief", meta["brief"])):  # fmt: skip
        assert f"<tr><th>{label}</th><td>{html.escape(value, quote=False)}</td></tr>" in page
    assert not audit(page)[0]


def test_similar_posts_lists_existing_similar_ids_then_fills_up(app_client: TestClient) -> None:
    post = make_post(2852)
    declared = [make_post(int(sid.split("-")[1])) for sid in post["similar"][:2]]
    same_stack = make_post(2853, meta={**make_post(2853)["meta"], "stack": post["meta"]["stack"]})
    for p in (post, *declared, same_stack):
        _put(app_client, p)
    page = app_client.get(f"/posts/{post['slug']}").text
    box = page.split("Similar Posts", 1)[1]
    links = re.findall(r'href="/posts/([^"]+)"', box)
    assert links[:2] == [d["slug"] for d in declared]  # the declared ones first, in order
    assert same_stack["slug"] in links  # then filled up from the same stack
    assert post["slug"] not in links
    missing = [sid for sid in post["similar"][2:]]
    assert all(sid not in box for sid in missing)


def test_home_paginates_newest_first(app_client: TestClient) -> None:
    posts = [make_post(seed) for seed in range(800_000, 800_000 + PER_PAGE + 5)]
    app_client.post("/api/posts/bulk", content=orjson.dumps(posts)).raise_for_status()
    ordered = sorted(posts, key=lambda p: p["published_at"], reverse=True)
    first = app_client.get("/").text
    second = app_client.get("/page/2").text
    titles = re.findall(r'<h2><a href="/posts/([^"]+)">', first)
    assert titles == [p["slug"] for p in ordered[:PER_PAGE]]
    assert re.findall(r'<h2><a href="/posts/([^"]+)">', second) == [
        p["slug"] for p in ordered[PER_PAGE:]
    ]
    assert 'href="/page/2"' in first and 'href="/"' in second and "/page/3" not in second
    assert app_client.get("/page/3").status_code == 404
    assert app_client.get("/page/0").status_code == 404


def test_stack_and_tag_pages_list_their_posts_only(app_client: TestClient) -> None:
    posts = [make_post(seed) for seed in range(810_000, 810_040)]
    app_client.post("/api/posts/bulk", content=orjson.dumps(posts)).raise_for_status()
    tag = posts[0]["tags"][0]
    with_tag = {p["slug"] for p in posts if tag in p["tags"]}
    page = app_client.get(f"/tag/{slugify(tag)}").text
    assert set(re.findall(r'<h2><a href="/posts/([^"]+)">', page)) == with_tag
    assert f"Tag: {tag}" in page
    stack = posts[0]["meta"]["stack"][0]
    in_stack = {p["slug"] for p in posts if stack in p["meta"]["stack"]}
    page = app_client.get(f"/stack/{slugify(stack)}").text
    assert set(re.findall(r'<h2><a href="/posts/([^"]+)">', page)) == in_stack
    assert app_client.get("/tag/no-such-tag").status_code == 404
    assert app_client.get("/posts/no-such-post").status_code == 404


def test_search_pages_through_matches(app_client: TestClient) -> None:
    posts = [make_post(seed, title=f"quokka number {seed}") for seed in range(820_000, 820_025)]
    posts.append(make_post(820_100))
    app_client.post("/api/posts/bulk", content=orjson.dumps(posts)).raise_for_status()
    first = app_client.get("/search", params={"q": "quokka"}).text
    second = app_client.get("/search", params={"q": "quokka", "page": 2}).text
    found = re.findall(r"quokka number (\d+)", first + second)
    assert sorted(set(found)) == [str(s) for s in range(820_000, 820_025)]
    assert "/search?q=quokka&amp;page=2" in first
    assert app_client.get("/search", params={"q": "nothingmatchesthis"}).status_code == 200
    in_body = make_post(820_200)
    in_body["sections"][0]["paragraphs"][0] += " wombatology"
    _put(app_client, in_body)
    hits = app_client.get("/search", params={"q": "Wombatology"}).text
    assert html.escape(in_body["title"], quote=False) in hits


def test_search_forgets_the_old_text_of_an_updated_post(app_client: TestClient) -> None:
    post = make_post(830_000, title="platypus migration notes")
    _put(app_client, post)
    assert "platypus migration notes" in app_client.get("/search", params={"q": "platypus"}).text
    _put(app_client, {**post, "title": "echidna migration notes"})
    assert "migration notes" not in app_client.get("/search", params={"q": "platypus"}).text
    assert "echidna migration notes" in app_client.get("/search", params={"q": "echidna"}).text
    app_client.delete(f"/api/posts/{post['source_id']}")
    assert (
        "echidna" not in app_client.get("/search", params={"q": "echidna"}).text.split("</h1>")[1]
    )


def test_login_and_logout(app_client: TestClient) -> None:
    user = USERS[1]
    assert "log in" in app_client.get("/").text
    wrong = app_client.post("/login", data={"username": user.username, "password": "nope"})
    assert wrong.status_code == 401 and "wrong user name or password" in wrong.text
    assert "anp_session" not in app_client.cookies
    ok = app_client.post(
        "/login",
        data={"username": user.username, "password": user.password},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("samesite", "SameSite")
    home = app_client.get("/")
    assert f'<strong class="username">{user.display_name}</strong>' in home.text
    assert home.headers["x-cache"] == "BYPASS; rule=home"
    out = app_client.post("/logout", follow_redirects=False)
    assert out.status_code == 303
    app_client.cookies.clear()
    assert user.display_name not in app_client.get("/").text


def test_a_stale_session_cookie_shows_no_user(app_client: TestClient) -> None:
    page = app_client.get("/", headers={"Cookie": "anp_session=forged"})
    assert page.status_code == 200 and "logged in as" not in page.text


def test_pages_say_the_posts_language_not_its_locale(app_client: TestClient) -> None:
    # the page follows the field, even where the locale would say another language
    post = make_post(3001, locale="ja_JP", language="pt-BR")
    _put(app_client, post)
    page = app_client.get(f"/posts/{post['slug']}").text
    assert '<html lang="pt-BR">' in page
    home = app_client.get("/").text
    assert '<article class="teaser" lang="pt-BR">' in home


def test_the_theme_one_stylesheet_one_script_a_collapsed_meta_box(app_client: TestClient) -> None:
    post = make_post(2853)
    _put(app_client, post)
    page = app_client.get(f"/posts/{post['slug']}").text
    assert page.count('rel="stylesheet"') == 1 and page.count("<script") == 1
    assert f'<link rel="stylesheet" href="{STYLESHEET.url}">' in page
    assert f'<script src="{SCRIPT.url}" defer></script>' in page
    assert "<style" not in page and "style=" not in page
    assert '<nav class="site-nav"' in page and '<footer class="site-footer">' in page
    # The meta box is closed until the reader opens it; Similar Posts sit in the sidebar.
    assert '<details class="post-meta">\n    <summary>alphanode post meta</summary>' in page
    assert re.search(r'<aside class="sidebar">\s*<section class="similar">', page)
    for file in (STYLESHEET, SCRIPT):
        got = app_client.get(file.url)
        assert got.status_code == 200 and got.content == file.body
        assert got.headers["content-type"].startswith(file.media_type.split(";")[0])
        assert got.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert app_client.get("/static/site.000000000000.css").status_code == 404


def _head_value(head: str, attr: str, name: str, value: str = "content") -> str:
    found = re.search(rf'<(?:meta|link) {attr}="{re.escape(name)}" {value}="([^"]*)">', head)
    assert found, (attr, name)
    return html.unescape(found.group(1))


def test_description_canonical_and_open_graph(app_client: TestClient) -> None:
    post = make_post(2854, title='A "quoted" <title> & more')
    _put(app_client, post)
    path = f"/posts/{post['slug']}"
    head = app_client.get(path + "?utm_source=x").text.split("</head>")[0]
    url = f"http://testserver{path}"
    assert _head_value(head, "name", "description") == post["meta"]["summary"]
    assert _head_value(head, "rel", "canonical", "href") == url  # without the query
    assert _head_value(head, "property", "og:url") == url
    assert _head_value(head, "property", "og:title") == post["title"]
    assert _head_value(head, "property", "og:type") == "article"
    image = f"http://testserver{media_url(post['image']['url'])}"
    assert _head_value(head, "property", "og:image") == image
    assert _head_value(head, "property", "article:published_time") == post["published_at"]
    home = app_client.get("/").text.split("</head>")[0]
    assert _head_value(home, "property", "og:type") == "website"
    assert _head_value(home, "rel", "canonical", "href") == "http://testserver/"
    assert _head_value(home, "name", "description") == "Latest posts on alphanode."


def test_a_post_page_shows_every_code_block_in_its_place(app_client: TestClient) -> None:
    code = [
        {"language": "python", "source": "first = 1\n"},
        {"language": "bash", "source": "echo <two>\n"},
        {"language": "sql", "source": "select 3;\n"},
    ]
    post = make_post(3002, code=code)
    _put(app_client, post)
    page = app_client.get(f"/posts/{post['slug']}").text
    blocks = re.findall(r'<pre><code class="language-([a-z]+)">([^<]*)</code></pre>', page)
    assert blocks == [
        ("python", "first = 1\n"),
        ("bash", "echo &lt;two&gt;\n"),
        ("sql", "select 3;\n"),
    ]
    last = html.escape(post["sections"][0]["paragraphs"][-1], quote=False)
    assert page.index("first = 1") < page.index(f"<p>{last}</p>") < page.index("select 3;")
    assert page.index("select 3;") < page.index("implementation checklist")
