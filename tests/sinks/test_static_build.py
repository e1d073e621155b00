"""Import into a site laid out by `site init`, build it with the real generator, read the output."""

from __future__ import annotations

import re
from collections import defaultdict
from html import unescape

import pytest

from anp_synth.importer.ledger import Ledger
from anp_synth.sinks.registry import create_sink
from anp_synth.sinks.static.markdown import categories_of
from anp_synth.sinks.static.skeleton import init_site
from tests.importer.posts import post, run_import, write_jsonl
from tests.sinks.static_sites import BUILD, build, listed, term_listings

HOSTILE_TITLE = '<script>alert("title")</script> {{ site.title }} {{< x >}} {% raw %}'
# template syntax in a code block: Hugo reads shortcodes there too (an unclosed one failed the
# build), Liquid and Eleventy's engines are off for posts
HOSTILE_CODE = (
    'a := "{{< figure src=x >}}"\nb := "{{% mark %}}" + "{{ .Title }}"\n'
    'c := "{{< unclosed" + "{% raw %}" + "{{</* comment */>}}"\n'
)
HOSTILE_TEXT = "<img src=x onerror=alert(1)> *not bold* {{ page.title }} [link](javascript:x)"


def _posts() -> list[dict]:  # type: ignore[type-arg]
    posts = [post(s) for s in range(2852, 2852 + 25)]
    posts[0]["title"] = HOSTILE_TITLE
    posts[0]["sections"][0]["paragraphs"][0] = HOSTILE_TEXT
    posts[0]["tags"] = [*posts[0]["tags"], "c++ & <friends>"]
    posts[1]["code"]["source"] = HOSTILE_CODE
    posts[1]["language"] = "ja"
    return posts


@pytest.fixture(params=sorted(BUILD))
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    generator = request.param
    tmp = tmp_path_factory.mktemp(generator)
    root = tmp / "site"
    init_site(generator, root)
    posts = _posts()
    src = write_jsonl(tmp / "posts.jsonl", posts)
    with Ledger(tmp / "ledger.sqlite") as led:
        summary = run_import(create_sink(generator, str(root)), led, str(root), src)
    assert summary.created == len(posts)
    return generator, build(generator, root), posts


def test_every_post_has_its_page(built) -> None:  # type: ignore[no-untyped-def]
    _, out, posts = built
    for p in posts:
        page = out / "posts" / p["slug"] / "index.html"
        assert page.is_file(), page
        html = page.read_text(encoding="utf-8")
        assert p["code"][0]["language"] in html and p["checklist"][0] in html
        assert f'<html lang="{p["language"]}">' in html  # the front matter's `lang`
    assert posts[1]["language"] == "ja" and posts[2]["language"] == "en"
    home = listed(out / "index.html")
    second = listed(out / "page" / "2" / "index.html")
    assert len(home) == 20 and len(second) == 5  # pagination: 20 a page
    assert {h.rstrip("/").rsplit("/", 1)[-1] for h in home + second} == {p["slug"] for p in posts}
    feed = next(f for f in (out / "index.xml", out / "feed.xml") if f.is_file())
    newest = max(posts, key=lambda p: p["published_at"])
    assert newest["slug"] in feed.read_text(encoding="utf-8")


def test_tag_and_category_pages_list_exactly_their_posts(built) -> None:  # type: ignore[no-untyped-def]
    _, out, posts = built
    for taxonomy, terms_of in (("tags", lambda p: p["tags"]), ("categories", categories_of)):
        expected: dict[str, set[str]] = defaultdict(set)
        for p in posts:
            for term in terms_of(p):
                expected[term.lower()].add(p["slug"])
        got = {
            term.lower(): {h.rstrip("/").rsplit("/", 1)[-1] for h in hrefs}
            for term, hrefs in term_listings(out, taxonomy).items()
        }
        assert got == expected, taxonomy


def test_hostile_text_is_escaped_in_the_built_html(built) -> None:  # type: ignore[no-untyped-def]
    _, out, posts = built
    html = (out / "posts" / posts[0]["slug"] / "index.html").read_text(encoding="utf-8")
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(" in html  # the title, shown as text
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "*not bold*" in html and "<em>not bold</em>" not in html
    shown = unescape(html)  # braces may stay entities: what the reader sees is the text
    assert "{{ page.title }}" in shown and "{{< x >}}" in shown and "{% raw %}" in shown
    assert 'href="javascript' not in html


def test_template_syntax_in_a_code_block_is_shown_as_written(built) -> None:  # type: ignore[no-untyped-def]
    _, out, posts = built
    html = (out / "posts" / posts[1]["slug"] / "index.html").read_text(encoding="utf-8")
    block = html[html.index("<pre") : html.index("</pre>")]
    shown = unescape(re.sub(r"<[^>]+>", "", block))
    # every line as written; an unclosed Hugo opener carries a zero-width space after `{{`
    assert shown.replace("\u200b", "").strip() == HOSTILE_CODE.strip()
    assert shown.count("\u200b") <= 1 and "figure" not in html.replace(block, "")
