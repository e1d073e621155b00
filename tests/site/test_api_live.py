"""The import API against the real server (subprocess on 127.0.0.1)."""

from __future__ import annotations

import httpx
import orjson
import pytest

from anp_synth.contract import MAX_BULK_POSTS, MAX_POST_BYTES
from anp_synth.jsonl import content_hash
from anp_synth.site.launcher import SiteProcess
from tests.site.conftest import make_post, read_log_when


@pytest.fixture()
def api(live_site: SiteProcess) -> httpx.Client:
    with httpx.Client(base_url=live_site.url, headers=live_site.auth_headers, timeout=30) as c:
        yield c


def put(api: httpx.Client, post: dict, **kw) -> httpx.Response:
    return api.put(f"/api/posts/{post['source_id']}", content=orjson.dumps(post), **kw)


def test_health_reports_db_posts_and_version(api: httpx.Client) -> None:
    body = api.get("/health").json()
    assert body["status"] == "ok" and body["db"] == "ok"
    assert isinstance(body["posts"], int) and body["version"] and body["schema"] >= 1


def test_put_creates_then_unchanged_then_updated_with_previous(api: httpx.Client) -> None:
    post = make_post(410001)
    first = put(api, post)
    assert first.status_code == 201
    created = first.json()
    assert created["result"] == "created"
    assert created["source_id"] == "alphanode-410001"
    assert created["hash"] == content_hash(post)
    assert created["url"].endswith(f"/posts/{post['slug']}")
    assert isinstance(created["id"], int)

    again = put(api, post)
    assert again.status_code == 200
    assert again.json()["result"] == "unchanged"
    assert "previous" not in again.json()

    changed = make_post(410001, title="a new title for the same post")
    updated = put(api, changed)
    assert updated.status_code == 200
    body = updated.json()
    assert body["result"] == "updated"
    assert body["id"] == created["id"]
    assert body["hash"] == content_hash(changed) != created["hash"]
    assert body["previous"] == post

    got = api.get("/api/posts/alphanode-410001").json()
    assert got["post"] == changed and got["hash"] == body["hash"] and got["id"] == created["id"]


def test_get_missing_is_404(api: httpx.Client) -> None:
    assert api.get("/api/posts/alphanode-999998").status_code == 404


def test_delete_is_204_then_404(api: httpx.Client) -> None:
    post = make_post(410002)
    assert put(api, post).status_code == 201
    assert api.delete("/api/posts/alphanode-410002").status_code == 204
    assert api.delete("/api/posts/alphanode-410002").status_code == 404
    assert api.get("/api/posts/alphanode-410002").status_code == 404
    assert api.get(f"/posts/{post['slug']}").status_code == 404


def test_bulk_with_one_bad_item_fails_only_that_item(api: httpx.Client) -> None:
    posts = [make_post(seed) for seed in range(420000, 420010)]
    bad = make_post(420010)
    bad["meta"]["score"]["quality"] = 101
    items = posts[:5] + [bad] + posts[5:]
    response = api.post("/api/posts/bulk", content=orjson.dumps({"posts": items}))
    assert response.status_code == 200
    results = response.json()["items"]
    assert [r["result"] for r in results] == ["created"] * 5 + ["error"] + ["created"] * 5
    assert results[5]["field"] == "meta.score.quality"
    assert results[5]["status"] == 422 and results[5]["source_id"] == "alphanode-420010"
    assert response.json()["counts"] == {"created": 10, "updated": 0, "unchanged": 0, "error": 1}
    assert api.get("/api/posts/alphanode-420010").status_code == 404
    for post in posts:
        assert api.get(f"/api/posts/{post['source_id']}").json()["hash"] == content_hash(post)
    again = api.post("/api/posts/bulk", content=orjson.dumps(posts)).json()
    assert again["counts"]["unchanged"] == 10


@pytest.mark.parametrize(
    "published_at",
    [
        "2025-13-01T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "2025-02-30T00:00:00Z",
        "2025-01-01T25:00:00Z",
    ],
)
def test_an_impossible_date_is_a_422_naming_the_field(api: httpx.Client, published_at: str) -> None:
    post = make_post(425000, published_at=published_at)
    response = put(api, post)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "published_at"
    assert response.json()["error"].startswith("published_at: ")
    assert api.get("/api/posts/alphanode-425000").status_code == 404


def test_bulk_with_one_impossible_date_fails_only_that_item(api: httpx.Client) -> None:
    posts = [make_post(seed) for seed in range(425100, 425104)]
    bad = make_post(425104, published_at="2025-13-01T00:00:00Z")
    response = api.post("/api/posts/bulk", content=orjson.dumps({"posts": [*posts, bad]}))
    assert response.status_code == 200, response.text
    results = response.json()["items"]
    assert [r["result"] for r in results] == ["created"] * 4 + ["error"]
    assert results[4]["status"] == 422 and results[4]["field"] == "published_at"
    for post in posts:
        assert api.get(f"/api/posts/{post['source_id']}").status_code == 200


