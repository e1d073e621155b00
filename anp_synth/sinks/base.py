"""The sink seam: the protocol every target implements, and the result types.

Errors: a sink raises `TransientSinkError` (retry) or `TerminalSinkError`
(quarantine) from `anp_synth.errors`, never a transport exception.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from anp_synth.contract import LIST_LIMIT, UpsertOutcome
from anp_synth.errors import SinkError, TargetSetupError, TerminalSinkError, TransientSinkError


@dataclass(slots=True)
class UpsertResult:
    """What the target did with one post. `previous` is the post as it was before an update.
    Never changed after it is made (not frozen: a frozen one costs ~0.8 us to make, a plain
    one ~0.25, and a sink makes one a post)."""

    source_id: str
    outcome: UpsertOutcome
    remote_id: str
    url: str
    hash: str
    previous: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class RemotePost:
    """One post as the target holds it (for get, verify and listing)."""

    source_id: str
    remote_id: str
    url: str
    hash: str
    post: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """One keyset page of the target's posts."""

    items: list[RemotePost]
    next: str | None


@runtime_checkable
class Sink(Protocol):
    """A target that upserts posts keyed by source id."""

    name: str

    @property
    def max_batch(self) -> int:
        """Posts per upsert_many call (a class attribute or a property: read, never set)."""
        ...

    def upsert(self, post: dict[str, Any], *, idempotency_key: str) -> UpsertResult:
        """Create or update one post keyed by its source id."""
        ...

    def upsert_many(
        self, posts: Sequence[dict[str, Any]], *, idempotency_keys: Sequence[str]
    ) -> list[UpsertResult | SinkError]:
        """Upsert a batch; one bad item fails only itself (its slot holds the error)."""
        ...

    def get(self, source_id: str) -> RemotePost | None:
        """One post with its full content, or None when the target does not have it."""
        ...

    def list(self, after: str | None = None, limit: int = LIST_LIMIT) -> Page:
        """One keyset page of (source id, hash, url), for reconciliation."""
        ...

    def delete(self, source_id: str) -> bool:
        """Delete for good; False when it was not there."""
        ...

    def purge(self, paths: Sequence[str]) -> None:
        """Purge exactly the named cached routes."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


@contextmanager
def contract(what: str) -> Iterator[None]:
    """Turn a malformed answer (a missing key, a wrong type) into a TerminalSinkError."""
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise TerminalSinkError(
            f"{what}: the target's answer does not follow the import contract "
            f"({type(exc).__name__}: {exc}); is the target the right site?"
        ) from exc


def iter_all(sink: Sink, page_size: int = LIST_LIMIT) -> Iterator[RemotePost]:
    """Every post on the target, page by page; a cursor that does not move is an error."""
    after: str | None = None
    while True:
        page = sink.list(after=after, limit=page_size)
        yield from page.items
        if page.next is None:
            return
        if not page.items or page.next == after:
            raise TerminalSinkError(
                f"{sink.name}: the listing's cursor does not advance after {after!r}; "
                "the target's keyset listing is broken"
            )
        after = page.next


# The one retry of the check before the first write: a 503 or a reset at the first request
# is not yet a dead target, but a dead target must fail within seconds. Nothing listening
# or a wrong answer is never retried (the sink raises TargetSetupError for those).
PREFLIGHT_ATTEMPTS = 4
PREFLIGHT_WAIT_S = 0.5  # × the attempt number: 0.5 + 1 + 1.5 = 3 s of waiting in all
PREFLIGHT_BUDGET_S = 5.0  # no attempt that would end after this long (slow answers included)


def preflight(sink: Sink) -> dict[str, Any]:
    """Before the first write: the sink's own `check()`, when it has one; what the target says
    about itself.

    A transient answer (5xx, 429, a reset, a timeout) is asked again, at most
    `PREFLIGHT_ATTEMPTS` times within `PREFLIGHT_BUDGET_S`; then, or on any answer that
    shows the target cannot take imports, a TargetSetupError naming the URL and the cause."""
    check = getattr(sink, "check", None)
    if not callable(check):
        return {}
    deadline = time.monotonic() + PREFLIGHT_BUDGET_S
    for attempt in range(1, PREFLIGHT_ATTEMPTS + 1):
        began = time.monotonic()
        try:
            return dict(check())
        except TransientSinkError as exc:
            wait = PREFLIGHT_WAIT_S * attempt
            took = time.monotonic() - began  # the next attempt will likely take as long
            if attempt == PREFLIGHT_ATTEMPTS or time.monotonic() + wait + took > deadline:
                tries = f"{attempt} tries" if attempt > 1 else "1 try"
                raise TargetSetupError(f"{exc} ({tries}, giving up)") from exc
            time.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover
