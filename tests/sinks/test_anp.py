"""The anp sink's mapping of HTTP to the two error kinds, and its use of the site's API."""

from __future__ import annotations

import email.utils

import httpx
import pytest

from anp_synth.errors import TerminalSinkError, TransientSinkError
from anp_synth.sinks.anp import AnpSink, batch_key
from anp_synth.sinks.http import RETRY_AFTER_CAP
from anp_synth.sinks.registry import create_sink
from tests.importer.posts import post


def mock_sink(handler) -> AnpSink:  # type: ignore[no-untyped-def]
    return AnpSink("http://127.0.0.1:1", "tok", transport=httpx.MockTransport(handler))


def test_429_and_5xx_are_transient_with_retry_after() -> None:
    sink = mock_sink(
        lambda r: httpx.Response(429, headers={"Retry-After": "3"}, json={"error": "slow down"})
    )
    with pytest.raises(TransientSinkError) as info:
        sink.upsert(post(1), idempotency_key="k")
    assert (info.value.status, info.value.retry_after) == (429, 3.0)
    assert "slow down" in str(info.value)
    sink = mock_sink(lambda r: httpx.Response(503, text="<html>busy</html>"))
    with pytest.raises(TransientSinkError) as info:
        sink.upsert_many([post(1)], idempotency_keys=["k"])
    assert info.value.status == 503 and info.value.retry_after is None


def test_other_4xx_are_terminal() -> None:
    sink = mock_sink(lambda r: httpx.Response(401, json={"error": "missing or wrong token"}))
    with pytest.raises(TerminalSinkError) as info:
        sink.upsert(post(1), idempotency_key="k")
    assert info.value.status == 401


def test_transport_failures_and_garbled_answers_are_transient() -> None:
    def boom(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(TransientSinkError, match="timed out"):
        mock_sink(boom).upsert(post(1), idempotency_key="k")

    def reset(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("peer closed", request=request)

    with pytest.raises(TransientSinkError, match="RemoteProtocolError: peer closed"):
        mock_sink(reset).list()
    with pytest.raises(TransientSinkError, match="unreadable"):
        mock_sink(lambda r: httpx.Response(200, content=b'{"items": [')).upsert_many(
            [post(1)], idempotency_keys=["k"]
        )


def test_nothing_listens_is_transient() -> None:
    sink = create_sink("anp", "http://127.0.0.1:9", "tok", timeout=1.0)
    with pytest.raises(TransientSinkError):
        sink.get("alphanode-000001")


def test_bulk_sends_one_key_derived_from_the_items_and_the_token_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "items": [
                    {
                        "result": "created",
                        "source_id": "alphanode-000001",
                        "id": 7,
                        "url": "http://h/posts/x",
                        "hash": "a" * 24,
                        "index": 0,
                    }
                ]
            },
        )

    res = mock_sink(handler).upsert_many([post(1)], idempotency_keys=["k1"])
    assert res[0].remote_id == "7"  # type: ignore[union-attr]
    assert seen[0].headers["Idempotency-Key"] == batch_key(["k1"]) != batch_key(["k2"])
    assert seen[0].headers["Authorization"] == "Bearer tok"


@pytest.mark.parametrize(
    ("header", "wait"),
    [
        ("2", 2.0),
        ("soon", None),
        # dates far from any clock give exact waits: decades ahead is the cap, 1994 is now
        (email.utils.formatdate(4_000_000_000, usegmt=True), RETRY_AFTER_CAP),
        ("Sun, 06 Nov 1994 08:49:37 GMT", 0.0),
    ],
)
def test_retry_after_in_seconds_or_as_a_date_reaches_the_error(
    header: str, wait: float | None
) -> None:
    sink = mock_sink(lambda r: httpx.Response(503, headers={"Retry-After": header}))
    with pytest.raises(TransientSinkError) as info:
        sink.get("alphanode-000001")
    assert info.value.retry_after == wait


def test_a_wrong_token_is_refused_by_the_real_site(reference_site) -> None:  # type: ignore[no-untyped-def]
    sink = create_sink("anp", reference_site.url, "wrong-token")
    with pytest.raises(TerminalSinkError) as info:
        sink.upsert(post(2), idempotency_key="k")
    assert info.value.status == 401
    sink.close()


def test_purge_empties_exactly_the_named_routes_of_the_site_cache(reference_site) -> None:  # type: ignore[no-untyped-def]
    sink = create_sink("anp", reference_site.url, reference_site.token)
    posts = [post(1710), post(1711)]
    sink.upsert_many(posts, idempotency_keys=["purge-a", "purge-b"])
    paths = [f"/posts/{p['slug']}" for p in posts]
    with httpx.Client(base_url=reference_site.url, timeout=10) as reader:

        def cache(path: str) -> str:
            return reader.get(path).headers["x-cache"].split(";")[0]

        for path in paths:
            cache(path)  # the first read fills the cache
        assert [cache(path) for path in paths] == ["HIT", "HIT"]
        sink.purge([paths[0]])
        assert [cache(path) for path in paths] == ["MISS", "HIT"]
    for p in posts:
        sink.delete(p["source_id"])
    sink.close()


def test_bulk_item_errors_follow_the_status_table_and_name_the_field() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        refused = {"result": "error", "status": 422, "field": "slug", "error": "slug: bad"}
        busy = {"result": "error", "status": 503, "error": "database is locked"}
        return httpx.Response(200, json={"items": [refused, busy]})

    res = mock_sink(handler).upsert_many([post(1), post(2)], idempotency_keys=["a", "b"])
    assert isinstance(res[0], TerminalSinkError) and str(res[0]) == "422 slug: bad"
    assert isinstance(res[1], TransientSinkError) and str(res[1]) == "503 database is locked"
