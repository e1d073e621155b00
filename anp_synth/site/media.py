"""Placeholder images: the site serves a deterministic SVG for every post image under its
own `/media/` route, cached for a year. The generator's image URLs are such paths
(`/media/<id>.jpg|jpeg|png|webp`); an older post's URL on a host that does not exist is
rewritten to one (`media_url`, a template filter):

    https://upload.wikimedia.org/wikipedia/commons/1584864322605-42a51a032205.png
        → /media/1584864322605-42a51a032205.svg

The same name always gives the same bytes (colour from a blake2b of the name), so the
placeholder is `immutable`: a browser or an edge never asks again.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

router = APIRouter(include_in_schema=False)

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,119}")
EXTENSIONS = ("svg", "jpg", "jpeg", "png", "webp")  # all answered with the SVG placeholder
WIDTH, HEIGHT = 1200, 630  # the Open Graph image size


def media_url(url: Any) -> str:
    """The site's placeholder for a post's image URL (its file name without the extension)."""
    if not isinstance(url, str):
        return "#"
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return "#"
    name = parts.path.rsplit("/", 1)[-1]
    stem, _, ext = name.rpartition(".")
    if not parts.netloc and parts.path == f"/media/{name}" and ext in EXTENSIONS:
        return parts.path if _NAME.fullmatch(stem) else "#"  # already the site's own
    stem = stem or name
    return f"/media/{stem}.svg" if _NAME.fullmatch(stem) else "#"


def placeholder_svg(stem: str) -> bytes:
    """A WIDTH×HEIGHT SVG with a background colour and a label derived from the name."""
    digest = hashlib.blake2b(stem.encode(), digest_size=6).digest()
    hue = int.from_bytes(digest[:2], "big") % 360
    light = 35 + digest[2] % 20
    label = stem[:40]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="placeholder {label}">'
        f'<rect width="100%" height="100%" fill="hsl({hue},45%,{light}%)"/>'
        f'<circle cx="{WIDTH // 2}" cy="{HEIGHT // 2 - 40}" r="90" fill="hsl({hue},45%,{light + 25}%)"/>'
        f'<text x="50%" y="{HEIGHT - 90}" text-anchor="middle" font-family="sans-serif" '
        f'font-size="36" fill="#fff">{label}</text></svg>'
    ).encode()


@router.get("/media/{name}")
async def media(name: str) -> Response:
    """The placeholder image `name` (`<stem>.svg`, `.jpg`, …: always the SVG)."""
    stem, dot, ext = name.rpartition(".")
    if not dot or ext not in EXTENSIONS or not _NAME.fullmatch(stem):
        raise HTTPException(404, "no such image")
    return Response(placeholder_svg(stem), media_type="image/svg+xml")
