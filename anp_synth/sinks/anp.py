"""The `anp` sink: the reference site's import contract (docs/import-contract.md) over httpx.

One keep-alive connection pool per sink, a timeout on every call, bulk upserts of up
to `contract.MAX_BULK_POSTS` posts. Failures map to the two error kinds by the one rule
of `anp_synth.sinks.http`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from anp_synth import contract as api
from anp_synth.contract import UpsertOutcome
from anp_synth.errors import (
    SinkError,
    TargetSetupError,
    TerminalSinkError,
    TransientSinkError,
    excerpt,
)
from anp_synth.sinks.base import Page, RemotePost, UpsertResult, contract
from anp_synth.sinks.http import (
    body_excerpt,
    is_transient,
    response_error,
    status_error,
    transport_error,
)

JSON = {"Content-Type": "application/json"}


def _message(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return f"{resp.status_code} {body_excerpt(resp)}"
    if isinstance(body, dict) and "error" in body:
        return f"{resp.status_code} {excerpt(str(body['error']))}"
    return f"{resp.status_code} {excerpt(str(body))}"


def _error_for(resp: httpx.Response) -> SinkError:
    return response_error(resp, _message(resp))


def batch_key(keys: Sequence[str]) -> str:
    """One Idempotency-Key for a bulk request, derived from its items' keys."""
    return hashlib.blake2b("\n".join(keys).encode(), digest_size=16).hexdigest()


