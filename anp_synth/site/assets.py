"""The site's small fixed files: `/favicon.ico` (a real 16×16 ICO) and `/robots.txt`."""

from __future__ import annotations

import struct

from fastapi import APIRouter, Request
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


@router.get("/favicon.ico")
async def favicon() -> Response:
    """The site's icon."""
    return Response(FAVICON, media_type="image/x-icon")


@router.get("/robots.txt")
async def robots(request: Request) -> Response:
    """What crawlers may fetch: pages yes; the API, login and search no."""
    base = str(request.base_url).rstrip("/")
    return Response(robots_txt(base), media_type="text/plain; charset=utf-8")
