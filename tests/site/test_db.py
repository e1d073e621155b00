"""Storage: schema migrations, one transaction per write, indexed queries."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest

from anp_synth.site import db as site_db
from anp_synth.site.db import SCHEMA_VERSION, Database, Refused, Written
from tests.site.conftest import make_post


def test_a_new_file_is_migrated_to_the_current_version_in_wal_mode(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.db")
    assert db.schema_version() == SCHEMA_VERSION >= 1
    assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    again = Database(tmp_path / "s.db")  # reopening applies nothing twice
    assert again.schema_version() == SCHEMA_VERSION
    again.close()


def test_an_old_file_is_upgraded_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s.db"
    Database(path).close()
    extra = "CREATE TABLE probe_added_by_v2 (x INTEGER)"
    monkeypatch.setattr(site_db, "MIGRATIONS", (*site_db.MIGRATIONS, extra))
    monkeypatch.setattr(site_db, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    db = Database(path)
    assert db.schema_version() == SCHEMA_VERSION + 1
    db.conn.execute("SELECT count(*) FROM probe_added_by_v2").fetchone()
    db.close()


def test_a_failing_bulk_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = Database(tmp_path / "s.db")
    posts = [make_post(seed) for seed in range(900_000, 900_010)]
    calls = {"n": 0}
    # reaches inside: indexing the 7th post is where a disk error is injected mid-transaction
    original = Database._index

    def failing_index(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 7:
            raise sqlite3.OperationalError("disk I/O error (simulated)")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Database, "_index", failing_index)
    with pytest.raises(sqlite3.OperationalError):
        db.upsert_many(posts)
    assert db.count() == 0  # one transaction: all or nothing
    monkeypatch.setattr(Database, "_index", original)
    results, _ = db.upsert_many(posts)
    assert all(isinstance(r, Written) and r.result == "created" for r in results)


def test_a_slug_held_by_another_post_is_refused_alone(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.db")
    first = make_post(900_100)
    thief = make_post(900_101, slug=first["slug"])
    fine = make_post(900_102)
    results, _ = db.upsert_many([first, thief, fine])
    assert isinstance(results[1], Refused) and results[1].status == 409
    assert results[1].field == "slug"
    assert isinstance(results[0], Written) and isinstance(results[2], Written)
    assert db.count() == 2


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT p.id FROM listing_rows t JOIN posts p ON p.id = t.post_id WHERE t.kind = 'tag'"
        " AND t.slug = 'rust' ORDER BY t.published DESC, t.post_id DESC LIMIT 21",
        "SELECT p.id FROM post_tools t JOIN posts p ON p.id = t.post_id WHERE t.slug = 'git'"
        " ORDER BY t.post_id DESC LIMIT 12",
        "SELECT p.id FROM post_similar s JOIN posts p ON p.source_id = s.similar_source_id"
        " WHERE s.post_id = 1 ORDER BY s.pos LIMIT 6",
        "SELECT id FROM posts ORDER BY published_at DESC, id DESC LIMIT 21",
        "SELECT id FROM posts WHERE slug = 'x'",
        "SELECT source_id FROM posts WHERE source_id > 'a' ORDER BY source_id LIMIT 10",
    ],
)
def test_page_queries_use_indexes_not_scans(tmp_path: Path, sql: str) -> None:
    db = Database(tmp_path / "s.db")
    steps = [row[3] for row in db.conn.execute("EXPLAIN QUERY PLAN " + sql)]
    # A scan in index order that stops at LIMIT is fine; a table scan or a sort is not.
    assert not any(s.startswith("SCAN") and "INDEX" not in s for s in steps), steps
    assert not any("TEMP B-TREE" in s for s in steps), steps


def test_migration_3_rebuilds_the_search_index_from_the_stored_posts(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    db = Database(path)
    post = make_post(900_200, title="kakapo search rebuild")
    db.upsert_many([post])
    db.conn.execute("DROP TABLE posts_fts")  # as a version-2 file would have it: rebuilt anew
    db.conn.execute("CREATE VIRTUAL TABLE posts_fts USING fts5(title, body, content='')")
    db.conn.execute("PRAGMA user_version=2")
    db.close()
    again = Database(path)
    assert again.schema_version() == SCHEMA_VERSION
    items, _ = again.search("kakapo", 1, 20)
    assert [i.post["source_id"] for i in items] == [post["source_id"]]
    # "_" splits words as the tokenizer does; every word must match.
    assert len(again.search("kakapo_rebuild", 1, 20)[0]) == 1
    assert again.search("kakapo_zzzunknownword", 1, 20)[0] == []


def test_migration_4_moves_listing_rows_of_a_version_3_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.db"
    with monkeypatch.context() as patch:
        patch.setattr(site_db, "MIGRATIONS", site_db.MIGRATIONS[:3])
        patch.setattr(site_db, "SCHEMA_VERSION", 3)
        old = Database(path)
        assert old.schema_version() == 3
    post = make_post(900_300)
    old.conn.execute(
        "INSERT INTO posts (id, source_id, slug, title, published_at, hash, body, created_at,"
        " updated_at) VALUES (7, ?, ?, ?, ?, 'h', ?, 0, 0)",
        (post["source_id"], post["slug"], post["title"], post["published_at"], orjson.dumps(post)),
    )
    old.conn.execute(
        "INSERT INTO post_terms VALUES ('tag', 'tapir', ?, 7, 'Tapir')", (post["published_at"],)
    )
    old.close()
    db = Database(path)
    assert db.schema_version() == SCHEMA_VERSION
    page = db.listing("tag:tapir", 1, 20)
    assert [i.post["source_id"] for i in page.items] == [post["source_id"]]
    assert page.title == "Tapir"
    assert db.conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE name = 'post_terms'"
    ).fetchone() == (0,)
