"""JSON fragments: a post's JSONL line as one bytes format with slots, in two key orders.

`generate` writes a post as bytes made from pre-serialized pieces instead of a
dict serialized per post: the structure (keys, their order, the constant values)
is taken once from a real post that `build` made, with every varying value
replaced by a marker; the markers become `%`-conversions of one bytes format.
The same is done for the post's canonical form (keys sorted, `meta.hash` left
out: what jsonl.content_hash hashes), so a post costs two `%` formats and one
digest, and its bytes are exactly orjson's for the dict `build` returns (a test
checks it for every profile and locale).

A string's JSON is orjson's (`json`); escaping is per character, so the escaped
parts of a text joined are the escaped text (`fill_parts` relies on it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from operator import itemgetter
from typing import Any, NamedTuple

import orjson

# A private-use character no shipped text contains: it marks a slot (or a placeholder).
MARK = "\ue000"
_MARK_BYTES = MARK.encode()
_SLOT = re.compile(b'"' + _MARK_BYTES + rb"(\d+)" + _MARK_BYTES + b'"')
_CONVERSION = re.compile(rb"%(?:\.\d+|\d+)?[bdx]")


def json(value: Any) -> bytes:
    """orjson's bytes for a value."""
    return orjson.dumps(value)


def inner(text: str) -> bytes:
    """The JSON of a string without its quotes (escaped, ready to join with others)."""
    return orjson.dumps(text)[1:-1]


def fill_parts(template: str, words: dict[str, str], placeholder: str) -> list[bytes]:
    """`template` filled with `words` except `placeholder`, escaped, split where the
    placeholder goes: `inner(value).join(parts)` is `inner(template.format_map(...))`."""
    filled = template.format_map({**words, placeholder: MARK})
    return inner(filled).split(_MARK_BYTES)


class Slot(NamedTuple):
    """A varying value of the structure: where it is, and the format piece that writes it
    (in the line's key order, and in the canonical order if that piece differs)."""

    path: tuple[str, ...]
    piece: bytes
    canonical: bytes | None = None


class LineFormat(NamedTuple):
    """A structure's line format, its canonical format, and how to pick the canonical
    format's values out of the line's values."""

    line: bytes
    canonical: bytes
    pick: Any  # operator.itemgetter over the line's values
    values: int  # how many values the line format takes
    left_out: int  # index of the value of the slot the canonical form leaves out (-1: none)


def compile_format(
    sample: dict[str, Any],
    slots: Sequence[Slot],
    left_out: tuple[str, ...] | None = None,
    newline: bool = False,
) -> LineFormat:
    """The formats of `sample`'s structure with `slots` as its varying values.

    `left_out` is a slot's path the canonical form omits (the hash); the slots
    must be listed in the order they occur in the line. Raises ValueError when
    they are not, or a slot is missing: the structure changed and the slots did not.
    """
    marked = orjson.loads(orjson.dumps(sample))
    for index, slot in enumerate(slots):
        _set(marked, slot.path, f"{MARK}{index}{MARK}")
    line, order = _pieces(orjson.dumps(marked), slots, canonical=False)
    if order != list(range(len(slots))):
        raise ValueError(f"slots out of the line's order: {order}")
    gone = -1
    if left_out is not None:
        gone = next(i for i, slot in enumerate(slots) if slot.path == left_out)
        _delete(marked, left_out)
    canonical, sorted_order = _pieces(
        orjson.dumps(marked, option=orjson.OPT_SORT_KEYS), slots, True
    )
    if sorted(sorted_order) != [i for i in range(len(slots)) if i != gone]:
        raise ValueError(f"slots missing from the canonical form: {sorted_order}")
    counts = [len(_CONVERSION.findall(slot.piece)) for slot in slots]
    starts = [sum(counts[:i]) for i in range(len(slots))]
    picked = [starts[i] + k for i in sorted_order for k in range(counts[i])]
    return LineFormat(
        line + (b"\n" if newline else b""),
        canonical,
        itemgetter(*picked),
        sum(counts),
        starts[gone] if gone >= 0 else -1,
    )


def _pieces(data: bytes, slots: Sequence[Slot], canonical: bool) -> tuple[bytes, list[int]]:
    out: list[bytes] = []
    order: list[int] = []
    position = 0
    for match in _SLOT.finditer(data):
        index = int(match.group(1))
        slot = slots[index]
        out.append(data[position : match.start()].replace(b"%", b"%%"))
        out.append(slot.canonical if canonical and slot.canonical is not None else slot.piece)
        order.append(index)
        position = match.end()
    out.append(data[position:].replace(b"%", b"%%"))
    return b"".join(out), order


def _set(obj: Any, path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        obj = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(obj, dict) or path[-1] not in obj:
        raise ValueError(f"the structure has no {'.'.join(path)}")
    obj[path[-1]] = value


def _delete(obj: Any, path: tuple[str, ...]) -> None:
    for key in path[:-1]:
        obj = obj[key]
    del obj[path[-1]]
