"""Fit a profile to a measured shape: the profile whose posts reproduce a sample.

Each quantity maps to the knob that sets it: per-post histograms become weighted
counts (tags, images, meta lists), body length becomes a weighted count of
production paragraphs (calibrated on the generator's own paragraphs for the
sample's locale), names become cardinalities with a fitted Zipf exponent, dates
become weekday and hour weights and the window.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter

from anp_synth.generate.profile import (
    MAX_CODE_BLOCKS,
    MAX_CODE_LINES,
    MAX_COUNT,
    Profile,
    from_text,
    render,
)
from anp_synth.generate.shape import WEEKDAYS, Shape, quantile, zipf_exponent
from anp_synth.generate.vocab import NAME_POOL

CALIBRATION_SEEDS = range(500_000, 502_000)
MAX_STACKS = 14  # the vocabulary's stacks: each carries its language, tools, snippets and tags


def _weighted(histogram: dict[int, int], low: int = 0, high: int = MAX_COUNT) -> str:
    table: Counter[int] = Counter()
    for value, n in histogram.items():
        if n:
            table[min(high, max(low, value))] += n
    if len(table) == 1:
        return str(next(iter(table)))
    values = sorted(table)
    return f"{{ values = {values}, weights = {[table[v] for v in values]} }}"


def _body_chars(mix: str, production: int, final: int) -> float:
    """Mean body characters of generated posts with fixed paragraph counts (in the locale mix)."""
    from anp_synth.generate.builder import builder_for
    from anp_synth.generate.samples import of_post

    text = f"[body]\nproduction_paragraphs = {production}\nfinal_paragraphs = {final}\n{mix}"
    builder = builder_for(from_text(text, "calibration"))
    sizes = [of_post(builder.build(seed)).body_chars for seed in CALIBRATION_SEEDS]
    return sum(sizes) / len(sizes)


def _body(shape: Shape, mix: str) -> list[str]:
    """production_paragraphs and final_paragraphs whose bodies match the sample's lengths."""
    short = quantile(shape.body_chars.values, 10)
    one_final = _body_chars(mix, 0, 1)
    final = 1 if short >= one_final else 0
    base = one_final if final else _body_chars(mix, 0, 0)
    per_paragraph = _body_chars(mix, 1, final) - base
    # a length between n and n+1 paragraphs is split between them by how close it is:
    # the mean stays and short bodies are not rounded to a whole paragraph
    counts: Counter[int] = Counter()
    for chars in shape.body_chars.values:
        x = max(0.0, (chars - base) / per_paragraph)
        n = int(x)
        share = round(100 * (x - n))
        counts[n] += 100 - share
        counts[n + 1] += share
    return [f"production_paragraphs = {_weighted(counts)}", f"final_paragraphs = {final}"]


def _code(shape: Shape) -> list[str]:
    """Code blocks per post and lines per block, as measured (capped to what a profile takes)."""
    blocks = _weighted(shape.code_blocks.histogram, high=MAX_CODE_BLOCKS)
    lines = _weighted(shape.code_lines.histogram, low=1, high=MAX_CODE_LINES)
    return [
        "[code]",
        f"per_post = {blocks}",
        f"lines = {lines if shape.code_lines.values else 0}",
        "",
    ]


def fit(shape: Shape, name: str, sample: str = "") -> str:
    """A complete profile file (TOML text) fitted to `shape`."""
    if shape.posts == 0:
        from anp_synth.errors import InputError

        raise InputError(sample or "sample", None, None, "has no published posts to fit")
    mix = ""
    if shape.locales:
        weights = ", ".join(f"{k} = {v}" for k, v in sorted(shape.locales.items()))
        mix = f"[mix]\nlocales = {{ {weights} }}\n"
    lines = [f'name = "{name}"', "", "[body]", *_body(shape, mix), ""]
    lines += ["[images]", f"per_post = {_weighted(shape.images.histogram, low=1)}", ""]
    lines += _code(shape)
    if shape.lists:
        lines.append("[meta]")
        lines += [f"{k} = {_weighted(d.histogram)}" for k, d in shape.lists.items()]
        if "tools" in shape.lists:
            lines.append("extra_tools = 0  # the measured tools are all of them")
        lines.append("")
    tags = shape.tags
    lines += [
        "[tags]",
        f"per_post = {_weighted(shape.tags_per_post.histogram)}",
        "stack_tags = false",
        f"distinct = {max(1, len(tags))}",
        f"zipf = {zipf_exponent(tags)}",
        "",
    ]
    if shape.categories:
        lines += [
            "[stacks]",
            f"distinct = {min(MAX_STACKS, len(shape.categories))}",
            f"zipf = {zipf_exponent(shape.categories)}",
            "",
        ]
    if shape.authors:
        lines += [
            "[authors]",
            f"distinct = {min(NAME_POOL, len(shape.authors))}",
            f"zipf = {zipf_exponent(shape.authors)}",
            "",
        ]
    views = shape.views.values
    if views:
        median = max(1, int(quantile(views, 50)))
        p90 = max(median + 1, int(quantile(views, 90)))
        sigma = min(4.0, max(0.01, math.log(p90 / median) / 1.2816))
        lines += ["[views]", f"median = {median}", f"sigma = {sigma:.2f}", ""]
    if shape.first_day:
        epoch = dt.date.fromisoformat(shape.last_day) + dt.timedelta(days=1)
        lines += [
            "[published]",
            f"window_days = {shape.window_days}",
            f"epoch = {epoch.isoformat()}",
            "weekdays = { "
            + ", ".join(f"{d} = {n}" for d, n in zip(WEEKDAYS, shape.weekdays, strict=True))
            + " }",
        ]
        if any(shape.hours):  # a sample with dates but no times leaves hours to the default
            lines.append(f"hours = {shape.hours}")
        lines.append("")
    if len(shape.locales) > 1:
        lines.append(mix)
    profile: Profile = from_text("\n".join(lines), f"fitted {name}")
    comment = (
        f"Fitted by `anp-synth profile fit` from {sample or 'a sample'}: {shape.posts:,} posts.\n"
        f"Body: {len(shape.body_chars.values):,} lengths, p50 {int(quantile(shape.body_chars.values, 50)):,} characters; "
        f"{len(tags):,} distinct tags; {len(shape.categories):,} categories; "
        f"{len(shape.authors):,} authors."
    )
    return render(profile, comment)
