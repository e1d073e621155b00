"""A post as WordPress REST fields: block-editor HTML for the body, and the registered post meta.

Everything taken from the post is HTML-escaped; the markup is core blocks (paragraph, image,
heading, code, list), so the block editor opens the post without a "classic" conversion and
WordPress does not run `wpautop` over the code block.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

import orjson

from anp_synth.layout import body_parts

# Meta keys (registered by the mu-plugin) whose value is the meta-box field as a JSON string.
JSON_META = (
    "outline",
    "stack",
    "tools",
    "score",
    "revision",
    "flags",
    "checklist",
    "entities",
    "image_sources",
    "payload",
    "notes",
)
TEXT_META = ("topic", "summary", "brief", "code_language", "difficulty", "reference")
INT_META = ("reading_time", "view_count")


def _text(value: str) -> str:
    """Escape element text (`<`, `>`, `&`); attributes use `escape` with quotes."""
    return escape(value, quote=False)


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _paragraph(text: str, css: str | None = None) -> str:
    if css:
        return (
            f'<!-- wp:paragraph {{"className":"{css}"}} -->\n'
            f'<p class="{css}">{_text(text)}</p>\n<!-- /wp:paragraph -->'
        )
    return f"<!-- wp:paragraph -->\n<p>{_text(text)}</p>\n<!-- /wp:paragraph -->"


def _safe_url(url: str) -> str:
    """An http(s) or site-relative URL as it is; anything else (javascript:, data:, markup) is
    no URL a browser should fetch: `#`."""
    ok = url.startswith(("http://", "https://", "/")) and not url.startswith("//")
    return url if ok and not any(c in url for c in "<>\"'` \t\n") else "#"


def _image(image: dict[str, Any]) -> str:
    caption = f"{image['caption']}. image source: {image['source']}"
    return (
        '<!-- wp:image {"sizeSlug":"large"} -->\n'
        '<figure class="wp-block-image size-large">'
        f'<img src="{escape(_safe_url(image["url"]))}" alt="{escape(image["caption"])}"/>'
        f"<figcaption>{_text(caption)}</figcaption></figure>\n<!-- /wp:image -->"
    )


def _code(code: dict[str, Any]) -> str:
    lang = escape(code["language"])
    return (
        '<!-- wp:code {"className":"language-' + lang + '"} -->\n'
        f'<pre class="wp-block-code language-{lang}"><code>{_text(code["source"])}</code></pre>\n'
        "<!-- /wp:code -->"
    )


def _checklist(items: list[str]) -> str:
    lis = "".join(f"<li>{_text(item)}</li>" for item in items)
    return (
        '<!-- wp:list {"className":"anp-checklist"} -->\n'
        f'<ul class="anp-checklist">{lis}</ul>\n<!-- /wp:list -->'
    )


_BLOCKS: dict[str, Callable[[Any], str]] = {
    "paragraph": _paragraph,
    "code": _code,
    "checklist": _checklist,
}


def render_content(post: dict[str, Any]) -> str:
    """The post body as block HTML, laid out like the seed article (anp_synth.layout: code
    blocks among the first section's last paragraphs, checklist in the second)."""
    parts = [_paragraph(post["lead"], "anp-lead"), _image(post["image"])]
    for part in body_parts(post):
        if part.heading is not None:
            parts.append(
                f"<!-- wp:heading -->\n<h2>{_text(part.heading)}</h2>\n<!-- /wp:heading -->"
            )
        parts.extend(_BLOCKS[block.kind](block.value) for block in part.blocks)
    return "\n\n".join(parts) + "\n"


def post_meta(post: dict[str, Any], content_hash: str) -> dict[str, Any]:
    """The registered post meta: import key, content hash, source post and the meta box."""
    meta = post["meta"]
    out: dict[str, Any] = {
        "source_id": post["source_id"],
        "anp_hash": content_hash,
        # The whole source post, so `previous` (rollback) and `get` (verify) are exact.
        "anp_post": _json(post),
        "anp_author": post["author"],
        "anp_locale": post["locale"],
        "anp_similar": _json(post["similar"]),
    }
    for key in TEXT_META:
        out[f"anp_{key}"] = str(meta[key])
    for key in INT_META:
        out[f"anp_{key}"] = int(meta[key])
    for key in JSON_META:
        out[f"anp_{key}"] = _json(meta[key])
    return out


def categories_of(post: dict[str, Any]) -> list[str]:
    """One category per stack named in the meta box, first mention first, no repeats."""
    seen: dict[str, None] = {}
    for name in post["meta"]["stack"]:
        if isinstance(name, str) and name.strip():
            seen.setdefault(name.strip(), None)
    return list(seen)


def tags_of(post: dict[str, Any]) -> list[str]:
    """The post's tags, first mention first, no repeats."""
    seen: dict[str, None] = {}
    for name in post["tags"]:
        if isinstance(name, str) and name.strip():
            seen.setdefault(name.strip(), None)
    return list(seen)


def post_fields(
    post: dict[str, Any], content_hash: str, tag_ids: list[int], category_ids: list[int]
) -> dict[str, Any]:
    """The JSON body of `POST /wp/v2/posts[/ID]` for one post."""
    return {
        # Titles and excerpts are HTML to WordPress (themes print them as they are).
        "title": _text(post["title"]),
        "slug": post["slug"],
        "status": "publish",
        "content": render_content(post),
        "excerpt": _text(post["meta"]["summary"]),
        # The publish date in UTC; WordPress derives the local `date` from it.
        "date_gmt": post["published_at"].rstrip("Z"),
        "tags": tag_ids,
        "categories": category_ids,
        "comment_status": "closed",
        "ping_status": "closed",
        "meta": post_meta(post, content_hash),
    }


def bulk_item(post: dict[str, Any], content_hash: str) -> dict[str, Any]:
    """One item of `POST /anp/v1/posts/bulk`: the same fields, with term names (the plugin
    resolves and creates them)."""
    fields = post_fields(post, content_hash, [], [])
    return {
        "source_id": post["source_id"],
        "hash": content_hash,
        "title": fields["title"],
        "slug": fields["slug"],
        "content": fields["content"],
        "excerpt": fields["excerpt"],
        "date_gmt": fields["date_gmt"],
        "tags": tags_of(post),
        "categories": categories_of(post),
        "meta": fields["meta"],
    }
