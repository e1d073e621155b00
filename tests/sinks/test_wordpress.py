"""The wordpress sink's error handling and safety checks, on a scripted transport (no WordPress).

The real-WordPress behaviour is in tests/wordpress/.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from anp_synth.errors import TerminalSinkError, TransientSinkError, UsageError, WordPressSetupError
from anp_synth.generate.builder import PostBuilder
from anp_synth.sinks.wordpress import WordPressSink, mu_plugin_source

Handler = Callable[[httpx.Request], httpx.Response]
INFO = {"plugin": "anp-synth", "version": 1, "meta": ["source_id"]}
SECRET = "abcd efgh ijkl mnop qrst uvwx"


def _site(posts_handler: Handler) -> Handler:
    """A fake site: plugin and credential checks pass, /wp/v2/posts goes to `posts_handler`."""

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/wp-json/anp-synth/v1/info":
            return httpx.Response(200, json=INFO)
        if path == "/wp-json/wp/v2/users/me":
            return httpx.Response(200, json={"id": 1})
        return posts_handler(request)

    return handle


def _sink(handler: Handler) -> WordPressSink:
    return WordPressSink(
        "http://wp.test",
        user="admin",
        app_password=SECRET,
        transport=httpx.MockTransport(handler),
    )


def test_server_errors_and_429_are_transient_with_retry_after() -> None:
    sink = _sink(_site(lambda r: httpx.Response(429, headers={"Retry-After": "7"}, json={})))
    with pytest.raises(TransientSinkError) as caught:
        sink.get("alphanode-000001")
    assert caught.value.retry_after == 7.0
    # an HTTP-date too (RFC 9110): one in 1994 means "now"
    long_ago = {"Retry-After": "Sun, 06 Nov 1994 08:49:37 GMT"}
    sink = _sink(_site(lambda r: httpx.Response(503, headers=long_ago, json={})))
    with pytest.raises(TransientSinkError) as caught:
        sink.get("alphanode-000001")
    assert caught.value.retry_after == 0.0
    sink = _sink(_site(lambda r: httpx.Response(503, text="busy")))
    with pytest.raises(TransientSinkError):
        sink.get("alphanode-000001")


def test_timeouts_and_resets_are_transient() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(TransientSinkError, match="timed out"):
        _sink(_site(timeout)).get("alphanode-000001")

    def reset(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("peer closed", request=request)

    with pytest.raises(TransientSinkError):
        _sink(_site(reset)).get("alphanode-000001")


def test_client_errors_are_terminal() -> None:
    sink = _sink(_site(lambda r: httpx.Response(400, json={"code": "rest_invalid_param"})))
    with pytest.raises(TerminalSinkError, match="rest_invalid_param"):
        sink.get("alphanode-000001")


def test_missing_plugin_is_a_setup_error_naming_the_fix() -> None:
    def no_plugin(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"code": "rest_no_route", "message": "No route"})

    with pytest.raises(WordPressSetupError, match="mu-plugin"):
        _sink(no_plugin).get("alphanode-000001")


def test_refused_password_is_a_setup_error_without_the_secret() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/info"):
            return httpx.Response(200, json=INFO)
        return httpx.Response(401, json={"code": "incorrect_password", "message": "no"})

    with pytest.raises(WordPressSetupError) as caught:
        _sink(refuse).get("alphanode-000001")
    assert SECRET not in str(caught.value)
    assert "ANP_WP_APP_PASSWORD" in str(caught.value)


def test_a_lookup_that_ignores_source_id_is_never_acted_on() -> None:
    # Without the plugin's query filter WordPress ignores ?source_id= and returns every post:
    # updating the first one would overwrite the wrong post.
    def everything(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(
                200, json=[{"id": 5, "link": "x", "meta": {"source_id": "alphanode-999999"}}]
            )
        raise AssertionError("no write may happen")

    post = PostBuilder().build(1)
    with pytest.raises(WordPressSetupError, match="mu-plugin"):
        _sink(_site(everything)).upsert(post, idempotency_key="k")


def test_batch_reply_maps_each_item() -> None:
    builder = PostBuilder()
    posts = [builder.build(seed) for seed in (1, 2, 3)]
    sent: list[dict[str, object]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "GET" and path.endswith("/wp/v2/posts"):
            return httpx.Response(200, json=[])
        if path.endswith("/tags") or path.endswith("/categories"):
            name = json.loads(request.content)["name"]
            return httpx.Response(201, json={"id": 100 + len(name)})
        if path.endswith("/batch/v1"):
            body = json.loads(request.content)
            sent.append(body)
            return httpx.Response(
                207,
                json={
                    "responses": [
                        {"status": 201, "body": {"id": 11, "link": "http://wp.test/a/"}},
                        {"status": 400, "body": {"code": "rest_invalid_param", "message": "x"}},
                        {"status": 500, "body": {"code": "db_error", "message": "y"}},
                    ]
                },
            )
        raise AssertionError(f"unexpected {request.method} {path}")

    results = _sink(_site(handle)).upsert_many(posts, idempotency_keys=["a", "b", "c"])
    assert results[0].outcome == "created"  # type: ignore[union-attr]
    assert isinstance(results[1], TerminalSinkError)
    assert isinstance(results[2], TransientSinkError)
    assert len(sent) == 1 and len(sent[0]["requests"]) == 3  # type: ignore[arg-type]


def test_from_env_needs_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANP_WP_USER", raising=False)
    monkeypatch.delenv("ANP_WP_APP_PASSWORD", raising=False)
    with pytest.raises(UsageError, match="ANP_WP_APP_PASSWORD"):
        WordPressSink.from_env("http://127.0.0.1:1")


def test_mu_plugin_ships_in_the_package() -> None:
    source = mu_plugin_source()
    assert "register_post_meta" in source
    assert "rest_post_query" in source
    assert "rest_post_collection_params" in source


def test_a_site_whose_posts_cannot_batch_gets_one_request_per_post() -> None:
    # WordPress 5.6-5.8 has batch/v1 but refuses posts in it: nothing written, fall back.
    posts = [PostBuilder().build(seed) for seed in (1, 2)]
    singles: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "GET" and path.endswith("/wp/v2/posts"):
            return httpx.Response(200, json=[])
        if path.endswith("/tags") or path.endswith("/categories"):
            return httpx.Response(201, json={"id": 7})
        if path.endswith("/batch/v1"):
            refused = {"status": 400, "body": {"code": "rest_batch_not_allowed", "message": "no"}}
            return httpx.Response(207, json={"responses": [refused, refused]})
        if request.method == "POST" and path.endswith("/wp/v2/posts"):
            singles.append(json.loads(request.content)["meta"]["source_id"])
            return httpx.Response(201, json={"id": len(singles), "link": "http://wp.test/x/"})
        raise AssertionError(f"unexpected {request.method} {path}")

    results = _sink(_site(handle)).upsert_many(posts, idempotency_keys=["a", "b"])
    assert [r.outcome for r in results] == ["created", "created"]  # type: ignore[union-attr]
    assert singles == [p["source_id"] for p in posts]


def test_a_refused_term_fails_only_its_post() -> None:
    builder = PostBuilder()
    posts = [builder.build(1), builder.build(2)]
    posts[1] = {**posts[1], "tags": ["refused-by-the-site"]}

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "GET" and path.endswith("/wp/v2/posts"):
            return httpx.Response(200, json=[])
        if path.endswith("/tags") or path.endswith("/categories"):
            if json.loads(request.content)["name"] == "refused-by-the-site":
                return httpx.Response(400, json={"code": "invalid_term", "message": "no"})
            return httpx.Response(201, json={"id": 7})
        if request.method == "POST" and path.endswith("/wp/v2/posts"):
            return httpx.Response(201, json={"id": 1, "link": "http://wp.test/x/"})
        raise AssertionError(f"unexpected {request.method} {path}")

    results = _sink(_site(handle)).upsert_many(posts, idempotency_keys=["a", "b"])
    assert results[0].outcome == "created"  # type: ignore[union-attr]
    assert isinstance(results[1], TerminalSinkError) and "invalid_term" in str(results[1])


def test_a_refused_write_keeps_the_wait_the_site_asked_for() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "GET" and path.endswith("/wp/v2/posts"):
            return httpx.Response(200, json=[])
        if path.endswith("/tags") or path.endswith("/categories"):
            return httpx.Response(201, json={"id": 7})
        return httpx.Response(429, headers={"Retry-After": "5"}, json={"code": "slow_down"})

    with pytest.raises(TransientSinkError) as caught:
        _sink(_site(handle)).upsert(PostBuilder().build(1), idempotency_key="k")
    assert caught.value.retry_after == 5.0 and caught.value.status == 429
    assert str(caught.value).startswith("alphanode-000001: HTTP 429 write: slow_down")


BULK = {"route": "/anp/v1/posts/bulk", "max_posts": 200, "max_bytes": 1 << 24, "modes": ["hooks"]}


def _bulk_site(handler: Handler, bulk: dict[str, object] | None = BULK) -> Handler:
    """A fake site whose plugin (version 2) announces the bulk route."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/wp-json/anp-synth/v1/info":
            return httpx.Response(200, json={**INFO, "version": 2, "bulk": bulk})
        if request.url.path == "/wp-json/wp/v2/users/me":
            return httpx.Response(200, json={"id": 1})
        return handler(request)

    return handle


def test_the_bulk_route_is_used_when_announced_and_maps_each_item() -> None:
    builder = PostBuilder()
    posts = [builder.build(seed) for seed in (1, 2, 3)]
    sent: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/wp-json/anp/v1/posts/bulk", request.url.path
        sent.append(request)
        body = json.loads(request.content)
        assert body["mode"] == "hooks" and [p["source_id"] for p in body["posts"]] == [
            p["source_id"] for p in posts
        ]
        assert body["posts"][0]["tags"] == posts[0]["tags"]  # names: the plugin resolves them
        results = [
            {"status": 201, "outcome": "created", "id": 7, "link": "http://wp.test/a/", "hash": "h"},
            {"status": 200, "outcome": "updated", "id": 8, "link": "l", "hash": "h",
             "previous": json.dumps(posts[1])},
            {"status": 422, "code": "anp_invalid", "message": "slug: expected lowercase words"},
        ]  # fmt: skip
        return httpx.Response(200, json={"mode": "hooks", "results": results})

    sink = _sink(_bulk_site(handle))
    assert sink.max_batch == 200
    results = sink.upsert_many(posts, idempotency_keys=["a", "b", "c"])
    assert results[0].outcome == "created" and results[0].remote_id == "7"  # type: ignore[union-attr]
    assert results[1].previous == posts[1]  # type: ignore[union-attr]
    assert isinstance(results[2], TerminalSinkError) and "slug" in str(results[2])
    assert len(sent) == 1 and sent[0].headers["Idempotency-Key"]
    assert "anp/v1/posts/bulk" in sink.route and "mode hooks" in sink.route


