"""Posts that read right: tags and tools of the post's stack, no doubled words, real
sentences in ja_JP and ru_RU, image URLs a site can serve."""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

import pytest

from anp_synth.generate.builder import PostBuilder
from anp_synth.generate.profile import BUILTIN, from_text
from anp_synth.generate.vocab import supported_locales, vocabulary

SEEDS = range(40_000, 43_000)
IMAGE_URL = re.compile(r"^/media/\d{13}-[0-9a-f]{12}(-\d+)?\.(jpg|jpeg|png|webp)$")
DOUBLED = re.compile(r"\b(\w+)\s+\1\b", re.IGNORECASE)


def _stack(post: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in vocabulary().stacks if s["name"] == post["meta"]["outline"]["stack"])


def _texts(post: dict[str, Any]) -> list[str]:
    meta = post["meta"]
    return [
        post["title"],
        post["lead"],
        meta["summary"],
        meta["brief"],
        meta["topic"],
        *(p for s in post["sections"] for p in s["paragraphs"]),
        *(i["caption"] for i in meta["image_sources"]),
    ]


@pytest.mark.parametrize("profile", BUILTIN)
def test_tags_and_tools_belong_to_the_posts_stack(profile: str) -> None:
    shared_areas = set(vocabulary().raw["shared_tool_areas"])
    shared = {t for s in vocabulary().stacks if s["area"] in shared_areas for t in s["tools"]}
    builder = PostBuilder(profile, "en_US")
    for seed in SEEDS:
        post = builder.build(seed)
        stack = _stack(post)
        assert post["tags"][:2] == [stack["family"], stack["area"]]
        assert set(post["tags"][2:]) <= set(stack["tools"]), (stack["name"], post["tags"])
        foreign = set(post["meta"]["tools"]) - set(stack["tools"])
        assert foreign <= shared | {"docker"}, (stack["name"], foreign)


def test_tags_drawn_per_post_rank_the_stacks_own_tags_first() -> None:
    profile = from_text("[tags]\nstack_tags = false\ndistinct = 600\nper_post = 2\n", "t.toml")
    builder = PostBuilder(profile, "en_US")
    own = 0
    for seed in SEEDS:
        post = builder.build(seed)
        tools = set(_stack(post)["tools"])
        own += sum(t in tools or t.rsplit(" ", 1)[0] in tools for t in post["tags"])
    assert own / (2 * len(SEEDS)) > 0.5  # Zipf over own-first names: most tags are the stack's


@pytest.mark.parametrize("locale", supported_locales())
def test_no_text_doubles_a_word(locale: str) -> None:
    builder = PostBuilder("standard", locale)
    for seed in SEEDS:
        for text in _texts(builder.build(seed)):
            assert not DOUBLED.search(text), (seed, text)


@pytest.mark.parametrize(
    ("locale", "script"), [("ja_JP", r"[\u3040-\u30ff]"), ("ru_RU", r"[\u0400-\u04ff]")]
)
def test_ja_and_ru_prose_is_sentences_of_the_locales_corpus(locale: str, script: str) -> None:
    corpus = json.loads(
        resources.files("anp_synth.generate")
        .joinpath("data", "sentences", f"{locale}.json")
        .read_text("utf-8")
    )["sentences"]
    split = re.compile(r"(?<=[。.!?])\s*")
    builder = PostBuilder("heavy", locale)
    for seed in range(100):
        post = builder.build(seed)
        assert post["locale"] == locale
        assert post["language"] == locale[:2]  # BCP 47, what a page's lang attribute says
        for paragraph in [post["lead"], *post["sections"][0]["paragraphs"]]:
            sentences = [s for s in split.split(paragraph) if s]
            assert sentences and all(s in corpus for s in sentences), paragraph
            assert len(set(sentences)) == len(sentences)  # never the same sentence twice
            assert re.search(script, paragraph)


@pytest.mark.parametrize("locale", supported_locales())
def test_image_urls_are_paths_of_the_site_itself(locale: str) -> None:
    builder = PostBuilder("heavy", locale)
    for seed in range(2000):
        post = builder.build(seed)
        urls = [i["url"] for i in post["meta"]["image_sources"]]
        assert post["image"]["url"] == urls[0]
        assert all(IMAGE_URL.match(u) for u in urls), urls
        assert len(set(urls)) == len(urls)
