"""The import API (docs/import-contract.md): upsert, bulk upsert, get, keyset list, delete, purge."""

from __future__ import annotations

import contextlib
import hashlib
from typing import Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from pydantic import ValidationError
from starlette.convertors import Convertor, register_url_convertor

from anp_synth import collector, contract
from anp_synth.contract import (
    LIST_LIMIT,
    MAX_BULK_BYTES,
    MAX_BULK_POSTS,
    MAX_IDEMPOTENCY_KEY,
    MAX_LIST_LIMIT,
    MAX_POST_BYTES,
    UpsertOutcome,
)
from anp_synth.edge.keys import is_safe_key
from anp_synth.errors import ApiError
from anp_synth.post import SOURCE_ID_RE, Post, field_errors, is_source_id
from anp_synth.site.db import Refused, Remembered, Written
from anp_synth.site.state import Site, site_of

MAX_ROUTE = 2048  # characters of one route to purge
MAX_REPORTED_ERRORS = 20  # a 422 lists this many of a post's errors, not all of a broken one
router = APIRouter()


class SourceIdConvertor(Convertor[str]):
    """A path segment that is a source id: `/api/posts/bulk` is not a post, so a PUT there is
    a 405 of the bulk route, and `/api/posts/xyz` is a 404, before any handler runs."""

    regex = SOURCE_ID_RE.strip("^$")

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("source_id", SourceIdConvertor())
ITEM_ROUTE = contract.post_path("{source_id:source_id}")


def gc_paused() -> contextlib.AbstractContextManager[None]:
    """No garbage collection while a bulk request is parsed and written.

    Parsing a full bulk request allocates ~100,000 objects, none of them cyclic garbage; letting
    the collector run dozens of times meanwhile costs about a tenth of the bulk time.
    """
    return collector.paused()


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response serialised with orjson."""
    return Response(orjson.dumps(data), status, headers, media_type="application/json")


def error_body(exc: ApiError) -> dict[str, Any]:
    """The JSON body of an error answer."""
    body: dict[str, Any] = {"error": exc.message}
    if exc.field is not None:
        body["field"] = exc.field
    if exc.errors:
        body["errors"] = exc.errors
    return body


def validate_post(obj: Any) -> dict[str, Any]:
    """The post if it obeys the model; else ApiError 422 naming the first bad field."""
    if not isinstance(obj, dict):
        raise ApiError(422, "(body): expected a JSON object (a post)", "(body)")
    try:
        Post.model_validate(obj)
    except ValidationError as exc:
        errors = field_errors(exc, MAX_REPORTED_ERRORS)
        err = ApiError(422, str(errors[0]), errors[0].field)
        err.errors = [{"field": e.field, "message": e.message} for e in errors]
        raise err from None
    return obj


def members(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    """A request object holds only the keys it documents: another is refused (422), not ignored."""
    for key in body:
        if key not in allowed:
            expected = ", ".join(repr(k) for k in allowed)
            raise ApiError(422, f"{key}: unknown key (expected {expected})", key)


def within_post_limit(item: Any) -> Any:
    """A bulk item, if its JSON is no larger than one PUT may be (else 413 for that item)."""
    if isinstance(item, dict):
        size = len(orjson.dumps(item))
        if size > MAX_POST_BYTES:
            raise ApiError(
                413, f"(body): post of {size:,} bytes is over the limit of {MAX_POST_BYTES:,}"
            )
    return item


def require_token(request: Request) -> None:
    """Refuse a write without the right Bearer token."""
    if not site_of(request).token_ok(request.headers.get("authorization")):
        raise ApiError(401, "missing or wrong token (Authorization: Bearer ...)")


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, or ApiError 413 once it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"body of {int(declared):,} bytes is over the limit of {limit:,}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"body is over the limit of {limit:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(body: bytes) -> Any:
    """Parsed JSON, or ApiError 422."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(422, f"(body): invalid JSON: {exc}", "(body)") from None


def post_url(request: Request, slug: str) -> str:
    """The absolute URL of a post page, on the host the client used."""
    return f"{str(request.base_url).rstrip('/')}/posts/{slug}"


def written_json(request: Request, item: Written) -> dict[str, Any]:
    """The contract's upsert answer for one post."""
    out: dict[str, Any] = {
        "result": item.result,
        "source_id": item.source_id,
        "id": item.id,
        "url": post_url(request, item.slug),
        "hash": item.hash,
    }
    if item.result is UpsertOutcome.UPDATED:
        out["previous"] = item.previous
    return out


