"""The `wordpress` sink: posts into a WordPress site through its REST API.

WordPress has no import key of its own, so the project's mu-plugin (shipped beside this module,
see README "Import into WordPress") registers a `source_id` post meta and lets
`/wp/v2/posts?source_id=…` find posts by it. Every write is an upsert keyed by that meta:
look up, then create or update — never by title or slug (slugs get `-2` suffixes, are renamed in
the trash and are not unique). The plugin also refuses a second create for a source id (409),
which closes the gap of a client retry racing its own timed-out request.

Authentication is an application password from `ANP_WP_USER` / `ANP_WP_APP_PASSWORD` (env only).
Writes go through the plugin's bulk route `POST /anp/v1/posts/bulk` (up to 200 posts per call,
one transaction, mode `hooks` or `direct`) when the plugin announces it, else through
`batch/v1` (at most 25 requests per call), else one request per post. `route` says which.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import httpx
import orjson
from pydantic import ValidationError

from anp_synth.contract import LIST_LIMIT, UpsertOutcome
from anp_synth.errors import (
    SinkError,
    TerminalSinkError,
    TransientSinkError,
    UsageError,
    WordPressSetupError,
    excerpt,
)
from anp_synth.post import checked, first_error
from anp_synth.sinks.anp import batch_key
from anp_synth.sinks.base import Page, RemotePost, UpsertResult
from anp_synth.sinks.http import is_transient, response_error, status_error, transport_error
from anp_synth.sinks.wordpress.content import bulk_item, categories_of, post_fields, tags_of

ENV_URL = "ANP_WP_URL"
ENV_USER = "ANP_WP_USER"
ENV_PASSWORD = "ANP_WP_APP_PASSWORD"
BATCH_LIMIT = 25  # WordPress refuses larger batch/v1 calls
BULK_LIMIT = 200  # the plugin's ANP_SYNTH_BULK_MAX (docs/wordpress.md: why 200)
PER_PAGE = 100  # WordPress's maximum per_page
# `status=any` leaves the trash out; upserts and deletes must see trashed posts too.
ALL_STATUSES = "publish,future,draft,pending,private,trash"
LOOKUP_FIELDS = "id,link,status,meta.source_id,meta.anp_hash,meta.anp_post"
LIST_FIELDS = "id,link,meta.source_id,meta.anp_hash"
WRITE_FIELDS = "id,link,status"
# --wp-mode: the plugin's bulk route through wp_insert_post (hooks) or multi-row SQL (direct),
# or batch/v1 whatever the plugin offers (rest: what a site with the version-1 plugin gets).
WP_MODES = ("hooks", "direct", "rest")
SETUP_ATTEMPTS = 6  # the plugin and credentials check: 0.5+1+2+4+8 s of waits at most
_OUTCOMES = frozenset(o.value for o in UpsertOutcome)


MU_PLUGIN = "anp-synth.php"  # the import API this sink needs
KEYS_MU_PLUGIN = "anp-synth-keys.php"  # cache keys for an edge in front (docs/caching.md)


def mu_plugin_source(name: str = MU_PLUGIN) -> str:
    """The PHP source of one shipped mu-plugin (by default the one this sink needs)."""
    return (
        resources.files("anp_synth.sinks.wordpress")
        .joinpath(f"plugin/{name}")
        .read_text(encoding="utf-8")
    )


def _credentials(user: str | None, app_password: str | None, token: str | None) -> tuple[str, str]:
    if user and app_password:
        return user, app_password
    env_user, env_password = os.environ.get(ENV_USER), os.environ.get(ENV_PASSWORD)
    if env_user and env_password:
        return env_user, env_password
    if token and ":" in token:
        name, _, password = token.partition(":")
        if name and password:
            return name, password
    raise UsageError(
        None,
        f"the wordpress sink needs {ENV_USER} and {ENV_PASSWORD} in the environment "
        "(an application password: Users → Profile → Application Passwords), or a token file "
        "holding user:application-password",
    )


@dataclass(frozen=True, slots=True)
class _Existing:
    """A post WordPress holds for a source id."""

    remote_id: int
    url: str
    status: str
    hash: str
    post: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class _Write:
    """One post to write: its slot in the batch, the request, and what WordPress held before."""

    index: int
    route: str
    body: dict[str, Any]
    hash: str
    current: _Existing | None


def _error_text(resp: httpx.Response) -> tuple[str, dict[str, Any]]:
    try:
        body = resp.json()
    except ValueError:
        return resp.reason_phrase or "error", {}
    if isinstance(body, dict):
        code = body.get("code", "")
        message = body.get("message", "")
        data = body.get("data") if isinstance(body.get("data"), dict) else {}
        return excerpt(f"{code}: {message}".strip(": ")), data or {}
    return resp.reason_phrase or "error", {}


def _about(source_id: str, err: SinkError) -> SinkError:
    """The same error, its message naming the post (a transient one keeps its wait)."""
    if isinstance(err, TransientSinkError):
        return TransientSinkError(f"{source_id}: {err}", err.status, err.retry_after)
    return type(err)(f"{source_id}: {err}", err.status)


def _refused(resp: httpx.Response, what: str) -> SinkError:
    """A non-success answer as a sink error, worded with WordPress's own code and message."""
    text, _ = _error_text(resp)
    return response_error(resp, f"HTTP {resp.status_code} {what}: {text}")


