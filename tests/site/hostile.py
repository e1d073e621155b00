"""The hostile payload corpus, and a post with one payload in every text field."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

from anp_synth.site.assets import SCRIPT, STYLESHEET

HOSTILE: list[str] = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><script>alert(1)</script>',
    "'><svg onload=alert(1)>",
    "<svg/onload=alert(1)>",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#60;script&#62;alert(1)&#60;/script&#62;",
    "<iframe src=javascript:alert(1)></iframe>",
    '<a href="javascript:alert(1)">click</a>',
    '" onmouseover="alert(1)',
    "' onfocus='alert(1)' autofocus='",
    "<body onload=alert(1)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<style>*{background:url(javascript:alert(1))}</style>",
    "</textarea><script>alert(1)</script>",
    "</title><script>alert(1)</script>",
    "<!--<script>alert(1)//-->",
    "<![CDATA[<script>alert(1)</script>]]>",
    "{{ 7*7 }}{% if 1 %}jinja{% endif %}",
    "\u202egnp.exe <b>bidi</b>",
    "abc\u2066<script>alert(1)</script>\u2069",
    "\u200f\u202b<b>rtl</b>\u202c",
    "<script>alert(1)</script>" + "A" * 20000,
    "A" * 20000 + "<script>alert(1)</script>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<object data=javascript:alert(1)>",
    "<embed src=javascript:alert(1)>",
    "<meta http-equiv=refresh content=0;url=javascript:alert(1)>",
    "<base href=javascript:alert(1)//>",
    "\x00<script>alert(1)</script>",
    '<img src="x" onerror="&#97;lert(1)">',
    "<form action=javascript:alert(1)><button>x</button></form>",
    "<details open ontoggle=alert(1)>",
    "%3Cscript%3Ealert(1)%3C/script%3E",
]

# Fields whose format the model fixes (identity, dates, hashes, enums): not free text.
FIXED = {
    ("source_id",),
    ("slug",),
    ("published_at",),
    ("locale",),
    ("language",),
    ("meta", "hash"),
    ("meta", "reference"),
    ("meta", "difficulty"),
    ("meta", "revision", "last_reviewed"),
    ("meta", "payload", "source_id"),
}
# Fields with a maximum length in the model: the payload is cut to fit.
LIMITS = {
    ("title",): 1000,
    ("image", "source"): 200,
    ("image", "url"): 2000,
    ("image", "caption"): 2000,
    ("code", "language"): 50,
    ("code", "source"): 20000,
    ("meta", "image_sources", "source"): 200,
    ("meta", "image_sources", "url"): 2000,
    ("meta", "image_sources", "caption"): 2000,
    ("sections", "heading"): 500,
}


def poison(post: dict[str, Any], payload: str) -> tuple[dict[str, Any], int]:
    """A copy of the post with `payload` in every free-text field; (post, fields replaced)."""
    count = 0

    def walk(value: Any, path: tuple[str, ...]) -> Any:
        nonlocal count
        if isinstance(value, dict):
            return {k: walk(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, path) for v in value]
        if isinstance(value, str) and path not in FIXED:
            count += 1
            limit = LIMITS.get(path)
            return payload[:limit] if limit else payload
        return value

    return walk(copy.deepcopy(post), ()), count


ALLOWED_TAGS = {
    "html", "head", "meta", "title", "link", "script", "body", "header", "footer", "a",
    "strong", "form", "input", "button", "span", "div", "main", "article", "h1", "h2", "p",
    "time", "small", "figure", "img", "figcaption", "section", "pre", "code", "ul", "li",
    "aside", "table", "tr", "th", "td", "nav", "label", "details", "summary",
}  # fmt: skip
URL_ATTRS = {"href", "src", "action", "formaction", "data", "poster", "background"}
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
Attrs = dict[str, str | None]
_ABSOLUTE = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d+)?/[^\s\"'<>]*$")
_OG = re.compile(r"^(og|article):[a-z_]+$")
_OWN_LINKS = {
    ("stylesheet", STYLESHEET.url),
    ("icon", "/favicon.ico"),
    ("alternate", "/feed.xml"),
}


def _own_meta(a: Attrs) -> bool:
    if a == {"charset": "utf-8"}:
        return True
    if set(a) == {"name", "content"}:
        return a["name"] in ("viewport", "description")
    return set(a) == {"property", "content"} and _OG.match(a["property"] or "") is not None


def _own_link(a: Attrs) -> bool:
    if not set(a) <= {"rel", "href", "type", "title"}:
        return False
    if a.get("rel") == "canonical":
        return _ABSOLUTE.match(a.get("href") or "") is not None
    return (a.get("rel"), a.get("href")) in _OWN_LINKS


# THE allow-list: the site's own elements of the kinds that load code or styles or change how
# the page is read (base.html writes exactly these, in the head); any other element of these
# kinds, anywhere, or one of these outside the head, is what an injection looks like.
OWN_ELEMENTS: dict[str, Callable[[Attrs], bool]] = {
    "script": lambda a: a == {"src": SCRIPT.url, "defer": None},
    "link": _own_link,
    "meta": _own_meta,
}
HEAD_ONLY = {"title", *OWN_ELEMENTS}


class PageAudit(HTMLParser):
    """Collects what a browser would act on: tags, attributes, URLs; and the page's text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []
        self.in_head = False
        self.in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "head":
            self.in_head = True
        elif tag == "body":
            self.in_head = False
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag <{tag}>")
        own = OWN_ELEMENTS.get(tag)
        if own is not None and not own(dict(attrs)):
            self.problems.append(f"<{tag}> that is not the site's own: {attrs!r:.80}")
        if tag in HEAD_ONLY and not self.in_head:
            self.problems.append(f"<{tag}> outside the head")
        self.in_script = tag == "script"
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"event handler {name}= on <{tag}>")
            if name == "style":
                self.problems.append(f"style= on <{tag}> (the theme is the stylesheet)")
            if name in URL_ATTRS and value is not None:
                ok = value.startswith(("/", "#", "http://", "https://")) and not value.startswith(
                    "//"
                )
                if not ok:
                    self.problems.append(f"{name}={value[:60]!r} on <{tag}>")
            if name == "http-equiv":
                self.problems.append("meta http-equiv")

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self.in_head = False
        self.in_script = False

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self.in_script = False

    def handle_data(self, data: str) -> None:
        if self.in_script and data.strip():
            self.problems.append(f"inline script {data[:60]!r}")
        self.text.append(data)


def audit(html: str) -> tuple[list[str], str]:
    """(problems, text) of a rendered page: problems is empty when the page is inert."""
    parser = PageAudit()
    parser.feed(html)
    parser.close()
    problems = list(parser.problems)
    for ch in BIDI:
        if ch in html:
            problems.append(f"bidi control U+{ord(ch):04X} in the page")
    return problems, "".join(parser.text)