def idempotency_key(request: Request) -> str | None:
    """The request's Idempotency-Key, or None; an empty or overlong one is refused (422)."""
    key = request.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY:
        raise ApiError(
            422, f"Idempotency-Key: 1 to {MAX_IDEMPOTENCY_KEY} characters", "Idempotency-Key"
        )
    return key


def _fingerprint(request: Request, body: bytes) -> str:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(request.method.encode() + b" " + request.url.path.encode() + b"\n")
    digest.update(body)
    return digest.hexdigest()


def _replay(site: Site, key: str | None, fingerprint: str) -> Response | None:
    if not key:
        return None
    stored = site.db.idempotent_response(key)
    if stored is None:
        return None
    if stored.fingerprint != fingerprint:
        raise ApiError(
            422, "Idempotency-Key was already used with a different request", "Idempotency-Key"
        )
    return Response(
        stored.body, stored.status, {"Idempotent-Replayed": "true"}, media_type="application/json"
    )


@router.put(ITEM_ROUTE, status_code=201, summary="Upsert one post by source id")
async def put_post(source_id: str, request: Request) -> Response:
    """Create (201) or update (200 updated / 200 unchanged) one post."""
    require_token(request)
    site = site_of(request)
    body = await read_body(request, MAX_POST_BYTES)
    key = idempotency_key(request)
    fingerprint = _fingerprint(request, body)
    replay = _replay(site, key, fingerprint)
    if replay is not None:
        return replay
    post = validate_post(parse_json(body))
    if post["source_id"] != source_id:
        raise ApiError(
            422,
            f"source_id: {post['source_id']!r} does not match the URL's {source_id!r}",
            "source_id",
        )

    def answer(results: list[Written | Refused]) -> tuple[int, bytes]:
        item = results[0]
        if isinstance(item, Refused):
            return item.status, orjson.dumps({"error": item.message, "field": item.field})
        return (201 if item.result is UpsertOutcome.CREATED else 200), orjson.dumps(
            written_json(request, item)
        )

    def remember(results: list[Written | Refused]) -> Remembered:
        status, data = answer(results)
        return Remembered(key or "", fingerprint, status, data)

    results, changes = site.db.upsert_many([post], remember if key else None)
    site.cache.apply(changes)
    status, data = answer(results)
    return Response(data, status, media_type="application/json")


@router.post(
    contract.BULK_PATH,
    summary=f"Upsert up to {MAX_BULK_POSTS} posts; one bad item fails only itself",
)
async def bulk_posts(request: Request) -> Response:
    """Per-item results in input order; the valid items are written in one transaction."""
    require_token(request)
    site = site_of(request)
    body = await read_body(request, MAX_BULK_BYTES)
    key = idempotency_key(request)
    fingerprint = _fingerprint(request, body)
    replay = _replay(site, key, fingerprint)
    if replay is not None:
        return replay
    with gc_paused():
        return _bulk_write(request, site, body, key, fingerprint)


def _bulk_write(
    request: Request, site: Site, body: bytes, key: str | None, fingerprint: str
) -> Response:
    raw = parse_json(body)
    if isinstance(raw, dict):
        members(raw, ("posts",))
    items = raw.get("posts") if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        raise ApiError(422, 'posts: expected {"posts": [...]} or a JSON array', "posts")
    if len(items) > MAX_BULK_POSTS:
        raise ApiError(422, f"posts: {len(items)} items, at most {MAX_BULK_POSTS}", "posts")
    slots: list[dict[str, Any] | None] = [None] * len(items)
    valid: list[dict[str, Any]] = []
    where: list[int] = []
    for index, item in enumerate(items):
        try:
            valid.append(validate_post(within_post_limit(item)))
            where.append(index)
        except ApiError as exc:
            sid = item.get("source_id") if isinstance(item, dict) else None
            slots[index] = {
                "result": "error",
                "index": index,
                "source_id": sid if isinstance(sid, str) and is_source_id(sid) else None,
                "status": exc.status,
                "error": exc.message,
                "field": exc.field,
            }

    def answer(results: list[Written | Refused]) -> bytes:
        out = list(slots)
        for index, item in zip(where, results, strict=True):
            if isinstance(item, Refused):
                out[index] = {
                    "result": "error",
                    "index": index,
                    "source_id": item.source_id,
                    "status": item.status,
                    "error": item.message,
                    "field": item.field,
                }
            else:
                out[index] = {**written_json(request, item), "index": index}
        counts = {"created": 0, "updated": 0, "unchanged": 0, "error": 0}
        for entry in out:
            assert entry is not None
            counts[entry["result"]] += 1
        return orjson.dumps({"items": out, "counts": counts})

    def remember(results: list[Written | Refused]) -> Remembered:
        return Remembered(key or "", fingerprint, 200, answer(results))

    results, changes = site.db.upsert_many(valid, remember if key else None)
    site.cache.apply(changes)
    return Response(answer(results), 200, media_type="application/json")


