"""What an import run did: the counts the CLI shows and the ledger stores."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Summary:
    """What a run did; `counts` is what the ledger stores."""

    run_id: int | None
    resumed: bool
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    quarantined: int = 0
    read: int = 0
    filtered: int = 0
    elapsed: float = 0.0
    dry_run: bool = False
    would_create: int = 0
    would_update: int = 0
    log_path: str | None = None
    quarantine_path: str | None = None
    purged_keys: int = 0  # cache keys the edges (--purge) confirmed
    purge_failed: list[str] = field(default_factory=list)  # edge purges that failed for good
    matched: set[str] = field(default_factory=set)  # the --only ids found in the file

    @property
    def rate(self) -> float | None:
        """Posts handled per second (read, skipped or written); None with no post or no time."""
        return self.read / self.elapsed if self.read and self.elapsed > 0 else None

    @property
    def ok(self) -> bool:
        """True when nothing was quarantined or failed, and every edge purge went through."""
        return self.failed == 0 and self.quarantined == 0 and not self.purge_failed

    def counts(self) -> dict[str, int]:
        """The counts stored with the run in the ledger."""
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "quarantined": self.quarantined,
            "read": self.read,
        }
