"""Read a sample of real posts as `SamplePost`s: a WordPress export (WXR), a folder of
Markdown with front matter, or a JSONL of posts. Everything streams: one post in memory.

A sample is untrusted input: the WXR parser refuses DTDs and entities
(defusedxml), YAML front matter is read with `safe_load`, and a bad post is one
line naming the file (and line) instead of a traceback.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anp_synth import textfile
from anp_synth.errors import InputError, UsageError

WXR_NS = {
    "content": "http://purl.org/rss/1.0/modules/content/",
    "dc": "http://purl.org/dc/elements/1.1/",
}
# post meta keys that hold a view count (ours first, then common plugins')
VIEW_KEYS = ("anp_view_count", "views", "post_views_count", "view_count", "_views")
MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdx")
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
_HTML_DROP = re.compile(
    r"<(pre|figure|h[1-6]|ul|ol|table|script|style)\b.*?</\1\s*>|<!--.*?-->", re.S | re.I
)
_HTML_PRE = re.compile(r"<pre\b[^>]*>(.*?)</pre\s*>", re.S | re.I)
_HTML_PARAGRAPH = re.compile(r"</p\s*>|\n\s*\n", re.I)
_MD_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.S | re.M)
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)|\{\{<\s*(figure|img)\b[^>]*>\}\}")
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")


@dataclass
class SamplePost:
    """What `profile stats` and `fit` measure of one post."""

    body_chars: int  # characters of the prose paragraphs (no code, headings or lists)
    paragraphs: int
    tags: list[str]
    categories: list[str]
    author: str
    published: str  # "YYYY-MM-DDTHH:MM:SS" (UTC when the sample says so), or ""
    views: int | None = None
    images: int = 0
    code_blocks: int = 0
    code_lines: list[int] = field(default_factory=list)  # lines of each code block
    locale: str | None = None
    lists: dict[str, int] = field(default_factory=dict)  # meta-box list lengths (our posts)


def read_sample(path: str | Path) -> Iterator[SamplePost]:
    """The posts of a sample: a folder (Markdown), *.jsonl, or an XML export (WXR)."""
    p = Path(path)
    if p.is_dir():
        return read_markdown(p)
    if not p.is_file():
        raise UsageError(None, f"no such file or folder {str(p)!r}")
    if p.suffix in (".jsonl", ".ndjson"):
        return read_jsonl(p)
    if p.suffix in (".xml", ".wxr"):
        return read_wxr(p)
    raise UsageError(None, f"{str(p)!r}: expected a WXR .xml, a .jsonl or a folder of Markdown")


# -- our posts (JSONL) ---------------------------------------------------------


def of_post(post: dict[str, Any]) -> SamplePost:
    """The measured shape of one of our posts (anp_synth.post.Post as a dict)."""
    meta = post["meta"]
    texts = [post["lead"], *(p for s in post["sections"] for p in s["paragraphs"])]
    return SamplePost(
        body_chars=sum(len(t) for t in texts),
        paragraphs=len(texts) - 1,
        tags=list(post["tags"]),
        categories=[meta["outline"]["stack"]],
        author=post["author"],
        published=post["published_at"].removesuffix("Z"),
        views=meta["view_count"],
        images=len(meta["image_sources"]),
        code_blocks=len(post["code"]),
        code_lines=[len(c["source"].splitlines()) for c in post["code"]],
        locale=post["locale"],
        lists={
            "checklist": len(post["checklist"]),
            "tools": len(meta["tools"]),
            "notes": len(meta["notes"]),
            "similar": len(post["similar"]),
        },
    )


def read_jsonl(path: Path) -> Iterator[SamplePost]:
    """Our posts, one JSON object a line (what `generate` writes)."""
    import orjson

    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield of_post(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                raise InputError(str(path), number, None, f"not JSON: {exc}") from None
            except (KeyError, TypeError, AttributeError) as exc:
                raise InputError(str(path), number, None, f"not a post: missing {exc}") from None


# -- WordPress export (WXR) ----------------------------------------------------


def _html_shape(content: str) -> tuple[int, int, int, list[int]]:
    """(prose characters, paragraphs, images, lines of each code block) of a post's HTML."""
    images = len(re.findall(r"<img\b", content, re.I))
    code = [
        len(html.unescape(_TAG.sub("", inner)).strip("\n").splitlines())
        for inner in _HTML_PRE.findall(content)
    ]
    prose = _HTML_DROP.sub("\n\n", content)
    chars = paragraphs = 0
    for block in _HTML_PARAGRAPH.split(prose):
        text = _SPACE.sub(" ", html.unescape(_TAG.sub("", block))).strip()
        if text:
            chars += len(text)
            paragraphs += 1
    return chars, paragraphs, images, code


