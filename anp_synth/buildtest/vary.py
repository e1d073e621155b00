"""`buildtest --vary KNOB=V1,V2,…`: one profile knob's effect on the build at a fixed volume.

A knob is one field of the generation profile that matters to a static build: how many
distinct tags (a listing and a feed each) or categories (stacks) the site has, how many tags
a post carries, how long its body is. Each value makes the run's profile with only that field
changed (same name, so every other draw of every post stays the same) and goes through the
profile's own checks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from anp_synth.errors import InputError, UsageError
from anp_synth.generate.profile import Count, Profile, from_text, render, resolve

# knob → (the Profile field, what the value means in the profile file, its type)
KNOBS: dict[str, tuple[str, str, str]] = {
    "tags": ("distinct_tags", "tags.distinct", "distinct tags over the dataset"),
    "stacks": ("distinct_stacks", "stacks.distinct", "distinct stacks (categories)"),
    "tags_per_post": ("tags", "tags.per_post", "drawn tags per post (after the stack's own)"),
    "paragraphs": (
        "production_paragraphs",
        "body.production_paragraphs",
        "paragraphs of a post's first section (the body's length)",
    ),
}
_COUNTS = {"tags", "production_paragraphs"}  # fields that are a Count, not an int


@dataclass(frozen=True)
class Vary:
    """The knob and its values, in increasing order."""

    knob: str
    values: list[int]

    @property
    def key(self) -> str:
        """The profile file's key of the knob (`tags.distinct`)."""
        return KNOBS[self.knob][1]

    def profile(self, base: str | Profile, value: int) -> Profile:
        """`base` with the knob set to `value`, checked as a profile file would be."""
        field = KNOBS[self.knob][0]
        new: Any = Count(value, value) if field in _COUNTS else value
        changed = replace(resolve(base), **{field: new})
        try:
            return from_text(render(changed), f"--vary {self.knob}={value}")
        except InputError as exc:
            raise UsageError("vary", f"{self.knob}={value}: {exc.reason}") from None


def parse_vary(text: str) -> Vary:
    """`tags=100,1000,5000` → Vary("tags", [100, 1000, 5000]): a known knob, increasing values."""
    knob, sep, values = text.partition("=")
    knob = knob.strip().replace("-", "_")
    if not sep or knob not in KNOBS:
        known = ", ".join(f"{k} ({v[2]})" for k, v in KNOBS.items())
        raise UsageError("vary", f"{text!r}: expected KNOB=V1,V2,… with KNOB one of {known}")
    try:
        numbers = [int(part) for part in values.split(",") if part.strip()]
    except ValueError:
        raise UsageError("vary", f"{text!r}: expected whole numbers after {knob}=") from None
    low = 0 if knob == "tags_per_post" else 1
    if len(numbers) < 1 or any(n < low for n in numbers):
        raise UsageError("vary", f"{text!r}: expected numbers >= {low} after {knob}=")
    if any(b <= a for a, b in zip(numbers, numbers[1:], strict=False)):
        raise UsageError("vary", f"{text!r}: each value must be larger than the one before")
    return Vary(knob, numbers)
