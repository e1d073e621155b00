"""Build one post as a plain dict from (seed, profile, locale): a pure function.

Two streams per post: `core` (identity, topic, numbers, dates: the same in
every profile and locale) and `volume` (text and list lengths: depend on the
profile and locale). Key order is fixed by construction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from anp_synth.jsonl import content_hash
from anp_synth.synth.derive import Draws
from anp_synth.synth.vocab import LocalePools, Vocabulary, locale_pools, vocabulary

GENERATOR = "anp content synthesizer"
MAX_SEED = 999_999
DEFAULT_EPOCH = dt.date(2026, 1, 1)
DEFAULT_WINDOW_DAYS = 3 * 365


@dataclass(frozen=True)
class Volume:
    """How long each list is in one meta-volume profile: (min, max) per list."""

    production_paragraphs: tuple[int, int]
    final_paragraphs: tuple[int, int]
    tools: tuple[int, int]
    extra_tools: tuple[int, int]
    checklist: tuple[int, int]
    images: tuple[int, int]
    notes: tuple[int, int]
    similar: tuple[int, int]
    tags: tuple[int, int]
    closer_chance: float


PROFILES: dict[str, Volume] = {
    "light": Volume((1, 2), (1, 1), (2, 3), (0, 0), (3, 4), (1, 1), (1, 2), (2, 3), (1, 2), 0.2),
    "standard": Volume((3, 5), (1, 2), (4, 7), (0, 2), (5, 8), (1, 3), (3, 4), (4, 6), (2, 4), 0.5),
    "heavy": Volume(
        (8, 14), (2, 4), (7, 10), (10, 20), (14, 20), (6, 12), (8, 8), (12, 20), (6, 10), 0.8
    ),
}


def _fmt_date(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}"


class PostBuilder:
    """Builds posts for one (profile, locale, epoch, window); reuse it across seeds."""

    def __init__(
        self,
        profile: str = "standard",
        locale: str = "en_US",
        epoch: dt.date = DEFAULT_EPOCH,
        window_days: int = DEFAULT_WINDOW_DAYS,
    ) -> None:
        self.profile = profile
        self.volume = PROFILES[profile]
        self.locale = locale
        self.vocab: Vocabulary = vocabulary()
        self.pools: LocalePools = locale_pools(locale)
        self.epoch_ordinal = epoch.toordinal()
        self.window_days = window_days
        self._core = Draws()
        self._text = Draws()
        raw = self.vocab.raw
        self._checklist = raw["checklist"]
        self._notes = raw["notes"]
        self._headings = self.pools.templates["headings"]

    # -- the two streams ---------------------------------------------------

    def build(self, seed: int) -> dict[str, Any]:
        """The post of `seed` as a plain dict in canonical key order."""
        core = self._core.reset(seed, "core")
        text = self._text.reset(seed, f"text:{self.profile}:{self.locale}")
        vocab = self.vocab
        volume = self.volume
        raw = vocab.raw

        stack = core.pick_weighted(vocab.stacks, vocab.stack_weights)
        stack_name: str = stack["name"]
        problem: str = core.pick(vocab.problems)
        scenario: str = core.pick(vocab.scenarios)
        source_id = f"alphanode-{seed:06d}"
        published, published_day = self._published(core)
        reviewed = dt.date.fromordinal(
            published_day + core.below(self.epoch_ordinal - published_day + 1)
        )
        view_count = self._view_count(core)
        difficulty = raw["difficulties"][min(3, core.below(4) + core.below(2))]
        score = {
            "quality": core.between(55, 99),
            "freshness": core.between(40, 99),
            "depth": core.between(35, 99),
            "clarity": core.between(55, 99),
        }
        revision_status = core.pick(raw["revision_status"])
        version = f"{core.between(1, 3)}.{core.below(10)}.{core.below(10)}"
        reference = f"anp-ref-{seed:06d}-{core.between(1000, 9999)}"
        author = core.pick_weighted(self.pools.authors, self.pools.author_weights)
        needs_review = 1 if core.chance(0.4) else 0
        action = core.pick(raw["actions"])
        code_source = core.pick(stack["snippets"])
        image_id = f"{1500000000000 + core.below(99_999_999_999):013d}-{core.below(16**12):012x}"

        words = {"stack": stack_name, "problem": problem, "scenario": scenario}
        title = self.pools.templates["title"].format_map(words)
        slug = _slug(stack_name, problem, seed)

        lead, production, final = self._prose(text, words)
        n_images = text.between(*volume.images)
        image_sources = [self._image(text, words, i + 1, image_id) for i in range(n_images)]
        checklist = text.distinct(self._checklist, text.between(*volume.checklist))
        tools = text.distinct(stack["tools"], text.between(*volume.tools))
        extra = text.between(*volume.extra_tools)
        if extra:
            for tool in text.distinct_weighted(vocab.all_tools, vocab.tool_weights, extra):
                if tool not in tools:
                    tools.append(tool)
        tags = [stack["family"], stack["area"]]
        for tag in text.distinct_weighted(
            vocab.all_tools, vocab.tool_weights, text.between(*volume.tags)
        ):
            if tag not in tags:
                tags.append(tag)
        entities = [
            {"name": stack_name, "type": "stack"},
            {"name": stack["area"], "type": "area"},
            {"name": problem, "type": "problem"},
        ]
        if self.profile == "heavy":
            entities.extend({"name": tool, "type": "tool"} for tool in tools)
        notes = self._notes[: text.between(*volume.notes)]
        similar = self._similar(text, seed)
        paragraphs = len(production) + len(final)

        body_units = _units(lead, self.pools.templates["reading_unit"])
        for paragraph in production + final + checklist:
            body_units += _units(paragraph, self.pools.templates["reading_unit"])
        reading_time = max(1, -(-body_units // self.pools.templates["reading_rate"]))

        post: dict[str, Any] = {
            "source_id": source_id,
            "seed": seed,
            "locale": self.locale,
            "title": title,
            "slug": slug,
            "author": author,
            "published_at": published,
            "lead": lead,
            "image": image_sources[0],
            "sections": [
                {"heading": self._headings["production"], "paragraphs": production},
                {"heading": self._headings["checklist"], "paragraphs": []},
                {"heading": self._headings["final"], "paragraphs": final},
            ],
            "code": {"language": stack["language"], "source": code_source},
            "checklist": checklist,
            "tags": tags,
            "meta": {
                "topic": f"{problem} / {stack_name}",
                "summary": self._summary(text, words),
                "outline": {
                    "context": scenario,
                    "problem": problem,
                    "stack": stack_name,
                    "recommended_action": action,
                },
                "brief": self._brief(text),
                "stack": [stack_name, stack["area"], stack["family"]],
                "tools": tools,
                "code_language": stack["language"],
                "difficulty": difficulty,
                "reading_time": reading_time,
                "view_count": view_count,
                "score": score,
                "revision": {
                    "status": revision_status,
                    "version": version,
                    "last_reviewed": _fmt_date(reviewed),
                },
                "reference": reference,
                "hash": "",
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
                    "paragraphs": paragraphs,
                    "scenario": scenario,
                    "seed": seed,
                },
                "notes": notes,
            },
            "similar": similar,
        }
        post["meta"]["hash"] = content_hash(post)
        return post

    # -- pieces ------------------------------------------------------------

    def _published(self, core: Draws) -> tuple[str, int]:
        """A publication time in the window before the epoch; weekends are rarer."""
        day = self.epoch_ordinal - 1 - core.below(self.window_days)
        if dt.date.fromordinal(day).weekday() >= 5 and core.chance(0.65):
            day = self.epoch_ordinal - 1 - core.below(self.window_days)
        hour = 7 + core.below(6) + core.below(7)  # peaks around midday
        minute = core.below(60)
        second = core.below(60)
        date = dt.date.fromordinal(day)
        return f"{_fmt_date(date)}T{hour:02d}:{minute:02d}:{second:02d}Z", day

    def _view_count(self, core: Draws) -> int:
        """A log-normal view count by linear interpolation in an integer quantile table."""
        table = self.vocab.view_count_quantiles
        position = core.random() * (len(table) - 1)
        index = int(position)
        low, high = table[index], table[min(index + 1, len(table) - 1)]
        return low + int((high - low) * (position - index))

    def _prose(self, text: Draws, words: dict[str, str]) -> tuple[str, list[str], list[str]]:
        volume = self.volume
        n_prod = text.between(*volume.production_paragraphs)
        n_final = text.between(*volume.final_paragraphs)
        if self.pools.templates["prose"] == "faker":
            return (
                self._sentences(text, 2, 3),
                [self._sentences(text, 3, 5) for _ in range(n_prod)],
                [self._sentences(text, 2, 4) for _ in range(n_final)],
            )
        raw = self.vocab.raw
        lead = text.pick(raw["leads"]).format_map(words)
        production = []
        for paragraph in text.distinct(raw["paragraphs_production"], n_prod):
            if text.chance(volume.closer_chance):
                paragraph = f"{paragraph} {text.pick(raw['closers']).format_map(words)}"
            production.append(paragraph)
        final = [p.format_map(words) for p in text.distinct(raw["paragraphs_final"], n_final)]
        return lead, production, final

    def _sentences(self, text: Draws, lo: int, hi: int) -> str:
        pool = self.pools.sentences
        separator = "" if self.pools.templates["reading_unit"] == "chars" else " "
        return separator.join(text.pick(pool) for _ in range(text.between(lo, hi)))

    def _summary(self, text: Draws, words: dict[str, str]) -> str:
        if self.pools.templates["prose"] == "faker":
            return self._sentences(text, 2, 2)
        return str(text.pick(self.vocab.raw["summaries"])).format_map(words)

    def _brief(self, text: Draws) -> str:
        if self.pools.templates["prose"] == "faker":
            return self._sentences(text, 2, 3)
        return str(text.pick(self.vocab.raw["briefs"]))

    def _image(self, text: Draws, words: dict[str, str], n: int, image_id: str) -> dict[str, str]:
        source = text.pick(self.vocab.raw["image_sources"])
        return {
            "source": source["source"],
            "url": source["url"].format(id=f"{image_id}-{n}" if n > 1 else image_id),
            "caption": self.pools.templates["caption"].format(n=n, **words),
        }

    def _similar(self, text: Draws, seed: int) -> list[str]:
        """Seeds in the same neighbourhood (within 64), never the post itself."""
        lo, hi = max(0, seed - 64), min(MAX_SEED, seed + 64)
        neighbours = [s for s in range(lo, hi + 1) if s != seed]
        picked = text.distinct(neighbours, text.between(*self.volume.similar))
        return [f"alphanode-{s:06d}" for s in picked]


def _slug(stack: str, problem: str, seed: int) -> str:
    """ASCII slug, unique by construction because it ends with the seed."""
    words = f"{stack} {problem}".replace("/", " ").replace("+", " ").split()
    cleaned = "-".join(
        "".join(ch for ch in word if ch.isascii() and ch.isalnum()) for word in words
    )
    return f"{cleaned.lower().strip('-')}-{seed:06d}".replace("--", "-")


def _units(text: str, unit: str) -> int:
    return len(text) if unit == "chars" else len(text.split())


def build_post(seed: int, profile: str = "standard", locale: str = "en_US") -> dict[str, Any]:
    """The post of one seed (convenience for callers that build only a few)."""
    return PostBuilder(profile, locale).build(seed)
