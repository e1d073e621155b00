"""The import contract's limits, paths and answer words, shared by the reference site and the sinks.

The contract itself (endpoints, keys, answers, idempotency) is described in docs/; these are the
numbers and names both sides must agree on, written once.
"""

from __future__ import annotations

from enum import StrEnum

MAX_BULK_POSTS = 500  # posts in one POST /api/posts/bulk
MAX_POST_BYTES = 2 * 1024 * 1024  # the body of one PUT /api/posts/{source_id} (and of a purge)
MAX_BULK_BYTES = 64 * 1024 * 1024  # the body of one bulk request
LIST_LIMIT = 500  # posts per page of GET /api/posts when the client does not say
MAX_LIST_LIMIT = 1000  # the largest page GET /api/posts gives
MAX_IDEMPOTENCY_KEY = 200  # characters of an Idempotency-Key header

POSTS_PATH = "/api/posts"
BULK_PATH = "/api/posts/bulk"
PURGE_PATH = "/api/purge"


def post_path(source_id: str) -> str:
    """The API path of one post; `source_id` must already be URL-safe (quote it)."""
    return f"{POSTS_PATH}/{source_id}"


class UpsertOutcome(StrEnum):
    """What an upsert did with one post (the `result` of a contract answer)."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
