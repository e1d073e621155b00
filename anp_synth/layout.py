"""The reading order of a post's body, written once for every renderer (site, static, WordPress).

After the lead and the figure (each renderer places those), every section shows its heading,
then its paragraphs; the post's code blocks go into the first section, one after each of its
last paragraphs (block i of n after paragraph p - n + i, so one block comes where the seed
article has its snippet, after the first section), any blocks beyond its paragraphs after
its last one; the checklist closes the second section (or the only one). A post without
sections shows its code blocks and checklist alone.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from itertools import repeat
from typing import Any, Literal, NamedTuple

Kind = Literal["paragraph", "code", "checklist"]


class Block(NamedTuple):
    """One piece of a section: a paragraph's text, a code block ({language, source}) or the
    checklist's items."""

    kind: Kind
    value: Any


class Part(NamedTuple):
    """A section as it reads: its heading (None for the blocks of a post without sections)."""

    heading: str | None
    blocks: list[Block]


def code_positions(paragraphs: int, blocks: int) -> list[int]:
    """For each code block, the index of the paragraph it follows (-1: before every paragraph)."""
    first = max(paragraphs - blocks, 0)
    return [min(paragraphs - 1, first + i) for i in range(blocks)]


# The tuples made directly (tuple.__new__ is C; a NamedTuple's own __new__ is a Python call):
# a body has a block per paragraph, and every renderer lays out every post.
_block: Callable[[tuple[Kind, Any]], Block] = functools.partial(tuple.__new__, Block)
_part: Callable[[tuple[str | None, list[Block]]], Part] = functools.partial(tuple.__new__, Part)
_PARAGRAPH: Kind = "paragraph"


def body_parts(post: dict[str, Any]) -> list[Part]:
    """The post's sections in reading order, code blocks and checklist in their places."""
    code: list[dict[str, Any]] = post["code"]
    sections = post["sections"]
    checklist = _block(("checklist", post["checklist"]))
    if not sections:
        return [_part((None, [*(_block(("code", c)) for c in code), checklist]))]
    parts = []
    last = len(sections) - 1
    for index, section in enumerate(sections):
        blocks = list(map(_block, zip(repeat(_PARAGRAPH), section["paragraphs"])))
        if index == 0 and code:
            positions = code_positions(len(blocks), len(code))
            # from the last block back (the positions never decrease): each goes in after
            # its paragraph, before the blocks already put there
            for block, position in zip(reversed(code), reversed(positions), strict=True):
                blocks.insert(position + 1, _block(("code", block)))
        if index == 1 or (index == last == 0):
            blocks.append(checklist)
        parts.append(_part((section["heading"], blocks)))
    return parts
