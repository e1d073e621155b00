"""What the table families share: the ledger's file, its connection, and its transactions."""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from anp_synth.target import identity


def now_iso() -> str:
    """The current UTC time as the runs table stores it (`2026-01-02T03:04:05Z`)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class LedgerFile:
    """The open ledger file. Not thread-safe: one owner thread."""

    path: Path
    db: sqlite3.Connection
    # identity → the spelling an old, not yet migrated ledger opened read-only holds
    _spelling: dict[str, str] = {}

    def _target(self, target: str) -> str:
        """The one spelling of a target in this ledger (see anp_synth.target)."""
        same = identity(target)
        return self._spelling.get(same, same)

    def _check_owner(self) -> None:
        """Inside every write transaction: refuse a write by a process that lost its run
        (`Runs` implements it; the check and the write are one transaction)."""

    @contextlib.contextmanager
    def _tx(self) -> Iterator[None]:
        # The connection is in autocommit mode (so BEGIN IMMEDIATE is ours to issue):
        # group each call's writes in one explicit transaction.
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self._check_owner()
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
