"""The site's storage: one SQLite file (WAL), a versioned schema, posts, terms, search, sessions.

A post is stored as its JSON (orjson bytes) plus the columns the pages query:
identity, slug, sort key, hash. Stacks and tags live in `listing_rows`, keyed
for listing pages (names in `term_names`), tools in `post_tools`; `post_similar` holds each post's declared similar ids;
`posts_fts` is a contentless FTS5 index over title and body.

Every write is one transaction; a bulk upsert is one transaction too.
"""

from __future__ import annotations

import calendar
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from anp_synth.contract import UpsertOutcome
from anp_synth.edge.keys import SITEMAP, post_key
from anp_synth.jsonl import content_hash
from anp_synth.site.terms import fts_query, post_terms, search_text

# Each entry upgrades the schema by one version; `PRAGMA user_version` records
# how far a file has come, so an old file is upgraded in place on start.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE posts (
      id INTEGER PRIMARY KEY,
      source_id TEXT NOT NULL UNIQUE,
      slug TEXT NOT NULL UNIQUE,
      title TEXT NOT NULL,
      published_at TEXT NOT NULL,
      hash TEXT NOT NULL,
      body BLOB NOT NULL,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL
    );
    CREATE INDEX posts_latest ON posts(published_at, id);
    CREATE TABLE post_terms (
      kind TEXT NOT NULL,
      slug TEXT NOT NULL,
      published_at TEXT NOT NULL,
      post_id INTEGER NOT NULL,
      name TEXT NOT NULL,
      PRIMARY KEY (kind, slug, published_at, post_id)
    ) WITHOUT ROWID;
    CREATE TABLE post_similar (
      post_id INTEGER NOT NULL,
      pos INTEGER NOT NULL,
      similar_source_id TEXT NOT NULL,
      PRIMARY KEY (post_id, pos)
    ) WITHOUT ROWID;
    CREATE VIRTUAL TABLE posts_fts USING fts5(
      title, body, content='', tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TABLE sessions (
      id_hash TEXT PRIMARY KEY,
      username TEXT NOT NULL,
      display_name TEXT NOT NULL,
      expires INTEGER NOT NULL
    );
    CREATE TABLE idempotency (
      key TEXT PRIMARY KEY,
      fingerprint TEXT NOT NULL,
      status INTEGER NOT NULL,
      body BLOB NOT NULL,
      created INTEGER NOT NULL
    );
    CREATE TABLE purge_log (
      seq INTEGER PRIMARY KEY,
      created INTEGER NOT NULL,
      event BLOB NOT NULL
    );
    """,
    # 2: tools move out of post_terms into an append-friendly table (post_id order):
    # a tool has no listing page, and keying it by date made every bulk insert
    # dirty one random B-tree page per tool per post.
    """
    CREATE TABLE post_tools (
      slug TEXT NOT NULL,
      post_id INTEGER NOT NULL,
      PRIMARY KEY (slug, post_id)
    ) WITHOUT ROWID;
    INSERT INTO post_tools (slug, post_id) SELECT slug, post_id FROM post_terms WHERE kind = 'tool';
    DELETE FROM post_terms WHERE kind = 'tool';
    DROP INDEX IF EXISTS post_terms_by_post;
    """,
    # 3: the search index keeps no positions or column sizes (detail=none, columnsize=0):
    # search matches words, never phrases, and lists newest first without ranking, so
    # those were written on every upsert for nothing. Rebuilt from the stored posts.
    "rebuild_search_index",
    # 4: listing rows lose the term name (now in term_names, once per term) and keep the
    # date as epoch seconds: rows half as wide, so a bulk insert dirties and splits
    # fewer pages of the listing index.
    "slim_listing_rows",
)
SCHEMA_VERSION = len(MIGRATIONS)

LISTED_KINDS = ("stack", "tag")  # tools are indexed for "Similar Posts" only, no pages
PURGE_LOG_KEEP_S = 3600
IDEMPOTENCY_KEEP_S = 24 * 3600

IN_CHUNK = 500  # values per `IN (?, …)` query: far under SQLite's limit on bound variables
SortKey = tuple[str, int]  # (published_at, id): listings are newest first


@dataclass(slots=True)
class Written:
    """The outcome of one upsert that succeeded."""

    result: UpsertOutcome
    source_id: str
    id: int
    slug: str
    hash: str
    previous: dict[str, Any] | None = None


class StoredPost(NamedTuple):
    """One post as the database holds it."""

    id: int
    slug: str
    hash: str
    post: dict[str, Any]


class KeysetRow(NamedTuple):
    """One line of the keyset listing."""

    source_id: str
    hash: str
    slug: str


class KeysetPage(NamedTuple):
    """One page of the keyset listing and the cursor of the next (None on the last)."""

    rows: list[KeysetRow]
    next: str | None


class StoredAnswer(NamedTuple):
    """The answer kept for an Idempotency-Key, with the fingerprint of its request."""

    fingerprint: str
    status: int
    body: bytes


class Remembered(NamedTuple):
    """An answer to keep under its Idempotency-Key (written in the write's transaction)."""

    key: str
    fingerprint: str
    status: int
    body: bytes


class PurgeEvents(NamedTuple):
    """What other workers logged: the last sequence number, the oldest kept, the events."""

    last: int
    oldest: int | None
    events: list[Changes]


class SimilarPost(NamedTuple):
    """A link in a post page's "Similar Posts" (the source id names its cache key)."""

    slug: str
    title: str
    source_id: str


class SessionUser(NamedTuple):
    """Who a live login session belongs to."""

    username: str
    display_name: str


@dataclass(slots=True)
class Refused:
    """One upsert the database refused (for example a slug held by another post)."""

    source_id: str
    status: int
    field: str
    message: str


@dataclass
class ListingChange:
    """How one listing changed in a transaction; the page cache decides from it what to purge."""

    newest_shift: SortKey | None = None  # newest key inserted or removed (pages at/after it shift)
    oldest_insert: SortKey | None = None  # may append to the final page
    deleted: list[SortKey] = field(default_factory=list)
    inplace_lo: SortKey | None = None  # rows changed without moving
    inplace_hi: SortKey | None = None

    def shift(self, key: SortKey, *, insert: bool) -> None:
        """Record an insert or a removal at `key`."""
        if self.newest_shift is None or key > self.newest_shift:
            self.newest_shift = key
        if insert:
            if self.oldest_insert is None or key < self.oldest_insert:
                self.oldest_insert = key
        else:
            self.deleted.append(key)

    def inplace(self, key: SortKey) -> None:
        """Record a row that changed but kept its place."""
        if self.inplace_lo is None or key < self.inplace_lo:
            self.inplace_lo = key
        if self.inplace_hi is None or key > self.inplace_hi:
            self.inplace_hi = key

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form for the purge log."""
        return {
            "newest_shift": self.newest_shift,
            "oldest_insert": self.oldest_insert,
            "deleted": self.deleted,
            "inplace_lo": self.inplace_lo,
            "inplace_hi": self.inplace_hi,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ListingChange:
        """Inverse of `to_json`."""

        def key(value: Any) -> SortKey | None:
            return None if value is None else (value[0], value[1])

        return cls(
            key(data["newest_shift"]),
            key(data["oldest_insert"]),
            [(k[0], k[1]) for k in data["deleted"]],
            key(data["inplace_lo"]),
            key(data["inplace_hi"]),
        )


@dataclass
class Changes:
    """Everything one transaction changed that a page cache must forget.

    `keys`: cache keys (anp_synth.edge.keys) whose pages go, wherever they are: the key of
    every post written, so the listing pages and Similar Posts boxes showing it go too.
    """

    paths: set[str] = field(default_factory=set)
    listings: dict[str, ListingChange] = field(default_factory=dict)
    keys: set[str] = field(default_factory=set)

    def listing(self, name: str) -> ListingChange:
        """The change record of one listing (`home`, `stack:SLUG`, `tag:SLUG`)."""
        change = self.listings.get(name)
        if change is None:
            change = self.listings[name] = ListingChange()
        return change

    def __bool__(self) -> bool:
        return bool(self.paths or self.listings or self.keys)

    def to_bytes(self) -> bytes:
        """Serialised for the purge log."""
        return orjson.dumps(
            {
                "paths": sorted(self.paths),
                "listings": {k: v.to_json() for k, v in self.listings.items()},
                "keys": sorted(self.keys),
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Changes:
        """Inverse of `to_bytes`."""
        raw = orjson.loads(data)
        return cls(
            set(raw["paths"]),
            {k: ListingChange.from_json(v) for k, v in raw["listings"].items()},
            set(raw.get("keys", ())),  # events logged before keys existed have none
        )


def post_path(slug: str) -> str:
    """The URL path of a post page."""
    return f"/posts/{slug}"


@dataclass(slots=True)
class _Row:
    id: int
    source_id: str
    slug: str
    published_at: str
    hash: str
    body: bytes


@dataclass(slots=True)
class ListedPost:
    """A post as a listing or search page shows it."""

    id: int
    post: dict[str, Any]

    @property
    def key(self) -> SortKey:
        """Its place in newest-first listings."""
        return (self.post["published_at"], self.id)


@dataclass(slots=True)
class ListingPage:
    """One page of a listing, with what the cache needs to know to purge it exactly."""

    items: list[ListedPost]
    has_next: bool
    peek: SortKey | None  # the first item of the next page, if any
    title: str | None = None  # a term's display name


def _listings_of(
    post: dict[str, Any], terms: list[tuple[str, str, str]] | None = None
) -> dict[str, str]:
    """Listing name → display name, for every listing page the post appears on."""
    out = {"home": ""}
    for kind, slug, name in post_terms(post) if terms is None else terms:
        if kind in LISTED_KINDS:
            out.setdefault(f"{kind}:{slug}", name)
    return out


TermKey = tuple[str, str, int, int]  # (kind, slug, published epoch s, post_id): listing_rows


def epoch_seconds(published_at: str) -> int:
    """`2025-02-03T14:30:57Z` as seconds since 1970 (the model fixes the format)."""
    return calendar.timegm(
        (
            int(published_at[0:4]),
            int(published_at[5:7]),
            int(published_at[8:10]),
            int(published_at[11:13]),
            int(published_at[14:16]),
            int(published_at[17:19]),
            0,
            0,
            0,
        )
    )


class _TermBatch:
    """The listing rows one transaction adds and removes, written sorted at the end.

    Writing them in key order touches each B-tree page about once per batch
    instead of once per row: with 100,000 posts this is most of bulk speed.
    """

    def __init__(self) -> None:
        self.added: set[TermKey] = set()
        self.removed: set[TermKey] = set()
        self.names: dict[tuple[str, str], str] = {}

    def add(self, rows: list[tuple[TermKey, str]]) -> None:
        """Rows to insert (key, display name of the term)."""
        for key, name in rows:
            self.added.add(key)
            self.names.setdefault((key[0], key[1]), name)

    def remove(self, keys: list[TermKey]) -> None:
        """Rows to delete; a row added earlier in the same batch is simply forgotten."""
        for key in keys:
            if key in self.added:
                self.added.discard(key)
            else:
                self.removed.add(key)

    def flush(self, conn: sqlite3.Connection) -> None:
        """Apply the deletions, then the insertions, each in key order."""
        if self.removed:
            conn.executemany(
                "DELETE FROM listing_rows"
                " WHERE kind = ? AND slug = ? AND published = ? AND post_id = ?",
                sorted(self.removed),
            )
        if self.added:
            conn.executemany(
                "INSERT OR IGNORE INTO listing_rows (kind, slug, published, post_id)"
                " VALUES (?, ?, ?, ?)",
                sorted(self.added),
            )
        if self.names:
            conn.executemany(
                "INSERT OR IGNORE INTO term_names (kind, slug, name) VALUES (?, ?, ?)",
                [(kind, slug, name) for (kind, slug), name in self.names.items()],
            )
        self.added = set()
        self.removed = set()
        self.names = {}


class Database:
    """One connection to the site's SQLite file; create it once per process."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._terms = _TermBatch()
        self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        for pragma in (
            "synchronous=NORMAL",
            "busy_timeout=15000",
            "cache_size=-262144",  # 256 MB: the listing indexes of 100k posts fit
            "temp_store=MEMORY",
            "mmap_size=268435456",
            # Checkpoint every 256 MB of WAL rather than 4 MB: pages that many commits
            # dirty again are copied back once, and there are fewer fsyncs.
            "wal_autocheckpoint=65536",
        ):
            self.conn.execute(f"PRAGMA {pragma}")
        self.migrate()

    # -- schema ------------------------------------------------------------

    def schema_version(self) -> int:
        """The schema version this file is at."""
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        """Apply the migrations this file lacks, each in its own transaction."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            version = self.schema_version()
            for number in range(version, SCHEMA_VERSION):
                step = MIGRATIONS[number]
                if step == "rebuild_search_index":
                    self._rebuild_search_index()
                elif step == "slim_listing_rows":
                    self._slim_listing_rows()
                else:
                    for statement in step.split(";"):
                        if statement.strip():
                            self.conn.execute(statement)
                self.conn.execute(f"PRAGMA user_version={number + 1}")
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    def _slim_listing_rows(self) -> None:
        conn = self.conn
        conn.execute(
            "CREATE TABLE IF NOT EXISTS listing_rows (kind TEXT NOT NULL, slug TEXT NOT NULL,"
            " published INTEGER NOT NULL, post_id INTEGER NOT NULL,"
            " PRIMARY KEY (kind, slug, published, post_id)) WITHOUT ROWID"
        )
        conn.execute(
            "CREATE TABLE IF NOT EXISTS term_names (kind TEXT NOT NULL, slug TEXT NOT NULL,"
            " name TEXT NOT NULL, PRIMARY KEY (kind, slug)) WITHOUT ROWID"
        )
        old = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'post_terms'"
        ).fetchone()
        if old is None:
            return
        conn.execute(
            "INSERT OR IGNORE INTO term_names (kind, slug, name)"
            " SELECT kind, slug, name FROM post_terms"
        )
        conn.execute(
            "INSERT OR IGNORE INTO listing_rows (kind, slug, published, post_id)"
            " SELECT kind, slug, CAST(strftime('%s', published_at) AS INTEGER), post_id"
            " FROM post_terms"
        )
        conn.execute("DROP TABLE post_terms")

    def _rebuild_search_index(self) -> None:
        conn = self.conn
        conn.execute("DROP TABLE IF EXISTS posts_fts")
        conn.execute(
            "CREATE VIRTUAL TABLE posts_fts USING fts5(title, body, content='',"
            " tokenize='unicode61 remove_diacritics 2', detail=none, columnsize=0)"
        )
        # Merge segments 16 at a time instead of 4: about half the rewriting per bulk
        # commit, and word lookups stay well under a millisecond at 100,000 posts.
        conn.execute("INSERT INTO posts_fts (posts_fts, rank) VALUES ('automerge', 16)")
        rows = conn.execute("SELECT id, body FROM posts").fetchall()
        conn.executemany(
            "INSERT INTO posts_fts (rowid, title, body) VALUES (?, ?, ?)",
            (
                (post_id, (post := orjson.loads(body))["title"], search_text(post))
                for post_id, body in rows
            ),
        )

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    # -- writes ------------------------------------------------------------

    def upsert_many(
        self,
        posts: Sequence[dict[str, Any]],
        remember: Callable[[list[Written | Refused]], Remembered] | None = None,
    ) -> tuple[list[Written | Refused], Changes]:
        """Upsert validated posts keyed by source id, in ONE transaction; one result per post.

        `remember` turns the results into (idempotency key, fingerprint, status, body),
        stored in the same transaction so a replayed request gets the same answer.
        """
        results: list[Written | Refused] = []
        changes = Changes()
        now = int(time.time())
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            existing = self._rows_by_source_id([p["source_id"] for p in posts])
            slugs = self._owners_of_slugs([p["slug"] for p in posts])
            self._terms = _TermBatch()
            for post in posts:
                results.append(self._upsert_one(post, existing, slugs, changes, now))
            self._terms.flush(conn)
            if changes:
                self._log_changes(changes, now)
            if remember is not None:
                self.remember_response(*remember(results))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return results, changes

    def _rows_by_source_id(self, source_ids: list[str]) -> dict[str, _Row]:
        out: dict[str, _Row] = {}
        unique = list(dict.fromkeys(source_ids))
        for start in range(0, len(unique), IN_CHUNK):
            chunk = unique[start : start + IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            for row in self.conn.execute(
                "SELECT id, source_id, slug, published_at, hash, body FROM posts"
                f" WHERE source_id IN ({marks})",
                chunk,
            ):
                out[row[1]] = _Row(*row)
        return out

    def _owners_of_slugs(self, slugs: list[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        unique = list(dict.fromkeys(slugs))
        for start in range(0, len(unique), IN_CHUNK):
            chunk = unique[start : start + IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            for slug, source_id in self.conn.execute(
                f"SELECT slug, source_id FROM posts WHERE slug IN ({marks})", chunk
            ):
                out[slug] = source_id
        return out

    def _upsert_one(
        self,
        post: dict[str, Any],
        existing: dict[str, _Row],
        slugs: dict[str, str],
        changes: Changes,
        now: int,
    ) -> Written | Refused:
        conn = self.conn
        source_id = post["source_id"]
        slug = post["slug"]
        digest = content_hash(post)
        owner = slugs.get(slug)
        if owner is not None and owner != source_id:
            return Refused(source_id, 409, "slug", f"slug {slug!r} already belongs to {owner}")
        old = existing.get(source_id)
        if old is not None and old.hash == digest:
            return Written(UpsertOutcome.UNCHANGED, source_id, old.id, old.slug, digest)
        body = orjson.dumps(post)
        title = post["title"]
        published = post["published_at"]
        text = search_text(post)
        terms = post_terms(post)
        previous: dict[str, Any] | None = None
        if old is None:
            post_id = conn.execute(
                "INSERT INTO posts (source_id, slug, title, published_at, hash, body,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (source_id, slug, title, published, digest, body, now, now),
            ).lastrowid
            assert post_id is not None
            result = UpsertOutcome.CREATED
            for listing in _listings_of(post, terms):
                changes.listing(listing).shift((published, post_id), insert=True)
            changes.keys.add(SITEMAP)
        else:
            post_id = old.id
            previous = orjson.loads(old.body)
            conn.execute(
                "UPDATE posts SET slug = ?, title = ?, published_at = ?, hash = ?, body = ?,"
                " updated_at = ? WHERE id = ?",
                (slug, title, published, digest, body, now, post_id),
            )
            self._unindex(post_id, previous)
            result = UpsertOutcome.UPDATED
            self._note_update(changes, post_id, previous, post)
            if old.slug != slug:
                slugs.pop(old.slug, None)
                changes.paths.add(post_path(old.slug))
            if old.slug != slug or old.published_at != published:
                changes.keys.add(SITEMAP)
        self._index(post_id, post, text, terms)
        slugs[slug] = source_id
        existing[source_id] = _Row(post_id, source_id, slug, published, digest, body)
        changes.paths.add(post_path(slug))
        changes.keys.add(post_key(source_id))
        return Written(result, source_id, post_id, slug, digest, previous)

    @staticmethod
    def _note_update(
        changes: Changes, post_id: int, before: dict[str, Any], after: dict[str, Any]
    ) -> None:
        old_key = (before["published_at"], post_id)
        new_key = (after["published_at"], post_id)
        old_listings = _listings_of(before)
        new_listings = _listings_of(after)
        for listing in old_listings.keys() | new_listings.keys():
            change = changes.listing(listing)
            if listing in old_listings and listing in new_listings and old_key == new_key:
                change.inplace(new_key)
                continue
            if listing in old_listings:
                change.shift(old_key, insert=False)
            if listing in new_listings:
                change.shift(new_key, insert=True)

    def _index(
        self, post_id: int, post: dict[str, Any], text: str, terms: list[tuple[str, str, str]]
    ) -> None:
        conn = self.conn
        published = epoch_seconds(post["published_at"])
        self._terms.add(
            [
                ((kind, slug, published, post_id), name)
                for kind, slug, name in terms
                if kind != "tool"
            ]
        )
        conn.executemany(
            "INSERT OR IGNORE INTO post_tools (slug, post_id) VALUES (?, ?)",
            [(slug, post_id) for kind, slug, _ in terms if kind == "tool"],
        )
        conn.executemany(
            "INSERT INTO post_similar (post_id, pos, similar_source_id) VALUES (?, ?, ?)",
            [(post_id, pos, sid) for pos, sid in enumerate(post["similar"])],
        )
        conn.execute(
            "INSERT INTO posts_fts (rowid, title, body) VALUES (?, ?, ?)",
            (post_id, post["title"], text),
        )

    def _unindex(self, post_id: int, old: dict[str, Any]) -> None:
        conn = self.conn
        # Listing rows are keyed for listings, not by post: recompute the old ones to delete.
        published = epoch_seconds(old["published_at"])
        old_terms = post_terms(old)
        self._terms.remove(
            [(kind, slug, published, post_id) for kind, slug, _ in old_terms if kind != "tool"]
        )
        conn.execute(
            "DELETE FROM post_tools WHERE post_id = ? AND slug IN (SELECT value FROM json_each(?))",
            (post_id, orjson.dumps([slug for kind, slug, _ in old_terms if kind == "tool"])),
        )
        conn.execute("DELETE FROM post_similar WHERE post_id = ?", (post_id,))
        # A contentless FTS5 table forgets a row only when given its exact old text.
        conn.execute(
            "INSERT INTO posts_fts (posts_fts, rowid, title, body) VALUES ('delete', ?, ?, ?)",
            (post_id, old["title"], search_text(old)),
        )

    def delete(self, source_id: str) -> Changes | None:
        """Delete one post in one transaction; None when it was not there."""
        conn = self.conn
        now = int(time.time())
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute(
                "SELECT id, body FROM posts WHERE source_id = ?", (source_id,)
            ).fetchone()
            if row is None:
                conn.execute("ROLLBACK")
                return None
            post_id, body = row
            old = orjson.loads(body)
            self._terms = _TermBatch()
            self._unindex(post_id, old)
            self._terms.flush(conn)
            conn.execute("DELETE FROM posts WHERE id = ?", (post_id,))
            changes = Changes({post_path(old["slug"])}, keys={post_key(source_id), SITEMAP})
            for listing in _listings_of(old):
                changes.listing(listing).shift((old["published_at"], post_id), insert=False)
            self._log_changes(changes, now)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return changes

    # -- purge log: how every worker process learns what another one changed --

    def _log_changes(self, changes: Changes, now: int) -> None:
        self.conn.execute(
            "INSERT INTO purge_log (created, event) VALUES (?, ?)", (now, changes.to_bytes())
        )
        self.conn.execute("DELETE FROM purge_log WHERE created < ?", (now - PURGE_LOG_KEEP_S,))

    def log_purge(self, paths: Sequence[str], keys: Sequence[str] = ()) -> None:
        """Record an explicit purge of exact paths and cache keys, for every worker."""
        now = int(time.time())
        self.conn.execute(
            "INSERT INTO purge_log (created, event) VALUES (?, ?)",
            (now, Changes(set(paths), keys=set(keys)).to_bytes()),
        )

    def data_version(self) -> int:
        """Changes whenever another connection commits: a cheap "anything new?" check."""
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def purge_events(self, after_seq: int) -> PurgeEvents:
        """The purge events logged after `after_seq`."""
        rows = self.conn.execute(
            "SELECT seq, event FROM purge_log WHERE seq > ? ORDER BY seq", (after_seq,)
        ).fetchall()
        oldest = self.conn.execute("SELECT min(seq) FROM purge_log").fetchone()[0]
        last = rows[-1][0] if rows else after_seq
        return PurgeEvents(last, oldest, [Changes.from_bytes(event) for _, event in rows])

    def last_purge_seq(self) -> int:
        """The newest purge-log sequence number (0 when empty)."""
        return int(self.conn.execute("SELECT coalesce(max(seq), 0) FROM purge_log").fetchone()[0])

    # -- idempotency keys --------------------------------------------------

    def idempotent_response(self, key: str) -> StoredAnswer | None:
        """The answer stored for an Idempotency-Key, if seen."""
        row = self.conn.execute(
            "SELECT fingerprint, status, body FROM idempotency WHERE key = ?", (key,)
        ).fetchone()
        return None if row is None else StoredAnswer(row[0], row[1], row[2])

    def remember_response(self, key: str, fingerprint: str, status: int, body: bytes) -> None:
        """Store the response of a write under its Idempotency-Key, dropping expired keys."""
        now = int(time.time())
        with_tx = not self.conn.in_transaction
        if with_tx:
            self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute(
            "INSERT OR REPLACE INTO idempotency (key, fingerprint, status, body, created)"
            " VALUES (?, ?, ?, ?, ?)",
            (key, fingerprint, status, body, now),
        )
        self.conn.execute("DELETE FROM idempotency WHERE created < ?", (now - IDEMPOTENCY_KEEP_S,))
        if with_tx:
            self.conn.execute("COMMIT")

    # -- reads -------------------------------------------------------------

    def count(self) -> int:
        """Number of posts."""
        return int(self.conn.execute("SELECT count(*) FROM posts").fetchone()[0])

    def get(self, source_id: str) -> StoredPost | None:
        """One post by source id, or None."""
        row = self.conn.execute(
            "SELECT id, slug, hash, body FROM posts WHERE source_id = ?", (source_id,)
        ).fetchone()
        return None if row is None else StoredPost(row[0], row[1], row[2], orjson.loads(row[3]))

    def by_slug(self, slug: str) -> ListedPost | None:
        """The post with this slug, or None."""
        row = self.conn.execute("SELECT id, body FROM posts WHERE slug = ?", (slug,)).fetchone()
        return None if row is None else ListedPost(row[0], orjson.loads(row[1]))

    def keyset(self, after: str | None, limit: int) -> KeysetPage:
        """Posts in source-id order after a cursor, and the next cursor."""
        rows = self.conn.execute(
            "SELECT source_id, hash, slug FROM posts WHERE source_id > ? ORDER BY source_id"
            " LIMIT ?",
            (after or "", limit + 1),
        ).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        return KeysetPage(
            [KeysetRow(r[0], r[1], r[2]) for r in rows], rows[-1][0] if more and rows else None
        )

    def sitemap_rows(self, offset: int, limit: int) -> list[tuple[str, str]]:
        """(slug, published_at) of `limit` posts from `offset`, in id order (the sitemap)."""
        rows = self.conn.execute(
            "SELECT slug, published_at FROM posts ORDER BY id LIMIT ? OFFSET ?", (limit, offset)
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def listing(self, name: str, page: int, per_page: int) -> ListingPage:
        """One page of a listing (`home`, `stack:SLUG`, `tag:SLUG`), newest first."""
        offset = (page - 1) * per_page
        title: str | None = None
        if name == "home":
            rows = self.conn.execute(
                "SELECT id, body FROM posts ORDER BY published_at DESC, id DESC LIMIT ? OFFSET ?",
                (per_page + 1, offset),
            ).fetchall()
        else:
            kind, _, slug = name.partition(":")
            rows = self.conn.execute(
                "SELECT p.id, p.body FROM listing_rows t JOIN posts p ON p.id = t.post_id"
                " WHERE t.kind = ? AND t.slug = ?"
                " ORDER BY t.published DESC, t.post_id DESC LIMIT ? OFFSET ?",
                (kind, slug, per_page + 1, offset),
            ).fetchall()
            named = self.conn.execute(
                "SELECT name FROM term_names WHERE kind = ? AND slug = ?", (kind, slug)
            ).fetchone()
            title = named[0] if named else None
        items = [ListedPost(r[0], orjson.loads(r[1])) for r in rows]
        peek = items[per_page].key if len(items) > per_page else None
        return ListingPage(items[:per_page], peek is not None, peek, title)

    def search(self, q: str, page: int, per_page: int) -> tuple[list[ListedPost], bool]:
        """Posts whose title or body hold every word of `q`, newest first; (items, has_next)."""
        query = fts_query(q)
        if query is None:
            return [], False
        # FTS5 walks its index in rowid order and stops at LIMIT: no ranking of every match.
        try:
            rows = self._search_rows(query, per_page + 1, (page - 1) * per_page)
        except sqlite3.OperationalError:
            # fts_query only emits quoted single words; should FTS5 still refuse one, the
            # reader gets "no results", never a 500.
            return [], False
        items = [ListedPost(r[0], orjson.loads(r[1])) for r in rows]
        return items[:per_page], len(items) > per_page

    def _search_rows(self, query: str, limit: int, offset: int) -> list[tuple[int, bytes]]:
        return self.conn.execute(
            "SELECT p.id, p.body FROM (SELECT rowid FROM posts_fts WHERE posts_fts MATCH ?"
            " ORDER BY rowid DESC LIMIT ? OFFSET ?) m JOIN posts p ON p.id = m.rowid"
            " ORDER BY p.id DESC",
            (query, limit, offset),
        ).fetchall()

    def similar(self, item: ListedPost, limit: int = 6) -> list[SimilarPost]:
        """The post's declared similar posts that exist, filled up by stack and tools."""
        post = item.post
        out: list[SimilarPost] = []
        seen = {item.id}
        for post_id, slug, title, source_id in self.conn.execute(
            "SELECT p.id, p.slug, p.title, p.source_id FROM post_similar s"
            " JOIN posts p ON p.source_id = s.similar_source_id"
            " WHERE s.post_id = ? ORDER BY s.pos LIMIT ?",
            (item.id, limit),
        ):
            if post_id not in seen:
                seen.add(post_id)
                out.append(SimilarPost(slug, title, source_id))
        if len(out) >= limit:
            return out[:limit]
        for kind, term_slug, _ in post_terms(post):
            if kind == "stack":
                sql = (
                    "SELECT p.id, p.slug, p.title, p.source_id"
                    " FROM listing_rows t JOIN posts p ON p.id = t.post_id"
                    " WHERE t.kind = 'stack' AND t.slug = ?"
                    " ORDER BY t.published DESC, t.post_id DESC LIMIT ?"
                )
            elif kind == "tool":
                sql = (
                    "SELECT p.id, p.slug, p.title, p.source_id"
                    " FROM post_tools t JOIN posts p ON p.id = t.post_id"
                    " WHERE t.slug = ? ORDER BY t.post_id DESC LIMIT ?"
                )
            else:
                continue
            for post_id, slug, title, source_id in self.conn.execute(
                sql, (term_slug, limit + len(seen))
            ):
                if post_id not in seen:
                    seen.add(post_id)
                    out.append(SimilarPost(slug, title, source_id))
                    if len(out) >= limit:
                        return out
        return out

    # -- login sessions ----------------------------------------------------

    def create_session(self, id_hash: str, username: str, display_name: str, ttl_s: int) -> None:
        """Store a login session (by the hash of its cookie value)."""
        now = int(time.time())
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute("DELETE FROM sessions WHERE expires < ?", (now,))
        self.conn.execute(
            "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, ?)",
            (id_hash, username, display_name, now + ttl_s),
        )
        self.conn.execute("COMMIT")

    def session(self, id_hash: str) -> SessionUser | None:
        """Who a live session belongs to, or None."""
        row = self.conn.execute(
            "SELECT username, display_name FROM sessions WHERE id_hash = ? AND expires >= ?",
            (id_hash, int(time.time())),
        ).fetchone()
        return None if row is None else SessionUser(row[0], row[1])

    def delete_session(self, id_hash: str) -> None:
        """End a login session."""
        self.conn.execute("DELETE FROM sessions WHERE id_hash = ?", (id_hash,))
