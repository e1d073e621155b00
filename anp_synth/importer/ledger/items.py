"""The items table: what the ledger knows of each post on each target, and its state."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from anp_synth.importer.ledger.base import LedgerFile
from anp_synth.importer.ledger.states import ItemState

LOOKUP = 500  # source ids per IN (...) query: well under SQLite's variable limit


def _json_list(raw: str | None) -> list[str] | None:
    return None if raw is None else list(orjson.loads(raw))


@dataclass(slots=True)  # never changed, yet not frozen: one a post, ~4x cheaper to make
class Known:
    """What the ledger knows of one post on a target (for the skip path)."""

    source_id: str
    content_hash: str
    raw_digest: bytes | None
    state: ItemState
    run_id: int
    base_hash: str | None
    inflight: bool
    last_error: str | None
    gave_up: bool
    batch: str | None = None
    origin_run: int | None = None

    def maybe_written(self, run_id: int) -> bool:
        """True when a request of an earlier pass of this run may have written this post."""
        return (
            self.run_id == run_id
            and self.state != ItemState.CONFIRMED
            and (self.state == ItemState.SENT or self.inflight)
        )


@dataclass(frozen=True, slots=True)
class Item:
    """One post on one target as the ledger records it (what `items` reads)."""

    target: str
    source_id: str
    state: ItemState
    run_id: int
    content_hash: str
    raw_digest: bytes | None
    remote_id: str | None
    url: str | None
    attempts: int
    last_error: str | None
    gave_up: bool
    view_count: int | None
    title: str | None
    tags: list[str] | None
    stack: list[str] | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Item:
        """The item of an `items` row (a ledger from before `gave_up` reads it as false)."""
        return cls(
            target=row["target"],
            source_id=row["source_id"],
            state=ItemState(row["state"]),
            run_id=row["run_id"],
            content_hash=row["content_hash"],
            raw_digest=row["raw_digest"],
            remote_id=row["remote_id"],
            url=row["url"],
            attempts=row["attempts"],
            last_error=row["last_error"],
            gave_up="gave_up" in row.keys() and bool(row["gave_up"]),  # noqa: SIM118 (a Row's `in` looks at values)
            view_count=row["view_count"],
            title=row["title"],
            tags=_json_list(row["tags"]),
            stack=_json_list(row["stack"]),
        )


@dataclass(slots=True)  # never changed, yet not frozen: one a post, ~4x cheaper to make
class Planned:
    """A post about to be written: the ledger row written before the request."""

    source_id: str
    line: int
    content_hash: str
    raw_digest: bytes
    view_count: int | None
    title: str | None
    tags: list[str]
    stack: list[str]


class Failure(NamedTuple):
    """A post that failed for good, and why."""

    source_id: str
    reason: str


class Digest(NamedTuple):
    """The digest of the exact line a confirmed post was read from."""

    source_id: str
    raw_digest: bytes


class Restored(NamedTuple):
    """A post a rollback put back as it was: its hash, remote id and url now."""

    source_id: str
    content_hash: str
    remote_id: str
    url: str


class TargetPost(NamedTuple):
    """A post as the target lists it, with what the file says of it (None: not in the file)."""

    source_id: str
    content_hash: str
    remote_id: str
    url: str
    view_count: int | None = None
    title: str | None = None
    tags: list[str] | None = None
    stack: list[str] | None = None


class Items(LedgerFile):
    """The items of the ledger."""

    def known(self, target: str, source_ids: Sequence[str]) -> dict[str, Known]:
        """What the ledger knows of these posts, in one query per 500 ids."""
        target = self._target(target)
        out: dict[str, Known] = {}
        for start in range(0, len(source_ids), LOOKUP):
            chunk = source_ids[start : start + LOOKUP]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                "SELECT source_id, content_hash, raw_digest, state, run_id, base_hash, inflight,"
                " last_error, gave_up, batch, origin_run FROM items WHERE target = ?"
                f" AND source_id IN ({marks})",
                (target, *chunk),
            )
            for r in rows:
                out[r[0]] = Known(
                    r[0], r[1], r[2], ItemState(r[3]), r[4], r[5], bool(r[6]), r[7], bool(r[8]),
                    r[9], r[10],
                )  # fmt: skip
        return out

    def mark_pending(
        self, target: str, run_id: int, planned: Iterable[Planned], known: dict[str, Known]
    ) -> None:
        """Record posts about to be written (state pending), keeping what the target held before.

        `base_hash` is the hash the target held before this run touched the post; a resumed
        run keeps the base it recorded the first time.

        A write never confirmed (state sent, or a give-up after a request that may have
        landed) is carried over whichever run sent it: `inflight` stays set so `confirm`
        records the change even when the target now answers "unchanged", and `origin_run`
        keeps the run that sent it (see `confirm` for which run the change is recorded under).
        """
        target = self._target(target)
        now = time.time()
        rows = []
        for p in planned:
            k = known.get(p.source_id)
            inflight = 0
            origin: int | None = None
            if k is None:
                base = None
            elif k.state != ItemState.CONFIRMED:
                base = k.base_hash
                # A request of an earlier pass (of this run or of another) may have reached
                # the target.
                inflight = int(k.state == ItemState.SENT or k.inflight)
                if inflight:
                    origin = k.origin_run if k.origin_run is not None else k.run_id
            else:
                base = k.content_hash
            rows.append(
                (
                    target, p.source_id, run_id, p.line, p.content_hash, p.raw_digest, base,
                    inflight, origin, ItemState.PENDING, p.view_count, p.title,
                    orjson.dumps(p.tags).decode(), orjson.dumps(p.stack).decode(), now,
                )
            )  # fmt: skip
        with self._tx():
            self.db.executemany(
                "INSERT INTO items (target, source_id, run_id, line, content_hash, raw_digest, "
                "base_hash, inflight, origin_run, state, view_count, title, tags, stack, updated) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (target, source_id) DO UPDATE SET run_id = excluded.run_id, "
                "line = excluded.line, content_hash = excluded.content_hash, "
                "raw_digest = excluded.raw_digest, base_hash = excluded.base_hash, "
                "inflight = excluded.inflight, origin_run = excluded.origin_run, "
                "state = excluded.state, last_error = NULL, gave_up = 0, "
                "view_count = excluded.view_count, title = excluded.title, tags = excluded.tags, "
                "stack = excluded.stack, updated = excluded.updated",
                rows,
            )

    def remember_digests(self, target: str, digests: Sequence[Digest]) -> None:
        """Record the line digest of confirmed posts found unchanged by content hash, so the
        next rerun skips them on the fast path (after a repair, or a reformatted file)."""
        target = self._target(target)
        with self._tx():
            self.db.executemany(
                "UPDATE items SET raw_digest = ? WHERE target = ? AND source_id = ? AND state = ?",
                [(d, target, sid, ItemState.CONFIRMED) for sid, d in digests],
            )

    def mark_sent(self, target: str, source_ids: Sequence[str], batch: str | None = None) -> None:
        """Record that a request carrying these posts (one batch) is about to leave.

        The batch name lets a resumed run resend exactly that batch, so a target that
        replays Idempotency-Keys answers with what it did the first time (with `previous`).
        """
        target = self._target(target)
        now = time.time()
        with self._tx():
            self.db.executemany(
                "UPDATE items SET state = CASE WHEN state = ? THEN state ELSE ? END,"
                " attempts = attempts + 1, batch = ?, updated = ? WHERE target = ? AND source_id = ?",
                [(ItemState.CONFIRMED, ItemState.SENT, batch, now, target, s) for s in source_ids],
            )

    def fail(self, target: str, failures: Sequence[Failure], *, gave_up: bool = False) -> None:
        """Record posts that failed for good.

        `gave_up`: they failed after transient errors only, so a rerun sends them again,
        and a request (a timeout whose write landed) may have written them: they stay in
        flight, so the rerun that resends them records the change and rollback waits for it.
        """
        target = self._target(target)
        now = time.time()
        with self._tx():
            self.db.executemany(
                "UPDATE items SET state = ?, last_error = ?, updated = ?, gave_up = ?, "
                "inflight = CASE WHEN ? THEN 1 ELSE inflight END "
                "WHERE target = ? AND source_id = ?",
                [
                    (ItemState.FAILED, reason[:500], now, int(gave_up), int(gave_up), target, sid)
                    for sid, reason in failures
                ],
            )

    def unconfirmed(self, run_id: int) -> int:
        """How many writes a run sent that the ledger never saw confirmed (sent, or gave up
        after a request that may have landed), including those a later run carried over."""
        row = self.db.execute(
            "SELECT count(*) FROM items WHERE state != ? AND (state = ? OR inflight = 1)"
            " AND (run_id = ? OR origin_run = ?)",
            (ItemState.CONFIRMED, ItemState.SENT, run_id, run_id),
        ).fetchone()
        return int(row[0])

    def items(
        self,
        target: str | None = None,
        run_id: int | None = None,
        state: ItemState | None = None,
    ) -> Iterator[Item]:
        """Items by source id, optionally of one target, last written by one run, in one state."""
        where, params = [], []
        target = None if target is None else self._target(target)
        for col, val in (("target", target), ("run_id", run_id), ("state", state)):
            if val is not None:
                where.append(f"{col} = ?")
                params.append(val)
        sql = "SELECT * FROM items" + (" WHERE " + " AND ".join(where) if where else "")
        for row in self.db.execute(sql + " ORDER BY source_id", params):
            yield Item.from_row(row)

    def item_states(self, run_id: int | None = None) -> dict[ItemState, int]:
        """Counts of item states: of the posts a run last wrote, or of every item."""
        sql, params = "SELECT state, count(*) FROM items", []
        if run_id is not None:
            sql, params = sql + " WHERE run_id = ?", [run_id]
        rows = self.db.execute(sql + " GROUP BY state", params)
        return {ItemState(r[0]): r[1] for r in rows}

    def targets(self) -> list[str]:
        """Every target the ledger holds items of, sorted."""
        return [r[0] for r in self.db.execute("SELECT DISTINCT target FROM items ORDER BY 1")]

    def undo_created(self, target: str, source_ids: Sequence[str]) -> None:
        """Forget posts that a rollback deleted from the target."""
        target = self._target(target)
        with self._tx():
            self.db.executemany(
                "DELETE FROM items WHERE target = ? AND source_id = ?",
                [(target, s) for s in source_ids],
            )

    def undo_updated(self, target: str, restored: Sequence[Restored]) -> None:
        """Record posts a rollback restored."""
        target = self._target(target)
        now = time.time()
        with self._tx():
            self.db.executemany(
                "UPDATE items SET content_hash = ?, raw_digest = NULL, base_hash = NULL, "
                "remote_id = ?, url = ?, state = ?, updated = ? "
                "WHERE target = ? AND source_id = ?",
                [
                    (r.content_hash, r.remote_id, r.url, ItemState.CONFIRMED, now, target,
                     r.source_id)
                    for r in restored
                ],
            )  # fmt: skip

    def replace_items(
        self, target: str, source_ids: Sequence[str], posts: Iterable[TargetPost]
    ) -> int:
        """Rebuild the items of these source ids from the target itself (`posts`: those of
        them the target holds); no other item changes. Returns how many rows it wrote."""
        target = self._target(target)
        now = time.time()
        n = 0
        with self._tx():
            self.db.executemany(
                "DELETE FROM items WHERE target = ? AND source_id = ?",
                [(target, sid) for sid in source_ids],
            )
            for p in posts:
                self.db.execute(
                    "INSERT INTO items (target, source_id, run_id, content_hash, remote_id, url,"
                    " state, view_count, title, tags, stack, updated)"
                    " VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        target, p.source_id, p.content_hash, p.remote_id, p.url,
                        ItemState.CONFIRMED, p.view_count, p.title, _json_or_null(p.tags),
                        _json_or_null(p.stack), now,
                    ),
                )  # fmt: skip
                n += 1
        return n


def _json_or_null(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()
