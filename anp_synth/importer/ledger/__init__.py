"""The import ledger: one SQLite file that records runs, the state of every post on a target,
and what each run changed (so a rerun is cheap, a crash resumable and a run reversible).

Tables
    runs     one row per import run: id, file, target, sink, args, state, started,
             finished, heartbeat, pid, counts (JSON).
    items    one row per (target, source_id): the post as the target last confirmed it
             (content hash, remote id, url, state pending|sent|confirmed|failed, attempts,
             last error, the run that last wrote it, and view count / title / tags /
             stack for the load tests).
    changes  one row per post a run created or updated, with the previous version:
             what `rollback` undoes. The previous version lives only here: one copy.

Writes are grouped: the importer commits once per batch, never once per post, and
the file runs in WAL mode with synchronous=NORMAL (a crash may lose the last
commit; the target-side upsert key makes resending it harmless).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from anp_synth.errors import LedgerBusyError, UsageError

SCHEMA_VERSION = 1
STALE_AFTER = 15.0  # seconds without a heartbeat before a live-looking run counts as dead
HEARTBEAT_EVERY = 2.0

RUNNING = "running"
COMPLETED = "completed"
PARTIAL = "partial"  # finished with items quarantined or failed
FAILED = "failed"  # stopped by a fatal error
INTERRUPTED = "interrupted"  # crashed and superseded by a run on another file
ROLLED_BACK = "rolled_back"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    file TEXT NOT NULL,
    target TEXT NOT NULL,
    sink TEXT NOT NULL,
    args TEXT NOT NULL DEFAULT '{}',
    state TEXT NOT NULL,
    started TEXT NOT NULL,
    finished TEXT,
    heartbeat REAL NOT NULL,
    pid INTEGER NOT NULL,
    counts TEXT NOT NULL DEFAULT '{}',
    resumed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS items (
    target TEXT NOT NULL,
    source_id TEXT NOT NULL,
    run_id INTEGER NOT NULL,
    line INTEGER,
    content_hash TEXT NOT NULL,
    raw_digest BLOB,
    base_hash TEXT,
    inflight INTEGER NOT NULL DEFAULT 0,
    batch TEXT,
    remote_id TEXT,
    url TEXT,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    view_count INTEGER,
    title TEXT,
    tags TEXT,
    stack TEXT,
    updated REAL NOT NULL,
    PRIMARY KEY (target, source_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_run ON items (run_id, state);
CREATE TABLE IF NOT EXISTS changes (
    run_id INTEGER NOT NULL,
    target TEXT NOT NULL,
    source_id TEXT NOT NULL,
    action TEXT NOT NULL,
    url TEXT,
    previous TEXT,
    previous_hash TEXT,
    new_hash TEXT NOT NULL,
    PRIMARY KEY (run_id, source_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


# origin_run: the run whose request may have written a post the ledger never heard back
# about (see mark_pending/confirm), when a later run carries that unconfirmed write over.
_ADDED_ITEM_COLUMNS = (
    ("inflight", "INTEGER NOT NULL DEFAULT 0"),
    ("batch", "TEXT"),
    ("origin_run", "INTEGER"),
)


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now() -> float:
    import time

    return time.time()


def pid_alive(pid: int) -> bool:
    """True when a process with this pid exists on this machine (zombies count as dead)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().split(b")")[-1].split()[0] != b"Z"
    except OSError:
        return True


@dataclass(slots=True)
class Run:
    """One import run as the ledger records it."""

    id: int
    file: str
    target: str
    sink: str
    args: dict[str, Any]
    state: str
    started: str
    finished: str | None
    heartbeat: float
    pid: int
    counts: dict[str, int] = field(default_factory=dict)
    resumed: int = 0

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Run:
        return cls(
            id=row["id"],
            file=row["file"],
            target=row["target"],
            sink=row["sink"],
            args=orjson.loads(row["args"]),
            state=row["state"],
            started=row["started"],
            finished=row["finished"],
            heartbeat=row["heartbeat"],
            pid=row["pid"],
            counts=orjson.loads(row["counts"]),
            resumed=row["resumed"],
        )