class AnpSink:
    """A sink for any site that implements the anp import contract."""

    name = "anp"
    max_batch = api.MAX_BULK_POSTS

    def __init__(
        self,
        target: str,
        token: str | None = None,
        *,
        timeout: float = 10.0,
        concurrency: int = 4,
        transport: httpx.BaseTransport | None = None,
        **_options: Any,
    ) -> None:
        if not target.startswith(("http://", "https://")):
            raise TerminalSinkError(f"anp sink: target must be an http(s) URL, got {target!r}")
        headers = {"User-Agent": "anp-synth-importer"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        pool = max(2, concurrency + 1)
        self.client = httpx.Client(
            base_url=target.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            limits=httpx.Limits(max_connections=pool, max_keepalive_connections=pool),
            transport=transport,
        )

    def _request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        try:
            return self.client.request(method, url, **kw)
        except httpx.TransportError as exc:
            raise transport_error(exc, f"{method} {url}") from None

    def _json(self, resp: httpx.Response) -> Any:
        try:
            return orjson.loads(resp.content)
        except orjson.JSONDecodeError:
            # A truncated or garbled answer: the write may or may not have landed; retry.
            raise TransientSinkError(
                f"{resp.status_code} unreadable answer", status=resp.status_code
            ) from None

    def check(self) -> dict[str, Any]:
        """Fail fast unless the target is the import API; its /health answer.

        Nothing listening, a server that is not the API (a 404 or an HTML page where JSON is
        expected), a URL with a path where there is no API: a TargetSetupError naming the URL
        and the cause. A 5xx, a reset or a timeout is a TransientSinkError, asked again by the
        one retry of `sinks.base.preflight`, not here.
        """
        health = self._probe("/health", "status")
        if health.get("status") != "ok":
            raise TargetSetupError(f"{self._url('/health')}: the target is not healthy: {health}")
        self._probe(api.POSTS_PATH, "items", params={"limit": 1})
        return health

    def _url(self, path: str) -> str:
        return f"{str(self.client.base_url).rstrip('/')}{path}"

    def _probe(self, path: str, key: str, **kw: Any) -> dict[str, Any]:
        url = self._url(path)
        try:
            resp = self.client.get(path, **kw)
        except httpx.ConnectError as exc:
            cause = "nothing is listening" if "refused" in str(exc).lower() else str(exc)
            raise TargetSetupError(f"{url}: cannot connect: {cause}") from None
        except httpx.TransportError as exc:  # a reset or a timeout: maybe a flaky moment
            failure = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise TransientSinkError(f"{url}: {failure}") from None
        if is_transient(resp.status_code):
            raise TransientSinkError(f"{url}: HTTP {resp.status_code}", status=resp.status_code)
        return self._shape(url, resp, key)

    @staticmethod
    def _shape(url: str, resp: httpx.Response, key: str) -> dict[str, Any]:
        kind = resp.headers.get("content-type", "no content type").split(";")[0]
        if resp.status_code != 200:
            raise TargetSetupError(
                f"{url}: not the anp import API (HTTP {resp.status_code}, {kind})"
            )
        try:
            body = orjson.loads(resp.content)
        except orjson.JSONDecodeError:
            raise TargetSetupError(
                f"{url}: not the anp import API (answered {kind}, not JSON)"
            ) from None
        if not isinstance(body, dict) or key not in body:
            raise TargetSetupError(f"{url}: not the anp import API (JSON without {key!r})")
        return body

    @staticmethod
    def _result(item: dict[str, Any]) -> UpsertResult:
        with contract("upsert"):
            return UpsertResult(
                source_id=item["source_id"],
                outcome=UpsertOutcome(item["result"]),
                remote_id=str(item["id"]),
                url=item["url"],
                hash=item["hash"],
                previous=item.get("previous"),
            )

    def upsert(self, post: dict[str, Any], *, idempotency_key: str) -> UpsertResult:
        """PUT one post keyed by its source id."""
        resp = self._request(
            "PUT",
            api.post_path(quote(post["source_id"], safe="")),
            content=orjson.dumps(post),
            headers={**JSON, "Idempotency-Key": idempotency_key},
        )
        if resp.status_code not in (200, 201):
            raise _error_for(resp)
        return self._result(self._json(resp))

    def upsert_many(
        self, posts: Sequence[dict[str, Any]], *, idempotency_keys: Sequence[str]
    ) -> list[UpsertResult | SinkError]:
        """POST a batch to /api/posts/bulk; per-item errors fill their own slots."""
        if len(posts) > self.max_batch:
            raise TerminalSinkError(f"batch of {len(posts)} > {self.max_batch}", status=413)
        resp = self._request(
            "POST",
            api.BULK_PATH,
            content=orjson.dumps({"posts": list(posts)}),
            headers={**JSON, "Idempotency-Key": batch_key(idempotency_keys)},
        )
        if resp.status_code != 200:
            raise _error_for(resp)
        body = self._json(resp)
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list) or len(items) != len(posts):
            raise TransientSinkError(f"{resp.status_code} bulk answer does not match the request")
        out: list[UpsertResult | SinkError] = []
        for item in items:
            if item.get("result") == "error":
                status = int(item.get("status") or 422)
                error, field = str(item.get("error", "")), item.get("field")
                if field and not error.startswith(f"{field}:"):
                    error = f"{field}: {error}"  # the site's own errors name the field already
                msg = f"{status} {error}"
                out.append(status_error(status, msg))
            else:
                out.append(self._result(item))
        return out

    def get(self, source_id: str) -> RemotePost | None:
        """GET one post; None on 404."""
        resp = self._request("GET", api.post_path(quote(source_id, safe="")))
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise _error_for(resp)
        b = self._json(resp)
        with contract("GET /api/posts/{source_id}"):
            return RemotePost(b["source_id"], str(b["id"]), b["url"], b["hash"], b.get("post"))

    def list(self, after: str | None = None, limit: int = api.LIST_LIMIT) -> Page:
        """One keyset page of the target's posts."""
        params: dict[str, Any] = {"limit": limit}
        if after is not None:
            params["after"] = after
        resp = self._request("GET", api.POSTS_PATH, params=params)
        if resp.status_code != 200:
            raise _error_for(resp)
        b = self._json(resp)
        with contract("GET /api/posts"):
            items = [
                RemotePost(i["source_id"], str(i.get("id", "")), i["url"], i["hash"])
                for i in b["items"]
            ]
            return Page(items, b.get("next"))

    def delete(self, source_id: str) -> bool:
        """DELETE one post; False when it was not there."""
        resp = self._request("DELETE", api.post_path(quote(source_id, safe="")))
        if resp.status_code == 204:
            return True
        if resp.status_code == 404:
            return False
        raise _error_for(resp)

    def purge(self, paths: Sequence[str]) -> None:
        """POST /api/purge with exactly these routes."""
        resp = self._request(
            "POST", api.PURGE_PATH, content=orjson.dumps({"routes": list(paths)}), headers=JSON
        )
        if resp.status_code != 200:
            raise _error_for(resp)

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()