def read_wxr(path: Path) -> Iterator[SamplePost]:
    """Published posts of a WordPress export, streamed item by item (DTDs and entities refused)."""
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import iterparse

    content_tag = f"{{{WXR_NS['content']}}}encoded"
    creator_tag = f"{{{WXR_NS['dc']}}}creator"
    where = str(path)
    root = None
    try:
        events = iterparse(where, events=("start", "end"), forbid_dtd=True, forbid_entities=True)
        for event, element in events:
            if root is None:
                root = element
            if event != "end" or element.tag != "item":
                continue
            wp = _wp_namespace(element)
            if (
                element.findtext(f"{wp}post_type", "post") == "post"
                and element.findtext(f"{wp}status", "publish") == "publish"
            ):
                yield _wxr_post(element, wp, content_tag, creator_tag)
            element.clear()
            root.clear()  # drop finished items: memory stays at one post
    except DefusedXmlException as exc:
        raise InputError(where, None, None, f"refused: {type(exc).__name__} ({exc})") from None
    except ParseError as exc:
        line = exc.position[0] if exc.position else None
        raise InputError(where, line, None, f"not well-formed XML: {exc}") from None


def _wp_namespace(item: Any) -> str:
    for child in item:
        tag = child.tag
        if tag.startswith("{http://wordpress.org/export/"):
            return tag[: tag.index("}") + 1]
    return "{http://wordpress.org/export/1.2/}"


def _wxr_post(item: Any, wp: str, content_tag: str, creator_tag: str) -> SamplePost:
    chars, paragraphs, images, code = _html_shape(item.findtext(content_tag, ""))
    tags, categories = [], []
    for category in item.findall("category"):
        name = (category.text or "").strip()
        if not name:
            continue
        if category.get("domain") == "post_tag":
            tags.append(name)
        elif category.get("domain") == "category":
            categories.append(name)
    date = item.findtext(f"{wp}post_date_gmt", "") or ""
    if not date or date.startswith("0000"):
        date = item.findtext(f"{wp}post_date", "") or ""
    views = None
    for meta in item.findall(f"{wp}postmeta"):
        key = meta.findtext(f"{wp}meta_key", "")
        if key in VIEW_KEYS:
            value = (meta.findtext(f"{wp}meta_value", "") or "").strip()
            if value.isdigit():
                views = int(value)
                break
    return SamplePost(
        body_chars=chars,
        paragraphs=paragraphs,
        tags=list(dict.fromkeys(tags)),
        categories=list(dict.fromkeys(categories)),
        author=(item.findtext(creator_tag, "") or "").strip(),
        published=_iso(date),
        views=views,
        images=images,
        code_blocks=len(code),
        code_lines=code,
    )


def _iso(text: str) -> str:
    """A sample's date as "YYYY-MM-DDTHH:MM:SS" ("" when it has none we can read)."""
    text = str(text).strip()
    match = re.match(r"(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?", text)
    if not match:
        return ""
    day, hour, minute, second = match.groups()
    if hour is None:
        return day
    return f"{day}T{hour}:{minute}:{second or '00'}"


# -- Markdown with front matter (Hugo, Jekyll, Eleventy) -----------------------


