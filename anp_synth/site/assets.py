"""The site's small fixed files: the theme's stylesheet and script, `/favicon.ico` (a real
16×16 ICO) and `/robots.txt`."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from importlib import resources

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

router = APIRouter(include_in_schema=False)

SIZE = 16
_INK = (0x1F, 0x4E, 0x8C, 0xFF)  # BGRA: the theme's blue
_PAPER = (0xFF, 0xFF, 0xFF, 0x00)  # transparent


def _glyph() -> list[str]:
    """An "a" on a rounded square, one string per row (top first): '#' ink, '.' paper."""
    rows = [
        "................",
        "..############..",
        ".##############.",
        ".######..######.",
        ".####......####.",
        ".#######....###.",
        ".#######....###.",
        ".####.......###.",
        ".###...##...###.",
        ".###...##...###.",
        ".####......####.",
        ".######...#.###.",
        ".##############.",
        ".##############.",
        "..############..",
        "................",
    ]
    assert len(rows) == SIZE and all(len(r) == SIZE for r in rows)
    return rows


def favicon_bytes() -> bytes:
    """A 16×16 32-bit ICO (one BMP image), built the same way on every platform."""
    rows = _glyph()
    pixels = b"".join(
        bytes(_INK if c == "#" else _PAPER) for row in reversed(rows) for c in row
    )  # BMP rows go bottom up
    mask = b"\x00" * (4 * SIZE)  # AND mask: 16 rows of 32 bits, all opaque (alpha decides)
    header = struct.pack("<IiiHHIIiiII", 40, SIZE, SIZE * 2, 1, 32, 0, len(pixels), 0, 0, 0, 0)
    image = header + pixels + mask
    icondir = struct.pack("<HHH", 0, 1, 1)
    entry = struct.pack("<BBBBHHII", SIZE, SIZE, 0, 0, 1, 32, len(image), 6 + 16)
    return icondir + entry + image


FAVICON = favicon_bytes()
ROBOTS = "User-agent: *\nDisallow: /api/\nDisallow: /login\nDisallow: /logout\nDisallow: /search\n"


def robots_txt(base: str) -> str:
    """robots.txt with the absolute sitemap URL of the host the crawler used."""
    return ROBOTS + f"Sitemap: {base}/sitemap.xml\n"


@dataclass(frozen=True)
class StaticFile:
    """A theme file under a URL that names its content: new bytes, new URL (cached for ever)."""

    url: str
    body: bytes
    media_type: str


def _static(name: str, media_type: str) -> StaticFile:
    body = resources.files("anp_synth.site").joinpath(f"static/{name}").read_bytes()
    stem, _, ext = name.rpartition(".")
    digest = hashlib.blake2b(body, digest_size=6).hexdigest()
    return StaticFile(f"/static/{stem}.{digest}.{ext}", body, media_type)


STYLESHEET = _static("site.css", "text/css; charset=utf-8")
SCRIPT = _static("site.js", "text/javascript; charset=utf-8")
STATIC = {f.url: f for f in (STYLESHEET, SCRIPT)}


@router.get("/static/{name}")
async def static(name: str) -> Response:
    """The theme's stylesheet and script, by their content-named URLs."""
    found = STATIC.get(f"/static/{name}")
    if found is None:
        raise HTTPException(404, "no such file")
    return Response(found.body, media_type=found.media_type)


@router.get("/favicon.ico")
async def favicon() -> Response:
    """The site's icon."""
    return Response(FAVICON, media_type="image/x-icon")


@router.get("/robots.txt")
async def robots(request: Request) -> Response:
    """What crawlers may fetch: pages yes; the API, login and search no."""
    base = str(request.base_url).rstrip("/")
    return Response(robots_txt(base), media_type="text/plain; charset=utf-8")
