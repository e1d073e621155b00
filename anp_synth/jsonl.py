"""JSONL: canonical bytes, the content hash, and a streaming reader with line numbers."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from anp_synth.errors import InputError

HASH_BYTES = 12  # 24 hex characters, as in the seed article


def dumps_line(obj: Any) -> bytes:
    """One JSONL line: orjson bytes in the object's own key order, newline-terminated."""
    return orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE)


def content_hash(post: dict[str, Any]) -> str:
    """24-hex digest of a post's content, independent of key order and of `meta.hash` itself."""
    meta = post.get("meta")
    if isinstance(meta, dict) and "hash" in meta:
        meta = dict(meta)  # a C-level copy, then drop the key: cheaper than a comprehension
        del meta["hash"]
        post = {**post, "meta": meta}
    data = orjson.dumps(post, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(data, digest_size=HASH_BYTES).hexdigest()


@dataclass(frozen=True, slots=True)
class Line:
    """One input line: its 1-based number, raw bytes, and the parsed value or the parse error."""

    number: int
    raw: bytes
    value: Any = None
    error: str | None = None


def iter_lines(stream: BinaryIO, *, parse: bool = True) -> Iterator[Line]:
    """Parse a JSONL stream lazily; a bad line is reported, not raised, so the rest goes on.

    With `parse=False` lines come unparsed (value None): for callers that can decide from
    the raw bytes alone (the importer's skip path) and call `parse_line` only when needed.
    """
    for number, raw in enumerate(stream, start=1):
        stripped = raw.strip()
        if not stripped:
            continue
        if not parse:
            yield Line(number, stripped)
            continue
        try:
            yield Line(number, stripped, orjson.loads(stripped))
        except orjson.JSONDecodeError as exc:
            yield Line(number, stripped, error=f"invalid JSON: {exc}")


def parse_line(line: Line) -> Line:
    """The line parsed (as `iter_lines` with parse=True would have yielded it)."""
    try:
        return Line(line.number, line.raw, orjson.loads(line.raw))
    except orjson.JSONDecodeError as exc:
        return Line(line.number, line.raw, error=f"invalid JSON: {exc}")


def open_input(path: str) -> BinaryIO:
    """Open a JSONL path for reading; `-` is standard input."""
    if path == "-":
        return sys.stdin.buffer
    return Path(path).open("rb")


def read_document(path: str | Path, fmt: str, what: str) -> dict[str, Any]:
    """A whole JSON file whose `format` field is `fmt`; InputError names the file and field."""
    p = Path(path)
    try:
        doc = orjson.loads(p.read_bytes())
    except OSError as exc:
        raise InputError(str(p), None, None, f"cannot read: {exc.strerror or exc}") from None
    except orjson.JSONDecodeError as exc:
        raise InputError(str(p), None, None, f"not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != fmt:
        raise InputError(str(p), None, "format", f"not {what} (expected {fmt!r})")
    return doc