def test_bulk_over_the_limit_is_refused(api: httpx.Client) -> None:
    posts = [make_post(430000)] * (MAX_BULK_POSTS + 1)
    response = api.post("/api/posts/bulk", content=orjson.dumps({"posts": posts}))
    assert response.status_code == 422
    assert response.json()["field"] == "posts"


def test_keyset_listing_walks_every_post_once(api: httpx.Client) -> None:
    posts = [make_post(seed) for seed in range(440000, 440025)]
    api.post("/api/posts/bulk", content=orjson.dumps({"posts": posts})).raise_for_status()
    seen: list[str] = []
    after = None
    for _ in range(1000):
        params = {"limit": 7} | ({"after": after} if after else {})
        page = api.get("/api/posts", params=params).json()
        seen += [item["source_id"] for item in page["items"]]
        after = page["next"]
        if after is None:
            break
    assert seen == sorted(set(seen))
    assert {p["source_id"] for p in posts} <= set(seen)
    assert api.get("/api/posts", params={"limit": 0}).status_code == 422


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/api/posts/alphanode-450000"),
        ("POST", "/api/posts/bulk"),
        ("DELETE", "/api/posts/alphanode-450000"),
        ("POST", "/api/purge"),
    ],
)
@pytest.mark.parametrize("auth", [None, "Bearer wrong-token-wrong-token", "Basic abc"])
def test_no_write_without_the_token(
    live_site: SiteProcess, method: str, path: str, auth: str | None
) -> None:
    headers = {"Authorization": auth} if auth else {}
    post = make_post(450000)
    body = orjson.dumps({"posts": [post]} if "bulk" in path else post)
    with httpx.Client(base_url=live_site.url, timeout=10) as client:
        response = client.request(method, path, content=body, headers=headers)
        assert response.status_code == 401
        assert client.get("/api/posts/alphanode-450000").status_code == 404


def test_validation_error_names_the_field_path(api: httpx.Client) -> None:
    post = make_post(460000)
    post["sections"][0]["heading"] = 7
    response = put(api, post)
    assert response.status_code == 422
    assert response.json()["field"] == "sections[0].heading"
    assert response.json()["error"].startswith("sections[0].heading:")
    mismatch = api.put("/api/posts/alphanode-460002", content=orjson.dumps(make_post(460001)))
    assert mismatch.status_code == 422 and mismatch.json()["field"] == "source_id"
    broken = api.put("/api/posts/alphanode-460003", content=b"{not json")
    assert broken.status_code == 422 and broken.json()["field"] == "(body)"


def test_body_over_the_limit_is_413(api: httpx.Client) -> None:
    post = make_post(470000)
    post["lead"] = "x" * (MAX_POST_BYTES + 1)
    assert put(api, post).status_code == 413
    assert api.get("/api/posts/alphanode-470000").status_code == 404


def test_idempotency_key_replays_the_first_answer(api: httpx.Client) -> None:
    post = make_post(480000)
    key = {"Idempotency-Key": "alphanode-480000:" + content_hash(post)}
    first = put(api, post, headers=key)
    second = put(api, post, headers=key)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers.get("idempotent-replayed") == "true"
    other = make_post(480000, title="different payload, same key")
    assert put(api, other, headers=key).status_code == 422


def test_token_never_reaches_the_log(live_site: SiteProcess, api: httpx.Client) -> None:
    put(api, make_post(490000))
    api.get("/", headers={"Cookie": f"anp_session={live_site.token}"})
    api.get("/search", params={"q": live_site.token})
    api.get("/end-of-token-test")
    log = read_log_when(live_site, '"path":"/end-of-token-test"')
    assert '"path":"/api/posts/alphanode-490000"' in log  # the log is being written
    assert live_site.token not in log


def test_openapi_describes_the_import_api(api: httpx.Client) -> None:
    spec = api.get("/openapi.json").json()
    for path in (
        "/api/posts/{source_id}",
        "/api/posts/bulk",
        "/api/posts",
        "/api/purge",
        "/health",
    ):
        assert path in spec["paths"], path
    assert {"put", "get", "delete"} <= set(spec["paths"]["/api/posts/{source_id}"])


def test_logged_in_pages_on_the_real_server(live_site: SiteProcess, api: httpx.Client) -> None:
    post = make_post(491000)
    put(api, post)
    with httpx.Client(base_url=live_site.url, timeout=10) as browser:
        anonymous = browser.get(f"/posts/{post['slug']}")
        assert anonymous.headers["x-cache"] == "MISS; rule=post"
        login = browser.post(
            "/login", data={"username": "ada", "password": "correct horse battery"}
        )
        assert login.status_code == 303
        page = browser.get(f"/posts/{post['slug']}")
        assert page.headers["x-cache"] == "BYPASS; rule=post"
        assert "Ada Lovelace" in page.text
        browser.cookies.clear()
        again = browser.get(f"/posts/{post['slug']}")
        assert again.headers["x-cache"] == "HIT; rule=post"
        assert "Ada Lovelace" not in again.text
