"""A post as a Markdown file: YAML front matter that carries the post, and a Markdown body.

The front matter is YAML whose values are JSON (YAML reads JSON flow values), one key a
line: first the keys a generator reads (title, date, slug, tags, categories, summary,
description), then every field of the post, so the file alone gives the post back exactly
(`previous` for a rollback, `get` for verify) without a YAML parser. The body is what a
reader sees, every piece of text escaped so that neither Markdown, raw HTML nor a template
language (Liquid, Hugo shortcodes) in a post can act on the site.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

import orjson

from anp_synth.layout import body_parts

# The post's own fields, in the order they are written (and the model's order).
POST_KEYS = (
    "source_id",
    "seed",
    "locale",
    "language",
    "title",
    "slug",
    "author",
    "published_at",
    "lead",
    "image",
    "sections",
    "code",
    "checklist",
    "tags",
    "meta",
    "similar",
)
# A post field whose name a generator or its plugins read with another meaning is written
# under another key: `image` is the image's URL for feeds and themes (jekyll-feed, Hugo's
# templates), so the post's image object (url, caption, source) is `figure`.
RENAMED = {"image": "figure"}
_FRONT = {RENAMED.get(k, k): k for k in POST_KEYS}  # front matter key → post field
FENCE = "---\n"
_FENCE = FENCE.encode()


# Text in the body: entities for what HTML or a template would read (`<`, `>`, `&`, `{`,
# `}`: Liquid and Hugo shortcodes open with braces), backslashes for Markdown's marks.
_TEXT = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        "{": "&#123;",
        "}": "&#125;",
        "\\": "\\\\",
        "`": "\\`",
        "*": "\\*",
        "_": "\\_",
        "[": "\\[",
        "]": "\\]",
        "#": "\\#",
        "|": "\\|",
        "~": "\\~",
        "$": "\\$",
        "\n": " ",
        "\r": " ",
    }
)
_SPECIAL = re.compile("[" + re.escape("".join(chr(c) for c in _TEXT)) + "]")
# all ASCII: in UTF-8 they are these bytes alone (a newline is looked for on its own)
_SPECIAL_BYTES = bytes(sorted(set(_TEXT) - {ord("\n")}))
_LINE_START = re.compile(r"^(\s*)([-+=:>]|\d+[.)])")  # would open a list, heading or quote
# The same after any newline of a text: the pieces of a post joined, each after a newline
# (a literal first character, so the regex engine skips from newline to newline).
_LINE_STARTS = re.compile(r"\n\s*(?:[-+=:>]|\d+[.)])")
_LANGUAGE = re.compile(r"[^A-Za-z0-9_+#.-]")
_BACKTICKS = re.compile(r"`+")


# YAML refuses some characters JSON leaves raw (DEL, the C1 controls but NEL, BOM, the
# non-characters U+FFFE and U+FFFF), here as UTF-8 (each match starts at a lead byte:
# UTF-8 is self-synchronising, so a match is always a whole character).
_YAML_UNSAFE_UTF8 = re.compile(rb"\x7f|\xc2[\x80-\x84\x86-\x9f]|\xef\xbb\xbf|\xef\xbf[\xbe\xbf]")


def _yaml_escape(match: re.Match[bytes]) -> bytes:
    return f"\\u{ord(match.group().decode()):04x}".encode()


def _yaml_safe(data: bytes) -> bytes:
    """Lines of JSON values that YAML also reads: what it refuses written as \\u escapes
    (only inside JSON strings: everything else in JSON text is ASCII)."""
    # The quick "none of them": their lead bytes, each looked for by memchr (a search for a
    # longer needle, or a generator over them, costs more than the rest of the front matter).
    if (b"\x7f" in data or b"\xc2" in data or b"\xef" in data) and _YAML_UNSAFE_UTF8.search(data):
        return _YAML_UNSAFE_UTF8.sub(_yaml_escape, data)
    return data


def text(value: str) -> str:
    """Plain text as one Markdown paragraph that renders as exactly that text."""
    if _SPECIAL.search(value):
        value = value.translate(_TEXT)
    return _line_start(value)


def _line_start(value: str) -> str:
    """`text` of a value with none of the characters `_TEXT` replaces."""
    m = _LINE_START.match(value)  # anchored at the start: at most the one match
    return value if m is None else f"{m.group(1)}\\{m.group(2)}{value[m.end() :]}"


def _escape_for(post: dict[str, Any], caption: str) -> Callable[[str], str]:
    """How every text of the post is escaped: `text`; `_line_start` when no text has a
    character `_TEXT` replaces; `str` (as it is) when none starts like a list, heading or
    quote either (most posts). One look at all of it (C loops over its text and UTF-8)
    instead of one a piece. `caption`: the figure's caption line (a text of its own: a
    caption `1` makes it start `1.`)."""
    pieces = ["", post["lead"], post["image"]["caption"], caption, *post["checklist"]]
    for section in post["sections"]:
        pieces.append(section["heading"])
        pieces += section["paragraphs"]
    blob = "\n".join(pieces)  # each piece after a newline
    if blob.count("\n") != len(pieces) - 1:
        return text  # a newline in a piece
    raw = blob.encode()
    if len(raw.translate(None, _SPECIAL_BYTES)) != len(raw):
        return text
    return _line_start if _LINE_STARTS.search(blob) else str


_URL_SAFE = ":/?#@!$&'*+,;=%~-._"
# A URL of only the characters `quote` keeps (its always-safe ones and _URL_SAFE): as it is.
_URL_KEPT = re.compile(r"[A-Za-z0-9" + re.escape(_URL_SAFE) + r"]*")


def _url(url: str) -> str:
    # Percent-encode what would end or break a Markdown link destination.
    return url if _URL_KEPT.fullmatch(url) else quote(url, safe=_URL_SAFE)


# Hugo reads shortcodes (`{{< x >}}`, `{{% x %}}`) everywhere in a page's content, code
# blocks included, before Markdown: one there runs (or, unknown or unclosed, fails the build).
_SHORTCODE = re.compile(r"\{\{([<%])")
_ZWSP = "\u200b"


def hugo_code(source: str) -> str:
    """A code block's source that Hugo shows as written, shortcode delimiters and all.

    Each `{{<` … `>}}` (and `{{%` … `%}}`) becomes Hugo's own escape `{{</*` … `*/>}}`,
    shown as the original; an opener with no closer after it cannot be escaped so, and gets
    a zero-width space after its `{{` (it looks the same; a copy has one invisible character
    more).
    """
    if "{{" not in source:
        return source
    out: list[str] = []
    at = 0
    for m in _SHORTCODE.finditer(source):
        if m.start() < at:
            continue  # inside a pair already escaped
        closer = ">}}" if m.group(1) == "<" else "%}}"
        end = source.find(closer, m.end())
        nested = _SHORTCODE.search(source, m.end(), end) if end >= 0 else None
        out.append(source[at : m.start()])
        if end < 0 or nested is not None:
            out.append("{{" + _ZWSP + m.group(1))
            at = m.end()
        else:
            inner = source[m.end() : end]
            out.append(f"{{{{{m.group(1)}/*{inner}*/{closer}")
            at = end + len(closer)
    out.append(source[at:])
    return "".join(out)


def _code(code: dict[str, Any], escape: Callable[[str], str] | None = None) -> str:
    source: str = code["source"] if escape is None else escape(code["source"])
    longest = max((len(m) for m in _BACKTICKS.findall(source)), default=0) if "`" in source else 0
    fence = "`" * max(3, longest + 1)
    language: str = code["language"]
    if not (language.isascii() and language.isalnum()):  # (most are: nothing to remove)
        language = _LANGUAGE.sub("", language)
    if not source.endswith("\n"):
        source += "\n"
    return f"{fence}{language}\n{source}{fence}"


def _list(items: Sequence[str], escape: Callable[[str], str] = text) -> str:
    return "- " + "\n- ".join(map(escape, items)) if items else ""


def body(post: dict[str, Any], code: Callable[[str], str] | None = None) -> str:
    """The post as a reader sees it, laid out like the seed article (anp_synth.layout): lead,
    figure, the sections with their paragraphs, fenced code blocks and the checklist.
    `code`: how the generator needs a code block's source escaped (Hugo: `hugo_code`)."""
    image = post["image"]
    caption = f"{image['caption']}. image source: {image['source']}"
    esc = _escape_for(post, caption)
    parts = [
        esc(post["lead"]),
        f"![{esc(image['caption'])}]({_url(image['url'])})\n*{esc(caption)}*",
    ]
    add = parts.append
    for heading, blocks in body_parts(post):
        if heading is not None:
            add(f"## {esc(heading)}")
        for kind, value in blocks:
            if kind == "paragraph":
                add(esc(value))
            elif kind == "code":
                add(_code(value, code))
            else:
                add(_list(value, esc))
    return "\n\n".join(parts) + "\n"


