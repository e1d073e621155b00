"""The OpenAPI document of the import API: every request body, answer, bound and the token.

FastAPI derives paths, summaries and query parameters from the routes; the handlers read their
bodies raw (size limits, speed), so what they accept and answer is written here, once, from the
post model and the contract's limits. tests/site/test_openapi.py checks it against the routes,
and tests/thirdparty runs schemathesis against the real server with it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from anp_synth.contract import (
    BULK_PATH,
    MAX_BULK_BYTES,
    MAX_BULK_POSTS,
    MAX_IDEMPOTENCY_KEY,
    MAX_POST_BYTES,
    POSTS_PATH,
    PURGE_PATH,
    post_path,
)
from anp_synth.edge.keys import SAFE_KEY_PATTERN
from anp_synth.post import HASH_RE, MAX_INT, SOURCE_ID_RE, Post
from anp_synth.site.api import MAX_REPORTED_ERRORS, MAX_ROUTE

POST_ITEM = post_path("{source_id}")
SECURITY_SCHEME = "bearerAuth"

_JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    """A closed JSON object: exactly these keys, the `required` ones always present."""
    return {
        "type": "object",
        "properties": {**required, **(optional or {})},
        "required": list(required),
        "additionalProperties": False,
    }


_STR = {"type": "string"}
_NULLABLE_STR = {"type": ["string", "null"]}
_SOURCE_ID = {"type": "string", "pattern": SOURCE_ID_RE}
_COUNT = {"type": "integer", "minimum": 0, "maximum": MAX_BULK_POSTS}
_INDEX = {"type": "integer", "minimum": 0, "maximum": MAX_BULK_POSTS - 1}
_WRITTEN = {
    "result": {"type": "string", "enum": ["created", "updated", "unchanged"]},
    "source_id": _SOURCE_ID,
    "id": {"type": "integer", "minimum": 1, "maximum": MAX_INT},
    "url": {"type": "string", "format": "uri"},
    "hash": {"type": "string", "pattern": HASH_RE},
}
_PREVIOUS = {"previous": {**_ref("Post"), "description": "The post before this update."}}

ANSWERS: dict[str, dict[str, Any]] = {
    "Error": {
        **_object(
            {"error": {**_STR, "description": "`FIELD.PATH: message`, or what went wrong."}},
            {
                "field": {**_NULLABLE_STR, "description": "The field path, e.g. `sections[0]`."},
                "errors": {
                    "type": "array",
                    "description": f"Every error of an invalid post (at most {MAX_REPORTED_ERRORS}).",
                    "items": _object({"field": _STR, "message": _STR}),
                },
            },
        ),
        "description": "Every non-2xx answer of the API.",
    },
    "Written": {
        **_object(_WRITTEN, _PREVIOUS),
        "description": "An upsert's answer; `previous` only when the post was updated.",
    },
    "BulkWritten": _object({**_WRITTEN, "index": _INDEX}, _PREVIOUS),
    "BulkFailed": _object(
        {
            "result": {"type": "string", "enum": ["error"]},
            "index": _INDEX,
            "source_id": {"type": ["string", "null"], "pattern": SOURCE_ID_RE},
            "status": {"type": "integer", "enum": [409, 413, 422]},
            "error": _STR,
            "field": _NULLABLE_STR,
        }
    ),
    "BulkAnswer": _object(
        {
            "items": {
                "type": "array",
                "maxItems": MAX_BULK_POSTS,
                "items": {"oneOf": [_ref("BulkWritten"), _ref("BulkFailed")]},
                "description": "One result per posted item, in input order.",
            },
            "counts": _object({k: _COUNT for k in ("created", "updated", "unchanged", "error")}),
        }
    ),
    "Stored": _object(
        {
            "source_id": _SOURCE_ID,
            "id": _WRITTEN["id"],
            "url": _WRITTEN["url"],
            "hash": _WRITTEN["hash"],
            "post": _ref("Post"),
        }
    ),
    "Listing": _object(
        {
            "items": {
                "type": "array",
                "items": _object(
                    {"source_id": _SOURCE_ID, "hash": _WRITTEN["hash"], "url": _WRITTEN["url"]}
                ),
            },
            "next": {
                **_NULLABLE_STR,
                "description": "The cursor of the next page; null at the end.",
            },
        }
    ),
    "Purged": _object(
        {
            "requested": {"type": "array", "items": _STR},
            "purged": {
                "type": "array",
                "items": _STR,
                "description": "The routes that were cached here (and now are not).",
            },
            "keys": {"type": "array", "items": _STR},
            "purged_by_key": {
                "type": "array",
                "items": _STR,
                "description": "The cached pages the keys named (and now are not).",
            },
        }
    ),
    "Health": _object(
        {
            "status": {"type": "string", "enum": ["ok"]},
            "db": {"type": "string", "enum": ["ok"]},
            "posts": {"type": "integer", "minimum": 0, "maximum": MAX_INT},
            "version": _STR,
            "schema": {"type": "integer", "minimum": 1},
        }
    ),
    "Unhealthy": _object({"status": {"type": "string", "enum": ["error"]}, "db": _STR}),
}

_BULK_POSTS = {
    "type": "array",
    "maxItems": MAX_BULK_POSTS,
    # The request is valid with invalid items (they fail one by one, in a 200), so the items
    # are any JSON here; Post is what each must be to be written.
    "items": {
        **_ref("JsonValue"),
        "description": (
            "A post: each item is checked against Post on its own, and an invalid one fails "
            "only itself (`result: error`, `status: 422`)."
        ),
    },
}
# Any JSON value (the site reads every number a double holds; a literal past that, 1e400, makes
# the whole body unreadable, 422), nested as deep as the client likes.
_JSON_VALUE = {
    "anyOf": [
        {"type": ["string", "boolean", "null", "number"]},
        {"type": "array", "items": _ref("JsonValue")},
        {"type": "object", "additionalProperties": _ref("JsonValue")},
    ]
}

_ROUTE = {"type": "string", "pattern": "^/", "maxLength": MAX_ROUTE}
_KEY = {"type": "string", "pattern": f"^{SAFE_KEY_PATTERN}$"}

BODIES: dict[str, dict[str, Any]] = {
    "JsonValue": _JSON_VALUE,
    "PurgeRequest": {
        **_object(
            {},
            {
                "routes": {"type": "array", "items": _ROUTE},
                "keys": {"type": "array", "items": _KEY},
            },
        ),
        "minProperties": 1,
    },
    "BulkRequest": {
        "oneOf": [_object({"posts": _BULK_POSTS}), _BULK_POSTS],
        "description": f'`{{"posts": [...]}}` or a bare array; at most {MAX_BULK_POSTS} items.',
    },
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": schema}}}


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = _json(_ref("Error"), description)
    if headers:
        answer["headers"] = headers
    return answer


_UNAUTHORIZED = _error(
    "Missing or wrong token.",
    {"WWW-Authenticate": {"schema": {"type": "string", "enum": ["Bearer"]}, "required": True}},
)
_INVALID = _error("Invalid: `field` names the first bad field, `errors` lists them.")
_NOT_FOUND = _error("No post with this source id (or the segment is not a source id).")
_REPLAYED = {
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer of an earlier request with the key.",
        "schema": {"type": "string", "enum": ["true"]},
    }
}
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Replays the first answer to a request with the same key for 24 hours; the same key "
        "with a different request is refused (422)."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY},
}
_SOURCE_ID_PARAM = {
    "name": "source_id",
    "in": "path",
    "required": True,
    "schema": _SOURCE_ID,
    "description": "The post's identity, `alphanode-NNNNNN`.",
}


_POST_BODY = {"schema": _ref("Post")}


def _written(description: str) -> dict[str, Any]:
    answer = _json(_ref("Written"), description)
    answer["headers"] = _REPLAYED
    return answer


def _too_large(limit: int) -> dict[str, Any]:
    return _error(f"The body is over {limit:,} bytes.")


WRITE: list[dict[str, list[str]]] = [{SECURITY_SCHEME: []}]

OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("get", "/health"): {
        "responses": {
            "200": _json(_ref("Health"), "Up; the database answers."),
            "503": _json(_ref("Unhealthy"), "The database does not answer."),
        },
    },
    ("put", POST_ITEM): {
        "security": WRITE,
        "parameters": [_SOURCE_ID_PARAM, _IDEMPOTENCY_KEY],
        "requestBody": {
            "required": True,
            "content": {_JSON: _POST_BODY},
            "description": "The post; its `source_id` must be the one in the URL (else 422).",
        },
        "responses": {
            "200": _written("Updated (with `previous`) or unchanged."),
            "201": _written("Created."),
            "401": _UNAUTHORIZED,
            "404": _error("The path's last segment is not a source id."),
            "409": _error("The slug belongs to another post."),
            "413": _too_large(MAX_POST_BYTES),
            "422": _INVALID,
        },
    },
    ("get", POST_ITEM): {
        "parameters": [_SOURCE_ID_PARAM],
        "responses": {"200": _json(_ref("Stored"), "The stored post."), "404": _NOT_FOUND},
    },
    ("delete", POST_ITEM): {
        "security": WRITE,
        "parameters": [_SOURCE_ID_PARAM],
        "responses": {"204": {"description": "Deleted."}, "401": _UNAUTHORIZED, "404": _NOT_FOUND},
    },
    ("post", BULK_PATH): {
        "security": WRITE,
        "parameters": [_IDEMPOTENCY_KEY],
        "requestBody": {"required": True, "content": {_JSON: {"schema": _ref("BulkRequest")}}},
        "responses": {
            "200": {**_json(_ref("BulkAnswer"), "Per-item results."), "headers": _REPLAYED},
            "401": _UNAUTHORIZED,
            "413": _too_large(MAX_BULK_BYTES),
            "422": _error(f"Not a list of at most {MAX_BULK_POSTS} items, or not JSON."),
        },
    },
    ("get", POSTS_PATH): {
        "responses": {
            "200": _json(_ref("Listing"), "One page, in source-id order."),
            "422": _INVALID,
        },
    },
    ("post", PURGE_PATH): {
        "security": WRITE,
        "requestBody": {"required": True, "content": {_JSON: {"schema": _ref("PurgeRequest")}}},
        "responses": {
            "200": _json(_ref("Purged"), "Purged."),
            "401": _UNAUTHORIZED,
            "413": _too_large(MAX_POST_BYTES),
            "422": _INVALID,
        },
    },
}


def example_post() -> dict[str, Any]:
    """The example of a post in the document: the generator's seed article, post 2852."""
    from anp_synth.generate.builder import build_post  # only when the document is asked for

    return dict(build_post(2852))


def post_components() -> dict[str, Any]:
    """The Post schema and the models it uses, as OpenAPI components."""
    schema = Post.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    return {**defs, "Post": schema}


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """The whole document: FastAPI's paths with this module's bodies, answers and security."""
    doc = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    for (method, path), described in OPERATIONS.items():
        operation = doc["paths"][path][method]
        operation.update(described)
    example = example_post()
    put = doc["paths"][POST_ITEM]["put"]
    put["requestBody"] = {
        **put["requestBody"],
        "content": {_JSON: {**_POST_BODY, "example": example}},
    }
    put["parameters"] = [{**_SOURCE_ID_PARAM, "example": example["source_id"]}, _IDEMPOTENCY_KEY]
    doc["components"] = {
        "schemas": {**post_components(), **ANSWERS, **BODIES},
        "securitySchemes": {
            SECURITY_SCHEME: {
                "type": "http",
                "scheme": "bearer",
                "description": "The site's import token (`<db>.token` or `ANP_SITE_TOKEN`).",
            }
        },
    }
    return doc
