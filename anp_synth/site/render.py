"""Server-side HTML: a Jinja2 environment that escapes every value and neutralises URLs."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from anp_synth.layout import body_parts
from anp_synth.post import is_language
from anp_synth.site.assets import SCRIPT, STYLESHEET
from anp_synth.site.auth import session_hash
from anp_synth.site.cache import SESSION_COOKIE
from anp_synth.site.media import media_url
from anp_synth.site.state import site_of
from anp_synth.site.terms import slugify

# Bidi overrides and isolates can make escaped text read as something else
# (a "trojan source" title); the site drops them from every rendered value.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
# Code points HTML forbids in text (NUL and the other C0 controls but tab, LF, FF and CR; DEL
# and C1; the noncharacters): a page with one is invalid, and NUL ends strings in some readers.
# Each is shown as U+FFFD, so a reader sees that something was there.
_FORBIDDEN = re.compile(
    "[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ufdd0-\ufdef"
    + "".join(f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(17))
    + "]"
)
_SAFE_SCHEMES = ("http", "https")


def clean_text(value: str) -> str:
    """Text as the site renders it: no bidi controls, forbidden code points as U+FFFD."""
    return _FORBIDDEN.sub("\ufffd", _BIDI.sub("", value))


def _finalize(value: Any) -> Any:
    if isinstance(value, Markup):  # already-rendered HTML (a macro's output): its values were
        return value  # finalized one by one
    if isinstance(value, str):
        return clean_text(value)
    return value


def safe_url(url: Any) -> str:
    """The URL if it is plain http(s) or a path on this site, else `#`: no javascript:,
    data: or vbscript: links, no protocol-relative `//host` (the generated posts' images
    are paths such as `/media/<id>.jpg`)."""
    if not isinstance(url, str):
        return "#"
    cleaned = _BIDI.sub("", url).strip()
    try:
        parts = urlsplit(cleaned)
    except ValueError:
        return "#"
    local = not parts.scheme and not parts.netloc and cleaned.startswith("/")
    if not local and parts.scheme.lower() not in _SAFE_SCHEMES:
        return "#"
    if "\\" in cleaned or cleaned.startswith("//") or any(ord(c) < 32 for c in cleaned):
        return "#"
    return cleaned


def lang(language: Any) -> str:
    """The HTML `lang` of a post: its `language` (BCP 47); "" (unknown) when it is none."""
    return language if is_language(language) else ""


def label(key: str) -> str:
    """A meta key as the seed article shows it: `code_language` → `code language`."""
    return key.replace("_", " ")


env = Environment(
    loader=PackageLoader("anp_synth.site", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    finalize=_finalize,
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters["safe_url"] = safe_url
env.filters["label"] = label
env.filters["lang"] = lang
env.filters["body_parts"] = body_parts
env.filters["slugify"] = slugify
env.filters["media_url"] = media_url
env.globals["stylesheet_url"] = STYLESHEET.url
env.globals["script_url"] = SCRIPT.url
env.tests["mapping"] = lambda v: isinstance(v, dict)
env.tests["list"] = lambda v: isinstance(v, list)


def current_user(request: Request) -> str | None:
    """The display name of the logged-in user, or None."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    found = site_of(request).db.session(session_hash(cookie))
    return found.display_name if found else None


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render a template with the logged-in user's name and the page's absolute URL."""
    base = str(request.base_url).rstrip("/")
    html = env.get_template(template).render(
        user=current_user(request),
        base_url=base,
        canonical=base + request.url.path,  # one URL per page: queries are not part of it
        **context,
    )
    return HTMLResponse(html, status)


def render_error(request: Request, status: int, message: str) -> HTMLResponse:
    """An error page."""
    return render(request, "error.html", status, status_code=status, message=message)
