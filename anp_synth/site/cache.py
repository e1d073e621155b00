"""The page cache: named cache rules (all in ONE place), the in-process cache, purging.

Every response passes through `CacheMiddleware`, which picks the rule of the
path, decides HIT / MISS / BYPASS, adds `Cache-Control`, `ETag` and
`X-Cache: OUTCOME; rule=NAME`, answers conditional GETs with 304, and writes
the access-log line. See docs/caching.md for the rules in prose.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

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
)
NO_RULE = Rule("none", re.compile(""), 0)
CACHEABLE_METHODS = frozenset({"GET"})
MAX_ENTRIES = 50_000
MAX_BYTES = 256 * 1024 * 1024


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


@dataclass(slots=True)
class Entry:
    """One cached page."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    etag: bytes
    expires: float
    rule: str
    span: ListingSpan | None


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

    def __init__(self, db: Database | None = None) -> None:
        self.db = db
        self.entries: dict[str, Entry] = {}
        self.by_listing: dict[str, set[str]] = {}
        self.bytes = 0
        self._seq = db.last_purge_seq() if db else 0
        self._data_version = db.data_version() if db else 0

    def get(self, path: str) -> Entry | None:
        """A fresh entry for the path, or None."""
        entry = self.entries.get(path)
        if entry is None:
            return None
        if entry.expires < time.monotonic():
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

    def _drop(self, path: str) -> bool:
        entry = self.entries.pop(path, None)
        if entry is None:
            return False
        self.bytes -= len(entry.body)
        if entry.span is not None:
            paths = self.by_listing.get(entry.span.listing)
            if paths is not None:
                paths.discard(path)
        return True

    def purge_paths(self, paths: list[str] | set[str]) -> list[str]:
        """Forget exactly these paths; the ones that were cached here."""
        return [p for p in paths if self._drop(p)]

    def clear(self) -> None:
        """Forget everything."""
        self.entries.clear()
        self.by_listing.clear()
        self.bytes = 0

    def apply(self, changes: Changes) -> list[str]:
        """Purge what a write changed: the post's page and the listing pages whose rows changed."""
        purged = self.purge_paths(changes.paths)
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
        last, oldest, events = self.db.purge_events(self._seq)
        if oldest is not None and oldest > self._seq + 1 and self._seq and self.entries:
            self.clear()  # we fell behind the kept log: forget everything to stay correct
        for changes in events:
            self.apply(changes)
        self._seq = last


def _etag(body: bytes) -> bytes:
    return b'"' + hashlib.blake2b(body, digest_size=12).hexdigest().encode() + b'"'


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def _has_session(scope: Scope) -> bool:
    cookie = _header(scope, b"cookie")
    return cookie is not None and (SESSION_COOKIE.encode() + b"=") in cookie


def _etag_matches(scope: Scope, etag: bytes) -> bool:
    wanted = _header(scope, b"if-none-match")
    if wanted is None:
        return False
    return any(tag.strip() in (etag, b"*", b"W/" + etag) for tag in wanted.split(b","))


class CacheMiddleware:
    """ASGI middleware: cache rules, page cache, ETag/304, X-Cache, access log."""

    def __init__(self, app: ASGIApp, cache: PageCache, log: AccessLog) -> None:
        self.app = app
        self.cache = cache
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method: str = scope["method"]
        path: str = scope["path"]
        rule = rule_for(path)
        reason = bypass_reason(rule, method, scope.get("query_string", b""), _has_session(scope))
        if reason is None:
            self.cache.sync()
            entry = self.cache.get(path)
            if entry is not None:
                status, size = await self._send_entry(scope, send, entry, b"HIT", rule)
                self._log(method, path, status, started, "HIT", rule, size)
                return
        outcome = "BYPASS" if reason is not None else "MISS"
        status, size = await self._forward(scope, receive, send, rule, reason, outcome)
        self._log(method, path, status, started, outcome, rule, size)

    def _log(
        self,
        method: str,
        path: str,
        status: int,
        started: float,
        outcome: str,
        rule: Rule,
        size: int,
    ) -> None:
        ms = (time.perf_counter() - started) * 1000
        self.log.write(method, path, status, ms, outcome, rule.name, size)

    async def _send_entry(
        self, scope: Scope, send: Send, entry: Entry, outcome: bytes, rule: Rule
    ) -> tuple[int, int]:
        headers = [
            *entry.headers,
            (b"etag", entry.etag),
            (b"cache-control", cache_control(rule, None)),
            (b"x-cache", outcome + b"; rule=" + rule.name.encode()),
        ]
        if _etag_matches(scope, entry.etag):
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return 304, 0
        headers.append((b"content-length", str(len(entry.body)).encode()))
        await send({"type": "http.response.start", "status": entry.status, "headers": headers})
        await send({"type": "http.response.body", "body": entry.body})
        return entry.status, len(entry.body)

    async def _forward(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        rule: Rule,
        reason: str | None,
        outcome: str,
    ) -> tuple[int, int]:
        state = scope.setdefault("state", {})
        start: Message = {}
        chunks: list[bytes] = []
        buffered = method_buffers = scope["method"] == "GET"
        sent = {"status": 0, "size": 0}
        x_cache = f"{outcome}; rule={rule.name}".encode()

        async def capture(message: Message) -> None:
            nonlocal buffered
            if message["type"] == "http.response.start":
                sent["status"] = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-cache"]
                if not any(k.lower() == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", cache_control(rule, reason)))
                headers.append((b"x-cache", x_cache))
                message["headers"] = headers
                buffered = method_buffers and message["status"] == 200
                if not buffered:
                    await send(message)
                else:
                    start.update(message)
                return
            if message["type"] == "http.response.body":
                body = message.get("body", b"")
                sent["size"] += len(body)
                if not buffered:
                    await send(message)
                    return
                chunks.append(body)
                if not message.get("more_body", False):
                    await self._finish(scope, send, start, b"".join(chunks), rule, reason, state)
                return
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
    ) -> None:
        etag = _etag(body)
        headers = [
            (k, v) for k, v in start["headers"] if k.lower() not in (b"etag", b"content-length")
        ]
        if reason is None and state.get("cacheable", True):
            kept = [(k, v) for k, v in headers if k.lower() == b"content-type"]
            self.cache.put(
                scope["path"],
                Entry(
                    200, kept, body, etag, time.monotonic() + rule.ttl, rule.name, state.get("span")
                ),
            )
        headers.append((b"etag", etag))
        if _etag_matches(scope, etag):
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
