"""The ledger's schema and its migrations: the one place the tables are written down.

Tables
    runs     one row per import run: id, file, target, sink, args, state, started,
             finished, heartbeat, pid, counts (JSON), how often it was resumed.
    items    one row per (target, source_id): the post as the target last confirmed it
             (content hash, remote id, url, state, attempts, last error, whether it gave
             up after transient errors, the run that last wrote it, and view count / title
             / tags / stack for the load tests).
    changes  one row per post a run created or updated, with the previous version:
             what `rollback` undoes. The previous version lives only here: one copy.
    meta     schema_version; ledger_id (random, made on first use: Ledger.ledger_id).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from anp_synth.importer.ledger.states import ItemState
from anp_synth.target import identity

SCHEMA_VERSION = 3  # 2: items.gave_up; 3: every target in its one spelling (anp_synth.target)

_TABLES = """
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

# Columns added after the first release, with what fills them in an older ledger.
# origin_run: the run whose request may have written a post the ledger never heard back
# about, when a later run carries that unconfirmed write over (see Ledger.mark_pending).
# gave_up: the post failed after transient errors only (a rerun resends it); version 1
# said so with a "gave up" prefix on last_error.
_ADDED_ITEM_COLUMNS: tuple[tuple[str, str, str | None], ...] = (
    ("inflight", "INTEGER NOT NULL DEFAULT 0", None),
    ("batch", "TEXT", None),
    ("origin_run", "INTEGER", None),
    (
        "gave_up",
        "INTEGER NOT NULL DEFAULT 0",
        f"UPDATE items SET gave_up = 1 WHERE state = '{ItemState.FAILED}'"
        " AND last_error LIKE 'gave up%'",
    ),
)


def connect(path: Path, *, readonly: bool = False, timeout: float = 30.0) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are the ledger's), WAL, synchronous=NORMAL.

    A crash may lose the last commit in this mode; the target-side upsert key makes
    resending it harmless.
    """
    if readonly:
        db = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, timeout=timeout, isolation_level=None
        )
    else:
        db = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
    db.row_factory = sqlite3.Row
    db.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    return db


def version(db: sqlite3.Connection) -> int:
    """The schema version the file records (0 for a file without one)."""
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.OperationalError:  # no meta table: nothing written yet
        return 0
    return int(row[0]) if row is not None else 0


def migrate(db: sqlite3.Connection) -> None:
    """Create the tables, bring an older ledger's up to date, record the schema version."""
    db.executescript(_TABLES)
    db.execute("BEGIN IMMEDIATE")
    try:
        have = {r[1] for r in db.execute("PRAGMA table_info(items)")}
        for name, decl, backfill in _ADDED_ITEM_COLUMNS:
            if name not in have:
                db.execute(f"ALTER TABLE items ADD COLUMN {name} {decl}")
                if backfill:
                    db.execute(backfill)
        if version(db) < 3:
            _one_spelling_per_target(db)
        db.execute(
            "INSERT INTO meta VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE"
            " SET value = excluded.value WHERE CAST(meta.value AS INTEGER) < ?",
            (str(SCHEMA_VERSION), SCHEMA_VERSION),
        )
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _one_spelling_per_target(db: sqlite3.Connection) -> None:
    # Before version 3 a target was stored as typed: `http://127.0.0.1:8000/` and
    # `http://127.0.0.1:8000` were two targets. Rewrite each to its identity; where one post
    # was stored under two spellings, the row written last wins.
    db.create_function("anp_target", 1, identity, deterministic=True)
    for table in ("runs", "changes"):
        db.execute(
            f"UPDATE {table} SET target = anp_target(target) WHERE target != anp_target(target)"
        )
    old = [t for (t,) in db.execute("SELECT DISTINCT target FROM items") if identity(t) != t]
    cols = [r[1] for r in db.execute("PRAGMA table_info(items)")]
    picked = ", ".join("?" if c == "target" else c for c in cols)
    updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in ("target", "source_id"))
    for spelling in old:
        db.execute(
            f"INSERT INTO items ({', '.join(cols)}) SELECT {picked} FROM items WHERE target = ? "
            f"ON CONFLICT (target, source_id) DO UPDATE SET {updates} "
            "WHERE excluded.updated > items.updated",
            (identity(spelling), spelling),
        )
        db.execute("DELETE FROM items WHERE target = ?", (spelling,))


def stored_spellings(db: sqlite3.Connection) -> dict[str, str]:
    """For a ledger older than version 3 read without migrating it: each target's identity →
    the spelling the file holds (the newest run's, when it holds several)."""
    if version(db) >= 3:
        return {}
    in_items = [t for (t,) in db.execute("SELECT DISTINCT target FROM items")]
    by_run = [t for (t,) in db.execute("SELECT target FROM runs GROUP BY target ORDER BY max(id)")]
    newest = {identity(t): t for t in [*in_items, *by_run]}  # later spellings win
    return {same: t for same, t in newest.items() if same != t}


def check(db: sqlite3.Connection) -> None:
    """Raise sqlite3.DatabaseError unless this connection holds a ledger's tables."""
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    missing = {"runs", "items", "changes"} - tables
    if missing:
        raise sqlite3.DatabaseError(f"no {', '.join(sorted(missing))} table")
