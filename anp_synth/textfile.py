"""A user's text file read in one place: every input is UTF-8, and a file that is not says so.

Missing, a directory, unreadable, UTF-16 or UTF-32 (recognised by a byte-order mark, or by
the NUL bytes of UTF-16 without one), a UTF-8 byte-order mark (skipped: JSON and TOML allow
it), or invalid UTF-8 — each is one InputError naming the file, in the user's terms:
"not UTF-8 at byte N of line L". Standard library only: the Locust child reads files too.
"""

from __future__ import annotations

import codecs
import json
from pathlib import Path
from typing import Any

from anp_synth.errors import InputError

UTF8_BOM = codecs.BOM_UTF8
# longest first: a UTF-32 LE mark starts with the UTF-16 LE one
_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
SAVE_AS = "save it as UTF-8"


def wide_encoding(head: bytes) -> str | None:
    """ "UTF-16 …"/"UTF-32 …" when the first bytes of a file say so, else None."""
    for bom, name in _WIDE_BOMS:
        if head.startswith(bom):
            return f"{name} (it starts with a {name} byte-order mark)"
    pairs = head[:64]
    if len(pairs) >= 4 and pairs.count(0) * 2 >= len(pairs) - 1:
        # ASCII text in UTF-16 without a mark: every other byte is NUL
        return "UTF-16 (every other byte is NUL)"
    return None


def utf8_problem(data: bytes, first_line: int = 1) -> str | None:
    """None for valid UTF-8, else "not UTF-8 at byte N of line L" (both counted from 1)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        line = first_line + data.count(b"\n", 0, exc.start)
        return f"not UTF-8 at byte {exc.start - line_start + 1} of line {line}"
    return None


def decode(data: bytes, path: str) -> str:
    """The text of a whole file's bytes; InputError when it is not UTF-8 (a UTF-8 BOM is skipped)."""
    wide = wide_encoding(data)
    if wide is not None:
        raise InputError(path, None, None, f"the input is {wide}; {SAVE_AS}")
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
    problem = utf8_problem(data)
    if problem is not None:
        raise InputError(path, None, None, problem)
    return data.decode("utf-8")


def read_bytes(path: str | Path) -> bytes:
    """A file's bytes; InputError names it when it is missing, a directory or unreadable."""
    p = Path(path)
    try:
        return p.read_bytes()
    except FileNotFoundError:
        raise InputError(str(p), None, None, "no such file") from None
    except IsADirectoryError:
        raise InputError(str(p), None, None, "a directory, not a file") from None
    except OSError as exc:
        raise InputError(str(p), None, None, f"cannot read: {exc.strerror or exc}") from None


def read_text(path: str | Path) -> str:
    """A whole UTF-8 text file; every way it can be wrong is one InputError naming it."""
    return decode(read_bytes(path), str(path))


def parse_json(text: str, path: str) -> Any:
    """The JSON document in `text`; InputError names the file, the line and the column."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            path, exc.lineno, None, f"not JSON: {exc.msg} (column {exc.colno})"
        ) from None


def read_json(path: str | Path) -> Any:
    """A whole JSON file, read as `read_text` reads it."""
    return parse_json(read_text(path), str(path))