def categories_of(post: dict[str, Any]) -> list[str]:
    """One category per stack named in the meta box, first mention first, no repeats."""
    return list(dict.fromkeys(filter(None, map(str.strip, post["meta"]["stack"]))))


def document(
    post: dict[str, Any],
    content_hash: str,
    extra: dict[str, Any],
    code: Callable[[str], str] | None = None,
) -> bytes:
    """The whole file: front matter (generator keys, `extra`, the post) and the body
    (`code`: the generator's escape of a code block's source, see `body`)."""
    meta = post["meta"]
    head: dict[str, Any] = {
        "date": post["published_at"],
        "categories": categories_of(post),
        "summary": meta["summary"],
        "description": meta["brief"],
        "image": post["image"]["url"],
        # the page's language (BCP 47): Jekyll's and Eleventy's `lang`, the skeletons' <html lang>
        "lang": post["language"],
        **extra,
        "source_hash": content_hash,
    }
    # (title, slug and tags, which a generator reads too, are among the post's own fields)
    form, shown = _front_form(tuple(head))
    dumps = orjson.dumps  # (map: the loops in C)
    values = (
        *map(dumps, map(head.__getitem__, shown)),
        *map(dumps, map(post.__getitem__, POST_KEYS)),
    )
    return b"".join((_yaml_safe(form % values), b"\n", body(post, code).encode()))


