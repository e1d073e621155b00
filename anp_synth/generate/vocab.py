"""Word pools: the technical vocabulary (data files) and per-locale text pools from Faker.

Pools are built once per (locale) per process from a fixed Faker seed, so they
depend only on the pinned Faker version, and the hot path only picks from them.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from anp_synth.generate.draws import zipf_cumulative

SENTENCE_POOL = 2000
NAME_POOL = 60
POOL_SEED = 20260101


def _data(name: str) -> Any:
    return json.loads(
        resources.files("anp_synth.generate").joinpath("data", name).read_text("utf-8")
    )


@dataclass(frozen=True)
class Vocabulary:
    """The locale-independent technical vocabulary, with Zipf weights where real data is skewed."""

    raw: dict[str, Any]
    stacks: list[dict[str, Any]]
    stack_weights: list[int]
    problems: list[str]
    scenarios: list[str]
    all_tools: list[str]
    tool_weights: list[int]
    view_count_quantiles: list[int]


@functools.cache
def vocabulary() -> Vocabulary:
    """The technical vocabulary (cached per process)."""
    raw = _data("vocab.json")
    stacks = raw["stacks"]
    seen: dict[str, None] = {}
    for stack in stacks:
        for tool in stack["tools"]:
            seen.setdefault(tool, None)
    all_tools = list(seen)
    return Vocabulary(
        raw=raw,
        stacks=stacks,
        stack_weights=zipf_cumulative(len(stacks)),
        problems=raw["problems"],
        scenarios=raw["scenarios"],
        all_tools=all_tools,
        tool_weights=zipf_cumulative(len(all_tools)),
        view_count_quantiles=_data("distributions.json")["view_count_quantiles"],
    )


@dataclass(frozen=True)
class LocalePools:
    """Per-locale templates and Faker-made pools (names, sentences)."""

    locale: str
    templates: dict[str, Any]
    authors: list[str]
    author_weights: list[int]
    sentences: list[str]


def supported_locales() -> list[str]:
    """Locales that have templates in data/locales.json."""
    return sorted(_data("locales.json"))


@functools.cache
def locale_pools(locale: str) -> LocalePools:
    """Build the pools of one locale once per process, from a fixed Faker seed."""
    from faker import Faker  # heavy import: only when a post is built

    templates = _data("locales.json")[locale]
    fake = Faker(locale)
    fake.seed_instance(POOL_SEED)
    authors = [fake.name() for _ in range(NAME_POOL)]
    sentences: list[str] = []
    if templates["prose"] == "faker":
        sentences = [fake.sentence(nb_words=10) for _ in range(SENTENCE_POOL)]
    return LocalePools(
        locale=locale,
        templates=templates,
        authors=authors,
        author_weights=zipf_cumulative(len(authors)),
        sentences=sentences,
    )
