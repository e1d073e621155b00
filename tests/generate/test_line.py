"""PostBuilder.line and lines (the bytes `generate` writes): orjson's lines of the posts `build` returns."""

from __future__ import annotations

import orjson
import pytest

from anp_synth.generate.builder import MAX_SEED, PostBuilder, builder_for, lines_of
from anp_synth.generate.profile import BUILTIN, from_text
from anp_synth.generate.vocab import supported_locales

SEEDS = [
    *range(0, 70),
    *range(2800, 3000),
    *range(500_000, 560_000, 601),
    *range(999_930, 1_000_000),
]

# Profiles that take every other path of the builder: per-post tags over a large vocabulary,
# several code blocks cut to lines, many images and tool entities, a weekday and hour rhythm,
# weighted paragraph counts with no paragraphs at all, a locale mix with heavy posts.
WIDE = """
[code]
per_post = [0, 4]
lines = [0, 30]
[images]
per_post = [1, 6]
[meta]
tool_entities = true
notes = [0, 8]
similar = [0, 9]
[tags]
per_post = [1, 9]
stack_tags = false
distinct = 5000
zipf = 1.3
[authors]
distinct = 700
zipf = 0.8
[views]
median = 800
sigma = 2.4
[published]
window_days = 400
weekdays = { mon = 20, tue = 20, wed = 20, thu = 20, fri = 15, sat = 3, sun = 2 }
hours = [1,1,1,1,1,1,2,3,5,8,9,9,8,8,9,9,8,6,4,3,2,2,1,1]
"""
MIXED = """
[body]
production_paragraphs = { values = [0, 2, 7], weights = [1, 5, 2] }
final_paragraphs = [0, 3]
closer_per_mille = 900
[tags]
stack_tags = false
distinct = 100
[mix]
locales = { en_US = 60, ja_JP = 25, ru_RU = 15 }
heavy = "heavy"
heavy_per_mille = 150
"""


def _expected(builder: object, seed: int) -> bytes:
    return orjson.dumps(builder.build(seed), option=orjson.OPT_APPEND_NEWLINE)  # type: ignore[attr-defined]


@pytest.mark.parametrize("prepared", [False, True])
@pytest.mark.parametrize("locale", supported_locales())
@pytest.mark.parametrize("profile", BUILTIN)
def test_line_is_the_built_posts_json(profile: str, locale: str, prepared: bool) -> None:
    builder = PostBuilder(profile, locale)
    if prepared:
        builder.prepare()
    for seed in SEEDS:
        line = builder.line(seed)
        assert line == _expected(builder, seed), seed


@pytest.mark.parametrize("locale", [None, "ja_JP"])
@pytest.mark.parametrize("text", [WIDE, MIXED], ids=["wide", "mixed"])
def test_line_is_the_built_posts_json_for_profile_files(text: str, locale: str | None) -> None:
    builder = builder_for(from_text(text, "custom.toml"), locale)
    for seed in SEEDS:
        assert builder.line(seed) == _expected(builder, seed), seed


def test_a_built_post_is_its_own_a_line_shares_the_builders_lists() -> None:
    builder = PostBuilder("standard", "en_US")
    builder.prepare()
    seed = 4100
    before = builder.line(seed)
    post = builder.build(seed)
    for items in (post["checklist"], post["tags"], post["meta"]["tools"], post["meta"]["stack"]):
        items.append("changed")
    assert builder.line(seed) == before and builder.build(seed) != post


def test_line_does_not_depend_on_the_posts_made_before() -> None:
    one, other = PostBuilder(), PostBuilder()
    for seed in range(4000, 4300):
        other.line(seed)
    assert [one.line(s) for s in (0, 64, 4100, MAX_SEED)] == [
        other.line(s) for s in (0, 64, 4100, MAX_SEED)
    ]


def test_lines_join_the_lines_and_leave_the_collector_as_found() -> None:
    import gc

    builder = PostBuilder()
    assert builder.lines(2852, 40) == b"".join(builder.line(s) for s in range(2852, 2892))
    assert gc.isenabled()
    seen: list[bool] = []

    def failing(seed: int) -> bytes:
        seen.append(gc.isenabled())
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        lines_of(failing, 0, 3)
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:
        builder.lines(0, 3)
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize(
    "lines",
    [
        "7",
        "[0, 40]",  # a whole snippet, and blocks past the kept 32 lines
        "{ values = [0, 2, 33, 200], weights = [1, 2, 3, 4] }",
        "{ values = [5], weights = [3] }",  # one value, still drawn
    ],
)
def test_one_block_posts_are_the_posts_of_the_general_code_path(lines: str) -> None:
    # one block a post takes a path of its own (its code kept by snippet and line count);
    # the general path of any number of blocks makes the same draws, so the same posts
    text = f"[code]\nper_post = 1\nlines = {lines}\n"
    fast = PostBuilder(from_text(text, "one-block.toml"), "en_US")
    general = PostBuilder(from_text(text, "one-block.toml"), "en_US")
    general._one_block = False
    for seed in (*range(2852, 2952), 999_999):
        assert fast.line(seed) == general.line(seed)
        assert fast.build(seed) == general.build(seed)
