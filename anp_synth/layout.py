"""The reading order of a post's body, written once for every renderer (site, static, WordPress).

After the lead and the figure (each renderer places those), every section shows its heading,
then its paragraphs; the post's code blocks go into the first section, one after each of its
last paragraphs (block i of n after paragraph p - n + i, so one block comes where the seed
article has its snippet, after the first section), any blocks beyond its paragraphs after
its last one; the checklist closes the second section (or the only one). A post without
sections shows its code blocks and checklist alone.
"""

from __future__ import annotations

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


def body_parts(post: dict[str, Any]) -> list[Part]:
    """The post's sections in reading order, code blocks and checklist in their places."""
    code: list[dict[str, Any]] = post["code"]
    sections = post["sections"]
    checklist = Block("checklist", post["checklist"])
    if not sections:
        return [Part(None, [*(Block("code", c) for c in code), checklist])]
    parts = []
    last = len(sections) - 1
    for index, section in enumerate(sections):
        paragraphs = section["paragraphs"]
        blocks: list[Block] = []
        if index == 0:
            after: list[list[Block]] = [[] for _ in range(len(paragraphs) + 1)]
            for block, position in zip(
                code, code_positions(len(paragraphs), len(code)), strict=True
            ):
                after[position + 1].append(Block("code", block))
            blocks.extend(after[0])
            for paragraph, following in zip(paragraphs, after[1:], strict=True):
                blocks.append(Block("paragraph", paragraph))
                blocks.extend(following)
        else:
            blocks.extend(Block("paragraph", p) for p in paragraphs)
        if index == 1 or (index == last == 0):
            blocks.append(checklist)
        parts.append(Part(section["heading"], blocks))
    return parts
