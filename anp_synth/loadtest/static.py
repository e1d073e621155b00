"""The targets manifest for a static site: its listing URLs, as the built site links them.

A static site (Hugo, Jekyll, Eleventy; served by a web server such as nginx, see
scripts/static-serve.sh) has its posts at the URLs the static sink recorded in the ledger
(`/posts/<slug>/`), its listings at `/categories/<slug>/` and `/tags/<slug>/` with pages
`…/page/N/`, and neither search nor login. Each generator makes its own slugs (Hugo lowercases
terms and keeps dots, Jekyll and Eleventy slugify), so the listing paths are read from the
site's own term indexes (`/categories/`, `/tags/`: a link per term, `site init` lays them
out), not recomputed. A term the site does not link is left out of the listings.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import urlsplit

import httpx

from anp_synth.errors import AnpError
from anp_synth.loadtest import cache_rules

# manifest key → the taxonomy's folder on the built site (the static sinks' front matter keys)
TAXONOMIES = {"stacks": "categories", "tags": "tags"}
_LINK = re.compile(r'<a\b[^>]*\bhref="([^"]+)"[^>]*>(.*?)</a>', re.S)
_TAG = re.compile(r"<[^>]+>")


def term_links(page: str, taxonomy: str) -> dict[str, str]:
    """A term index page's links: the term's name (lowercased) → its listing's path."""
    out: dict[str, str] = {}
    for href, inner in _LINK.findall(page):
        path = urlsplit(html.unescape(href)).path
        if not path.startswith(f"/{taxonomy}/") or path.rstrip("/") == f"/{taxonomy}":
            continue
        name = html.unescape(_TAG.sub("", inner)).strip().lower()
        out.setdefault(name, path if path.endswith("/") else path + "/")
    return out


def _index(client: httpx.Client, target: str, taxonomy: str) -> dict[str, str]:
    url = f"{target}/{taxonomy}/"
    try:
        resp = client.get(url)
    except httpx.HTTPError as exc:
        raise AnpError(f"{target}: cannot read the term index {url}: {exc}") from exc
    if resp.status_code == 404:
        return {}  # a site without a term index: no listings of that kind to load
    if resp.status_code != 200:
        raise AnpError(f"{target}: the term index {url} answered HTTP {resp.status_code}")
    return term_links(resp.text, taxonomy)


def adapt(doc: dict[str, Any], target: str, timeout: float = 10.0) -> dict[str, Any]:
    """The manifest `doc` (built from the ledger) with the static site's listings and rules.

    `target` is the site's URL; a folder (export-targets of the import target itself) has no
    pages to read the listings from, so the manifest then lists none.
    """
    out = {
        **doc,
        "site": cache_rules.STATIC,
        "search_terms": [],  # a static site has no search
        "cache_rules": [rule.as_json() for rule in cache_rules.static_rules()],
    }
    served = target.startswith(("http://", "https://"))
    with httpx.Client(timeout=timeout, follow_redirects=True) as client:
        for key, taxonomy in TAXONOMIES.items():
            links = _index(client, target.rstrip("/"), taxonomy) if served else {}
            out[key] = [
                {**entry, "path": links[entry["name"].strip().lower()]}
                for entry in doc[key]
                if entry["name"].strip().lower() in links
            ]
    return out
