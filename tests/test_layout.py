"""anp_synth.layout: where a post's code blocks and checklist go, the one rule every renderer uses."""

from __future__ import annotations

import copy

import pytest

from anp_synth.generate.builder import build_post
from anp_synth.layout import body_parts, code_positions


@pytest.mark.parametrize(
    ("paragraphs", "blocks", "positions"),
    [
        (4, 1, [3]),  # one block: after the first section, as in the seed article
        (4, 2, [2, 3]),
        (4, 4, [0, 1, 2, 3]),
        (2, 5, [0, 1, 1, 1, 1]),  # more blocks than paragraphs: the rest after the last
        (0, 2, [-1, -1]),  # no paragraph: right after the heading
        (3, 0, []),
    ],
)
def test_code_positions(paragraphs: int, blocks: int, positions: list[int]) -> None:
    assert code_positions(paragraphs, blocks) == positions


def _post(blocks: int) -> dict:  # type: ignore[type-arg]
    post = copy.deepcopy(build_post(2852))
    post["code"] = [{"language": "python", "source": f"block {i}\n"} for i in range(blocks)]
    return post


def test_every_block_is_placed_once_in_order_among_the_first_sections_paragraphs() -> None:
    post = _post(2)
    parts = body_parts(post)
    assert [p.heading for p in parts] == [s["heading"] for s in post["sections"]]
    first = [(b.kind, b.value) for b in parts[0].blocks]
    paragraphs = post["sections"][0]["paragraphs"]
    assert first == [
        *(("paragraph", p) for p in paragraphs[:-1]),
        ("code", post["code"][0]),
        ("paragraph", paragraphs[-1]),
        ("code", post["code"][1]),
    ]
    assert [b.kind for b in parts[1].blocks] == ["checklist"]
    assert parts[1].blocks[0].value == post["checklist"]
    assert all(b.kind == "paragraph" for b in parts[2].blocks)


def test_a_post_with_one_section_or_none_still_shows_its_code_and_checklist() -> None:
    post = _post(3)
    post["sections"] = post["sections"][:1]
    (only,) = body_parts(post)
    assert [b.kind for b in only.blocks].count("code") == 3
    assert only.blocks[-1].kind == "checklist"
    post["sections"] = []
    (loose,) = body_parts(post)
    assert loose.heading is None
    assert [b.kind for b in loose.blocks] == ["code", "code", "code", "checklist"]
    post["code"] = []
    assert [b.kind for b in body_parts(post)[0].blocks] == ["checklist"]