def read_markdown(folder: Path) -> Iterator[SamplePost]:
    """Every Markdown file under `folder` (sorted), with YAML (---), TOML (+++) or no front matter."""
    files = sorted(p for p in folder.rglob("*") if p.suffix in MARKDOWN_SUFFIXES and p.is_file())
    if not files:
        raise UsageError(None, f"no Markdown files (*.md) under {str(folder)!r}")
    for path in files:
        post = _markdown_post(path)
        if post is not None:
            yield post


def _markdown_post(path: Path) -> SamplePost | None:
    where = str(path)
    text = textfile.read_text(path)
    front, body = _front_matter(text, where)
    if front.get("draft") is True:
        return None
    images = len(_MD_IMAGE.findall(body))
    code = [m.group(0).count("\n") - 1 for m in _MD_FENCE.finditer(body)]
    prose = _MD_IMAGE.sub("", _MD_FENCE.sub("", body))
    chars = paragraphs = 0
    for block in re.split(r"\n\s*\n", prose):
        lines = [
            line
            for line in block.strip().splitlines()
            if not re.match(r"\s*(#|[-*+]\s|\d+\.\s|>|\||<)", line)
        ]
        if not lines:
            continue
        plain = _MD_LINK.sub(r"\1", " ".join(lines))
        plain = _SPACE.sub(" ", re.sub(r"[*_`]", "", plain)).strip()
        if plain:
            chars += len(plain)
            paragraphs += 1
    return SamplePost(
        body_chars=chars,
        paragraphs=paragraphs,
        tags=_names(front.get("tags")),
        categories=_names(front.get("categories")),
        author=_author(front),
        published=_iso(front.get("date", "")),
        views=front.get("views") if isinstance(front.get("views"), int) else None,
        images=images,
        code_blocks=len(code),
        code_lines=code,
        locale=None,
    )


def _front_matter(text: str, where: str) -> tuple[dict[str, Any], str]:
    for fence, kind in (("---", "yaml"), ("+++", "toml")):
        if text.startswith(fence + "\n") or text.startswith(fence + "\r\n"):
            end = text.find(f"\n{fence}", len(fence))
            if end < 0:
                raise InputError(where, 1, None, f"front matter opened with {fence} is not closed")
            raw, body = text[len(fence) + 1 : end], text[end + len(fence) + 1 :]
            try:
                if kind == "yaml":
                    import yaml

                    data = yaml.safe_load(raw) or {}
                else:
                    import tomllib

                    data = tomllib.loads(raw)
            except Exception as exc:  # yaml.YAMLError, tomllib.TOMLDecodeError
                line, reason = _front_matter_error(exc)
                # the front matter starts on the file's line 2, after its fence
                raise InputError(
                    where, None if line is None else line + 1, None, f"bad front matter: {reason}"
                ) from None
            if not isinstance(data, dict):
                raise InputError(where, None, None, "front matter is not a table of keys")
            return data, body
    return {}, text


def _front_matter_error(exc: Exception) -> tuple[int | None, str]:
    """The 1-based line within the front matter, and the reason, of a YAML or TOML error."""
    mark = getattr(exc, "problem_mark", None)  # yaml.MarkedYAMLError
    if mark is not None:
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        reason = f"{context}: {problem}" if context else problem
        return mark.line + 1, " ".join(reason.split())
    text = " ".join(str(exc).split())
    found = re.search(r"\s*\(at line (\d+), column \d+\)$", text)  # tomllib's message
    if found:
        return int(found.group(1)), text[: found.start()]
    return None, text


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",") if "," in value else value.split()
    if not isinstance(value, list):
        return []
    return list(dict.fromkeys(str(v).strip() for v in value if str(v).strip()))


def _author(front: dict[str, Any]) -> str:
    author = front.get("author", front.get("authors", ""))
    if isinstance(author, list):
        author = author[0] if author else ""
    if isinstance(author, dict):
        author = author.get("name", "")
    return str(author).strip()
