"""The targets manifest for a WordPress target: its real listing URLs, page size and login.

The reference site's listings are `/stack/{slug}` and `/tag/{slug}` with its own slugs;
WordPress has `/category/{slug}/` and `/tag/{slug}/` with slugs of its own making
(`java/spring` becomes `javaspring`), ten posts a page by default, search at `/?s=`, and a
login form at `/wp-login.php`. So when the ledger says a target was written by the wordpress
sink, the manifest takes the stacks (categories) and tags from the site's public REST API.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlsplit

import httpx

from anp_synth.errors import AnpError
from anp_synth.loadtest import cache_rules

PAGE_SIZE = 10  # WordPress's default posts_per_page (Settings → Reading)
MAX_PAGES = 50  # of 100 terms each: bounds the listing requests


def _terms(client: httpx.Client, target: str, taxonomy: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for page in range(1, MAX_PAGES + 1):
        try:
            resp = client.get(
                f"{target}/wp-json/wp/v2/{taxonomy}",
                params={
                    "per_page": 100,
                    "page": page,
                    "hide_empty": "true",
                    "_fields": "name,slug,count,link",
                },
            )
        except httpx.HTTPError as exc:
            raise AnpError(f"{target}: cannot list WordPress {taxonomy}: {exc}") from exc
        if resp.status_code == 400 and page > 1:
            break  # past the last page
        if resp.status_code != 200:
            raise AnpError(
                f"{target}: listing WordPress {taxonomy} answered HTTP {resp.status_code}"
            )
        batch = resp.json()
        out.extend(batch)
        if len(batch) < 100:
            break
    return out


def _listing(terms: list[dict[str, Any]], names: set[str]) -> list[dict[str, Any]]:
    """The site's terms that the imported posts use, with the path of their listing."""
    rows = []
    for term in terms:
        name = html.unescape(str(term.get("name", "")))  # REST gives names HTML-escaped
        if name not in names or not term.get("count"):
            continue
        path = urlsplit(str(term.get("link", ""))).path or f"/{term['slug']}/"
        rows.append({"name": name, "slug": term["slug"], "count": int(term["count"]), "path": path})
    return sorted(rows, key=lambda r: r["slug"])


def adapt(doc: dict[str, Any], target: str, timeout: float = 10.0) -> dict[str, Any]:
    """The manifest `doc` (built from the ledger) with WordPress's listings and conventions."""
    target = target.rstrip("/")
    posts = doc["posts"]
    stacks = {str(n) for p in posts for n in p.get("stacks", [])}
    tags = {str(n) for p in posts for n in p.get("tags", [])}
    with httpx.Client(timeout=timeout) as client:
        categories = _terms(client, target, "categories")
        post_tags = _terms(client, target, "tags")
    return {
        **doc,
        "site": cache_rules.WORDPRESS,
        "page_size": PAGE_SIZE,
        "stacks": _listing(categories, stacks),
        "tags": _listing(post_tags, tags),
    }
