"""The page cache: named cache rules (all in ONE place), the in-process cache, purging.

Every response passes through `CacheMiddleware`, which picks the rule of the
path, decides HIT / MISS / BYPASS, adds `Cache-Control`, `ETag`, the page's cache
keys (`Surrogate-Key`, `xkey`: anp_synth.edge.keys), `X-Cache: OUTCOME; rule=NAME`
(and the same as `X-Origin-Cache`, which an edge keeps), `Age` on hits, answers
conditional GETs with 304, and writes the access-log line. Tracking query parameters
(`TRACKING_PARAMS`) do not count as a query string. See docs/caching.md.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from anp_synth.edge.keys import KEY_HEADERS_DEFAULT, NOT_FOUND, SEPARATORS
from anp_synth.site.accesslog import AccessLog
from anp_synth.site.db import Changes, Database, ListingChange, SortKey

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SESSION_COOKIE = "anp_session"


@dataclass(frozen=True)
class Rule:
    """A named cache rule: which paths it covers and how long their pages are kept."""

    name: str
    pattern: re.Pattern[str]
    ttl: int  # seconds in the shared page cache; 0 = never stored
    immutable: bool = False  # same URL, same bytes for ever: browsers keep it for the TTL
    local: bool = True  # kept in the site's own cache too (placeholders are cheaper to redo)


# THE cache rules, first match wins. Change them here and in docs/caching.md.
RULES: tuple[Rule, ...] = (
    Rule("post", re.compile(r"^/posts/[^/]+$"), 300),
    Rule("home", re.compile(r"^/(?:page/\d+)?$"), 60),
    Rule("stack", re.compile(r"^/stack/[^/]+(?:/page/\d+)?$"), 120),
    Rule("tag", re.compile(r"^/tag/[^/]+(?:/page/\d+)?$"), 120),
    Rule("search", re.compile(r"^/search$"), 0),
    Rule("login", re.compile(r"^/(?:login|logout)$"), 0),
    Rule("api", re.compile(r"^/api/"), 0),
    Rule("health", re.compile(r"^/health$"), 0),
    Rule("asset", re.compile(r"^/(?:favicon\.ico|robots\.txt)$"), 3600),
    # the theme's stylesheet and script: their URLs name their content (site/assets.py)
    Rule("static", re.compile(r"^/static/[^/]+$"), 31_536_000, immutable=True),
    Rule("feed", re.compile(r"^/feed\.xml$"), 60),
    Rule("sitemap", re.compile(r"^/sitemap(?:-\d+)?\.xml$"), 300),
    # not in the site's own cache: 100,000 placeholders would push the pages out
    Rule("media", re.compile(r"^/media/[^/]+$"), 31_536_000, immutable=True, local=False),
)
NO_RULE = Rule("none", re.compile(""), 0)
CACHEABLE_METHODS = frozenset({"GET", "HEAD"})
MAX_ENTRIES = 50_000
MAX_BYTES = 256 * 1024 * 1024
# A 404 may be kept this long by a shared cache in front of the site (never by the site's own
# cache), so an edge absorbs repeated misses; a create purges the `404` key at the edge.
NOT_FOUND_TTL = 10
NOT_FOUND_CACHE_CONTROL = f"public, max-age=0, s-maxage={NOT_FOUND_TTL}".encode()
# Query parameters that only feed analytics: ignored by the cache rules (the page is the
# same), and stripped by the shipped VCL. `utm_` stands for every `utm_*` parameter.
# Keep in step with anp_synth/edge/anp.vcl (a test checks).
TRACKING_PARAMS = (
    "utm_",
    "gclid",
    "gbraid",
    "wbraid",
    "dclid",
    "fbclid",
    "msclkid",
    "twclid",
    "ttclid",
    "yclid",
    "igshid",
    "mc_cid",
    "mc_eid",
    "_ga",
    "_gl",
)
_TRACKING = frozenset(p.encode() for p in TRACKING_PARAMS if not p.endswith("_"))


def is_tracking_param(name: bytes) -> bool:
    """True for a query parameter that only feeds analytics (see TRACKING_PARAMS)."""
    return name.startswith(b"utm_") or name in _TRACKING


def cache_query(query: bytes) -> bytes:
    """The query string as the cache rules see it: without its tracking parameters."""
    if not query:
        return b""
    kept = [p for p in query.split(b"&") if p and not is_tracking_param(p.partition(b"=")[0])]
    return b"&".join(kept)


def rule_for(path: str) -> Rule:
    """The rule that governs a path (`none` when no rule names it)."""
    for rule in RULES:
        if rule.pattern.match(path):
            return rule
    return NO_RULE


def bypass_reason(rule: Rule, method: str, query: bytes, has_session: bool) -> str | None:
    """Why a request must not be answered from (or stored in) the cache; None if it may."""
    if rule.ttl == 0:
        return "uncached-route"
    if method not in CACHEABLE_METHODS:
        return "method"
    if has_session:
        return "session"
    if query:
        return "query-string"
    return None


def cache_control(rule: Rule, reason: str | None) -> bytes:
    """The Cache-Control header of a response under a rule and a bypass reason."""
    if reason is None:
        if rule.immutable:  # a placeholder image: its bytes never change
            return f"public, max-age={rule.ttl}, immutable".encode()
        # Shared caches keep the page for the rule's TTL; browsers revalidate with the ETag,
        # so a purge reaches them at once.
        return f"public, max-age=0, s-maxage={rule.ttl}, must-revalidate".encode()
    if reason == "session":
        return b"private, no-store"
    if reason == "query-string":
        return b"no-cache"
    return b"no-store"


@dataclass(frozen=True, slots=True)
class ListingSpan:
    """Which rows a cached listing page shows, so that a write purges it only if it changed."""

    listing: str
    first: SortKey | None
    last: SortKey | None
    peek: SortKey | None  # first row of the next page; None on the final page


def key_headers(keys: list[str], names: tuple[str, ...]) -> list[tuple[bytes, bytes]]:
    """The cache-key headers of a page: each header in `names` listing every key.

    `Surrogate-Key` and `xkey` separate keys with spaces, `Cache-Tag` with commas.
    """
    if not keys:
        return []
    return [
        (name.lower().encode(), SEPARATORS.get(name.lower(), " ").join(keys).encode())
        for name in names
    ]


@dataclass(slots=True)
class Entry:
    """One cached page, with the headers of a HIT precomputed (the hot path only sends)."""

    body: bytes
    etag: bytes
    stored: float
    expires: float
    span: ListingSpan | None
    keys: tuple[str, ...]
    hit_headers: list[tuple[bytes, bytes]]  # for a 200, without Age
    not_modified_headers: list[tuple[bytes, bytes]]  # for a 304, without Age

    @classmethod
    def build(
        cls,
        rule: Rule,
        content_type: bytes,
        body: bytes,
        etag: bytes,
        span: ListingSpan | None,
        keys: list[str] | None = None,
        names: tuple[str, ...] = KEY_HEADERS_DEFAULT,
    ) -> Entry:
        """An entry for a freshly rendered page under a rule, with its cache keys."""
        verdict = b"HIT; rule=" + rule.name.encode()
        common = [
            (b"content-type", content_type),
            (b"etag", etag),
            (b"cache-control", cache_control(rule, None)),
            *key_headers(keys or [], names),
            (b"x-cache", verdict),
            (b"x-origin-cache", verdict),
        ]
        now = time.monotonic()
        return cls(
            body,
            etag,
            now,
            now + rule.ttl,
            span,
            tuple(keys or ()),
            [*common, (b"content-length", str(len(body)).encode())],
            common,
        )

    def age(self, now: float) -> tuple[bytes, bytes]:
        """The `Age` header of a hit: whole seconds since the page was stored."""
        return (b"age", str(int(now - self.stored)).encode())


def listing_page_changed(span: ListingSpan, change: ListingChange) -> bool:
    """True when a listing change alters the rows (or the "older posts" link) of this page."""
    if span.last is None:  # an empty page changes with any insert
        return change.oldest_insert is not None or change.newest_shift is not None
    if change.newest_shift is not None and change.newest_shift >= span.last:
        return True  # a row was inserted or removed at or above this page's last row
    if change.oldest_insert is not None and span.peek is None:
        return True  # the final page grows (or gains a next page)
    if span.peek is not None and span.peek in change.deleted:
        return True  # the row that proves a next page exists went away
    if change.inplace_lo is not None and change.inplace_hi is not None:
        assert span.first is not None
        return change.inplace_hi >= span.last and change.inplace_lo <= span.first
    return False


class PageCache:
    """The in-process page cache of one worker, kept in step with writes of every worker."""

    def __init__(self, db: Database | None = None, sync_interval: float = 0.02) -> None:
        self.db = db
        self.sync_interval = sync_interval
        self._synced_at = 0.0
        self.entries: dict[str, Entry] = {}
        self.by_listing: dict[str, set[str]] = {}
        self.by_key: dict[str, set[str]] = {}
        self.bytes = 0
        self._seq = db.last_purge_seq() if db else 0
        self._data_version = db.data_version() if db else 0

    def get(self, path: str) -> Entry | None:
        """A fresh entry for the path (after applying other workers' purges), or None."""
        now = time.monotonic()
        if now - self._synced_at >= self.sync_interval:
            self._synced_at = now
            self.sync()
        entry = self.entries.get(path)
        if entry is None:
            return None
        if entry.expires < now:
            self._drop(path)
            return None
        return entry

    def put(self, path: str, entry: Entry) -> None:
        """Store a page, evicting the oldest pages over the size limits."""
        self._drop(path)
        while self.entries and (
            len(self.entries) >= MAX_ENTRIES or self.bytes + len(entry.body) > MAX_BYTES
        ):
            self._drop(next(iter(self.entries)))
        self.entries[path] = entry
        self.bytes += len(entry.body)
        if entry.span is not None:
            self.by_listing.setdefault(entry.span.listing, set()).add(path)
        for key in entry.keys:
            self.by_key.setdefault(key, set()).add(path)

    def _drop(self, path: str) -> bool:
        entry = self.entries.pop(path, None)
        if entry is None:
            return False
        self.bytes -= len(entry.body)
        if entry.span is not None:
            paths = self.by_listing.get(entry.span.listing)
            if paths is not None:
                paths.discard(path)
        for key in entry.keys:
            keyed = self.by_key.get(key)
            if keyed is not None:
                keyed.discard(path)
                if not keyed:
                    del self.by_key[key]
        return True

    def purge_paths(self, paths: list[str] | set[str]) -> list[str]:
        """Forget exactly these paths; the ones that were cached here."""
        return [p for p in paths if self._drop(p)]

    def purge_keys(self, keys: list[str] | set[str]) -> list[str]:
        """Forget every page carrying one of these cache keys; the paths that were cached here."""
        paths = {p for key in keys for p in self.by_key.get(key, ())}
        return self.purge_paths(sorted(paths))

    def clear(self) -> None:
        """Forget everything."""
        self.entries.clear()
        self.by_listing.clear()
        self.by_key.clear()
        self.bytes = 0

    def apply(self, changes: Changes) -> list[str]:
        """Purge what a write changed: the post's page, every page showing the post (by its
        key: listings and other posts' Similar Posts), and the listing pages whose rows moved.
        """
        purged = self.purge_paths(changes.paths)
        purged.extend(self.purge_keys(changes.keys))
        for listing, change in changes.listings.items():
            for path in list(self.by_listing.get(listing, ())):
                entry = self.entries[path]
                assert entry.span is not None
                if listing_page_changed(entry.span, change):
                    self._drop(path)
                    purged.append(path)
        return purged

    def sync(self) -> None:
        """Apply purges that other worker processes logged since the last look."""
        if self.db is None:
            return
        version = self.db.data_version()
        if version == self._data_version:
            return
        self._data_version = version
        logged = self.db.purge_events(self._seq)
        if (
            logged.oldest is not None
            and logged.oldest > self._seq + 1
            and self._seq
            and self.entries
        ):
            self.clear()  # we fell behind the kept log: forget everything to stay correct
        for changes in logged.events:
            self.apply(changes)
        self._seq = logged.last


def _etag(body: bytes) -> bytes:
    return b'"' + hashlib.blake2b(body, digest_size=12).hexdigest().encode() + b'"'


# Any mention of the cookie's name means "maybe logged in": cookie parsers trim spaces around
# names (`anp_session =x` is a session to Starlette), so matching `anp_session=` exactly would
# let a logged-in page into the shared cache. A false positive only costs a bypass.
_SESSION_MARK = SESSION_COOKIE.encode()


def _request_headers(scope: Scope) -> tuple[bool, bytes | None]:
    """(has a session cookie, If-None-Match) in one pass over the headers."""
    has_session = False
    if_none_match = None
    for key, value in scope["headers"]:
        if key == b"cookie":
            has_session = has_session or _SESSION_MARK in value
        elif key == b"if-none-match":
            if_none_match = bytes(value)
    return has_session, if_none_match


def _etag_matches(if_none_match: bytes | None, etag: bytes) -> bool:
    if if_none_match is None:
        return False
    return any(tag.strip() in (etag, b"*", b"W/" + etag) for tag in if_none_match.split(b","))


class CacheMiddleware:
    """ASGI middleware: cache rules, page cache, ETag/304, cache keys, X-Cache, access log."""

    def __init__(
        self,
        app: ASGIApp,
        cache: PageCache,
        log: AccessLog,
        key_header_names: tuple[str, ...] = KEY_HEADERS_DEFAULT,
    ) -> None:
        self.app = app
        self.cache = cache
        self.log = log
        self.key_header_names = key_header_names

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method: str = scope["method"]
        path: str = scope["path"]
        if method == "HEAD":  # answered as a GET without the body, from the cache too
            scope = {**scope, "method": "GET"}
            send = _without_body(send)
        rule = rule_for(path)
        has_session, if_none_match = _request_headers(scope)
        query = cache_query(scope.get("query_string", b""))
        reason = bypass_reason(rule, method, query, has_session)
        if reason is None:
            entry = self.cache.get(path)
            if entry is not None:
                age = entry.age(time.monotonic())
                if _etag_matches(if_none_match, entry.etag):
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 304,
                            "headers": [*entry.not_modified_headers, age],
                        }
                    )
                    await send({"type": "http.response.body", "body": b""})
                    status, size = 304, 0
                else:
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 200,
                            "headers": [*entry.hit_headers, age],
                        }
                    )
                    await send({"type": "http.response.body", "body": entry.body})
                    status, size = 200, len(entry.body)
                self.log.write(method, path, status, _ms(started), "HIT", rule.name, size)
                return
        outcome = "BYPASS" if reason is not None else "MISS"
        # A 404 is kept briefly by a shared cache when the same request would be cacheable.
        not_found_ok = (rule.ttl > 0 or rule is NO_RULE) and (
            bypass_reason(Rule(rule.name, rule.pattern, NOT_FOUND_TTL), method, query, has_session)
            is None
        )
        try:
            status, size = await self._forward(
                scope, receive, send, rule, reason, outcome, if_none_match, not_found_ok
            )
        except Exception:
            self.log.write(method, path, 500, _ms(started), outcome, rule.name, 0)
            raise
        self.log.write(method, path, status, _ms(started), outcome, rule.name, size)

    async def _forward(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        rule: Rule,
        reason: str | None,
        outcome: str,
        if_none_match: bytes | None,
        not_found_ok: bool,
    ) -> tuple[int, int]:
        """Call the app; add the cache headers; buffer a GET 200 to give it an ETag (and store it)."""
        state = scope.setdefault("state", {})
        is_get = scope["method"] == "GET"
        start: Message = {}
        chunks: list[bytes] = []
        sent = {"status": 0, "size": 0, "buffered": False}
        x_cache = f"{outcome}; rule={rule.name}".encode()
        names = self.key_header_names

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = sent["status"] = message["status"]
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in (b"x-cache", b"x-origin-cache")
                ]
                if not any(k.lower() == b"cache-control" for k, _ in headers):
                    if status == 200:
                        headers.append((b"cache-control", cache_control(rule, reason)))
                        if reason is None:
                            headers.extend(key_headers(state.get("keys") or [], names))
                    elif status == 404 and not_found_ok:
                        headers.append((b"cache-control", NOT_FOUND_CACHE_CONTROL))
                        headers.extend(key_headers([NOT_FOUND], names))
                    else:
                        # another error or a redirect must not be kept by a shared cache in
                        # front of us: our purge could not reach it once the error is gone
                        headers.append((b"cache-control", cache_control(rule, "status")))
                # No `Vary: Cookie`: a page with a session is `private, no-store`, so the only
                # pages a shared cache stores are the anonymous ones, whatever the cookies.
                headers.append((b"x-cache", x_cache))
                headers.append((b"x-origin-cache", x_cache))
                message["headers"] = headers
                sent["buffered"] = is_get and message["status"] == 200
                if sent["buffered"]:
                    start.update(message)
                else:
                    await send(message)
                return
            if message["type"] == "http.response.body" and sent["buffered"]:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    body = b"".join(chunks)
                    sent["status"] = await self._finish(
                        scope, send, start, body, rule, reason, state, if_none_match
                    )
                    sent["size"] = 0 if sent["status"] == 304 else len(body)
                return
            if message["type"] == "http.response.body":
                sent["size"] += len(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, capture)
        return sent["status"], sent["size"]

    async def _finish(
        self,
        scope: Scope,
        send: Send,
        start: Message,
        body: bytes,
        rule: Rule,
        reason: str | None,
        state: dict[str, Any],
        if_none_match: bytes | None,
    ) -> int:
        etag = _etag(body)
        headers = [
            (k, v) for k, v in start["headers"] if k.lower() not in (b"etag", b"content-length")
        ]
        if reason is None and rule.local:
            content_type = next(
                (v for k, v in headers if k.lower() == b"content-type"), b"text/html"
            )
            entry = Entry.build(
                rule,
                content_type,
                body,
                etag,
                state.get("span"),
                state.get("keys"),
                self.key_header_names,
            )
            self.cache.put(scope["path"], entry)
        headers.append((b"etag", etag))
        if _etag_matches(if_none_match, etag):
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return 304
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return 200


def _without_body(send: Send) -> Send:
    async def send_headers_only(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return send_headers_only


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