class WordPressSink:
    """Upserts posts into WordPress keyed by the `source_id` post meta."""

    name = "wordpress"

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        user: str | None = None,
        app_password: str | None = None,
        timeout: float = 60.0,
        concurrency: int = 4,
        use_batch: bool = True,
        wp_mode: str = "hooks",
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """Connect to the site at `url` (its home URL, e.g. http://127.0.0.1:8089).

        Credentials: `user`/`app_password`, else env ANP_WP_USER / ANP_WP_APP_PASSWORD, else a
        `token` of the form `user:application password` (the importer's --token-file).
        """
        user, app_password = _credentials(user, app_password, token)
        base = url.rstrip("/")
        if base.endswith("/wp-json"):
            base = base[: -len("/wp-json")]
        if not base.startswith(("http://", "https://")):
            raise UsageError("target", f"{url!r} is not an http(s) URL")
        if wp_mode not in WP_MODES:
            raise UsageError("wp_mode", f"expected one of {', '.join(WP_MODES)}, got {wp_mode!r}")
        self.wp_mode = wp_mode
        self._bulk: dict[str, Any] | None = None  # the plugin's bulk announcement, when used
        self.base_url = base
        self.concurrency = max(1, concurrency)
        self._use_batch = use_batch
        # Writes of 25 posts take a few seconds on a small site: the read timeout is generous,
        # connecting is not.
        self._client = httpx.Client(
            auth=httpx.BasicAuth(user, app_password),
            timeout=httpx.Timeout(timeout, connect=5.0),
            limits=httpx.Limits(max_connections=self.concurrency * 2 + 2),
            headers={"User-Agent": "anp-synth wordpress sink"},
            transport=transport,
        )
        self._pretty: bool | None = None  # /wp-json/… (True) or /?rest_route=… (False)
        self._ready = False
        self._info: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._terms: dict[tuple[str, str], int] = {}
        self._term_lock = threading.Lock()

    @classmethod
    def from_env(cls, url: str | None = None, **options: Any) -> WordPressSink:
        """A sink for `url` (or ANP_WP_URL) with credentials from ANP_WP_USER / ANP_WP_APP_PASSWORD."""
        target = url or os.environ.get(ENV_URL)
        if not target:
            raise UsageError("target", f"give the WordPress URL (or set {ENV_URL})")
        return cls(target, **options)

    # --- transport ----------------------------------------------------------------------------

    def _route(self, route: str, params: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
        query = dict(params or {})
        if self._pretty is False:
            query["rest_route"] = route
            return f"{self.base_url}/", query
        return f"{self.base_url}/wp-json{route}", query

    def _send(
        self,
        method: str,
        route: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        what: str,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        url, query = self._route(route, params)
        if isinstance(body, bytes):
            content: bytes | None = body
        else:
            content = orjson.dumps(body) if body is not None else None
        sent = dict(headers or {})
        if content is not None:
            sent["Content-Type"] = "application/json"
        try:
            return self._client.request(method, url, params=query, content=content, headers=sent)
        except httpx.TransportError as exc:
            raise transport_error(exc, what) from exc

    def _call(
        self,
        method: str,
        route: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        what: str,
        ok: tuple[int, ...] = (),
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        self._ensure_ready()
        resp = self._send(method, route, params=params, body=body, what=what, headers=headers)
        if resp.is_success:
            _require_json(resp, what, self.base_url)
            return resp
        if resp.status_code in ok:
            return resp
        text, _ = _error_text(resp)
        if resp.status_code in (401, 403):
            raise WordPressSetupError(
                f"WordPress refused {what} (HTTP {resp.status_code} {text}): check "
                f"{ENV_USER} / {ENV_PASSWORD} and that the user may edit posts"
            )
        raise _refused(resp, what)

    def _ensure_ready(self) -> None:
        """Once: find the REST root, check the mu-plugin and the credentials.

        A transient failure (5xx, 429, a dropped connection) is tried again, at most
        SETUP_ATTEMPTS times within about half a minute: the first calls of an import happen
        before the importer's own retries take over.
        """
        if self._ready:
            return
        with self._lock:
            for attempt in range(SETUP_ATTEMPTS):
                try:
                    self._check_site()
                    return
                except TransientSinkError as exc:
                    if attempt == SETUP_ATTEMPTS - 1:
                        raise
                    wait = min(8.0, 0.5 * 2**attempt)
                    if exc.retry_after is not None:
                        wait = min(8.0, max(wait, exc.retry_after))
                    time.sleep(wait)

    def _check_site(self) -> None:
        """GET the plugin's info (pretty permalinks or ?rest_route=), then users/me."""
        info = "/anp-synth/v1/info"
        for pretty in (True, False):
            self._pretty = pretty
            resp = self._send("GET", info, what="plugin check")
            if resp.status_code == 200:
                _require_json(resp, "plugin check", self.base_url)
                info_body = resp.json() if isinstance(resp.json(), dict) else {}
                break
            if is_transient(resp.status_code):
                raise _refused(resp, "plugin check")
            text, _ = _error_text(resp)
            if resp.status_code == 404 and text.startswith("rest_no_route"):
                raise WordPressSetupError(
                    f"{self.base_url} does not have the anp-synth mu-plugin: copy it to "
                    "wp-content/mu-plugins/anp-synth.php (`anp-synth wordpress mu-plugin` "
                    "prints it; README, 'Import into WordPress')"
                )
        else:
            raise WordPressSetupError(
                f"{self.base_url} does not answer as a WordPress REST API "
                f"(GET /wp-json{info} and /?rest_route={info}: HTTP {resp.status_code})"
            )
        resp = self._send(
            "GET", "/wp/v2/users/me", params={"_fields": "id"}, what="credentials check"
        )
        if resp.status_code in (401, 403):
            text, _ = _error_text(resp)
            raise WordPressSetupError(
                f"WordPress refused the application password (HTTP {resp.status_code} "
                f"{text}): check {ENV_USER} / {ENV_PASSWORD}; on plain http, WordPress "
                "turns application passwords off unless WP_ENVIRONMENT_TYPE is 'local'"
            )
        if not resp.is_success:
            raise _refused(resp, "credentials check")
        self._info = info_body
        self._bulk = self._choose_bulk(info_body)
        self._ready = True

    def _choose_bulk(self, info: dict[str, Any]) -> dict[str, Any] | None:
        """The bulk announcement to write through, None for batch/v1 (or a setup error)."""
        if self.wp_mode == "rest":
            return None
        bulk = info.get("bulk")
        if not isinstance(bulk, dict) or not isinstance(bulk.get("max_posts"), int):
            if self.wp_mode == "direct":
                raise WordPressSetupError(
                    f"{self.base_url}: the anp-synth mu-plugin (version {info.get('version')}) "
                    "has no bulk route, so --wp-mode direct cannot run; install the current one "
                    "(`anp-synth wordpress mu-plugin`)"
                )
            return None
        if self.wp_mode not in bulk.get("modes", []):
            raise WordPressSetupError(
                f"{self.base_url} refuses --wp-mode {self.wp_mode}: {bulk.get('direct')}; "
                "use --wp-mode hooks"
            )
        return bulk

    def check(self) -> dict[str, Any]:
        """Check the mu-plugin and the credentials now; the plugin's self-description."""
        self._ensure_ready()
        return dict(self._info)

    @property
    def max_batch(self) -> int:
        """Posts per upsert_many: batch/v1's 25 with --wp-mode rest, else the bulk route's 200.

        Known without asking the site (a rerun with nothing to send sends nothing); a site
        without the bulk route gets the batch in calls of 25, one with a smaller bulk limit
        in calls of its limit.
        """
        return BATCH_LIMIT if self.wp_mode == "rest" else BULK_LIMIT

    @property
    def route(self) -> str:
        """Which route the writes take, in words (after asking the site)."""
        self._ensure_ready()
        version = self._info.get("version")
        if self._bulk:
            return (
                f"POST /wp-json{self._bulk['route']} (mu-plugin version {version}, mode "
                f"{self.wp_mode}, up to {self._bulk['max_posts']} posts per call)"
            )
        why = (
            "--wp-mode rest"
            if self.wp_mode == "rest"
            else f"the mu-plugin (version {version}) has no bulk route; update it"
        )
        if not self._use_batch:
            return f"one POST /wp-json/wp/v2/posts per post ({why})"
        return f"POST /wp-json/batch/v1, {BATCH_LIMIT} posts per call ({why})"

    def uninstall(self) -> list[str]:
        """Drop what the plugin made on first use (replay table, source_id index); their names."""
        resp = self._call("DELETE", "/anp/v1/schema", what="uninstall", ok=(404,))
        if resp.status_code == 404:
            return []  # a version-1 plugin made nothing
        dropped = resp.json().get("dropped", [])
        return [str(name) for name in dropped] if isinstance(dropped, list) else []

    # --- lookups ------------------------------------------------------------------------------

    def _lookup(self, source_ids: Sequence[str], *, trash: bool) -> dict[str, list[_Existing]]:
        """Posts holding each source id (lowest id first), in as few requests as possible."""
        found: dict[str, list[_Existing]] = {}
        ids = list(dict.fromkeys(source_ids))
        for start in range(0, len(ids), PER_PAGE):
            chunk = ids[start : start + PER_PAGE]
            params = {
                "source_id": ",".join(chunk),
                "status": ALL_STATUSES if trash else "any",
                "per_page": PER_PAGE,
                "orderby": "id",
                "order": "asc",
                "_fields": LOOKUP_FIELDS,
            }
            resp = self._call("GET", "/wp/v2/posts", params=params, what="lookup by source_id")
            for item in resp.json():
                meta = item.get("meta") or {}
                sid = meta.get("source_id")
                if sid not in chunk:
                    # The plugin's filter is missing or broken: never act on such a reply.
                    raise WordPressSetupError(
                        f"{self.base_url}: the lookup by source_id returned post {item.get('id')} "
                        f"with source_id {sid!r}; is the anp-synth mu-plugin active?"
                    )
                raw = meta.get("anp_post") or ""
                try:
                    previous = orjson.loads(raw) if raw else None
                except orjson.JSONDecodeError:
                    previous = None
                found.setdefault(sid, []).append(
                    _Existing(
                        int(item["id"]),
                        item.get("link", ""),
                        item.get("status", ""),
                        meta.get("anp_hash") or "",
                        previous,
                    )
                )
        return found

    def _term_ids(self, taxonomy: str, names: Sequence[str]) -> list[int]:
        """Ids of terms by name, created when missing; cached per sink (WordPress wants ids)."""
        out: list[int] = []
        for name in names:
            key = (taxonomy, name)
            term_id = self._terms.get(key)
            if term_id is None:
                with self._term_lock:
                    term_id = self._terms.get(key)
                    if term_id is None:
                        term_id = self._create_term(taxonomy, name)
                        self._terms[key] = term_id
            out.append(term_id)
        return out

    def _create_term(self, taxonomy: str, name: str) -> int:
        route = f"/wp/v2/{taxonomy}"
        resp = self._call(
            "POST",
            route,
            params={"_fields": "id"},
            body={"name": name},
            what=f"create {taxonomy} {name!r}",
            ok=(400,),
        )
        if resp.status_code == 400:
            text, data = _error_text(resp)
            if text.startswith("term_exists") and data.get("term_id"):
                return int(data["term_id"])
            raise TerminalSinkError(f"create {taxonomy} {name!r}: HTTP 400 {text}", 400)
        return int(resp.json()["id"])

    # --- writes -------------------------------------------------------------------------------

    def _write_many(self, requests: list[_Write]) -> list[dict[str, Any] | SinkError]:
        """POST each write; through batch/v1 when the site has it. Per item: the answer's body."""
        if not requests:
            return []
        if self._use_batch and len(requests) > 1:
            payload = {
                "validation": "normal",
                "requests": [
                    {"method": "POST", "path": f"{w.route}?_fields={WRITE_FIELDS}", "body": w.body}
                    for w in requests
                ],
            }
            resp = self._call("POST", "/batch/v1", body=payload, what="batch write", ok=(404, 400))
            if resp.status_code == 404:
                self._use_batch = False  # WordPress < 5.9: one request per post
            elif resp.status_code == 400:
                text, _ = _error_text(resp)
                raise TerminalSinkError(f"batch write: HTTP 400 {text}", 400)
            else:
                out: list[dict[str, Any] | SinkError] = []
                responses = resp.json().get("responses", [])
                if len(responses) != len(requests):
                    raise TransientSinkError(
                        f"batch write: {len(responses)} replies for {len(requests)} requests"
                    )
                if any(
                    isinstance(r.get("body"), dict)
                    and r["body"].get("code") == "rest_batch_not_allowed"
                    for r in responses
                ):
                    # WordPress 5.6-5.8: batch/v1 exists, posts may not use it; nothing was written.
                    self._use_batch = False
                    return self._write_many(requests)
                for reply in responses:
                    status = int(reply.get("status", 500))
                    body = reply.get("body") if isinstance(reply.get("body"), dict) else {}
                    if 200 <= status < 300:
                        out.append(body)
                    else:
                        text = f"{body.get('code', '')}: {body.get('message', '')}".strip(": ")
                        out.append(status_error(status, f"HTTP {status} {text}"))
                return out
        results: list[dict[str, Any] | SinkError] = []
        for w in requests:
            try:
                resp = self._call(
                    "POST", w.route, params={"_fields": WRITE_FIELDS}, body=w.body, what="write"
                )
                results.append(resp.json())
            except SinkError as exc:
                results.append(exc)
        return results

    def _upsert_chunk(
        self, posts: Sequence[dict[str, Any]], *, retry_conflicts: bool = True
    ) -> list[UpsertResult | SinkError]:
        results: list[UpsertResult | SinkError | None] = [None] * len(posts)
        source_ids: list[str] = []
        for post in posts:
            sid = post.get("source_id") if isinstance(post, dict) else None
            source_ids.append(sid if isinstance(sid, str) else "")
        existing = self._lookup([s for s in source_ids if s], trash=True)
        writes: list[_Write] = []
        for index, post in enumerate(posts):
            sid = source_ids[index]
            digest = _checked(post, sid)
            if isinstance(digest, TerminalSinkError):
                results[index] = digest
                continue
            held = existing.get(sid, [])
            current = held[0] if held else None
            if current and current.hash == digest and current.status != "trash":
                results[index] = UpsertResult(
                    sid, UpsertOutcome.UNCHANGED, str(current.remote_id), current.url, digest
                )
                continue
            try:
                tags = self._term_ids("tags", tags_of(post))
                cats = self._term_ids("categories", categories_of(post))
                body = post_fields(post, digest, tags, cats)
            except TerminalSinkError as exc:  # WordPress refused one of its terms
                results[index] = TerminalSinkError(f"{sid}: {exc}", exc.status)
                continue
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                results[index] = TerminalSinkError(f"{sid}: cannot map post to WordPress: {exc!r}")
                continue
            route = f"/wp/v2/posts/{current.remote_id}" if current else "/wp/v2/posts"
            writes.append(_Write(index, route, body, digest, current))
        replies = self._write_many(writes)
        conflicts: list[int] = []
        for write, reply in zip(writes, replies, strict=True):
            index, digest, current = write.index, write.hash, write.current
            sid = source_ids[index]
            if isinstance(reply, SinkError):
                if reply.status == 409 and current is None and retry_conflicts:
                    conflicts.append(index)  # created meanwhile: look up again and update
                    continue
                results[index] = _about(sid, reply)
                continue
            outcome = UpsertOutcome.UPDATED if current else UpsertOutcome.CREATED
            results[index] = UpsertResult(
                sid,
                outcome,
                str(reply.get("id", current.remote_id if current else "")),
                str(reply.get("link", "")),
                digest,
                previous=current.post if current else None,
            )
        if conflicts:
            again = self._upsert_chunk([posts[i] for i in conflicts], retry_conflicts=False)
            for index, result in zip(conflicts, again, strict=True):
                results[index] = result
        return [r if r is not None else TerminalSinkError("no result") for r in results]

    def upsert(self, post: dict[str, Any], *, idempotency_key: str) -> UpsertResult:
        """Create or update one post keyed by its source id."""
        result = self.upsert_many([post], idempotency_keys=[idempotency_key])[0]
        if isinstance(result, SinkError):
            raise result
        return result

    def upsert_many(
        self, posts: Sequence[dict[str, Any]], *, idempotency_keys: Sequence[str]
    ) -> list[UpsertResult | SinkError]:
        """Upsert a batch in one bulk call (or one batch/v1 call of at most 25).

        A failure of the whole call (timeout, reset, 5xx) is raised as TransientSinkError, so the
        importer retries the batch: the bulk route answers a replayed Idempotency-Key with its
        first answer, and batch/v1's lookup finds whatever did get written.
        """
        if len(posts) > self.max_batch:
            raise TerminalSinkError(
                f"a batch holds at most {self.max_batch} posts, got {len(posts)}", 413
            )
        if not posts:
            return []
        self._ensure_ready()
        step = int(self._bulk["max_posts"]) if self._bulk else BATCH_LIMIT
        out: list[UpsertResult | SinkError] = []
        for start in range(0, len(posts), max(1, step)):
            chunk = posts[start : start + step]
            if self._bulk:
                out += self._upsert_bulk(chunk, idempotency_keys[start : start + step])
            else:
                out += self._upsert_chunk(chunk)
        return out

    def _upsert_bulk(
        self, posts: Sequence[dict[str, Any]], keys: Sequence[str]
    ) -> list[UpsertResult | SinkError]:
        """Validate and map each post, send them in calls under the plugin's byte limit."""
        assert self._bulk is not None
        results: list[UpsertResult | SinkError | None] = [None] * len(posts)
        encoded: list[tuple[int, bytes]] = []
        for index, post in enumerate(posts):
            sid = post.get("source_id") if isinstance(post, dict) else None
            digest = _checked(post, sid)
            if isinstance(digest, TerminalSinkError):
                results[index] = digest
                continue
            try:
                item = bulk_item(post, digest)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                results[index] = TerminalSinkError(f"{sid}: cannot map post to WordPress: {exc!r}")
                continue
            encoded.append((index, orjson.dumps(item)))
        limit = int(self._bulk.get("max_bytes", 16 * 1024 * 1024)) - 4096
        group: list[tuple[int, bytes]] = []
        size = 0
        for entry in [*encoded, None]:
            if entry is None or (group and size + len(entry[1]) > limit):
                if group:
                    self._send_bulk(group, posts, keys, results)
                group, size = [], 0
            if entry is not None:
                group.append(entry)
                size += len(entry[1]) + 1
        return [r if r is not None else TerminalSinkError("no result") for r in results]

    def _send_bulk(
        self,
        group: list[tuple[int, bytes]],
        posts: Sequence[dict[str, Any]],
        keys_of: Sequence[str],
        results: list[UpsertResult | SinkError | None],
    ) -> None:
        """One bulk call. Its Idempotency-Key is derived from its posts' keys, as the anp sink
        derives it: a retried call is answered with its first answer."""
        assert self._bulk is not None
        head = b'{"mode":' + orjson.dumps(self.wp_mode) + b',"posts":['
        body = head + b",".join(raw for _, raw in group) + b"]}"
        keys = [keys_of[index] if index < len(keys_of) else "" for index, _ in group]
        headers = {"Idempotency-Key": batch_key(keys)} if all(keys) else None
        resp = self._call(
            "POST", self._bulk["route"], body=body, what="bulk write", ok=(501,), headers=headers
        )
        if resp.status_code == 501:
            text, _ = _error_text(resp)
            raise WordPressSetupError(f"{self.base_url} refused --wp-mode {self.wp_mode}: {text}")
        answers = resp.json().get("results") if isinstance(resp.json(), dict) else None
        if not isinstance(answers, list) or len(answers) != len(group):
            got = len(answers) if isinstance(answers, list) else "no"
            raise TransientSinkError(f"bulk write: {got} results for {len(group)} posts")
        for (index, _), answer in zip(group, answers, strict=True):
            sid = str(posts[index]["source_id"])
            if not isinstance(answer, dict):
                results[index] = TerminalSinkError(f"{sid}: bulk write: a result is not an object")
                continue
            status = int(answer.get("status", 500))
            if 200 <= status < 300 and answer.get("outcome") in _OUTCOMES:
                raw = answer.get("previous")
                try:
                    previous = orjson.loads(raw) if isinstance(raw, str) and raw else None
                except orjson.JSONDecodeError:
                    previous = None
                results[index] = UpsertResult(
                    sid,
                    UpsertOutcome(answer["outcome"]),
                    str(answer.get("id", "")),
                    str(answer.get("link", "")),
                    str(answer.get("hash", "")),
                    previous=previous,
                )
            else:
                text = f"{answer.get('code', '')}: {answer.get('message', '')}".strip(": ")
                results[index] = _about(sid, status_error(status, f"HTTP {status} {text}"))

    # --- reads and deletes --------------------------------------------------------------------

    def get(self, source_id: str) -> RemotePost | None:
        """The post holding `source_id` (not in the trash), with the source post it was made from."""
        held = self._lookup([source_id], trash=False).get(source_id)
        if not held:
            return None
        first = held[0]
        return RemotePost(source_id, str(first.remote_id), first.url, first.hash, first.post)

    def list(self, after: str | None = None, limit: int = LIST_LIMIT) -> Page:
        """Imported posts in source id order after the cursor `after`: source id, hash, url.

        The cursor is a source id, or `source_id|post_id` as `next` gives it (so two posts that
        share a source id, which only a foreign write could cause, are both listed).
        """
        cursor = after or ""
        items: list[RemotePost] = []
        for _ in range(limit // PER_PAGE + 1):
            per_page = min(PER_PAGE, limit - len(items))
            if per_page <= 0:
                break
            params = {
                "anp_imported": "true",
                "anp_after": cursor,
                "status": "any",
                "per_page": per_page,
                "_fields": LIST_FIELDS,
            }
            resp = self._call("GET", "/wp/v2/posts", params=params, what="list posts")
            page = resp.json()
            for item in page:
                meta = item.get("meta") or {}
                sid = meta.get("source_id") or ""
                items.append(
                    RemotePost(
                        sid, str(item["id"]), item.get("link", ""), meta.get("anp_hash") or ""
                    )
                )
                cursor = f"{sid}|{item['id']}"
            if len(page) < per_page:
                return Page(items, None)
        return Page(items, cursor if items else None)

    def delete(self, source_id: str) -> bool:
        """Delete every post holding `source_id` for good (force: not to the trash)."""
        held = self._lookup([source_id], trash=True).get(source_id, [])
        deleted = False
        for post in held:
            resp = self._call(
                "DELETE",
                f"/wp/v2/posts/{post.remote_id}",
                params={"force": "true", "_fields": "deleted"},
                what=f"delete {source_id}",
                ok=(404, 410),
            )
            deleted = deleted or resp.is_success
        return deleted

    def purge(self, paths: Sequence[str]) -> None:
        """Nothing to purge: core WordPress has no page cache (a cache plugin purges on save)."""
        return None

    def close(self) -> None:
        """Release connections."""
        self._client.close()


def _checked(post: dict[str, Any], sid: object) -> str | TerminalSinkError:
    """The post's content hash, or why it cannot be sent (no source id, or not a valid
    post). A CheckedPost (the importer's) is taken as checked, a plain dict checked here."""
    if not isinstance(sid, str) or not sid:
        return TerminalSinkError("post has no source_id")
    try:
        return checked(post).content_hash
    except ValidationError as exc:
        return TerminalSinkError(f"{sid}: 422 {first_error(exc)}", 422)


def _require_json(resp: httpx.Response, what: str, base_url: str) -> None:
    """A 2xx REST answer must be JSON; an HTML page means the URL is not WordPress's REST API."""
    kind = resp.headers.get("content-type", "").split(";")[0].strip()
    if not kind.endswith("json"):
        raise WordPressSetupError(
            f"{what}: {base_url} answered HTTP {resp.status_code} with "
            f"{kind or 'no content type'}, not JSON; is the target the WordPress site's address?"
        )
