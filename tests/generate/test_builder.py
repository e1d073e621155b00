"""anp_synth.generate.builder: every post obeys the model; variety and distributions look real."""

from __future__ import annotations

import datetime as dt
import re
import statistics
from collections import Counter
from typing import Any

import orjson
import pytest

from anp_synth.generate.builder import MAX_SEED, PostBuilder, build_post
from anp_synth.generate.profile import BUILTIN as PROFILES
from anp_synth.generate.profile import Profile, from_text
from anp_synth.generate.vocab import supported_locales, vocabulary
from anp_synth.post import Post

LOCALES = supported_locales()

SAMPLE = range(10_000, 30_000)  # 20,000 posts: enough for the distribution checks
EDGES = [0, 1, 63, 64, 65, 2852, 3851, 999_934, 999_935, 999_998, MAX_SEED]


@pytest.fixture(scope="module")
def standard() -> list[dict[str, Any]]:
    builder = PostBuilder("standard", "en_US")
    return [builder.build(seed) for seed in SAMPLE]


def _units(text: str, unit: str) -> int:
    return len(text) if unit == "chars" else len(text.split())


# -- the model, identity, consistency ---------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("profile", PROFILES)
def test_every_post_validates_and_is_self_consistent(profile: str, locale: str) -> None:
    builder = PostBuilder(profile, locale)
    slugs = set()
    hashes = set()
    seeds = sorted({*range(400), *EDGES})
    for seed in seeds:
        raw = builder.build(seed)
        post = Post.model_validate(raw)
        assert post.source_id == f"alphanode-{seed:06d}" == post.meta.payload.source_id
        assert post.meta.payload.seed == post.seed == seed
        assert post.meta.reference.startswith(f"anp-ref-{seed:06d}-")
        assert re.fullmatch(r"[0-9a-f]{24}", post.meta.hash), post.meta.hash
        hashes.add(post.meta.hash)
        assert post.slug.isascii() and post.slug.endswith(f"-{seed:06d}")
        slugs.add(post.slug)
        assert post.image == post.meta.image_sources[0]
        assert post.checklist == post.meta.checklist
        for items in (post.meta.stack, post.meta.tools, post.meta.checklist, post.tags):
            assert len(set(items)) == len(items), items
        assert post.meta.payload.paragraphs == sum(len(s.paragraphs) for s in post.sections)
        assert [s.heading for s in post.sections] == [
            builder.pools.templates["headings"][k] for k in ("production", "checklist", "final")
        ]
        similar = [int(s.removeprefix("alphanode-")) for s in post.similar]
        assert seed not in similar and len(set(similar)) == len(similar)
        assert all(abs(s - seed) <= 64 and 0 <= s <= MAX_SEED for s in similar)
        assert post.meta.revision.last_reviewed >= post.published_at[:10]
        assert post.published_at < "2026-01-01"
        # reading time follows the words (characters for Japanese) of the text
        templates = builder.pools.templates
        unit, rate = templates["reading_unit"], templates["reading_rate"]
        units = _units(post.lead, unit) + sum(_units(c, unit) for c in post.checklist)
        units += sum(_units(p, unit) for s in post.sections for p in s.paragraphs)
        assert post.meta.reading_time == max(1, -(-units // rate))
    assert len(slugs) == len(seeds)
    assert len(hashes) == len(seeds)  # 96 drawn bits: a repeat would be a broken stream


def test_posts_do_not_depend_on_what_was_built_before() -> None:
    fresh = build_post(3851)
    builder = PostBuilder()
    for seed in range(2852, 3851):
        builder.build(seed)
    assert orjson.dumps(builder.build(3851)) == orjson.dumps(fresh)


def test_core_facts_are_shared_by_profiles_and_locales() -> None:
    def core(post: dict[str, Any]) -> tuple[Any, ...]:
        meta = post["meta"]
        return (meta["outline"], meta["view_count"], meta["reference"], post["published_at"])

    base = core(build_post(2852))
    for profile in PROFILES:
        for locale in LOCALES:
            assert core(build_post(2852, profile, locale)) == base


CODE_LINES = from_text("[code]\nper_post = [1, 3]\nlines = [0, 40]\n", "code lines")
ONE_BLOCK = from_text("[code]\nper_post = 1\nlines = [1, 40]\n", "one block")


@pytest.mark.parametrize("profile", ["heavy", "standard", CODE_LINES, ONE_BLOCK])
def test_changing_a_post_does_not_change_the_next_one(profile: str | Profile) -> None:
    builder = PostBuilder(profile, "en_US")
    first = builder.build(5)
    expected = orjson.dumps(builder.build(5))
    for key in ("tools", "checklist", "entities", "notes"):
        first["meta"][key].append("mutated")
    first["tags"].append("mutated")
    first["code"][0]["source"] = "mutated"  # one whole snippet a post: a block made per stack
    first["code"].append({"language": "mutated", "source": ""})
    assert orjson.dumps(builder.build(5)) == expected
    assert builder.line(5) == orjson.dumps(builder.build(5), option=orjson.OPT_APPEND_NEWLINE)


# -- volume ---------------------------------------------------------------------


def test_profiles_set_the_meta_volume(standard: list[dict[str, Any]]) -> None:
    mean_standard = statistics.fmean(len(orjson.dumps(p)) for p in standard)
    assert mean_standard >= 3072  # the issue: standard averages >= 3 KB of JSON
    sizes = {}
    lists = {}
    for profile in PROFILES:
        builder = PostBuilder(profile, "en_US")
        posts = [builder.build(seed) for seed in range(2000)]
        sizes[profile] = statistics.fmean(len(orjson.dumps(p)) for p in posts)
        lists[profile] = statistics.fmean(
            min(len(p["meta"][k]) for k in ("tools", "checklist", "entities", "image_sources"))
            for p in posts
        )
    assert sizes["light"] < sizes["standard"] < sizes["heavy"]
    assert sizes["heavy"] > 2 * sizes["standard"]
    assert lists["heavy"] >= 6 and lists["heavy"] > 2 * lists["standard"]


# -- variety --------------------------------------------------------------------


def test_variety_of_stacks_problems_scenarios(standard: list[dict[str, Any]]) -> None:
    vocab = vocabulary()
    stacks = Counter(p["meta"]["outline"]["stack"] for p in standard)
    problems = Counter(p["meta"]["outline"]["problem"] for p in standard)
    scenarios = Counter(p["meta"]["outline"]["context"] for p in standard)
    assert len(stacks) == len(vocab.stacks) >= 12
    assert len(problems) == len(vocab.problems) >= 30
    assert len(scenarios) == len(vocab.scenarios) >= 10
    names = {s["name"] for s in vocab.stacks}
    for family in ("python", "node", "go", "rust", "php", "java"):
        assert any(family in n or family in s["family"] for n in names for s in vocab.stacks)
    # each stack has its own tools and a snippet in its own language
    for stack in vocab.stacks:
        posts = [p for p in standard if p["meta"]["outline"]["stack"] == stack["name"]][:50]
        assert all(len(p["code"]) == 1 for p in posts)  # the built-ins: one whole snippet
        assert {c["language"] for p in posts for c in p["code"]} == {stack["language"]}
        assert {c["source"] for p in posts for c in p["code"]} <= set(stack["snippets"])
        own = [t for p in posts for t in p["meta"]["tools"] if t in stack["tools"]]
        assert len(own) >= 4 * len(posts)
    titles = {p["title"] for p in standard}
    leads = {p["lead"] for p in standard}
    assert len(titles) > 3000 and len(leads) > 1000
    bodies = {tuple(p["sections"][0]["paragraphs"]) for p in standard}
    assert len(bodies) > 3000


@pytest.mark.parametrize(
    ("locale", "script"),
    [("ja_JP", r"[\u3040-\u30ff\u4e00-\u9fff]"), ("ru_RU", r"[\u0400-\u04ff]")],
)
def test_non_latin_locales_use_their_script(locale: str, script: str) -> None:
    builder = PostBuilder("standard", locale)
    pattern = re.compile(script)
    for seed in range(50):
        post = builder.build(seed)
        for text in (post["title"], post["lead"], post["author"], post["meta"]["summary"]):
            assert pattern.search(text), (seed, text)
        assert post["slug"].isascii()


# -- distributions ---------------------------------------------------------------


def test_view_counts_are_heavy_tailed(standard: list[dict[str, Any]]) -> None:
    views = sorted(p["meta"]["view_count"] for p in standard)
    median = views[len(views) // 2]
    p99 = views[int(len(views) * 0.99)]
    mean = statistics.fmean(views)
    assert 5_000 < median < 30_000
    assert mean > 3 * median  # a log-normal with sigma ~1.9 has mean ≈ 6x median
    assert p99 > 50 * median
    assert views[-1] > 1_000_000
    # the top 1% of posts get a large share of all views, as on a real site
    assert sum(views[-len(views) // 100 :]) > 0.2 * sum(views)


def test_more_posts_on_weekdays(standard: list[dict[str, Any]]) -> None:
    days = Counter(dt.date.fromisoformat(p["published_at"][:10]).weekday() for p in standard)
    weekday_share = sum(days[d] for d in range(5)) / len(standard)
    assert weekday_share > 0.8  # uniform days would give 5/7 = 0.714
    assert min(days[d] for d in range(5)) > 2 * max(days[5], days[6])
    hours = Counter(int(p["published_at"][11:13]) for p in standard)
    assert hours[12] > 2 * hours[7]  # office hours peak around midday


def test_published_dates_span_the_window_and_never_pass_the_epoch(
    standard: list[dict[str, Any]],
) -> None:
    dates = sorted(p["published_at"][:10] for p in standard)
    assert dates[0] >= "2023-01-01" and dates[-1] <= "2025-12-31"
    years = Counter(d[:4] for d in dates)
    assert all(years[y] > 5000 for y in ("2023", "2024", "2025"))
    epoch = dt.date(2020, 6, 1)
    builder = PostBuilder(epoch=epoch, window_days=30)
    for seed in range(200):
        day = builder.build(seed)["published_at"][:10]
        assert "2020-05-02" <= day <= "2020-05-31"


def test_stacks_tools_and_tags_are_zipf_skewed(standard: list[dict[str, Any]]) -> None:
    vocab = vocabulary()
    stacks = Counter(p["meta"]["outline"]["stack"] for p in standard)
    ranked = [stacks[s["name"]] for s in vocab.stacks]  # in Zipf rank order
    n = len(standard)
    harmonic = sum(1 / r for r in range(1, len(ranked) + 1))
    assert abs(ranked[0] / n - 1 / harmonic) < 0.02  # rank 1 gets 1/H(n) of the posts
    assert ranked[0] > 1.6 * ranked[1] and ranked[1] > 1.3 * ranked[2]
    assert ranked[0] > 8 * ranked[-1]
    # tags after family and area are the stack's own tools, drawn by popularity (its order)
    python = vocab.stacks[0]
    tags = Counter(
        t
        for p in standard
        if p["meta"]["outline"]["stack"] == python["name"]
        for t in p["tags"][2:]
    )
    assert set(tags) == set(python["tools"])
    first, last = tags[python["tools"][0]], tags[python["tools"][-1]]
    assert first > 4 * last and first == max(tags.values())


def test_build_post_is_cached_and_safe_across_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    seeds = range(500, 900)
    expected = [orjson.dumps(PostBuilder().build(seed)) for seed in seeds]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda seed: orjson.dumps(build_post(seed)), seeds))
    assert got == expected