@functools.lru_cache(maxsize=64)
def _front_form(keys: tuple[str, ...]) -> tuple[bytes, tuple[str, ...]]:
    """The front matter as a %-format for the head `keys` (the generator's) and the post's
    own fields, one `key: %s` line each; the head keys it shows (not those of the post's
    own fields: the post's value is written)."""
    shown = tuple(k for k in keys if k not in _FRONT)
    lines = [f"{k}: ".encode().replace(b"%", b"%%") + b"%s\n" for k in (*shown, *_FRONT)]
    return b"".join((_FENCE, *lines, _FENCE)), shown


def read_post(data: bytes) -> dict[str, Any] | None:
    """The post a file written by `document` carries, or None when the file is not one."""
    if not data.startswith(FENCE.encode()):
        return None
    end = data.find(b"\n---\n", 3)
    if end < 0:
        return None
    post: dict[str, Any] = {}
    for line in data[4 : end + 1].splitlines():
        key, sep, value = line.partition(b": ")
        name = _FRONT.get(key.decode("utf-8", "replace"))
        if sep and name is not None:
            try:
                post[name] = orjson.loads(value)
            except orjson.JSONDecodeError:
                return None
    if len(post) != len(POST_KEYS):
        return None
    return post


def source_id_of(data: bytes) -> str | None:
    """The `source_id` of a file's front matter, read without parsing the rest."""
    if not data.startswith(FENCE.encode()):
        return None
    at = data.find(b"\nsource_id: ", 3)
    end = data.find(b"\n---\n", 3)
    if at < 0 or (0 <= end < at):
        return None
    line_end = data.find(b"\n", at + 1)
    try:
        value = orjson.loads(data[at + 12 : line_end])
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, str) else None
