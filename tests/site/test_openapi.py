"""The OpenAPI document describes the import API as it is; errors and 405s answer like it says."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from anp_synth.contract import MAX_BULK_POSTS, MAX_IDEMPOTENCY_KEY
from anp_synth.site.openapi import OPERATIONS
from tests.site.conftest import make_post


@pytest.fixture()
def doc(app_client: TestClient) -> dict[str, Any]:
    response = app_client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_every_api_route_is_described_and_nothing_else(doc: dict[str, Any]) -> None:
    served = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert served == set(OPERATIONS)
    assert all(not p.startswith(("/posts", "/page", "/login")) for _, p in served)


def test_writes_need_the_bearer_token_and_say_so(doc: dict[str, Any]) -> None:
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    for path, method in [
        ("/api/posts/{source_id}", "put"),
        ("/api/posts/{source_id}", "delete"),
        ("/api/posts/bulk", "post"),
        ("/api/purge", "post"),
    ]:
        op = doc["paths"][path][method]
        assert op["security"] == [{"bearerAuth": []}]
        assert "401" in op["responses"]
    assert "security" not in doc["paths"]["/api/posts/{source_id}"]["get"]


def test_request_bodies_and_answers_are_described(doc: dict[str, Any]) -> None:
    paths = doc["paths"]
    put = paths["/api/posts/{source_id}"]["put"]
    assert put["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Post"
    }
    assert put["requestBody"]["content"]["application/json"]["example"]["source_id"]
    assert set(put["responses"]) == {"200", "201", "401", "404", "409", "413", "422"}
    bulk = paths["/api/posts/bulk"]["post"]
    assert bulk["requestBody"]["required"] is True
    assert set(bulk["responses"]) == {"200", "401", "413", "422"}
    assert set(paths["/api/purge"]["post"]["responses"]) == {"200", "401", "413", "422"}
    assert set(paths["/api/posts/{source_id}"]["delete"]["responses"]) == {"204", "401", "404"}
    schemas = doc["components"]["schemas"]
    body = schemas["BulkRequest"]["oneOf"][0]["properties"]["posts"]
    assert body["maxItems"] == MAX_BULK_POSTS
    purge = schemas["PurgeRequest"]  # routes, keys or both; nothing else
    assert set(purge["properties"]) == {"routes", "keys"} and purge["minProperties"] == 1
    assert purge["additionalProperties"] is False
    assert "HTTPValidationError" not in schemas  # FastAPI's `detail` shape is not what we answer
    error = schemas["Error"]
    assert set(error["properties"]) == {"error", "field", "errors"}
    assert error["required"] == ["error"]
    key = next(p for p in put["parameters"] if p["name"] == "Idempotency-Key")
    assert key["schema"]["maxLength"] == MAX_IDEMPOTENCY_KEY


def test_integers_carry_the_models_bounds(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    assert schemas["Score"]["properties"]["quality"] == {
        "type": "integer",
        "minimum": 0,
        "maximum": 100,
        "title": "Quality",
    }
    for name, field in [("Meta", "view_count"), ("Meta", "reading_time"), ("Payload", "seed")]:
        assert "maximum" in schemas[name]["properties"][field], (name, field)
    limit = next(p for p in doc["paths"]["/api/posts"]["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"]["minimum"] == 1 and limit["schema"]["maximum"] == 1000


def test_an_error_answer_has_the_documented_shape(app_client: TestClient) -> None:
    post = make_post(470000)
    post["meta"]["score"]["quality"] = 101
    response = app_client.put("/api/posts/alphanode-470000", json=post)
    assert response.status_code == 422
    body = response.json()
    assert set(body) == {"error", "field", "errors"}
    assert body["field"] == "meta.score.quality"
    assert body["errors"][0] == {
        "field": "meta.score.quality",
        "message": body["errors"][0]["message"],
    }
    listing = app_client.get("/api/posts", params={"limit": 0})
    assert listing.status_code == 422 and set(listing.json()) == {"error", "field", "errors"}
    assert "detail" not in listing.json()


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PATCH", "/api/posts/alphanode-000001", "DELETE, GET, HEAD, PUT"),
        ("PUT", "/api/posts/bulk", "POST"),
        ("GET", "/api/purge", "POST"),
        ("POST", "/health", "GET, HEAD"),
        ("DELETE", "/api/posts", "GET, HEAD"),
    ],
)
def test_a_405_lists_every_method_of_the_path_and_answers_json(
    app_client: TestClient, method: str, path: str, allow: str
) -> None:
    response = app_client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": "Method Not Allowed"}


def test_a_path_segment_that_is_not_a_source_id_is_a_json_404(app_client: TestClient) -> None:
    response = app_client.get("/api/posts/not-a-source-id")
    assert response.status_code == 404 and response.json() == {"error": "Not Found"}


@pytest.mark.parametrize(
    ("key", "status"), [("", 422), ("k" * (MAX_IDEMPOTENCY_KEY + 1), 422), ("k" * 10, 201)]
)
def test_the_idempotency_key_has_the_documented_length(
    app_client: TestClient, key: str, status: int
) -> None:
    post = make_post(470100)
    response = app_client.put(
        "/api/posts/alphanode-470100", json=post, headers={"Idempotency-Key": key}
    )
    assert response.status_code == status, response.text
    if status == 422:
        assert response.json()["field"] == "Idempotency-Key"


@pytest.mark.parametrize(
    "body",
    [{"posts": [], "extra": 1}, {"paths": []}, {"routes": [], "paths": []}, {"keys": [], "x": 1}],
)
def test_request_objects_refuse_keys_they_do_not_know(
    app_client: TestClient, body: dict[str, Any]
) -> None:
    path = "/api/posts/bulk" if "posts" in body else "/api/purge"
    response = app_client.post(path, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] in {"extra", "paths", "x"}


@pytest.mark.parametrize(
    "path", ["/page/abc", "/page/0", "/stack/x/page/abc", "/tag/y/page/-1", "/search?page=abc"]
)
def test_a_page_with_a_bad_parameter_is_the_sites_404_page(
    app_client: TestClient, path: str
) -> None:
    response = app_client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>404</h1>" in response.text
