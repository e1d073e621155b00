"""The cache-key scheme, ONE place: which keys a page carries, which keys a change purges.

The reference site sends these keys on its pages (`Surrogate-Key`, `xkey`, …) and purges
its own cache by them; the importer sends the keys of what it changed to the edge
(`--purge varnish=URL`). docs/caching.md ("Cache keys") says the same in prose.

    post-<source_id>          a post: on its page, on every listing page showing it, on
                              every post page whose "Similar Posts" shows (or declares) it
    home, stack-<slug>,       a listing, on every one of its pages (the page-number family)
    tag-<slug>
    <listing>/page/<n>        one page of a listing (`home/page/1` is `/`)
    404                       every cacheable "not found" answer
    feed, sitemap             /feed.xml (which also carries `home`), the sitemap files

Stdlib + anp_synth.site.terms only: the importer imports this without the web stack.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from anp_synth.site.terms import post_terms

HOME = "home"
NOT_FOUND = "404"
FEED = "feed"
SITEMAP = "sitemap"  # the sitemap lists every post: a create, delete, new slug or date
LISTED_KINDS = ("stack", "tag")  # tools have no listing page
# Header name → how it joins keys (Fastly's Surrogate-Key and xkey: spaces; Cache-Tag: commas).
KEY_HEADERS_DEFAULT = ("Surrogate-Key", "xkey")
SEPARATORS = {"cache-tag": ",", "edge-cache-tag": ","}
# Fastly reads the first 16 KB of Surrogate-Key, keys up to 1 KB; Akamai takes 128 tags per
# object, CloudFront 50: a page never carries more than this many keys (see docs/caching.md).
MAX_KEYS = 50
# What a key may hold: safe in every key header and in a VCL string. A declared similar id
# outside it names no post that can exist (source ids are narrower), so it is left out.
SAFE_KEY_PATTERN = r"[A-Za-z0-9._~:/@+-]{1,1024}"  # also the OpenAPI pattern of a key
_SAFE_KEY = re.compile(SAFE_KEY_PATTERN)


def post_key(source_id: str) -> str:
    """The key of one post."""
    return f"post-{source_id}"


def listing_key(listing: str) -> str:
    """The key of a listing's page family: `home`, `stack:rust` → `stack-rust`, `tag:x` → `tag-x`."""
    if listing == HOME:
        return HOME
    kind, _, slug = listing.partition(":")
    return f"{kind}-{slug}"


def page_key(listing: str, page: int) -> str:
    """The key of one page of a listing: `tag-rust/page/2`."""
    return f"{listing_key(listing)}/page/{page}"


def listings_of(post: dict[str, Any]) -> set[str]:
    """The listings a post appears on: `home`, `stack:SLUG`, `tag:SLUG`."""
    out = {HOME}
    for kind, slug, _ in post_terms(post):
        if kind in LISTED_KINDS:
            out.add(f"{kind}:{slug}")
    return out


def listing_page_keys(listing: str, page: int, shown: Iterable[str]) -> list[str]:
    """The keys of a listing page: its family, the page, and every post it shows."""
    keys = [listing_key(listing), page_key(listing, page)]
    keys.extend(post_key(sid) for sid in shown)
    return _capped(keys)


def post_page_keys(source_id: str, declared: Iterable[str], shown: Iterable[str]) -> list[str]:
    """The keys of a post page: the post, its declared similar posts, the similar posts shown.

    A declared similar post that does not exist yet is keyed too: creating it changes the box.
    """
    keys = [post_key(source_id)]
    keys.extend(post_key(sid) for sid in declared)
    keys.extend(post_key(sid) for sid in shown)
    return _capped(keys)


def is_safe_key(key: str) -> bool:
    """True for a key every key header and the VCL can carry as it is."""
    return _SAFE_KEY.fullmatch(key) is not None


def _capped(keys: list[str]) -> list[str]:
    unique = [k for k in dict.fromkeys(keys) if is_safe_key(k)]
    return unique[:MAX_KEYS]


def change_keys(
    source_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> list[str]:
    """The keys to purge at an edge after one post changed (created, updated or deleted).

    Always the post's key (its page, the listing pages and Similar Posts boxes showing it).
    A post that enters or leaves a listing, or moves in it (a new date), shifts every page
    of that listing: those families too. A create (or a new slug) may replace a cached 404.
    An update whose old version the target did not say (`before` None, `after` given) is
    purged like a create: the safe side.
    """
    keys = [post_key(source_id)]
    if after is None and before is None:
        return keys
    if after is None:  # deleted
        assert before is not None
        keys.extend(listing_key(n) for n in sorted(listings_of(before)))
        keys.append(SITEMAP)
        return keys
    if before is None:  # created (or the old version is unknown)
        keys.extend(listing_key(n) for n in sorted(listings_of(after)))
        keys += [NOT_FOUND, SITEMAP]
        return keys
    old, new = listings_of(before), listings_of(after)
    moved = before.get("published_at") != after.get("published_at")
    shifted = (old | new) if moved else (old ^ new)
    keys.extend(listing_key(n) for n in sorted(shifted))
    if before.get("slug") != after.get("slug"):
        keys.append(NOT_FOUND)
    if moved or before.get("slug") != after.get("slug"):
        keys.append(SITEMAP)
    return keys