@dataclass(frozen=True, slots=True)
class Known:
    """What the ledger knows of one post on a target (for the skip path)."""

    source_id: str
    content_hash: str
    raw_digest: bytes | None
    state: str
    run_id: int
    base_hash: str | None
    inflight: bool
    last_error: str | None
    batch: str | None = None
    origin_run: int | None = None

    def maybe_written(self, run_id: int) -> bool:
        """True when a request of an earlier pass of this run may have written this post."""
        return (
            self.run_id == run_id
            and self.state != "confirmed"
            and (self.state == "sent" or self.inflight)
        )


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class Confirmed:
    """A write the target confirmed."""

    source_id: str
    outcome: str
    remote_id: str
    url: str
    hash: str
    previous: dict[str, Any] | None
    retried: bool = False  # an earlier attempt in this pass may have reached the target


@dataclass(frozen=True, slots=True)
class Change:
    """One post a run created or updated, with what it replaced."""

    run_id: int
    target: str
    source_id: str
    action: str
    url: str | None
    previous: dict[str, Any] | None
    previous_hash: str | None
    new_hash: str


class Ledger:
    """The SQLite ledger. Not thread-safe: one owner thread (the heartbeat has its own connection)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            if self.path.parent and not self.path.parent.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise UsageError(
                "ledger", f"{self.path}: cannot create its folder ({reason})"
            ) from None
        try:
            self.db = self._connect()
            self.db.executescript(_SCHEMA)
            self._add_missing_columns()
            with self._tx():
                self.db.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
        except sqlite3.DatabaseError as exc:
            raise UsageError("ledger", f"{self.path}: not a usable SQLite ledger ({exc})") from None
        self._beat: _Heartbeat | None = None

    def _add_missing_columns(self) -> None:
        # Ledgers written by an earlier version lack later columns: add them in place.
        for name, decl in _ADDED_ITEM_COLUMNS:
            have = {r[1] for r in self.db.execute("PRAGMA table_info(items)")}
            if name not in have:
                self.db.execute(f"ALTER TABLE items ADD COLUMN {name} {decl}")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=30000")
        return db

    @contextlib.contextmanager
    def _tx(self) -> Iterator[None]:
        # The connection is in autocommit mode (so BEGIN IMMEDIATE is ours to issue):
        # group each call's writes in one explicit transaction.
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        """Stop the heartbeat and close the file."""
        self.stop_heartbeat()
        self.db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- runs ---------------------------------------------------------------------------

    def begin_run(
        self,
        file: str,
        target: str,
        sink: str,
        args: dict[str, Any],
        *,
        stale_after: float = STALE_AFTER,
        pid: int | None = None,
    ) -> Run:
        """Start a run, or take over the crashed run of the same file and target (same id).

        Raises LedgerBusyError when a live run (pid alive, fresh heartbeat) holds the ledger.
        A stdin import (file "-") is never resumed: "-" says nothing about the content, so
        a crashed stdin run is marked interrupted and the new one starts a new run.
        """
        pid = os.getpid() if pid is None else pid
        now = _now()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            resume: Run | None = None
            for row in self.db.execute("SELECT * FROM runs WHERE state = ?", (RUNNING,)):
                run = Run.from_row(row)
                alive = pid_alive(run.pid) and now - run.heartbeat < stale_after
                if alive and run.pid != pid:
                    raise LedgerBusyError(
                        f"ledger {self.path} is in use by run {run.id} (pid {run.pid}, "
                        f"importing {run.file} into {run.target}); wait for it to finish "
                        f"or stop it, then rerun"
                    )
                if run.file == file != "-" and run.target == target and resume is None:
                    resume = run
                else:
                    self.db.execute(
                        "UPDATE runs SET state = ?, finished = ? WHERE id = ?",
                        (INTERRUPTED, _now_iso(), run.id),
                    )
            if resume is None:
                # A run stopped by a fatal error or Ctrl-C is resumed too, if it is the newest
                # run of this file into this target.
                row = self.db.execute(
                    "SELECT * FROM runs WHERE file = ? AND target = ? ORDER BY id DESC LIMIT 1",
                    (file, target),
                ).fetchone()
                if row is not None and row["state"] == FAILED and file != "-":
                    resume = Run.from_row(row)
            if resume is not None:
                self.db.execute(
                    "UPDATE runs SET pid = ?, heartbeat = ?, resumed = resumed + 1, args = ?, "
                    "state = 'running', finished = NULL WHERE id = ?",
                    (pid, now, orjson.dumps(args).decode(), resume.id),
                )
                run_id = resume.id
            else:
                cur = self.db.execute(
                    "INSERT INTO runs (file, target, sink, args, state, started, heartbeat, pid)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        file,
                        target,
                        sink,
                        orjson.dumps(args).decode(),
                        RUNNING,
                        _now_iso(),
                        now,
                        pid,
                    ),
                )
                run_id = int(cur.lastrowid or 0)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return self.run(run_id)

    def run(self, run_id: int) -> Run:
        """One run by id (UsageError when there is none)."""
        row = self.db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise UsageError("run", f"{run_id}: no such run in ledger {self.path}")
        return Run.from_row(row)

    def runs(self, limit: int = 50) -> list[Run]:
        """The most recent runs, newest first."""
        rows = self.db.execute("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,))
        return [Run.from_row(r) for r in rows]

    def finish_run(self, run_id: int, state: str, counts: dict[str, int]) -> None:
        """Record the end of a run and its final counts.

        Only a run still marked running is updated: a run rolled back (or taken over)
        meanwhile keeps that state instead of being overwritten to completed.
        """
        self.stop_heartbeat()
        with self._tx():
            self.db.execute(
                "UPDATE runs SET state = ?, finished = ?, counts = ?, heartbeat = ?"
                " WHERE id = ? AND state = ?",
                (state, _now_iso(), orjson.dumps(counts).decode(), _now(), run_id, RUNNING),
            )

    def save_counts(self, run_id: int, counts: dict[str, int]) -> None:
        """Store running counts (so a resumed run carries them on)."""
        with self._tx():
            self.db.execute(
                "UPDATE runs SET counts = ?, heartbeat = ? WHERE id = ?",
                (orjson.dumps(counts).decode(), _now(), run_id),
            )

    def set_run_state(self, run_id: int, state: str) -> None:
        """Change a run's state (e.g. to rolled_back)."""
        with self._tx():
            self.db.execute("UPDATE runs SET state = ? WHERE id = ?", (state, run_id))

    def start_heartbeat(self, run_id: int, every: float = HEARTBEAT_EVERY) -> None:
        """Beat in a background thread with its own connection, so a long pause still beats."""
        self.stop_heartbeat()
        self._beat = _Heartbeat(self.path, run_id, every)
        self._beat.start()

    def stop_heartbeat(self) -> None:
        """Stop the heartbeat thread, if any."""
        if self._beat is not None:
            self._beat.stop()
            self._beat = None

    def last_changing_run(self, target: str | None = None) -> Run | None:
        """The newest run that created or updated something and was not rolled back."""
        sql = (
            "SELECT r.* FROM runs r WHERE r.state != ? AND EXISTS "
            "(SELECT 1 FROM changes c WHERE c.run_id = r.id)"
        )
        params: list[Any] = [ROLLED_BACK]
        if target is not None:
            sql += " AND r.target = ?"
            params.append(target)
        row = self.db.execute(sql + " ORDER BY r.id DESC LIMIT 1", params).fetchone()
        return None if row is None else Run.from_row(row)

    # -- items --------------------------------------------------------------------------

    def known(self, target: str, source_ids: Sequence[str]) -> dict[str, Known]:
        """What the ledger knows of these posts, in one query per 500 ids."""
        out: dict[str, Known] = {}
        for start in range(0, len(source_ids), 500):
            chunk = source_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                "SELECT source_id, content_hash, raw_digest, state, run_id, base_hash, inflight,"
                f" last_error, batch, origin_run FROM items WHERE target = ?"
                f" AND source_id IN ({marks})",
                (target, *chunk),
            )
            for r in rows:
                out[r[0]] = Known(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), r[7], r[8], r[9])
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
        now = _now()
        rows = []
        for p in planned:
            k = known.get(p.source_id)
            inflight = 0
            origin: int | None = None
            if k is None:
                base = None
            elif k.state != "confirmed":
                base = k.base_hash
                # A request of an earlier pass (of this run or of another) may have reached
                # the target.
                inflight = int(k.state == "sent" or k.inflight)
                if inflight:
                    origin = k.origin_run if k.origin_run is not None else k.run_id
            else:
                base = k.content_hash
            rows.append(
                (
                    target,
                    p.source_id,
                    run_id,
                    p.line,
                    p.content_hash,
                    p.raw_digest,
                    base,
                    inflight,
                    origin,
                    "pending",
                    p.view_count,
                    p.title,
                    orjson.dumps(p.tags).decode(),
                    orjson.dumps(p.stack).decode(),
                    now,
                )
            )
        with self._tx():
            self.db.executemany(
                "INSERT INTO items (target, source_id, run_id, line, content_hash, raw_digest, "
                "base_hash, inflight, origin_run, state, view_count, title, tags, stack, updated) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (target, source_id) DO UPDATE SET run_id = excluded.run_id, "
                "line = excluded.line, content_hash = excluded.content_hash, "
                "raw_digest = excluded.raw_digest, base_hash = excluded.base_hash, "
                "inflight = excluded.inflight, origin_run = excluded.origin_run, "
                "state = 'pending', last_error = NULL, view_count = excluded.view_count, "
                "title = excluded.title, tags = excluded.tags, stack = excluded.stack, "
                "updated = excluded.updated",
                rows,
            )

    def remember_digests(self, target: str, digests: Sequence[tuple[str, bytes]]) -> None:
        """Record the line digest of confirmed posts found unchanged by content hash, so the
        next rerun skips them on the fast path (after a repair, or a reformatted file)."""
        with self._tx():
            self.db.executemany(
                "UPDATE items SET raw_digest = ? WHERE target = ? AND source_id = ?"
                " AND state = 'confirmed'",
                [(d, target, sid) for sid, d in digests],
            )

    def mark_sent(self, target: str, source_ids: Sequence[str], batch: str | None = None) -> None:
        """Record that a request carrying these posts (one batch) is about to leave.

        The batch name lets a resumed run resend exactly that batch, so a target that
        replays Idempotency-Keys answers with what it did the first time (with `previous`).
        """
        now = _now()
        with self._tx():
            self.db.executemany(
                "UPDATE items SET state = CASE WHEN state = 'confirmed' THEN state ELSE 'sent' END,"
                " attempts = attempts + 1, batch = ?, updated = ? WHERE target = ? AND source_id = ?",
                [(batch, now, target, s) for s in source_ids],
            )

    def confirm(self, target: str, run_id: int, results: Sequence[Confirmed]) -> list[Change]:
        """Record confirmed writes and the changes they made; returns those changes.

        A post re-sent after a crash comes back "unchanged" although this run wrote it: the
        base hash recorded before the first send tells whether this run created or updated it.
        """
        if not results:
            return []
        known = self.known(target, [r.source_id for r in results])
        now = _now()
        changes: list[Change] = []
        for r in results:
            k = known.get(r.source_id)
            base = k.base_hash if k is not None else None
            action: str | None = None
            previous = r.previous
            prev_hash: str | None = None
            if r.outcome == "created":
                action = "created"
            elif r.outcome == "updated":
                action = "updated"
                prev_hash = base
                if previous is not None:
                    from anp_synth.jsonl import content_hash

                    prev_hash = content_hash(previous)
            elif (
                k is not None
                and k.run_id == run_id
                and (k.inflight or r.retried)
                and base != r.hash
            ):
                # Written by an earlier attempt whose answer was lost (crash, timeout, give-up).
                # Which run owns the change: the run whose request wrote it. When that was an
                # earlier run (a give-up followed by a new run, or a crashed run superseded by
                # another file) the change is recorded under that run, not this one: the
                # target already held the post before this run started, so rolling back this
                # run must leave it, and rolling back the earlier run removes (or restores)
                # it, as that run's own writes. Only when the earlier run is gone or already
                # rolled back (its rollback could not know of the post) is the change this
                # run's, so that some rollback still undoes it.
                owner = run_id
                if k.inflight and k.origin_run is not None and k.origin_run != run_id:
                    row = self.db.execute(
                        "SELECT state FROM runs WHERE id = ?", (k.origin_run,)
                    ).fetchone()
                    if row is not None and row[0] != ROLLED_BACK:
                        owner = k.origin_run
                prior = self.db.execute(
                    "SELECT 1 FROM changes WHERE run_id = ? AND source_id = ?",
                    (owner, r.source_id),
                ).fetchone()
                if prior is None:
                    action = "created" if base is None else "updated"
                    prev_hash = base
                    changes.append(
                        Change(owner, target, r.source_id, action, r.url, None, base, r.hash)
                    )
                action = None
            if action is not None:
                changes.append(
                    Change(run_id, target, r.source_id, action, r.url, previous, prev_hash, r.hash)
                )
        with self._tx():
            self.db.executemany(
                "UPDATE items SET state = 'confirmed', remote_id = ?, url = ?, content_hash = ?,"
                " last_error = NULL, inflight = 0, origin_run = NULL, updated = ?"
                " WHERE target = ? AND source_id = ?",
                [
                    (
                        r.remote_id,
                        r.url,
                        r.hash,
                        now,
                        target,
                        r.source_id,
                    )
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
                        c.run_id,
                        c.target,
                        c.source_id,
                        c.action,
                        c.url,
                        None if c.previous is None else orjson.dumps(c.previous).decode(),
                        c.previous_hash,
                        c.new_hash,
                    )
                    for c in changes
                ],
            )
        return changes

    def fail(
        self, target: str, failures: Sequence[tuple[str, str]], *, maybe_written: bool = False
    ) -> None:
        """Record posts that failed for good: (source_id, reason).

        `maybe_written`: the posts gave up after transient errors, so a request (a timeout
        whose write landed) may have written them: keep them in flight, so the rerun that
        resends them records the change and rollback waits for it.
        """
        now = _now()
        with self._tx():
            self.db.executemany(
                "UPDATE items SET state = 'failed', last_error = ?, updated = ?, "
                "inflight = CASE WHEN ? THEN 1 ELSE inflight END "
                "WHERE target = ? AND source_id = ?",
                [(reason[:500], now, int(maybe_written), target, sid) for sid, reason in failures],
            )

    def unconfirmed(self, run_id: int) -> int:
        """How many writes a run sent that the ledger never saw confirmed (sent, or gave up
        after a request that may have landed), including those a later run carried over."""
        row = self.db.execute(
            "SELECT count(*) FROM items WHERE state != 'confirmed' AND (state = 'sent' OR"
            " inflight = 1) AND (run_id = ? OR origin_run = ?)",
            (run_id, run_id),
        ).fetchone()
        return int(row[0])

    def items(
        self, target: str | None = None, run_id: int | None = None, state: str | None = None
    ) -> Iterator[sqlite3.Row]:
        """Items, optionally of one target, last written by one run, in one state."""
        where, params = [], []
        for col, val in (("target", target), ("run_id", run_id), ("state", state)):
            if val is not None:
                where.append(f"{col} = ?")
                params.append(val)
        sql = "SELECT * FROM items" + (" WHERE " + " AND ".join(where) if where else "")
        yield from self.db.execute(sql + " ORDER BY source_id", params)

    def item_states(self, run_id: int) -> dict[str, int]:
        """Counts of item states among the posts a run last wrote."""
        rows = self.db.execute(
            "SELECT state, count(*) FROM items WHERE run_id = ? GROUP BY state", (run_id,)
        )
        return {r[0]: r[1] for r in rows}

    def changes(self, run_id: int) -> list[Change]:
        """What one run created and updated."""
        rows = self.db.execute(
            "SELECT * FROM changes WHERE run_id = ? ORDER BY source_id", (run_id,)
        )
        return [
            Change(
                r["run_id"],
                r["target"],
                r["source_id"],
                r["action"],
                r["url"],
                None if r["previous"] is None else orjson.loads(r["previous"]),
                r["previous_hash"],
                r["new_hash"],
            )
            for r in rows
        ]

    def later_changes(self, run_id: int, source_ids: Sequence[str]) -> list[tuple[int, str]]:
        """(run, source id) of later, not rolled back runs that changed any of these posts."""
        out: list[tuple[int, str]] = []
        for start in range(0, len(source_ids), 500):
            chunk = source_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                "SELECT c.run_id, c.source_id FROM changes c JOIN runs r ON r.id = c.run_id "
                f"WHERE c.run_id > ? AND r.state != ? AND c.source_id IN ({marks})",
                (run_id, ROLLED_BACK, *chunk),
            )
            out.extend((r[0], r[1]) for r in rows)
        return out

    def undo_created(self, target: str, source_ids: Sequence[str]) -> None:
        """Forget posts that a rollback deleted from the target."""
        with self._tx():
            self.db.executemany(
                "DELETE FROM items WHERE target = ? AND source_id = ?",
                [(target, s) for s in source_ids],
            )

    def undo_updated(self, target: str, restored: Sequence[tuple[str, str, str, str]]) -> None:
        """Record posts a rollback restored: (source_id, hash, remote id, url)."""
        now = _now()
        with self._tx():
            self.db.executemany(
                "UPDATE items SET content_hash = ?, raw_digest = NULL, base_hash = NULL, "
                "remote_id = ?, url = ?, state = 'confirmed', updated = ? "
                "WHERE target = ? AND source_id = ?",
                [(h, rid, url, now, target, sid) for sid, h, rid, url in restored],
            )

    def replace_target_items(self, target: str, rows: Iterable[tuple[Any, ...]]) -> int:
        """Rebuild a target's items from the target itself.

        Rows: (source_id, hash, remote id, url, view_count, title, tags, stack); the last
        four may be None (a post the file does not describe).
        """
        now = _now()
        n = 0
        with self._tx():
            self.db.execute("DELETE FROM items WHERE target = ?", (target,))
            for sid, h, rid, url, views, title, tags, stack in rows:
                self.db.execute(
                    "INSERT INTO items (target, source_id, run_id, content_hash, remote_id, url,"
                    " state, view_count, title, tags, stack, updated)"
                    " VALUES (?, ?, 0, ?, ?, ?, 'confirmed', ?, ?, ?, ?, ?)",
                    (
                        target,
                        sid,
                        h,
                        rid,
                        url,
                        views,
                        title,
                        None if tags is None else orjson.dumps(tags).decode(),
                        None if stack is None else orjson.dumps(stack).decode(),
                        now,
                    ),
                )
                n += 1
        return n


class _Heartbeat(threading.Thread):
    def __init__(self, path: Path, run_id: int, every: float) -> None:
        super().__init__(name="ledger-heartbeat", daemon=True)
        self.path, self.run_id, self.every = path, run_id, every
        self._stop_event = threading.Event()

    def run(self) -> None:
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            while not self._stop_event.wait(self.every):
                try:
                    db.execute(
                        "UPDATE runs SET heartbeat = ? WHERE id = ? AND state = ?",
                        (_now(), self.run_id, RUNNING),
                    )
                except sqlite3.OperationalError:
                    continue  # busy: the next beat will do
        finally:
            db.close()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)
