"""A ledger file with the shared columns (BRIEF: items of issue 4), built directly for tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson

SCHEMA = """
CREATE TABLE items (
    target TEXT NOT NULL, source_id TEXT NOT NULL, run_id INTEGER NOT NULL,
    content_hash TEXT NOT NULL, remote_id TEXT, url TEXT, state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, previous TEXT,
    view_count INTEGER, title TEXT, tags TEXT, stack TEXT,
    PRIMARY KEY (target, source_id)
) WITHOUT ROWID;
CREATE TABLE runs (
    id INTEGER PRIMARY KEY, file TEXT, target TEXT, sink TEXT, args TEXT, state TEXT,
    started TEXT, finished TEXT, heartbeat REAL, pid INTEGER, counts TEXT
);
"""


def write_ledger(path: Path, target: str, items: list[dict[str, object]]) -> Path:
    """Items: source_id, url, view_count, title, tags (list), stack (list), state."""
    con = sqlite3.connect(path)
    con.executescript(SCHEMA)
    con.executemany(
        "INSERT INTO items (target, source_id, run_id, content_hash, remote_id, url, state,"
        " view_count, title, tags, stack) VALUES (?, ?, 1, 'h', '1', ?, ?, ?, ?, ?, ?)",
        [
            (
                item.get("target", target),
                item["source_id"],
                item["url"],
                item.get("state", "confirmed"),
                item.get("view_count", 1),
                item.get("title", ""),
                orjson.dumps(item.get("tags", [])).decode(),
                orjson.dumps(item.get("stack", [])).decode(),
            )
            for item in items
        ],
    )
    con.commit()
    con.close()
    return path
