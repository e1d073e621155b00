"""The measured shape of a set of posts: the quantities a profile sets, as numbers.

`measure` reads SamplePosts once (streaming; per post it keeps a few integers and
counts names), and `Shape` says what `profile stats` prints and `profile fit` uses.
"""

from __future__ import annotations

import datetime as dt
import math
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from anp_synth.generate.samples import SamplePost

QUANTILES = (10, 25, 50, 75, 90)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LISTS = ("checklist", "tools", "notes", "similar")
ZIPF_RANKS = 100  # the exponent is fitted on the most frequent names only


def quantile(sorted_values: list[int], percent: int) -> float:
    """The quantile of sorted integers read as value + a uniform fraction (0 for none).

    Counts such as tags per post have few values, so a nearest-rank p50 jumps from 2 to
    3 when the share of posts with at most 2 tags crosses 50%; spreading each value
    over [v, v+1) makes a quantile move as smoothly as the shares do.
    """
    n = len(sorted_values)
    if not n:
        return 0.0
    position = percent * n / 100
    value = sorted_values[min(n - 1, int(position))]
    below = bisect_left(sorted_values, value)
    ties = bisect_right(sorted_values, value) - below
    return round(value + min(1.0, max(0.0, (position - below) / ties)), 2)


def zipf_exponent(counts: Counter[str]) -> float:
    """The exponent s of frequency ∝ 1/rank^s (least squares in log-log), 0..4, 2 decimals.

    Ranks whose count is 1 are left out once they make most of the tail: in a small
    sample they say "seen once", not how rare the name is.
    """
    freqs = [c for _, c in counts.most_common(ZIPF_RANKS)]
    if len(freqs) >= 8 and freqs[len(freqs) // 2] > 1:
        freqs = [f for f in freqs if f > 1]
    if len(freqs) < 3:
        return 1.0 if len(freqs) > 1 else 0.0
    xs = [math.log(rank) for rank in range(1, len(freqs) + 1)]
    ys = [math.log(f) for f in freqs]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    return round(min(4.0, max(0.0, -slope)), 2)


@dataclass
class Distribution:
    """The values of one per-post quantity (kept sorted) and their histogram."""

    values: list[int] = field(default_factory=list)

    def add(self, value: int) -> None:
        self.values.append(value)

    def done(self) -> Distribution:
        self.values.sort()
        return self

    @property
    def histogram(self) -> dict[int, int]:
        return dict(sorted(Counter(self.values).items()))

    def summary(self) -> dict[str, Any]:
        v = self.values
        out: dict[str, Any] = {f"p{q}": quantile(v, q) for q in QUANTILES}
        out["mean"] = round(sum(v) / len(v), 2) if v else 0
        out["max"] = v[-1] if v else 0
        return out


@dataclass
class Shape:
    """What a set of posts looks like, in the quantities of a profile."""

    posts: int
    body_chars: Distribution
    paragraphs: Distribution
    images: Distribution
    code_blocks: Distribution
    code_lines: Distribution  # per code block, not per post
    tags_per_post: Distribution
    categories_per_post: Distribution
    tags: Counter[str]
    categories: Counter[str]
    authors: Counter[str]
    views: Distribution
    weekdays: list[int]
    hours: list[int]
    first_day: str
    last_day: str
    locales: Counter[str]
    lists: dict[str, Distribution]

    @property
    def weekday_shares(self) -> dict[str, float]:
        total = sum(self.weekdays) or 1
        return {d: round(100 * n / total, 1) for d, n in zip(WEEKDAYS, self.weekdays, strict=True)}

    @property
    def window_days(self) -> int:
        if not self.first_day:
            return 0
        first, last = dt.date.fromisoformat(self.first_day), dt.date.fromisoformat(self.last_day)
        return (last - first).days + 1

    def as_json(self) -> dict[str, Any]:
        """The shape as plain JSON (what `profile stats --json` prints)."""
        views = self.views.values
        out: dict[str, Any] = {
            "posts": self.posts,
            "body_chars": self.body_chars.summary(),
            "paragraphs": self.paragraphs.summary(),
            "images_per_post": self.images.summary(),
            "code_blocks_per_post": self.code_blocks.summary(),
            "code_lines_per_block": self.code_lines.summary(),
            "tags_per_post": self.tags_per_post.summary(),
            "tags_per_post_histogram": {str(k): v for k, v in self.tags_per_post.histogram.items()},
            "distinct_tags": len(self.tags),
            "tags_zipf": zipf_exponent(self.tags),
            "top_tags": dict(self.tags.most_common(10)),
            "categories_per_post": self.categories_per_post.summary(),
            "distinct_categories": len(self.categories),
            "categories_zipf": zipf_exponent(self.categories),
            "distinct_authors": len(self.authors),
            "authors_zipf": zipf_exponent(self.authors),
            "views": (
                {"median": quantile(views, 50), "p90": quantile(views, 90), "posts": len(views)}
                if views
                else None
            ),
            "published": {
                "first": self.first_day or None,
                "last": self.last_day or None,
                "window_days": self.window_days,
                "weekday_shares": self.weekday_shares,
                "hour_counts": self.hours,
            },
            "locales": dict(sorted(self.locales.items())),
        }
        if self.lists:
            out["lists"] = {name: d.summary() for name, d in self.lists.items()}
        return out


def measure(posts: Iterable[SamplePost]) -> Shape:
    """Measure posts in one pass."""
    body, paragraphs, images, code = Distribution(), Distribution(), Distribution(), Distribution()
    tags_per_post, categories_per_post, views = Distribution(), Distribution(), Distribution()
    code_lines = Distribution()
    tags: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    authors: Counter[str] = Counter()
    locales: Counter[str] = Counter()
    weekdays, hours = [0] * 7, [0] * 24
    lists: dict[str, Distribution] = {}
    first = last = ""
    n = 0
    for post in posts:
        n += 1
        body.add(post.body_chars)
        paragraphs.add(post.paragraphs)
        images.add(post.images)
        code.add(post.code_blocks)
        for lines in post.code_lines:
            code_lines.add(lines)
        tags_per_post.add(len(post.tags))
        categories_per_post.add(len(post.categories))
        tags.update(post.tags)
        categories.update(post.categories)
        if post.author:
            authors[post.author] += 1
        if post.views is not None:
            views.add(post.views)
        if post.locale:
            locales[post.locale] += 1
        for name, length in post.lists.items():
            lists.setdefault(name, Distribution()).add(length)
        day = post.published[:10]
        if len(day) == 10:
            try:
                weekdays[dt.date.fromisoformat(day).weekday()] += 1
            except ValueError:
                day = ""
            if day:
                first = min(first, day) if first else day
                last = max(last, day)
                if len(post.published) >= 13:
                    hours[int(post.published[11:13]) % 24] += 1
    return Shape(
        posts=n,
        body_chars=body.done(),
        paragraphs=paragraphs.done(),
        images=images.done(),
        code_blocks=code.done(),
        code_lines=code_lines.done(),
        tags_per_post=tags_per_post.done(),
        categories_per_post=categories_per_post.done(),
        tags=tags,
        categories=categories,
        authors=authors,
        views=views.done(),
        weekdays=weekdays,
        hours=hours,
        first_day=first,
        last_day=last,
        locales=locales,
        lists={name: d.done() for name, d in lists.items()},
    )


def shape_of(sample: str) -> Shape:
    """The measured shape of posts.jsonl, a WXR export or a folder of Markdown."""
    from anp_synth.generate.samples import read_sample

    return measure(read_sample(sample))


def table_rows(shape: Shape) -> list[tuple[str, str]]:
    """The shape as (quantity, value) rows for a terminal table."""

    def q(d: Distribution) -> str:
        s = d.summary()
        return (
            f"p10 {s['p10']:,.1f} · p50 {s['p50']:,.1f} · p90 {s['p90']:,.1f} · "
            f"mean {s['mean']:,.1f} · max {s['max']:,}"
        )

    data = shape.as_json()
    rows = [
        ("posts", f"{shape.posts:,}"),
        ("body characters", q(shape.body_chars)),
        ("paragraphs", q(shape.paragraphs)),
        ("images per post", q(shape.images)),
        ("code blocks per post", q(shape.code_blocks)),
        ("code lines per block", q(shape.code_lines)),
        ("tags per post", q(shape.tags_per_post)),
        ("distinct tags", f"{len(shape.tags):,} (zipf {data['tags_zipf']})"),
        ("categories per post", q(shape.categories_per_post)),
        ("distinct categories", f"{len(shape.categories):,} (zipf {data['categories_zipf']})"),
        ("distinct authors", f"{len(shape.authors):,} (zipf {data['authors_zipf']})"),
    ]
    views = data["views"]
    rows.append(
        ("views", f"median {views['median']:,.0f} · p90 {views['p90']:,.0f}" if views else "-")
    )
    pub = data["published"]
    rows.append(("published", f"{pub['first']} .. {pub['last']} ({pub['window_days']:,} days)"))
    rows.append(
        ("weekday shares %", " · ".join(f"{d} {v}" for d, v in pub["weekday_shares"].items()))
    )
    busiest = sorted(range(24), key=lambda h: -shape.hours[h])[:3]
    rows.append(("busiest hours", ", ".join(f"{h:02d}h" for h in busiest if shape.hours[h])))
    if shape.locales:
        rows.append(("locales", " · ".join(f"{k} {v:,}" for k, v in sorted(shape.locales.items()))))
    for name, dist in shape.lists.items():
        rows.append((f"meta {name}", q(dist)))
    return rows
