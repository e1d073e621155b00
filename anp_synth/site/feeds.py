"""Machine-read pages: the Atom feed of the latest posts and the sitemap (paginated).

    /feed.xml            the latest FEED_SIZE posts (Atom 1.0), cached like the home page
    /sitemap.xml         a sitemap index: one /sitemap-N.xml per SITEMAP_PAGE posts
    /sitemap-N.xml       up to 50,000 post URLs with their dates (the protocol's limit)

Their cache keys (anp_synth.edge.keys) follow what they show: the feed is purged with the
home listing, the sitemap whenever a post is created, deleted, renamed or re-dated.
"""

from __future__ import annotations

import math
from xml.sax.saxutils import escape, quoteattr

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from anp_synth.edge.keys import FEED, SITEMAP, listing_key, post_key
from anp_synth.site.cache import ListingSpan
from anp_synth.site.state import site_of

FEED_SIZE = 20
SITEMAP_PAGE = 50_000  # URLs per sitemap file: the sitemaps.org limit

router = APIRouter(include_in_schema=False)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("/feed.xml")
async def feed(request: Request) -> Response:
    """The latest posts as an Atom feed."""
    result = site_of(request).db.listing("home", 1, FEED_SIZE)
    items = result.items
    request.state.span = ListingSpan(
        "home", items[0].key if items else None, items[-1].key if items else None, result.peek
    )
    request.state.keys = [FEED, listing_key("home")] + [
        post_key(i.post["source_id"]) for i in items
    ]
    base = _base(request)
    updated = items[0].post["published_at"] if items else "1970-01-01T00:00:00Z"
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n',
        '<feed xmlns="http://www.w3.org/2005/Atom">\n',
        "<title>alphanode</title>\n",
        f"<id>{escape(base)}/</id>\n",
        f"<link href={quoteattr(base + '/')}/>\n",
        f'<link rel="self" href={quoteattr(base + "/feed.xml")}/>\n',
        f"<updated>{escape(updated)}</updated>\n",
    ]
    for item in items:
        post = item.post
        url = f"{base}/posts/{post['slug']}"
        parts += [
            "<entry>\n",
            f"<title>{escape(post['title'])}</title>\n",
            f"<link href={quoteattr(url)}/>\n",
            f"<id>{escape(url)}</id>\n",
            f"<updated>{escape(post['published_at'])}</updated>\n",
            f"<author><name>{escape(post.get('author') or 'alphanode')}</name></author>\n",
            f"<summary>{escape(post.get('lead') or '')}</summary>\n",
            "</entry>\n",
        ]
    parts.append("</feed>\n")
    return Response("".join(parts), media_type="application/atom+xml; charset=utf-8")


@router.get("/sitemap.xml")
async def sitemap_index(request: Request) -> Response:
    """The sitemap index: one sitemap file per SITEMAP_PAGE posts (at least one)."""
    pages = max(1, math.ceil(site_of(request).db.count() / SITEMAP_PAGE))
    request.state.keys = [SITEMAP]
    base = _base(request)
    body = "".join(
        f"<sitemap><loc>{escape(base)}/sitemap-{n}.xml</loc></sitemap>\n"
        for n in range(1, pages + 1)
    )
    return Response(
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        f"{body}</sitemapindex>\n",
        media_type="application/xml",
    )


@router.get("/sitemap-{page}.xml")
async def sitemap_page(request: Request, page: int) -> Response:
    """Up to SITEMAP_PAGE post URLs (the home page on the first), oldest id first."""
    db = site_of(request).db
    rows = db.sitemap_rows((page - 1) * SITEMAP_PAGE, SITEMAP_PAGE) if page >= 1 else []
    if not rows and page != 1:
        raise HTTPException(404, "no such sitemap page")
    request.state.keys = [SITEMAP]
    base = escape(_base(request))
    lines = [f"<url><loc>{base}/</loc></url>\n"] if page == 1 else []
    lines += [
        f"<url><loc>{base}/posts/{escape(slug)}</loc><lastmod>{escape(published[:10])}</lastmod></url>\n"
        for slug, published in rows
    ]
    return Response(
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        f"{''.join(lines)}</urlset>\n",
        media_type="application/xml",
    )
