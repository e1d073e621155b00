"""Word pools: the technical vocabulary and the per-locale text pools, all data files.

The per-locale author names were made by the pinned Faker from a fixed seed and
are shipped as `data/pools/<locale>.json`, so generating loads no Faker at all;
the sentences of locales whose prose is a sentence corpus (ja_JP, ru_RU) are
hand-written, in `data/sentences/<locale>.json`;
`build_locale_pools` makes them again and a test checks the shipped files equal
what the pinned Faker makes (`python -m anp_synth.generate.vocab` rewrites them).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from anp_synth.generate.draws import zipf_cumulative

# Author names per locale: a profile's `authors.distinct` takes the first n (60 in the built-ins),
# so a fitted multi-author site gets its own count; distinct names, in Faker's order.
NAME_POOL = 1000
POOL_SEED = 20260101


@functools.cache
def _data(name: str) -> Any:
    """A shipped data file, parsed once per process (callers never mutate it)."""
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
    view_count_logs: list[str]  # ln(q / 12000) of each quantile (builder.view_log_ratios)


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
    distributions = _data("distributions.json")
    return Vocabulary(
        raw=raw,
        stacks=stacks,
        stack_weights=zipf_cumulative(len(stacks)),
        problems=raw["problems"],
        scenarios=raw["scenarios"],
        all_tools=all_tools,
        tool_weights=zipf_cumulative(len(all_tools)),
        view_count_quantiles=distributions["view_count_quantiles"],
        view_count_logs=distributions["view_count_logs"],
    )


@functools.cache
def tag_pool(n: int) -> list[str]:
    """The first `n` tag names, most popular first: the tools of every stack, then each
    tool with a topic word ("pytest testing"), then numbered topics."""
    vocab = vocabulary()
    names = list(vocab.all_tools)
    for word in vocab.raw["tag_topics"]:
        if len(names) >= n:
            break
        names += [f"{tool} {word}" for tool in vocab.all_tools]
    k = 1
    while len(names) < n:
        names.append(f"topic {k}")
        k += 1
    return names[:n]


@dataclass(frozen=True)
class LocalePools:
    """Per-locale templates, Faker-made author names and the sentence corpus (if any)."""

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
    """The pools of one locale, read once per process from the shipped data file."""
    templates = _data("locales.json")[locale]
    shipped = _pools(locale)
    return LocalePools(
        locale=locale,
        templates=templates,
        authors=shipped["authors"],
        author_weights=zipf_cumulative(len(shipped["authors"])),
        sentences=_data(f"sentences/{locale}.json")["sentences"]
        if templates["prose"] == "corpus"
        else [],
    )


@functools.cache
def pools_faker_version(locale: str) -> str:
    """The Faker version that made a locale's shipped pools (recorded in every manifest)."""
    version: str = _pools(locale)["faker_version"]
    return version


@functools.cache
def _pools(locale: str) -> dict[str, Any]:
    pools: dict[str, Any] = _data(f"pools/{locale}.json")
    return pools


def build_locale_pools(locale: str) -> dict[str, Any]:
    """The pools of one locale as the pinned Faker makes them from POOL_SEED (the data file)."""
    from importlib import metadata

    from faker import Faker  # only to (re)build the shipped files

    templates = _data("locales.json")[locale]
    fake = Faker(locale)
    fake.seed_instance(POOL_SEED)
    del templates  # every locale's names come from Faker; prose never does
    authors: list[str] = []
    for _ in range(20 * NAME_POOL):  # bounded: Faker repeats a name now and then
        name = fake.name()
        if name not in authors:
            authors.append(name)
            if len(authors) == NAME_POOL:
                break
    return {"faker_version": metadata.version("faker"), "pool_seed": POOL_SEED, "authors": authors}


def pools_file_bytes(pools: dict[str, Any]) -> bytes:
    """The exact bytes of a shipped pools file (sorted keys, UTF-8, one trailing newline)."""
    return (json.dumps(pools, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode()


def _rewrite_shipped_pools() -> None:
    folder = resources.files("anp_synth.generate").joinpath("data", "pools")
    for locale in supported_locales():
        target = folder.joinpath(f"{locale}.json")
        with resources.as_file(target) as path:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(pools_file_bytes(build_locale_pools(locale)))
            print(f"wrote {path}")


if __name__ == "__main__":
    _rewrite_shipped_pools()
