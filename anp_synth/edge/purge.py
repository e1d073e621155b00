"""Purge by key at an edge: the small interface the importer talks to, and Varnish behind it.

    purger = parse_purge("varnish=http://127.0.0.1:6081")
    purger.purge_keys(["post-alphanode-000001", "tag-rust"])   # → objects dropped

A purger raises `TransientSinkError` (worth retrying: a transport failure, 429, 5xx) or
`TerminalSinkError` (403 from the ACL, 400), like a sink's write; the importer retries the
first like a write and reports what still failed.

Built in: **varnish** — `PURGE /` with the keys in an `xkey` header (the shipped VCL,
anp_synth/edge/anp.vcl, answers it with vmod_xkey from the ACL's clients), as many
requests as keep each header under `MAX_HEADER_BYTES`.

Other kinds fit the same interface; their shapes, documented and not built (no account
to test them against):
  * **fastly** — `POST https://api.fastly.com/service/{service_id}/purge` with header
    `Surrogate-Key: k1 k2 …` (or JSON `{"surrogate_keys": [...]}`, at most 256 keys per
    request) and `Fastly-Key: <API token>`; `Fastly-Soft-Purge: 1` marks stale instead.
  * **cloudflare** — `POST https://api.cloudflare.com/client/v4/zones/{zone_id}/purge_cache`
    with JSON `{"tags": [...]}` (at most 100 per request; rate limits by plan: Free 5/min)
    and `Authorization: Bearer <token>`; the site then sends `--key-headers Cache-Tag`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from anp_synth.edge.keys import is_safe_key
from anp_synth.errors import TerminalSinkError, UsageError
from anp_synth.sinks.http import body_excerpt, response_error, transport_error

KINDS = ("varnish",)
DOCUMENTED_KINDS = ("fastly", "cloudflare")
# Varnish refuses a request header over http_req_hdr_len (8 KB by default): stay well under.
MAX_HEADER_BYTES = 4000


class Purger(Protocol):
    """An edge that drops every cached object carrying one of the given keys."""

    name: str  # `varnish=http://127.0.0.1:6081`: how reports name it

    def purge_keys(self, keys: Sequence[str]) -> int:
        """Purge the keys; the number of objects dropped (0 when the edge does not say)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def key_chunks(keys: Sequence[str], limit: int = MAX_HEADER_BYTES) -> Iterator[list[str]]:
    """The keys in groups whose space-joined length stays within `limit` bytes."""
    chunk: list[str] = []
    size = 0
    for key in dict.fromkeys(keys):
        extra = len(key) + (1 if chunk else 0)
        if chunk and size + extra > limit:
            yield chunk
            chunk, size = [], 0
            extra = len(key)
        chunk.append(key)
        size += extra
    if chunk:
        yield chunk


class VarnishPurger:
    """PURGE with `xkey` against Varnish running the shipped VCL."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError("purge", f"varnish={url}: expected an http(s)://HOST:PORT URL")
        self.url = url.rstrip("/")
        self.name = f"varnish={self.url}"
        self.client = httpx.Client(timeout=timeout)

    def purge_keys(self, keys: Sequence[str]) -> int:
        """One PURGE per chunk of keys; the objects Varnish says it dropped."""
        bad = [k for k in keys if not is_safe_key(k)]
        if bad:
            raise TerminalSinkError(f"{self.name}: {bad[0]!r} is not a cache key")
        dropped = 0
        for chunk in key_chunks(keys):
            try:
                resp = self.client.request(
                    "PURGE", self.url + "/", headers={"xkey": " ".join(chunk)}
                )
            except httpx.TransportError as exc:
                raise transport_error(exc, f"{self.name}: PURGE") from None
            if resp.status_code != 200:
                reason = resp.reason_phrase or body_excerpt(resp)
                raise response_error(
                    resp, f"{self.name}: PURGE answered {resp.status_code} {reason}"
                )
            count = resp.headers.get("x-purged", "")
            dropped += int(count) if count.isdigit() else 0
        return dropped

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()


def parse_purge(spec: str) -> Purger:
    """`varnish=http://127.0.0.1:6081` → its purger; UsageError("purge", …) when not."""
    kind, sep, url = spec.partition("=")
    if not sep or not url:
        raise UsageError(
            "purge", f"{spec!r}: expected KIND=URL, e.g. varnish=http://127.0.0.1:6081"
        )
    if kind == "varnish":
        return VarnishPurger(url)
    if kind in DOCUMENTED_KINDS:
        raise UsageError(
            "purge",
            f"{kind}: not built in yet (its request shape is in docs/caching.md); "
            f"built in: {', '.join(KINDS)}",
        )
    raise UsageError("purge", f"{kind!r}: unknown kind; built in: {', '.join(KINDS)}")