def test_a_version_1_plugin_gets_batch_v1_and_direct_is_refused() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no write")

    old = _sink(_site(handle))  # INFO: version 1, no bulk
    assert "batch/v1" in old.route and "has no bulk route" in old.route
    direct = WordPressSink(
        "http://wp.test",
        user="admin",
        app_password=SECRET,
        wp_mode="direct",
        transport=httpx.MockTransport(_site(handle)),
    )
    with pytest.raises(WordPressSetupError, match="no bulk route"):
        direct.check()
    refusing = WordPressSink(
        "http://wp.test",
        user="admin",
        app_password=SECRET,
        wp_mode="direct",
        transport=httpx.MockTransport(
            _bulk_site(handle, {**BULK, "direct": "tested on database version 53496"})
        ),
    )
    with pytest.raises(WordPressSetupError, match="53496"):
        refusing.check()
    with pytest.raises(UsageError, match="hooks, direct, rest"):
        WordPressSink("http://wp.test", user="a", app_password="b", wp_mode="fast")


def test_a_lost_bulk_answer_is_transient() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"mode": "hooks", "results": []})

    with pytest.raises(TransientSinkError, match="0 results for 1 posts"):
        _sink(_bulk_site(handle)).upsert_many([PostBuilder().build(1)], idempotency_keys=["a"])


def test_the_plugin_check_is_retried_when_the_site_hiccups(monkeypatch: pytest.MonkeyPatch) -> None:
    import anp_synth.sinks.wordpress as wp

    monkeypatch.setattr(wp.time, "sleep", lambda s: None)
    calls = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if len(calls) <= 2:
            return httpx.Response(503, json={})
        return _bulk_site(lambda r: httpx.Response(500))(request)

    assert _sink(flaky).check()["version"] == 2
    assert calls.count("/wp-json/anp-synth/v1/info") == 3


def test_a_checked_post_is_not_checked_again_and_a_plain_dict_is(
    model_checks: list[object],
) -> None:
    from anp_synth.jsonl import content_hash
    from anp_synth.post import checked

    builder = PostBuilder()
    plain = [builder.build(seed) for seed in (4, 5)]
    handed = [checked(p) for p in plain]  # as the importer hands them
    hashes: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        items = json.loads(request.content)["posts"]
        hashes.extend(item["hash"] for item in items)
        results = [{"status": 201, "outcome": "created", "id": 9, "link": "l", "hash": "h"}]
        return httpx.Response(200, json={"mode": "hooks", "results": results * len(items)})

    checks = model_checks
    checks.clear()  # (the two checks that made `handed`)
    sink = _sink(_bulk_site(handle))
    sink.upsert_many(handed, idempotency_keys=["a", "b"])
    assert checks == []  # taken as checked, with the hash made when it was
    bad = builder.build(6)
    bad["meta"]["score"]["quality"] = 1000
    res = sink.upsert_many([plain[0], bad], idempotency_keys=["c", "d"])
    assert len(checks) == 2  # a plain dict is checked by the sink
    assert isinstance(res[1], TerminalSinkError) and "quality" in str(res[1])
    assert hashes == [content_hash(p) for p in (*plain, plain[0])]
