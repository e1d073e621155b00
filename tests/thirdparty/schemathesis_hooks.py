"""schemathesis hooks: the two rules of the import API that a JSON Schema cannot state.

Loaded by `st run` through SCHEMATHESIS_HOOKS (tests/thirdparty/test_schemathesis.py). They
change only schema-valid (positive) cases, into requests a real client sends; negative cases
go out exactly as schemathesis made them.
"""

from __future__ import annotations

import itertools
from typing import Any

import schemathesis

_keys = itertools.count(1)


def _positive(case: Any) -> bool:
    meta = case.meta
    return meta is not None and meta.generation.mode.is_positive


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    """A PUT's body names the post of its URL; each request has its own Idempotency-Key."""
    if not _positive(case):
        return case
    if case.method.upper() == "PUT" and isinstance(case.body, dict):
        source_id = case.path_parameters.get("source_id")
        if isinstance(source_id, str):
            case.body["source_id"] = source_id
    if case.headers and "Idempotency-Key" in case.headers:
        # One key per request, as a client makes them; the same key with another request is a
        # 422 (tests/site covers replays). Counted, not random, so a run can be repeated.
        case.headers["Idempotency-Key"] = f"schemathesis-{next(_keys)}"
    return case