@router.get(ITEM_ROUTE, summary="One post with its id, url and content hash")
async def get_post(source_id: str, request: Request) -> Response:
    """The stored post, or 404."""
    found = site_of(request).db.get(source_id)
    if found is None:
        raise ApiError(404, f"no post with source_id {source_id!r}", "source_id")
    return json_response(
        {
            "source_id": source_id,
            "id": found.id,
            "url": post_url(request, found.slug),
            "hash": found.hash,
            "post": found.post,
        }
    )


@router.get(contract.POSTS_PATH, summary="Keyset listing of source ids, hashes and urls")
async def list_posts(
    request: Request,
    after: str | None = Query(None, description="Cursor: the `next` of the previous page."),
    limit: int = Query(LIST_LIMIT, ge=1, le=MAX_LIST_LIMIT),
) -> Response:
    """Posts in source-id order after the cursor, for reconciliation."""
    page = site_of(request).db.keyset(after, limit)
    items = [
        {"source_id": r.source_id, "hash": r.hash, "url": post_url(request, r.slug)}
        for r in page.rows
    ]
    return json_response({"items": items, "next": page.next})


@router.delete(ITEM_ROUTE, status_code=204, summary="Delete one post")
async def delete_post(source_id: str, request: Request) -> Response:
    """204 when deleted, 404 when absent."""
    require_token(request)
    site = site_of(request)
    changes = site.db.delete(source_id)
    if changes is None:
        raise ApiError(404, f"no post with source_id {source_id!r}", "source_id")
    site.cache.apply(changes)
    return Response(status_code=204)


@router.post(contract.PURGE_PATH, summary="Purge exactly the cached routes and cache keys named")
async def purge(request: Request) -> Response:
    """Body `{"routes": ["/posts/x"], "keys": ["post-alphanode-000001"]}` (either or both).

    Answers which pages were cached here: `purged` for the routes, `purged_by_key` for the
    pages carrying one of the keys (docs/caching.md, "Cache keys").
    """
    require_token(request)
    site = site_of(request)
    raw = parse_json(await read_body(request, MAX_POST_BYTES))
    if not isinstance(raw, dict) or not raw:
        raise ApiError(422, 'routes: expected {"routes": ["/path", ...], "keys": [...]}', "routes")
    for other in raw:
        if other not in ("routes", "keys"):
            raise ApiError(422, f"{other}: unknown key (expected 'routes' and/or 'keys')", other)
    routes = raw.get("routes", [])
    keys = raw.get("keys", [])
    if not isinstance(routes, list):
        raise ApiError(422, 'routes: expected {"routes": ["/path", ...]}', "routes")
    for index, route in enumerate(routes):
        if not isinstance(route, str) or not route.startswith("/") or len(route) > MAX_ROUTE:
            raise ApiError(
                422,
                f"routes[{index}]: expected a path starting with / (at most {MAX_ROUTE} characters)",
                f"routes[{index}]",
            )
    if not isinstance(keys, list):
        raise ApiError(422, 'keys: expected {"keys": ["post-...", ...]}', "keys")
    for index, key in enumerate(keys):
        if not isinstance(key, str) or not is_safe_key(key):
            raise ApiError(
                422,
                f"keys[{index}]: expected a cache key (letters, digits, ._~:/@+-)",
                f"keys[{index}]",
            )
    site.db.log_purge(routes, keys)
    purged = site.cache.purge_paths(routes)
    by_key = site.cache.purge_keys(keys)
    return json_response(
        {"requested": routes, "purged": purged, "keys": keys, "purged_by_key": by_key}
    )
