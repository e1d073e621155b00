"""A post as WordPress fields: block HTML, escaping, meta, terms."""

from __future__ import annotations

import copy
import json
from html.parser import HTMLParser

from anp_synth.generate.builder import PostBuilder
from anp_synth.jsonl import content_hash
from anp_synth.sinks.wordpress.content import categories_of, post_fields, render_content, tags_of

POST = PostBuilder().build(2852)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


def test_body_has_lead_image_sections_code_and_checklist_in_order() -> None:
    html = render_content(POST)
    order = [
        html.index('class="anp-lead"'),
        html.index("<figure"),
        html.index("<h2>production checks</h2>"),
        html.index(f'<pre class="wp-block-code language-{POST["code"][0]["language"]}">'),
        html.index("<h2>implementation checklist</h2>"),
        html.index('<ul class="anp-checklist">'),
        html.index("<h2>final notes</h2>"),
    ]
    assert order == sorted(order)
    assert html.count("<li>") == len(POST["checklist"])
    assert "<!-- wp:code" in html and "<!-- /wp:code -->" in html


def test_markup_in_the_post_is_text_never_tags() -> None:
    post = copy.deepcopy(POST)
    post["sections"][0]["paragraphs"][0] = "<script>x()</script>"
    post["code"][0]["source"] = "a < b && c > d"
    post["checklist"][0] = "<b>bold</b>"
    post["image"]["caption"] = 'say "hi" <i>'
    post["image"]["url"] = 'https://e.example/a.png" onerror="x'
    parsed = _parse(render_content(post))
    assert "script" not in parsed.tags and "b" not in parsed.tags and "i" not in parsed.tags
    assert "<script>x()</script>" in "".join(parsed.text)
    assert "a < b && c > d" in "".join(parsed.text)
    assert 'onerror="x' not in render_content(post)


def test_fields_carry_meta_terms_date_and_the_source_post() -> None:
    digest = content_hash(POST)
    fields = post_fields(POST, digest, [1, 2], [3])
    assert fields["slug"] == POST["slug"]
    assert fields["date_gmt"] == POST["published_at"].removesuffix("Z")
    assert len(fields["date_gmt"]) == len("2025-02-03T14:30:57")
    assert fields["tags"] == [1, 2] and fields["categories"] == [3]
    meta = fields["meta"]
    assert meta["source_id"] == "alphanode-002852"
    assert meta["anp_hash"] == digest
    assert json.loads(meta["anp_post"]) == POST
    assert meta["anp_view_count"] == POST["meta"]["view_count"]
    assert json.loads(meta["anp_score"]) == POST["meta"]["score"]


def test_terms_are_unique_in_first_mention_order() -> None:
    post = copy.deepcopy(POST)
    post["meta"]["stack"] = ["rust", "systems", "rust"]
    assert categories_of(post) == ["rust", "systems"]
    assert tags_of(POST) == list(dict.fromkeys(POST["tags"]))


def test_every_code_block_is_a_code_block_between_the_last_paragraphs() -> None:
    post = copy.deepcopy(POST)
    post["code"] = [
        {"language": "python", "source": "first()\n"},
        {"language": "bash", "source": "echo <second> && done\n"},
    ]
    html = render_content(post)
    assert html.count("<!-- wp:code") == 2 == html.count("</code></pre>")
    last = post["sections"][0]["paragraphs"][-1]
    order = [
        html.index('<pre class="wp-block-code language-python"><code>first()'),
        html.index(f"<p>{last}</p>"),
        html.index('<pre class="wp-block-code language-bash"><code>echo &lt;second&gt; &amp;&amp;'),
        html.index("<h2>implementation checklist</h2>"),
    ]
    assert order == sorted(order)
    post["code"] = []
    assert "wp:code" not in render_content(post)
