"""JSONL: canonical bytes, the content hash, and a streaming reader with line numbers."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from anp_synth import textfile
from anp_synth.contract import MAX_POST_BYTES
from anp_synth.errors import InputError

HASH_BYTES = 12  # 24 hex characters, as in the seed article
# The longest input line read: a post larger than the contract lets one PUT be can never be
# imported, so a longer line is reported (with its first LONG_LINE_KEPT bytes) and skipped.
MAX_LINE_BYTES = MAX_POST_BYTES
LONG_LINE_KEPT = 200


def dumps_line(obj: Any) -> bytes:
    """One JSONL line: orjson bytes in the object's own key order, newline-terminated."""
    return orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE)


def content_hash(post: dict[str, Any]) -> str:
    """24-hex digest of a post's whole content (`meta.hash` included), independent of key order."""
    return hashlib.blake2b(
        orjson.dumps(post, option=orjson.OPT_SORT_KEYS), digest_size=HASH_BYTES
    ).hexdigest()


@dataclass(slots=True)  # never changed, yet not frozen: one a post, ~4x cheaper to make
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
    A line longer than MAX_LINE_BYTES comes as an error with its first bytes only: it is
    skipped in blocks, never held in memory whole.
    """
    number = 0
    while raw := stream.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            skipped = len(raw) + _skip_rest_of_line(stream)
            yield Line(
                number,
                raw[:LONG_LINE_KEPT],
                error=f"line of {skipped:,} bytes is longer than the limit of {MAX_LINE_BYTES:,}",
            )
            continue
        stripped = raw.strip()
        if not stripped:
            continue
        if not parse:
            yield Line(number, stripped)
            continue
        yield parse_line(Line(number, stripped))


def _skip_rest_of_line(stream: BinaryIO) -> int:
    """Read past the rest of a line in blocks; its length without the newline."""
    skipped = 0
    while block := stream.readline(1 << 20):
        if block.endswith(b"\n"):
            return skipped + len(block) - 1
        skipped += len(block)
    return skipped


def parse_line(line: Line) -> Line:
    """The line parsed (as `iter_lines` with parse=True would have yielded it)."""
    if line.error is not None:  # too long to parse: stays what it was
        return line
    try:
        return Line(line.number, line.raw, orjson.loads(line.raw))
    except orjson.JSONDecodeError as exc:
        # bytes that are not UTF-8 are said as such, where they are (orjson says "line 1")
        problem = textfile.utf8_problem(line.raw, line.number)
        return Line(line.number, line.raw, error=problem or f"invalid JSON: {exc}")


def open_input(path: str) -> BinaryIO:
    """Open a JSONL path for reading; `-` is standard input.

    A UTF-16 or UTF-32 input is refused before a line is read (InputError naming it); a
    UTF-8 byte-order mark is skipped (JSON allows one).
    """
    stream: BinaryIO = sys.stdin.buffer if path == "-" else Path(path).open("rb")  # noqa: SIM115 - the caller closes it
    peek = getattr(stream, "peek", None)
    head = peek(64)[:64] if peek is not None else b""
    wide = textfile.wide_encoding(head)
    if wide is not None:
        if path != "-":
            stream.close()
        where = "stdin" if path == "-" else path
        raise InputError(where, None, None, f"the input is {wide}; {textfile.SAVE_AS}")
    if head.startswith(textfile.UTF8_BOM):
        stream.read(len(textfile.UTF8_BOM))
    return stream


def read_document(path: str | Path, fmt: str, what: str) -> dict[str, Any]:
    """A whole JSON file whose `format` field is `fmt`; InputError names the file and field."""
    p = Path(path)
    doc = textfile.read_json(p)
    if not isinstance(doc, dict) or doc.get("format") != fmt:
        raise InputError(str(p), None, "format", f"not {what} (expected {fmt!r})")
    return doc
