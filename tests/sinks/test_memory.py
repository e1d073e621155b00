"""The memory sink's own behaviour beyond the contract suite: what it records, its bulk replay."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from anp_synth.contract import MAX_BULK_POSTS
from anp_synth.sinks.memory import MemorySink, reset_store, store_for
from tests.importer.posts import post

TARGET = "memory://test-memory"


@pytest.fixture
def sink() -> Iterator[MemorySink]:
    reset_store(TARGET)
    yield MemorySink(TARGET)
    reset_store(TARGET)


def test_purge_records_exactly_the_routes_named(sink: MemorySink) -> None:
    sink.purge(["/", "/posts/a"])
    sink.purge(["/tag/b"])
    assert store_for(TARGET).purged == ["/", "/posts/a", "/tag/b"]


def test_a_repeated_bulk_key_gets_the_first_answer(sink: MemorySink) -> None:
    p = post(1)
    first = sink.upsert_many([p], idempotency_keys=["k"])
    again = sink.upsert_many([p], idempotency_keys=["k"])
    assert [r.outcome for r in first] == [r.outcome for r in again] == ["created"]  # type: ignore[union-attr]
    fresh = MemorySink(TARGET, replay=False).upsert_many([p], idempotency_keys=["k"])
    assert [r.outcome for r in fresh] == ["unchanged"]  # type: ignore[union-attr]


def test_its_bulk_limit_is_the_contracts() -> None:
    assert MemorySink(TARGET).max_batch == MAX_BULK_POSTS
