"""The import ledger: one SQLite file that records runs, the state of every post on a target,
and what each run changed (so a rerun is cheap, a crash resumable and a run reversible).

One `Ledger` API over the table families (`runs`, `items`, `changes`; the schema is in
`schema`, liveness in `heartbeat`); nothing outside this package runs SQL against the file.
Writes are grouped: the importer commits once per batch, never once per post.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from anp_synth.errors import UsageError
from anp_synth.importer.ledger import schema
from anp_synth.importer.ledger.changes import Action, Change, Changes, Confirmed, LaterChange
from anp_synth.importer.ledger.heartbeat import STALE_AFTER, Liveness, liveness
from anp_synth.importer.ledger.items import (
    Digest,
    Failure,
    Item,
    Known,
    Planned,
    Restored,
    TargetPost,
)
from anp_synth.importer.ledger.runs import Run, Runs
from anp_synth.importer.ledger.states import ItemState, RunState

__all__ = [
    "STALE_AFTER",
    "Action",
    "Change",
    "Confirmed",
    "Digest",
    "Failure",
    "Item",
    "ItemState",
    "Known",
    "LaterChange",
    "Ledger",
    "Liveness",
    "Planned",
    "Restored",
    "Run",
    "RunState",
    "TargetPost",
    "liveness",
]


class Ledger(Runs, Changes):
    """The SQLite ledger. Not thread-safe: one owner thread (the heartbeat has its own connection)."""

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        if not readonly:
            self._make_folder()
        try:
            self.db = schema.connect(self.path, readonly=readonly)
            if readonly:
                schema.check(self.db)
                self._spelling = schema.stored_spellings(self.db)
            else:
                schema.migrate(self.db)
        except sqlite3.DatabaseError as exc:
            raise UsageError("ledger", f"{self.path}: not a usable SQLite ledger ({exc})") from None

    @classmethod
    def open_readonly(cls, path: str | Path) -> Ledger:
        """Open an existing ledger to read it, never to write (e.g. while an import runs)."""
        cls._require(path)
        return cls(path, readonly=True)

    @classmethod
    def open_existing(cls, path: str | Path) -> Ledger:
        """Open an existing ledger to change it (rollback, repair); a missing one is refused."""
        cls._require(path)
        return cls(path)

    @classmethod
    def for_planning(cls, path: str | Path) -> Ledger:
        """What a dry run plans against, writing nothing: the ledger read-only, or an empty
        one in memory when there is no ledger file yet."""
        return cls.open_readonly(path) if Path(path).is_file() else cls(":memory:")

    @staticmethod
    def _require(path: str | Path) -> None:
        # One message for every command that needs a ledger to be there already.
        if not Path(path).is_file():
            raise UsageError("ledger", f"no ledger file at {path} (nothing imported yet?)")

    def _make_folder(self) -> None:
        try:
            if self.path.parent and not self.path.parent.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise UsageError(
                "ledger", f"{self.path}: cannot create its folder ({reason})"
            ) from None

    def close(self) -> None:
        """Stop the heartbeat and close the file."""
        self.stop_heartbeat()
        self.db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
