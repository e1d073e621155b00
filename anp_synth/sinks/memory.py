"""An in-memory sink that keeps the import contract: fast unit tests, like dlt's dummy destination.

Targets are `memory://NAME`; every sink on the same name in one process shares one store,
so a test can import, "crash", and import again into the same target.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, NamedTuple

from pydantic import ValidationError

from anp_synth.contract import LIST_LIMIT, MAX_BULK_POSTS, UpsertOutcome
from anp_synth.errors import SinkError, TerminalSinkError
from anp_synth.post import checked, first_error, is_source_id
from anp_synth.sinks.base import Page, RemotePost, UpsertResult


class Held(NamedTuple):
    """One post as a memory target holds it."""

    remote_id: str
    post: dict[str, Any]
    hash: str

    @property
    def url(self) -> str:
        """Its route, as the reference site would give it."""
        return f"/posts/{self.post['slug']}"


class MemoryStore:
    """One target's posts by source id, the routes purged, and how many calls it took."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.posts: dict[str, Held] = {}
        self.next_id = 1
        self.purged: list[str] = []
        self.requests = 0
        self.replies: dict[str, list[UpsertResult | SinkError]] = {}  # bulk key → first answer


_STORES: dict[str, MemoryStore] = {}
_STORES_LOCK = threading.Lock()


def store_for(target: str) -> MemoryStore:
    """The shared store behind `memory://NAME`."""
    with _STORES_LOCK:
        return _STORES.setdefault(target, MemoryStore())


def reset_store(target: str) -> None:
    """Forget everything a memory target holds."""
    with _STORES_LOCK:
        _STORES.pop(target, None)


class MemorySink:
    """The import contract, held in a dict."""

    name = "memory"
    max_batch = MAX_BULK_POSTS

    def __init__(
        self, target: str, token: str | None = None, *, replay: bool = True, **_options: Any
    ) -> None:
        if not target.startswith("memory://"):
            raise TerminalSinkError(f"memory sink: target must be memory://NAME, got {target!r}")
        self.target = target
        self.store = store_for(target)
        self.replay = replay

    def check(self) -> dict[str, Any]:
        """A memory target is always there."""
        return {"status": "ok", "posts": len(self.store.posts)}

    def upsert(self, post: dict[str, Any], *, idempotency_key: str) -> UpsertResult:
        """Create or update one post keyed by its source id."""
        try:
            h = checked(post).content_hash  # the importer's check, or this one
        except ValidationError as exc:
            raise TerminalSinkError(f"422 {first_error(exc)}", status=422) from None
        sid = post["source_id"]
        st = self.store
        with st.lock:
            st.requests += 1
            old = st.posts.get(sid)
            if old is None:
                new = st.posts[sid] = Held(str(st.next_id), post, h)
                st.next_id += 1
                return UpsertResult(sid, UpsertOutcome.CREATED, new.remote_id, new.url, h)
            if old.hash == h:
                return UpsertResult(sid, UpsertOutcome.UNCHANGED, old.remote_id, old.url, h)
            new = st.posts[sid] = Held(old.remote_id, post, h)
            return UpsertResult(
                sid, UpsertOutcome.UPDATED, new.remote_id, new.url, h, previous=old.post
            )

    def upsert_many(
        self, posts: Sequence[dict[str, Any]], *, idempotency_keys: Sequence[str]
    ) -> list[UpsertResult | SinkError]:
        """Upsert a batch; a bad item fails only itself."""
        if len(posts) > self.max_batch:
            raise TerminalSinkError(f"413 batch of {len(posts)} > {self.max_batch}", status=413)
        batch_key = "\n".join(idempotency_keys)
        with self.store.lock:
            replay = self.store.replies.get(batch_key)
        if (
            replay is not None and self.replay
        ):  # like the reference site: a repeated key gets the first answer
            return list(replay)
        out: list[UpsertResult | SinkError] = []
        for post, key in zip(posts, idempotency_keys, strict=True):
            try:
                out.append(self.upsert(post, idempotency_key=key))
            except TerminalSinkError as exc:
                out.append(exc)
        with self.store.lock:
            self.store.replies[batch_key] = list(out)
        return out

    def get(self, source_id: str) -> RemotePost | None:
        """One post with its content, or None."""
        with self.store.lock:
            self.store.requests += 1
            held = self.store.posts.get(source_id)
        if held is None:
            return None
        return RemotePost(source_id, held.remote_id, held.url, held.hash, held.post)

    def list(self, after: str | None = None, limit: int = LIST_LIMIT) -> Page:
        """Keyset page ordered by source id."""
        with self.store.lock:
            self.store.requests += 1
            ids = sorted(s for s in self.store.posts if after is None or s > after)[:limit]
            held = [(s, self.store.posts[s]) for s in ids]
        items = [RemotePost(s, h.remote_id, h.url, h.hash) for s, h in held]
        nxt = ids[-1] if len(ids) == limit else None
        return Page(items, nxt)

    def delete(self, source_id: str) -> bool:
        """Delete; False when absent."""
        if not is_source_id(source_id):
            raise TerminalSinkError(f"404 not a source id: {source_id!r}", status=404)
        with self.store.lock:
            self.store.requests += 1
            return self.store.posts.pop(source_id, None) is not None

    def purge(self, paths: Sequence[str]) -> None:
        """Record the purged routes (there is no cache to purge)."""
        with self.store.lock:
            self.store.requests += 1
            self.store.purged.extend(paths)

    def close(self) -> None:
        """Nothing to release."""
