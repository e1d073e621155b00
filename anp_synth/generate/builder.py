"""Build one post as a plain dict from (seed, profile, locale): a pure function.

Two streams per post: `core` (identity, topic, numbers, dates: the same in
every profile and locale) and `text:{profile}:{locale}` (text and list
lengths). Key order is fixed by construction.

Speed: everything that does not depend on the seed is prepared once per
builder (date strings of the window, the reading units of every template and
pool sentence, per-stack strings), and strings that depend only on the topic
(slug prefix, topic, captions) are cached per topic on first use, so the hot
path is integer draws, list picks and a few `str.format` calls.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import string
import threading
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, localcontext
from itertools import accumulate
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

import orjson

from anp_synth import collector
from anp_synth.generate import exact
from anp_synth.generate.draws import Draws, stream_key
from anp_synth.generate.profile import MAX_CODE_LINES, Count, Profile, resolve, zipf_weights
from anp_synth.generate.vocab import (
    LocalePools,
    Vocabulary,
    locale_pools,
    tag_pool,
    vocabulary,
)

GENERATOR = "anp content synthesizer"
MAX_SEED = 999_999
DEFAULT_EPOCH = dt.date(2026, 1, 1)
DEFAULT_WINDOW_DAYS = 3 * 365
NEEDS_REVIEW_PER_MILLE = 400
NEIGHBOURHOOD = 64  # "similar" posts are seeds within this distance
SOURCE_ID_PREFIX = "alphanode-"
source_id_of = (SOURCE_ID_PREFIX + "{:06d}").format  # a post's source id: its seed's 6 digits
_SEED_DIGITS = slice(len(SOURCE_ID_PREFIX), None)  # the digits of a source id
_CORE_KEY = stream_key("core")
_MIX_KEY = stream_key("mix")
_VIEW_FRACTION_BITS = 12
# Text is picked as whole prebuilt variants (made from their own derived streams
# once per builder): thousands of combinations per list, a few draws per post.
PROSE_VARIANTS = 4096
VARIANTS = 1024
STACK_VARIANTS = 512
# Up to this many distinct tags, a stack's variants reach every tag (512 variants of a few
# tags each, over 1..14 stacks); beyond it a post draws its own tags.
VARIANT_TAGS = 128
CACHED_CODE_LINES = 32  # code blocks up to this many lines are made once (see _block)


V = TypeVar("V")


class _StackLists(NamedTuple):
    """The lists one stack variant gives a post."""

    tools: list[str]
    tags: list[str]
    entities: list[dict[str, str]]  # the tools again, as entities (profiles with tool_entities)


class _Checklist(NamedTuple):
    """A checklist variant and its reading units."""

    items: list[str]
    units: int


class _ImageSource(NamedTuple):
    """An image host: its name, and its URL template `before{id}after` split at the id."""

    source: str
    before: str
    after: str

    @classmethod
    def of(cls, source: dict[str, str]) -> _ImageSource:
        before, marker, after = source["url"].partition("{id}")
        # a plain split is what str.format gives only for a template with one {id} and no
        # other braces: the vocabulary's are, checked whenever a builder is made
        if not marker or "{" in before + after or "}" in before + after:
            raise ValueError(f"image source url {source['url']!r}: expected one {{id}}")
        return cls(source["source"], before, after)


class _Filled(NamedTuple):
    """A text and how it is filled in (see `_fill`)."""

    text: str
    how: int


class _Paragraph(NamedTuple):
    """A production paragraph, its closing sentence ("" for none) and how that is filled in."""

    text: str
    closer: str
    how: int


class _WordCounts(NamedTuple):
    """How often each placeholder occurs in a template."""

    stack: int
    problem: int
    scenario: int


# precomputed strings of the hot path, exactly what the f-strings would give
_MINUTE_SECOND = [f":{m:02d}:{s:02d}" for m in range(60) for s in range(60)]
_VERSIONS = [f"{1 + r // 100}.{r // 10 % 10}.{r % 10}" for r in range(300)]


def _fmt_date(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}"


def _units(text: str, unit: str) -> int:
    """Reading units of a text: characters (ja_JP) or whitespace-separated words."""
    return len(text) if unit == "chars" else len(text.split())


@dataclass(frozen=True)
class _Template:
    """A prose template with its reading units precomputed.

    units(template.format(**words)) == base + sum(count[f] * units(words[f])), because
    every placeholder stands between spaces or punctuation, never inside a word.
    """

    text: str
    base: int
    counts: _WordCounts

    @classmethod
    def of(cls, text: str, unit: str) -> _Template:
        fields = [name for _, name, _, _ in string.Formatter().parse(text) if name]
        counts = _WordCounts(
            fields.count("stack"), fields.count("problem"), fields.count("scenario")
        )
        if unit == "chars":
            base = len(text.format(stack="", problem="", scenario=""))
        else:
            base = len(text.format(stack="X", problem="X", scenario="X").split()) - len(fields)
        return cls(text, base, counts)

    def units(self, topic_units: tuple[int, int, int]) -> int:
        c, u = self.counts, topic_units
        return self.base + c[0] * u[0] + c[1] * u[1] + c[2] * u[2]


@dataclass(frozen=True)
class _Prose:
    """The paragraphs of one prose variant and their reading units.

    Each text comes with how it is filled in (see `_fill`): 0 as is, 1 with the
    topic (stack, problem), 2 with the topic and the scenario.
    """

    lead: str
    lead_fmt: int
    production: tuple[_Paragraph, ...]
    final: tuple[_Filled, ...]
    base: int
    counts: _WordCounts

    def units(self, topic_units: tuple[int, int, int]) -> int:
        c, u = self.counts, topic_units
        return self.base + c[0] * u[0] + c[1] * u[1] + c[2] * u[2]


class _Variants(Generic[V]):
    """`count` prebuilt variants, each made on first use from its own derived stream.

    A variant is a pure function of its index (like a post of its seed), so making it
    lazily gives the same bytes as making them all up front, and a run that needs a
    few posts does not pay for thousands of variants at start-up.
    """

    __slots__ = ("_draws", "_make", "_made", "_stream")

    def __init__(self, count: int, stream: str, make: Callable[[Draws], V]) -> None:
        self._made: list[V | None] = [None] * count
        self._stream = stream_key(stream)
        self._make = make
        self._draws = Draws()

    def __len__(self) -> int:
        return len(self._made)

    def __getitem__(self, index: int) -> V:
        made = self._made[index]
        if made is None:
            made = self._made[index] = self._make(self._draws.start(self._stream, index))
        return made

    def make_all(self) -> None:
        """Make every variant not made yet."""
        for index in range(len(self._made)):
            self[index]

    def as_list(self) -> list[V]:
        """Every variant, made now, as a plain list (indexing a list skips a Python call)."""
        self.make_all()
        return self._made  # type: ignore[return-value]  # no None is left


class SourceIds:
    """The source ids of a chunk's seeds and their neighbourhoods, formatted once a chunk.

    A post names itself and ~8 similar posts within NEIGHBOURHOOD seeds, so each id of a
    chunk would be formatted ~9 times; `lines` formats them once (~1,100 for 1,000 posts)
    and a post indexes them. Outside the covered range a post formats its own.
    """

    __slots__ = ("ids", "low")

    def __init__(self) -> None:
        self.low = 0
        self.ids: list[str] = []

    def cover(self, start: int, count: int) -> None:
        """Cover seeds start … start+count-1 and their neighbourhoods (within 0 … MAX_SEED)."""
        low = max(0, start - NEIGHBOURHOOD)
        high = min(MAX_SEED, start + count - 1 + NEIGHBOURHOOD)
        if low >= self.low and high < self.low + len(self.ids):
            return
        self.low = low
        self.ids = list(map(source_id_of, range(low, high + 1)))


def _listed(table: _Variants[V] | list[V]) -> list[V]:
    return table.as_list() if isinstance(table, _Variants) else table


class PostBuilder:
    """Builds posts for one (profile, locale, epoch, window); reuse it across seeds.

    Not thread-safe: one builder per thread (`build_post` does that for you).
    """

    def __init__(
        self,
        profile: str | Profile = "standard",
        locale: str = "en_US",
        epoch: dt.date | None = None,
        window_days: int | None = None,
        source_ids: SourceIds | None = None,
    ) -> None:
        spec = self.spec = resolve(profile)
        self._source_ids = source_ids or SourceIds()  # a mix's builders share the mix's
        epoch = epoch or spec.epoch or DEFAULT_EPOCH
        self.profile = spec.name
        self.locale = locale
        self.vocab: Vocabulary = vocabulary()
        self.pools: LocalePools = locale_pools(locale)
        window_days = self.window_days = window_days or spec.window_days
        self._core = Draws()
        self._text = Draws()
        self._text_key = stream_key(f"text:{spec.name}:{locale}")
        raw = self.vocab.raw
        templates = self.pools.templates
        unit = templates["reading_unit"]
        self._unit = unit
        self._rate: int = templates["reading_rate"]
        self._corpus_prose = templates["prose"] == "corpus"
        self._headings = templates["headings"]
        self._title = templates["title"]
        self._language: str = templates["language"]  # BCP 47, e.g. `ja` for ja_JP
        self._caption = templates["caption"]
        # index i is the day `epoch - i`; published dates use 1..window, reviews 0..published
        ordinal = epoch.toordinal()
        days = [dt.date.fromordinal(ordinal - i) for i in range(window_days + 1)]
        self._dates = [_fmt_date(day) for day in days]
        self._weekend = [day.weekday() >= 5 for day in days]
        self._day_weights = _day_weights(days, spec.weekdays)
        self._hour_weights = list(accumulate(spec.hours)) if spec.hours else None
        # a rhythm's day, hour and minute-second: the digits of one draw below this
        self._rhythm_hours = self._hour_weights[-1] * 3600 if self._hour_weights else 6 * 7 * 3600
        self._weekend_redraw = spec.weekend_redraw_per_mille
        self._stacks = self.vocab.stacks[: spec.distinct_stacks]
        self._stack_weights = zipf_weights(len(self._stacks), spec.stacks_zipf)
        self._authors = self.pools.authors[: spec.distinct_authors]
        self._author_weights = zipf_weights(len(self._authors), spec.authors_zipf)
        self._tags = tag_pool(spec.distinct_tags)
        self._tag_weights = zipf_weights(len(self._tags), spec.tags_zipf)
        self._stack_tags: dict[tuple[str, bool], tuple[list[str], list[int]]] = {}
        self._extra_tools: dict[str, tuple[list[str], list[int]]] = {}
        self._tags_per_post = not spec.stack_tags and len(self._tags) > VARIANT_TAGS
        shared_areas = set(self.vocab.raw["shared_tool_areas"])
        shared = {t for st in self.vocab.stacks if st["area"] in shared_areas for t in st["tools"]}
        self._shared_tools = [t for t in self.vocab.all_tools if t in shared or t == "docker"]
        self._view_table = view_table(spec.view_median, spec.view_sigma)
        self._difficulties = raw["difficulties"]
        self._revision_status = raw["revision_status"]
        self._actions = raw["actions"]
        self._checklist: list[str] = raw["checklist"]
        self._checklist_units = [_units(item, unit) for item in self._checklist]
        self._notes = raw["notes"]
        self._image_sources = [_ImageSource.of(source) for source in raw["image_sources"]]
        self._leads = [_Template.of(t, unit) for t in raw["leads"]]
        self._closers = [_Template.of(t, unit) for t in raw["closers"]]
        self._finals = [_Template.of(t, unit) for t in raw["paragraphs_final"]]
        self._closer_hows = [_how(closer) for closer in self._closers]
        self._final_filled = [_Filled(final.text, _how(final)) for final in self._finals]
        self._production: list[str] = raw["paragraphs_production"]
        self._production_units = [_units(p, unit) for p in self._production]
        self._sentences = self.pools.sentences
        self._sentence_units = [_units(s, unit) for s in self._sentences]
        self._separator = "" if unit == "chars" else " "
        self._stack_indices = range(len(self._stacks))
        self._scenario_units = [_units(scenario, unit) for scenario in self.vocab.scenarios]
        self._topics: dict[tuple[int, int], dict[str, Any]] = {}
        self._stack_lists: dict[int, _Variants[_StackLists] | list[_StackLists]] = {}
        self._code_reels: dict[int, list[tuple[str, list[int]]]] = {}  # a stack's, by snippet
        blocks, lines = spec.code_blocks, spec.code_lines
        # a fixed count takes no draw (Count.draw): one block a post takes none for its count,
        # and one of a whole snippet none at all
        self._one_block = (blocks.lo, blocks.hi, blocks.values) == (1, 1, ())
        self._whole_snippet = self._one_block and (lines.lo, lines.hi, lines.values) == (0, 0, ())
        self._snippets = [len(stack["snippets"]) for stack in self._stacks]
        # one block a post: its code by (stack, snippet digit) and the drawn count's position
        self._lines_span = lines.span
        self._lines_cumulative = lines.cumulative if lines.values else ()
        self._lines_span_positions = len(lines.values) or lines.hi - lines.lo + 1
        self._line_rows: dict[int, list[list[dict[str, str]] | None]] = {}  # see _line_row
        self._whole_code: dict[int, list[list[dict[str, str]]]] = {}
        self._blocks: dict[tuple[int, int, int], dict[str, str]] = {}  # see _block
        self._prose_variants: _Variants[_Prose] | list[_Prose] = self._variants(
            "prose", PROSE_VARIANTS, self._prose_variant
        )
        self._checklist_variants: _Variants[_Checklist] | list[_Checklist] = self._variants(
            "checklist", VARIANTS, self._checklist_variant
        )
        self._image_variants: _Variants[list[_ImageSource]] | list[list[_ImageSource]] = (
            self._variants("images", VARIANTS, self._image_variant)
        )
        self._offset_variants: _Variants[list[int]] | list[list[int]] = self._variants(
            "similar", VARIANTS, self._offset_variant
        )
        self._summary_variants: _Variants[_Filled] | list[_Filled]
        self._brief_variants: _Variants[str] | list[str]
        if self._corpus_prose:
            run = self._sentence_run
            summary, brief = spec.sentences_summary, spec.sentences_brief
            self._summary_variants = self._variants(
                "summary", VARIANTS, lambda d: _Filled(run(d, summary)[0], 0)
            )
            self._brief_variants = self._variants("brief", VARIANTS, lambda d: run(d, brief)[0])
        else:
            self._summary_variants = [
                _Filled(t, _how(_Template.of(t, unit))) for t in raw["summaries"]
            ]
            self._brief_variants = list(raw["briefs"])
        self._core_radix = (
            len(self.vocab.problems)
            * len(self.vocab.scenarios)
            * len(self._revision_status)
            * len(self._actions)
            * 6  # uniform for stacks of 1, 2 or 3 snippets
        )  # and 1000 × 300 more (review, version): see build
        self._text_radix = (
            len(self._prose_variants)
            * len(self._summary_variants)
            * len(self._brief_variants)
            * len(self._checklist_variants),
            len(self._image_variants) * STACK_VARIANTS,  # and the notes' span more: see build
        )
        self._notes_span = spec.notes.span

    # -- the post ----------------------------------------------------------

    def build(self, seed: int) -> dict[str, Any]:
        """The post of `seed` as a plain dict in canonical key order."""
        return self._build(seed, fresh=True)

    def line(self, seed: int) -> bytes:
        """The post of `seed` as its JSONL line (what `generate` writes)."""
        return orjson.dumps(self._build(seed, fresh=False), option=orjson.OPT_APPEND_NEWLINE)

    def lines(self, start: int, count: int) -> bytes:
        """The JSONL lines of seeds start … start+count-1 (see `lines_of`)."""
        self._source_ids.cover(start, count)
        return lines_of(self.line, start, count)

    def _build(self, seed: int, fresh: bool) -> dict[str, Any]:
        """The post of `seed`; `fresh`: its lists are its own, not the builder's cached ones
        (a caller may change its post without changing the next one; a line needs no copy)."""
        core = self._core.start(_CORE_KEY, seed)
        below = core.below
        vocab = self.vocab

        stack_index = core.pick_weighted(self._stack_indices, self._stack_weights)
        # Small uniform choices are digits of one draw (mixed radix): same law, fewer calls.
        # (two digits of one draw: a span from 2**30 on costs a long division, see below2)
        r, rest = core.below2(self._core_radix, 1000 * 300)
        r, problem_index = divmod(r, len(vocab.problems))
        r, scenario_index = divmod(r, len(vocab.scenarios))
        r, status_index = divmod(r, len(self._revision_status))
        snippet_digit, action_index = divmod(r, len(self._actions))  # 6 snippet digits
        r, review_digit = divmod(rest, 1000)
        needs_review = 1 if review_digit < NEEDS_REVIEW_PER_MILLE else 0
        version = _VERSIONS[r]
        scenario: str = vocab.scenarios[scenario_index]
        topic = self._topics.get((stack_index, problem_index)) or self._topic(
            stack_index, problem_index
        )
        stack = topic["stack"]
        stack_name: str = stack["name"]
        problem: str = topic["problem"]
        ids = self._source_ids
        at = seed - ids.low  # this post's id in the covered ids, when they cover its neighbours
        covered = NEIGHBOURHOOD <= at < len(ids.ids) - NEIGHBOURHOOD
        source_id = ids.ids[at] if covered else source_id_of(seed)
        digits = source_id[_SEED_DIGITS]

        published_at, day = self._published(core)
        reviewed = self._dates[below(day + 1)]
        view_count = self._view_count(core)
        r, rest = core.below2(45 * 60 * 65 * 45, 9000 * 8)
        r, quality = divmod(r, 45)
        r, freshness = divmod(r, 60)
        clarity, depth = divmod(r, 65)
        r, reference_digits = divmod(rest, 9000)
        difficulty = self._difficulties[min(3, (r & 3) + (r >> 2))]  # skewed to the middle
        score = {
            "quality": 55 + quality,
            "freshness": 40 + freshness,
            "depth": 35 + depth,
            "clarity": 55 + clarity,
        }
        revision_status = self._revision_status[status_index]
        reference = f"anp-ref-{digits}-{1000 + reference_digits}"
        author = core.pick_weighted(self._authors, self._author_weights)
        action = self._actions[action_index]
        # below 99,999,999,999 = 194,841 × 513,239 and below 2**48, two digits each
        low, high = core.below2(194_841, 513_239)
        time_part = 1500000000000 + low + 194_841 * high
        low, high = core.below2(1 << 24, 1 << 24)
        image_id = f"{time_part:013d}-{low | high << 24:012x}"
        # meta.hash is drawn like the reference (24 hex, as in the seed article): the
        # importer hashes each post itself (jsonl.content_hash), so generate does not
        meta_hash = f"{core.bits(96):024x}"

        # The text stream picks whole prebuilt variants (see _variants): a handful of
        # draws per post instead of ~60, which is most of the speed of `generate`.
        text = self._text.start(self._text_key, seed)
        tbelow = text.below
        words = {"stack": stack_name, "problem": problem, "scenario": scenario}
        topic_units = (*topic["units"], self._scenario_units[scenario_index])
        # formatted text is cached per topic (and scenario where the template uses it)
        cache: dict[Any, str] = topic["text"]
        title = cache.get(scenario_index) or cache.setdefault(
            scenario_index, self._title.format_map(words)
        )

        r = tbelow(self._text_radix[0])
        r, prose_index = divmod(r, len(self._prose_variants))
        r, summary_index = divmod(r, len(self._summary_variants))
        checklist_index, brief_index = divmod(r, len(self._brief_variants))
        prose = self._prose_variants[prose_index]
        lead = _fill(cache, prose.lead, prose.lead_fmt, words, scenario_index)
        production = [
            f"{p} {_fill(cache, c, f, words, scenario_index)}" if c else p
            for p, c, f in prose.production
        ]
        final = [_fill(cache, t, f, words, scenario_index) for t, f in prose.final]
        checklist, checklist_units = self._checklist_variants[checklist_index]
        units = prose.units(topic_units) + checklist_units
        reading_time = max(1, -(-units // self._rate))
        summary_text, summary_fmt = self._summary_variants[summary_index]
        summary = _fill(cache, summary_text, summary_fmt, words, scenario_index)
        brief = self._brief_variants[brief_index]
        lists = self._stack_variants(stack_index)
        r, notes_digit = text.below2(self._text_radix[1], self._notes_span)
        lists_index, images_index = divmod(r, len(self._image_variants))
        n_notes = self.spec.notes.value_of(notes_digit)
        sources = self._image_variants[images_index]
        n_images = len(sources)
        captions = topic["captions"]
        if len(captions) < n_images:
            captions = self._captions(topic, n_images)
        image_sources = [
            {
                "source": name,
                "url": f"{before}{image_id}-{n}{after}" if n else f"{before}{image_id}{after}",
                "caption": captions[n],
            }
            for n, (name, before, after) in enumerate(sources)
        ]
        tools, tags, tool_entities = lists[lists_index]
        if fresh:
            checklist, tools, tags = checklist[:], tools[:], tags[:]
            tool_entities = [dict(entity) for entity in tool_entities]
        entities = [
            {"name": stack_name, "type": "stack"},
            {"name": stack["area"], "type": "area"},
            {"name": problem, "type": "problem"},
            *tool_entities,
        ]
        notes = self._notes[:n_notes]
        if NEIGHBOURHOOD <= seed <= MAX_SEED - NEIGHBOURHOOD:
            offsets = self._offset_variants[tbelow(len(self._offset_variants))]
            if covered:  # the chunk's ids, formatted once (see SourceIds)
                covered_ids = ids.ids
                similar = [covered_ids[at + offset] for offset in offsets]
            else:
                similar = [source_id_of(seed + offset) for offset in offsets]
        else:
            similar = self._similar(text, seed)
        if self._tags_per_post:
            # drawn per post, not per stack variant: a few thousand variants could not
            # reach every tag of a large vocabulary; the stack's own tags rank first
            names, weights = self._tags_of(stack, own_only=False)
            tags = text.distinct_weighted(names, weights, self.spec.tags.draw(text))
        if self._whole_snippet:
            whole = self._whole_code.get(stack_index) or self._whole_blocks(stack_index)
            code = whole[snippet_digit]
            if fresh:
                code = [dict(block) for block in code]
        elif self._one_block:  # one block a post, of a drawn number of lines
            # spec.code_lines.draw(text), written out: its position among the count's values
            span, cumulative = self._lines_span, self._lines_cumulative
            if cumulative:
                position = bisect_right(cumulative, tbelow(span))
            else:
                position = tbelow(span) if span > 1 else 0
            row = self._line_rows.get(stack_index * 6 + snippet_digit) or self._line_row(
                stack_index, snippet_digit
            )
            code = row[position] or self._line_code(row, stack_index, snippet_digit, position)
            if fresh:
                code = [dict(code[0])]
        else:
            code = self._code(text, stack_index, snippet_digit, fresh)

        post: dict[str, Any] = {
            "source_id": source_id,
            "seed": seed,
            "locale": self.locale,
            "language": self._language,
            "title": title,
            "slug": f"{topic['slug']}-{digits}",
            "author": author,
            "published_at": published_at,
            "lead": lead,
            "image": image_sources[0],
            "sections": [
                {"heading": self._headings["production"], "paragraphs": production},
                {"heading": self._headings["checklist"], "paragraphs": []},
                {"heading": self._headings["final"], "paragraphs": final},
            ],
            "code": code,
            "checklist": checklist,
            "tags": tags,
            "meta": {
                "topic": topic["topic"],
                "summary": summary,
                "outline": {
                    "context": scenario,
                    "problem": problem,
                    "stack": stack_name,
                    "recommended_action": action,
                },
                "brief": brief,
                "stack": list(topic["meta_stack"]) if fresh else topic["meta_stack"],
                "tools": tools,
                "code_language": stack["language"],
                "difficulty": difficulty,
                "reading_time": reading_time,
                "view_count": view_count,
                "score": score,
                "revision": {
                    "status": revision_status,
                    "version": version,
                    "last_reviewed": reviewed,
                },
                "reference": reference,
                "hash": meta_hash,
                "flags": {
                    "ai_generated_style": 1,
                    "has_images": 1,
                    "image_heavy": 1 if n_images >= 4 else 0,
                    "needs_human_review": needs_review,
                },
                "checklist": checklist,
                "entities": entities,
                "image_sources": image_sources,
                "payload": {
                    "source_id": source_id,
                    "generator": GENERATOR,
                    "paragraphs": len(production) + len(final),
                    "scenario": scenario,
                    "seed": seed,
                },
                "notes": notes,
            },
            "similar": similar,
        }
        return post

    # -- pieces ------------------------------------------------------------

    def _code(self, text: Draws, stack_index: int, first: int, fresh: bool) -> list[dict[str, str]]:
        """The post's code blocks: block k starts at the stack's snippet first + k (the
        core stream's pick), of a drawn number of lines (see `_block`)."""
        spec = self.spec
        snippets = len(self._stacks[stack_index]["snippets"])
        made = self._blocks
        out = []
        for k in range(spec.code_blocks.draw(text)):
            index = (first + k) % snippets
            lines = spec.code_lines.draw(text)
            block = made.get((stack_index, index, lines)) or self._block(stack_index, index, lines)
            out.append(dict(block) if fresh else block)
        return out

    def _block(self, stack_index: int, index: int, lines: int) -> dict[str, str]:
        """A code block: 0 lines is the stack's snippet `index` whole, n lines are n lines of
        the stack's snippets read on from there (a blank line between two). Blocks of up to
        CACHED_CODE_LINES lines are kept (~1 MB at most: 14 stacks × 3 × 33)."""
        stack = self._stacks[stack_index]
        if lines:
            reels = self._code_reels.get(stack_index) or self._stack_reels(stack_index)
            reel, ends = reels[index]
            source = reel[: ends[lines - 1]]
        else:
            source = stack["snippets"][index]
        block = {"language": stack["language"], "source": source}
        if lines <= CACHED_CODE_LINES:
            self._blocks[(stack_index, index, lines)] = block
        return block

    def _line_row(self, stack_index: int, digit: int) -> list[list[dict[str, str]] | None]:
        """The code of a one-block post of `stack_index` and core snippet digit `digit`, by
        the position of its drawn line count among the count's values: made on first use
        (`_line_code`), and kept where `_block` keeps the block."""
        row: list[list[dict[str, str]] | None] = [None] * self._lines_span_positions
        self._line_rows[stack_index * 6 + digit] = row
        return row

    def _line_code(
        self, row: list[list[dict[str, str]] | None], stack_index: int, digit: int, position: int
    ) -> list[dict[str, str]]:
        lines = self.spec.code_lines.value_at(position)
        block = self._block(stack_index, digit % self._snippets[stack_index], lines)
        code = [block]
        if lines <= CACHED_CODE_LINES:
            row[position] = code
        return code

    def _whole_blocks(self, stack_index: int) -> list[list[dict[str, str]]]:
        """One whole snippet a post (the built-in profiles' code): the block of each of the
        core stream's 6 snippet digits, as a post's list, made once per stack."""
        snippets = len(self._stacks[stack_index]["snippets"])
        blocks = [[self._block(stack_index, digit % snippets, 0)] for digit in range(6)]
        self._whole_code[stack_index] = blocks
        return blocks

    def _stack_reels(self, stack_index: int) -> list[tuple[str, list[int]]]:
        """For each snippet of the stack: its snippets from that one on, round and round, as
        one text of MAX_CODE_LINES lines, and where each line ends (a block of n lines is a
        prefix); made on first use, for all the stack's snippets at once (one to three)."""
        snippets: list[str] = self._stacks[stack_index]["snippets"]
        reels = []
        for index in range(len(snippets)):
            reel: list[str] = []
            for snippet in snippets[index:] + snippets[:index]:
                reel += [*snippet.rstrip("\n").split("\n"), ""]
            lines = [reel[i % len(reel)] + "\n" for i in range(MAX_CODE_LINES)]
            reels.append(("".join(lines), list(accumulate(map(len, lines)))))
        self._code_reels[stack_index] = reels
        return reels

    def _topic(self, stack_index: int, problem_index: int) -> dict[str, Any]:
        """Strings that depend only on (stack, problem), made on first use."""
        key = (stack_index, problem_index)
        topic = self._topics.get(key)
        if topic is None:
            stack = self._stacks[stack_index]
            problem = self.vocab.problems[problem_index]
            topic = self._topics[key] = {
                "stack": stack,
                "problem": problem,
                "topic": f"{problem} / {stack['name']}",
                "slug": _slug(stack["name"], problem),
                # name, area, language family; a family equal to the name (rust, go) once
                "meta_stack": list(dict.fromkeys((stack["name"], stack["area"], stack["family"]))),
                "units": (_units(stack["name"], self._unit), _units(problem, self._unit)),
                "captions": [],
                "text": {},
            }
        return topic

    def _published(self, core: Draws) -> tuple[str, int]:
        """A publication time in the window before the epoch; weekends are rarer.

        Returns the timestamp and the day index (days before the epoch).
        """
        below = core.below
        days, hours = self._day_weights, self._hour_weights
        if days is not None:
            # a profile's rhythm: day, then hour and minute-second, are digits of one draw
            digit, r = core.below2(days[-1], self._rhythm_hours)
            day = 1 + bisect_right(days, digit)
            r, minute_second = divmod(r, 3600)
            hour = bisect_right(hours, r) if hours is not None else 7 + r % 6 + r // 6
        else:
            day = 1 + below(self.window_days)
            if self._weekend[day] and below(1000) < self._weekend_redraw:
                day = 1 + below(self.window_days)
            if hours is not None:
                r, minute_second = divmod(below(hours[-1] * 3600), 3600)
                hour = bisect_right(hours, r)
            else:
                r, minute_second = divmod(below(6 * 7 * 3600), 3600)
                hour = 7 + r % 6 + r // 6  # the sum of two uniform digits peaks around midday
        return f"{self._dates[day]}T{hour:02d}{_MINUTE_SECOND[minute_second]}Z", day

    def _view_count(self, core: Draws) -> int:
        """A log-normal view count: integer interpolation in an integer quantile table."""
        table = self._view_table
        position = core.below((len(table) - 1) << _VIEW_FRACTION_BITS)
        index = position >> _VIEW_FRACTION_BITS
        fraction = position & ((1 << _VIEW_FRACTION_BITS) - 1)
        low, high = table[index], table[index + 1]
        return low + (((high - low) * fraction) >> _VIEW_FRACTION_BITS)

    def _prose_variant(self, d: Draws) -> _Prose:
        """Lead, production and final paragraphs as templates, with their reading units."""
        volume = self.spec
        n_prod = volume.production_paragraphs.draw(d)
        n_final = volume.final_paragraphs.draw(d)
        if self._corpus_prose:
            lead, units = self._sentence_run(d, volume.sentences_lead)
            production = []
            for _ in range(n_prod):
                paragraph, n = self._sentence_run(d, volume.sentences_production)
                production.append(_Paragraph(paragraph, "", 0))
                units += n
            final = []
            for _ in range(n_final):
                paragraph, n = self._sentence_run(d, volume.sentences_final)
                final.append(_Filled(paragraph, 0))
                units += n
            return _Prose(lead, 0, tuple(production), tuple(final), units, _WordCounts(0, 0, 0))
        below = d.below
        lead_t = self._leads[below(len(self._leads))]
        # the templates that use the topic (lead, closers, finals) count their placeholders;
        # a production paragraph is plain text, its reading units only
        templates = [lead_t]
        base = 0
        production = []
        for i in _indices(d, len(self._production), n_prod):
            paragraph = self._production[i]
            base += self._production_units[i]
            if below(1000) < volume.closer_per_mille:
                j = below(len(self._closers))
                closer = self._closers[j]
                templates.append(closer)
                production.append(_Paragraph(paragraph, closer.text, self._closer_hows[j]))
            else:
                production.append(_Paragraph(paragraph, "", 0))
        final = []
        for i in _indices(d, len(self._finals), n_final):
            templates.append(self._finals[i])
            final.append(self._final_filled[i])
        stack = problem = scenario = 0
        for template in templates:
            base += template.base
            counts = template.counts
            stack, problem, scenario = stack + counts[0], problem + counts[1], scenario + counts[2]
        counts = _WordCounts(stack, problem, scenario)
        return _Prose(lead_t.text, _how(lead_t), tuple(production), tuple(final), base, counts)

    def _checklist_variant(self, d: Draws) -> _Checklist:
        picked = d.distinct_indices(len(self._checklist), self.spec.checklist.draw(d))
        return _Checklist(
            [self._checklist[i] for i in picked], sum(self._checklist_units[i] for i in picked)
        )

    def _image_variant(self, d: Draws) -> list[_ImageSource]:
        n = self.spec.images.draw(d)
        return [self._image_sources[d.below(len(self._image_sources))] for _ in range(n)]

    def _stack_variant(self, d: Draws, stack: dict[str, Any]) -> _StackLists:
        """Tools (the stack's own, then Zipf-popular others) and Zipf tags of one post."""
        volume = self.spec
        tools = d.distinct(stack["tools"], volume.tools.draw(d))
        extra = volume.extra_tools.draw(d)
        if extra:
            pool, weights = self._extra_tools_of(stack)
            if pool:
                for tool in d.distinct_weighted(pool, weights, extra):
                    if tool not in tools:
                        tools.append(tool)
        tags: list[str] = []
        if volume.stack_tags:
            tags = [stack["family"], stack["area"]]
            names, weights = self._tags_of(stack, own_only=True)
            for tag in d.distinct_weighted(names, weights, volume.tags.draw(d)):
                if tag not in tags:
                    tags.append(tag)
        elif not self._tags_per_post:
            names, weights = self._tags_of(stack, own_only=False)
            tags = d.distinct_weighted(names, weights, volume.tags.draw(d))
        entities = [{"name": t, "type": "tool"} for t in tools] if volume.tool_entities else []
        return _StackLists(tools, tags, entities)

    def _extra_tools_of(self, stack: dict[str, Any]) -> tuple[list[str], list[int]]:
        """The tools every stack uses (containers, monitoring, databases, the shell) but not
        `stack`'s own, with Zipf weights: never another language's linter or test runner."""
        cached = self._extra_tools.get(stack["name"])
        if cached is None:
            own = set(stack["tools"])
            pool = [t for t in self._shared_tools if t not in own]
            cached = self._extra_tools[stack["name"]] = (pool, zipf_weights(len(pool), "1"))
        return cached

    def _tags_of(self, stack: dict[str, Any], own_only: bool) -> tuple[list[str], list[int]]:
        """The tag names a post of `stack` draws from, most popular first, with Zipf weights.

        Own tags are the stack's tools and the tags made from them ("pytest testing");
        `own_only` keeps just those, otherwise the others follow (every tag reachable).
        """
        key = (stack["name"], own_only)
        cached = self._stack_tags.get(key)
        if cached is None:
            own_tools, tools = set(stack["tools"]), frozenset(self.vocab.all_tools)
            owned = [_tag_tool(t, tools) in own_tools for t in self._tags]
            own = [t for t, mine in zip(self._tags, owned, strict=True) if mine]
            rest = [t for t, mine in zip(self._tags, owned, strict=True) if not mine]
            names = own if own_only else own + rest
            names = names or self._tags
            cached = (names, zipf_weights(len(names), self.spec.tags_zipf))
            self._stack_tags[key] = cached
        return cached

    def _variants(self, kind: str, count: int, make: Callable[[Draws], V]) -> _Variants[V]:
        """`count` variants, each made on first use from its own derived stream."""
        return _Variants(count, f"variant:{kind}:{self.profile}:{self.locale}", make)

    def prepare(self) -> None:
        """Make every prebuilt variant now, as plain lists: before forking workers, so they
        share them, and before a large run, which would make nearly all of them anyway."""
        self._prose_variants = _listed(self._prose_variants)
        self._checklist_variants = _listed(self._checklist_variants)
        self._image_variants = _listed(self._image_variants)
        self._offset_variants = _listed(self._offset_variants)
        self._summary_variants = _listed(self._summary_variants)
        self._brief_variants = _listed(self._brief_variants)
        for index in self._stack_indices:
            self._stack_lists[index] = _listed(self._stack_variants(index))

    def _stack_variants(self, stack_index: int) -> _Variants[_StackLists] | list[_StackLists]:
        lists = self._stack_lists.get(stack_index)
        if lists is None:
            stack = self._stacks[stack_index]
            lists = self._stack_lists[stack_index] = self._variants(
                f"stack{stack_index}", STACK_VARIANTS, lambda d: self._stack_variant(d, stack)
            )
        return lists

    def _captions(self, topic: dict[str, Any], n: int) -> list[str]:
        captions: list[str] = topic["captions"]
        while len(captions) < n:
            captions.append(
                self._caption.format(
                    n=len(captions) + 1, stack=topic["stack"]["name"], problem=topic["problem"]
                )
            )
        return captions

    def _sentence_run(self, d: Draws, count: Count) -> tuple[str, int]:
        """`count` sentences from the locale's sentence pool, and their reading units."""
        size = len(self._sentences)
        # distinct sentences: a paragraph never says the same thing twice
        picked = d.distinct_indices(size, count.draw(d))
        # joined with "" (chars) or " " (words): the separator adds no reading unit
        units = sum(self._sentence_units[i] for i in picked)
        sentences = self._sentences
        return self._separator.join([sentences[i] for i in picked]), units

    def _similar(self, text: Draws, seed: int) -> list[str]:
        """Similar posts near 0 and 999,999, where the neighbourhood is cut.

        Elsewhere `build` picks a prebuilt set of offsets within 64 (never 0).
        """
        lo = max(0, seed - NEIGHBOURHOOD)
        hi = min(MAX_SEED, seed + NEIGHBOURHOOD)
        k = self.spec.similar.draw(text)
        picked = text.distinct_indices(hi - lo, k)  # candidates lo..hi without the seed itself
        return [source_id_of(lo + i + (lo + i >= seed)) for i in picked]

    def _offset_variant(self, d: Draws) -> list[int]:
        k = self.spec.similar.draw(d)
        return [
            i - NEIGHBOURHOOD + (i >= NEIGHBOURHOOD)
            for i in d.distinct_indices(2 * NEIGHBOURHOOD, k)
        ]


def _fill(cache: dict[Any, str], text: str, how: int, words: dict[str, str], scenario: int) -> str:
    """`text` filled with the post's words; cached per topic when it uses only the topic.

    Texts that use the scenario too are not cached: topics x scenarios x templates
    would hold tens of MB for little gain, and memory must stay flat.
    """
    if not how:
        return text
    if how == 2:
        return text.format_map(words)
    filled = cache.get(text)
    if filled is None:
        filled = cache[text] = text.format_map(words)
    return filled


def _day_weights(days: list[dt.date], weekdays: tuple[int, ...]) -> list[int] | None:
    """Cumulative integer weights of the publication days 1..window (index 0: day 1) for a
    weekday rhythm, None without one. A day weighs its weekday's weight over the number of
    such days in the window (times their common multiple, to stay integer): a weekday is
    drawn by its weight and a day of it uniformly, in one draw."""
    if not any(weekdays):
        return None
    counts = [0] * 7
    for day in days[1:]:
        counts[day.weekday()] += 1
    common = math.lcm(*[c for c in counts if c])
    per_day = [w * (common // c) if c else 0 for w, c in zip(weekdays, counts, strict=True)]
    if not any(per_day):
        return None
    return list(accumulate(per_day[day.weekday()] for day in days[1:]))


def _tag_tool(tag: str, tools: frozenset[str]) -> str:
    """The tool a tag name is made from: itself, or the part before its topic word."""
    return tag.rsplit(" ", 1)[0] if " " in tag and tag not in tools else tag


def _indices(d: Draws, size: int, n: int) -> list[int]:
    """n indices of range(size): distinct while they last, then drawn with repeats."""
    if n <= size:
        return d.distinct_indices(size, n)
    return d.distinct_indices(size, size) + [d.below(size) for _ in range(n - size)]


def _how(template: _Template) -> int:
    return 2 if template.counts[2] else 1 if any(template.counts) else 0


def _slug(stack: str, problem: str) -> str:
    """ASCII slug prefix of a topic; the seed appended to it makes the slug unique."""
    words = f"{stack} {problem}".replace("/", " ").replace("+", " ").split()
    cleaned = ["".join(ch for ch in word if ch.isascii() and ch.isalnum()) for word in words]
    return "-".join(word.lower() for word in cleaned if word)


# The view-count table of every built-in profile is the shipped one; others scale it.
_SHIPPED_VIEWS = (12000, "1.9")
_VIEW_PRECISION = 28


@functools.cache
def view_table(median: int, sigma: str) -> list[int]:
    """Integer quantiles of a log-normal(median, sigma) at i/1024, as the shipped table.

    Other medians and sigmas scale the shipped quantiles q to median·(q/12000)^(sigma/1.9),
    floored as `decimal` computes it (the same digits on every machine), so no float
    touches a view count: ⌊median·exp(ln(q/12000)·sigma/1.9)⌋. The logarithms ln(q/12000)
    ship with the quantiles (`view_log_ratios` makes them). `exact.floor_exp_times` finds
    the same floor in integers, ~10 times cheaper; `decimal` computes the rare entry it
    cannot tell (one at an integer, as median·exp(0)).
    """
    vocab = vocabulary()
    shipped: list[int] = vocab.view_count_quantiles
    if (median, sigma) == _SHIPPED_VIEWS:
        return shipped
    # t = log·sigma/1.9 in 2^-BITS units, within 2: the log's digits times ⌊sigma/(1.9·10^d)⌋
    # with 100 more bits (d: the log's decimals), then shifted back
    sigma_num, sigma_den = Decimal(sigma).as_integer_ratio()
    num, den = sigma_num * 10, sigma_den * 19
    scales: dict[int, int] = {}
    table = []
    for log in vocab.view_count_logs:
        whole, _, decimals = log.partition(".")
        d = len(decimals)
        scale = scales.get(d)
        if scale is None:
            scale = scales[d] = (num << (exact.BITS + 100)) // (10**d * den)
        floor = exact.floor_exp_times(median, int(whole + decimals) * scale >> 100)
        table.append(_view_count(median, sigma, log) if floor is None else floor)
    return table


def _view_count(median: int, sigma: str, log: str) -> int:
    """⌊median·exp(log·sigma/1.9)⌋ by `decimal`, the definition `exact` reproduces."""
    with localcontext() as ctx:
        ctx.prec = _VIEW_PRECISION
        ratio = Decimal(sigma) / Decimal(_SHIPPED_VIEWS[1])
        return int(Decimal(median) * (Decimal(log) * ratio).exp())


def view_log_ratios(quantiles: list[int]) -> list[str]:
    """ln(q/12000) of each shipped quantile, as `view_table` would compute it."""
    with localcontext() as ctx:
        ctx.prec = _VIEW_PRECISION
        base = Decimal(_SHIPPED_VIEWS[0])
        return [str((Decimal(q) / base).ln()) for q in quantiles]


class Builder(Protocol):
    """What builds the posts of a dataset: a PostBuilder, or a mix of them."""

    def build(self, seed: int) -> dict[str, Any]: ...

    def line(self, seed: int) -> bytes: ...

    def lines(self, start: int, count: int) -> bytes: ...

    def prepare(self) -> None: ...


class MixBuilder:
    """Posts of several (profile, locale) builders: each seed picks one from its `mix` stream.

    The stream is the post's own, so a post is the same whether or not its neighbours
    were made; the pick changes only the text, never the post's core values.
    """

    def __init__(
        self,
        profile: Profile,
        locale: str | None,
        epoch: dt.date | None,
        window_days: int | None,
    ) -> None:
        self.spec = profile
        self._locales = [locale] if locale else [loc for loc, _ in profile.locales] or ["en_US"]
        weights = [1] if locale else [w for _, w in profile.locales] or [1]
        self._locale_weights = list(accumulate(weights))
        self._heavy = profile.heavy_per_mille if profile.heavy else 0
        self._epoch = epoch
        self._window = window_days or profile.window_days
        self._builders: dict[tuple[bool, str], PostBuilder] = {}
        self._draws = Draws()
        self._source_ids = SourceIds()

    def build(self, seed: int) -> dict[str, Any]:
        """The post of `seed`, from the builder its mix draw picks."""
        return self._pick(seed).build(seed)

    def line(self, seed: int) -> bytes:
        """The JSONL line of `seed`, from the builder its mix draw picks."""
        return self._pick(seed).line(seed)

    def lines(self, start: int, count: int) -> bytes:
        """The JSONL lines of seeds start … start+count-1 (see `lines_of`)."""
        self._source_ids.cover(start, count)
        return lines_of(self.line, start, count)

    def _pick(self, seed: int) -> PostBuilder:
        d = self._draws.start(_MIX_KEY, seed)
        locale = d.pick_weighted(self._locales, self._locale_weights)
        heavy = d.below(1000) < self._heavy
        return self._builders.get((heavy, locale)) or self._builder(heavy, locale)

    def _builder(self, heavy: bool, locale: str) -> PostBuilder:
        profile: str | Profile = self.spec.heavy if heavy else self.spec
        made = self._builders[(heavy, locale)] = PostBuilder(
            profile, locale, self._epoch, self._window, self._source_ids
        )
        return made

    def prepare(self) -> None:
        """Prepare every builder of the mix (before forking workers)."""
        for heavy in (False, True) if self._heavy else (False,):
            for locale in self._locales:
                (self._builders.get((heavy, locale)) or self._builder(heavy, locale)).prepare()


def builder_for(
    profile: str | Profile = "standard",
    locale: str | None = None,
    epoch: dt.date | None = None,
    window_days: int | None = None,
) -> Builder:
    """The builder of a dataset: one PostBuilder, or a MixBuilder when the profile mixes
    locales (and no `locale` is forced) or has a share of heavy posts."""
    spec = resolve(profile)
    if (len(spec.locales) > 1 and not locale) or (spec.heavy and spec.heavy_per_mille):
        return MixBuilder(spec, locale, epoch, window_days)
    # a mix of one locale is that locale's builder: the mix stream picks only the builder,
    # so skipping it gives the same bytes, a stream cheaper per post
    only = spec.locales[0][0] if spec.locales else "en_US"
    return PostBuilder(spec, locale or only, epoch, window_days)


def lines_of(line: Callable[[int], bytes], start: int, count: int) -> bytes:
    """`line(seed)` of `count` seeds from `start`, joined, with the cycle collector paused.

    Building a post makes no reference cycle (its dicts, lists and strings are freed by
    their reference counts), but its dozens of short-lived dicts and lists would start a
    collection every few posts, each also walking the builder's tables: ~10% of the time
    of a chunk. The collector is paused for the chunk only and left as it was found.
    """
    with collector.paused():
        return b"".join([line(seed) for seed in range(start, start + count)])


_local = threading.local()


def build_post(seed: int, profile: str = "standard", locale: str = "en_US") -> dict[str, Any]:
    """The post of one seed, from a builder cached per (profile, locale) and thread.

    Making a builder prepares its text variants (~0.1-0.3 s), so it is done once;
    a builder is not shared between threads because its draw state is reused.
    """
    builders: dict[tuple[str, str], PostBuilder] | None = getattr(_local, "builders", None)
    if builders is None:
        builders = _local.builders = {}
    builder = builders.get((profile, locale))
    if builder is None:
        builder = builders[(profile, locale)] = PostBuilder(profile, locale)
    return builder.build(seed)
