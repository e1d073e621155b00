"""The states a run and an item go through, as the ledger stores them (the strings never change)."""

from __future__ import annotations

from enum import StrEnum


class RunState(StrEnum):
    """Where a run is: running until it finishes one way or another."""

    RUNNING = "running"
    COMPLETED = "completed"
    PARTIAL = "partial"  # finished with items quarantined or failed
    FAILED = "failed"  # stopped by a fatal error (a rerun resumes it)
    INTERRUPTED = "interrupted"  # Ctrl-C / SIGTERM, or crashed and superseded (a rerun resumes it)
    ROLLED_BACK = "rolled_back"


class ItemState(StrEnum):
    """Where one post on a target is: planned, on its way, confirmed by the target, or failed."""

    PENDING = "pending"  # planned, no request has carried it yet
    SENT = "sent"  # a request carrying it left; no answer recorded
    CONFIRMED = "confirmed"  # the target confirmed it holds this content
    FAILED = "failed"  # refused by the target, or gave up after transient errors
