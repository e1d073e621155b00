"""The changes table: what each run created and updated, with the previous version.

A confirmed write is recorded here in the same transaction that marks its item confirmed,
so what rollback undoes is exactly what the ledger says the target holds.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

import orjson

from anp_synth.importer.ledger.items import LOOKUP, Items, Known
from anp_synth.importer.ledger.states import ItemState, RunState
from anp_synth.jsonl import content_hash


class Action(StrEnum):
    """What a run did to a post on the target."""

    CREATED = "created"
    UPDATED = "updated"


@dataclass(slots=True)  # never changed, yet not frozen: one a post, ~4x cheaper to make
class Confirmed:
    """A write the target confirmed."""

    source_id: str
    outcome: str  # the sink's answer: created, updated or unchanged
    remote_id: str
    url: str
    hash: str
    previous: dict[str, Any] | None
    retried: bool = False  # an earlier attempt in this pass may have reached the target


@dataclass(slots=True)  # never changed, yet not frozen: one a post, ~4x cheaper to make
class Change:
    """One post a run created or updated, with what it replaced."""

    run_id: int
    target: str
    source_id: str
    action: Action
    url: str | None
    previous: dict[str, Any] | None
    previous_hash: str | None
    new_hash: str


class LaterChange(NamedTuple):
    """A post a later run changed again."""

    run_id: int
    source_id: str


class Changes(Items):
    """The changes of the ledger, and the confirmation that records them."""

    def confirm(self, target: str, run_id: int, results: Sequence[Confirmed]) -> list[Change]:
        """Record confirmed writes and the changes they made; returns those changes.

        A post re-sent after a crash comes back "unchanged" although this run wrote it: the
        base hash recorded before the first send tells whether this run created or updated it.
        """
        target = self._target(target)
        if not results:
            return []
        known = self.known(target, [r.source_id for r in results])
        changes = [
            c for r in results if (c := self._change_of(target, run_id, r, known.get(r.source_id)))
        ]
        now = time.time()
        with self._tx():
            self.db.executemany(
                "UPDATE items SET state = ?, remote_id = ?, url = ?, content_hash = ?,"
                " last_error = NULL, gave_up = 0, inflight = 0, origin_run = NULL, updated = ?"
                " WHERE target = ? AND source_id = ?",
                [
                    (ItemState.CONFIRMED, r.remote_id, r.url, r.hash, now, target, r.source_id)
                    for r in results
                ],
            )
            self.db.executemany(
                "INSERT INTO changes (run_id, target, source_id, action, url, previous, "
                "previous_hash, new_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (run_id, source_id) DO UPDATE SET new_hash = excluded.new_hash, "
                "url = excluded.url",
                [
                    (
                        c.run_id, c.target, c.source_id, c.action, c.url,
                        None if c.previous is None else orjson.dumps(c.previous).decode(),
                        c.previous_hash, c.new_hash,
                    )
                    for c in changes
                ],
            )  # fmt: skip
        return changes

    def _change_of(self, target: str, run_id: int, r: Confirmed, k: Known | None) -> Change | None:
        """The change a confirmed write made, if any (an unchanged post made none)."""
        base = k.base_hash if k is not None else None
        if r.outcome == Action.CREATED:
            return Change(run_id, target, r.source_id, Action.CREATED, r.url, r.previous, None,
                          r.hash)  # fmt: skip
        if r.outcome == Action.UPDATED:
            prev_hash = content_hash(r.previous) if r.previous is not None else base
            return Change(
                run_id, target, r.source_id, Action.UPDATED, r.url, r.previous, prev_hash, r.hash
            )
        if k is None or k.run_id != run_id or not (k.inflight or r.retried) or base == r.hash:
            return None
        # "Unchanged", yet written by an earlier attempt whose answer was lost (crash,
        # timeout, give-up): recorded once, under the run whose request wrote it.
        owner = self._owner_of_lost_write(k, run_id)
        prior = self.db.execute(
            "SELECT 1 FROM changes WHERE run_id = ? AND source_id = ?", (owner, r.source_id)
        ).fetchone()
        if prior is not None:
            return None
        action = Action.CREATED if base is None else Action.UPDATED
        return Change(owner, target, r.source_id, action, r.url, None, base, r.hash)

    def _owner_of_lost_write(self, k: Known, run_id: int) -> int:
        """The run a write whose answer was lost belongs to.

        When the request that wrote it was an earlier run's (a give-up followed by a new run,
        or a crashed run superseded by another file), the change is that run's: the target
        already held the post before this run started, so rolling back this run must leave
        it, and rolling back the earlier run removes (or restores) it, as that run's own
        writes. Only when the earlier run is gone or already rolled back (its rollback could
        not know of the post) is the change this run's, so that some rollback still undoes it.
        """
        if not k.inflight or k.origin_run is None or k.origin_run == run_id:
            return run_id
        row = self.db.execute("SELECT state FROM runs WHERE id = ?", (k.origin_run,)).fetchone()
        if row is None or row[0] == RunState.ROLLED_BACK:
            return run_id
        return k.origin_run

    def changes(self, run_id: int) -> list[Change]:
        """What one run created and updated, by source id."""
        rows = self.db.execute(
            "SELECT * FROM changes WHERE run_id = ? ORDER BY source_id", (run_id,)
        )
        return [
            Change(
                r["run_id"],
                r["target"],
                r["source_id"],
                Action(r["action"]),
                r["url"],
                None if r["previous"] is None else orjson.loads(r["previous"]),
                r["previous_hash"],
                r["new_hash"],
            )
            for r in rows
        ]

    def change_counts(self, run_id: int) -> dict[Action, int]:
        """How many posts one run created and updated."""
        rows = self.db.execute(
            "SELECT action, count(*) FROM changes WHERE run_id = ? GROUP BY action", (run_id,)
        )
        return {Action(r[0]): r[1] for r in rows}

    def later_changes(self, run_id: int, source_ids: Sequence[str]) -> list[LaterChange]:
        """Posts among these that later, not rolled back runs changed."""
        out: list[LaterChange] = []
        for start in range(0, len(source_ids), LOOKUP):
            chunk = source_ids[start : start + LOOKUP]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                "SELECT c.run_id, c.source_id FROM changes c JOIN runs r ON r.id = c.run_id "
                f"WHERE c.run_id > ? AND r.state != ? AND c.source_id IN ({marks})",
                (run_id, RunState.ROLLED_BACK, *chunk),
            )
            out.extend(LaterChange(r[0], r[1]) for r in rows)
        return out
