"""The statistics of a build test: min/median/max of repeated builds, and a power-law fit."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Spread:
    """Min, median and max of repeated measurements."""

    min: float
    median: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        """The spread of at least one value."""
        return cls(min(values), statistics.median(values), max(values))


@dataclass(frozen=True, slots=True)
class PowerLaw:
    """`seconds = a · posts^exponent`, fitted by least squares on log-log; r2 on the logs."""

    a: float
    exponent: float
    r2: float

    def at(self, posts: float) -> float:
        """The fitted time at `posts` posts."""
        return self.a * posts**self.exponent

    def per_1000(self, posts: float) -> float:
        """Seconds per 1,000 posts at `posts` posts, on the fitted curve."""
        return self.at(posts) / posts * 1000


def fit_power_law(posts: Sequence[float], seconds: Sequence[float]) -> PowerLaw | None:
    """The fit through (posts, seconds); None with fewer than two distinct volumes."""
    points = [
        (math.log(n), math.log(t)) for n, t in zip(posts, seconds, strict=True) if n > 0 and t > 0
    ]
    if len({x for x, _ in points}) < 2:
        return None
    mx = statistics.fmean(x for x, _ in points)
    my = statistics.fmean(y for _, y in points)
    sxx = sum((x - mx) ** 2 for x, _ in points)
    sxy = sum((x - mx) * (y - my) for x, y in points)
    b = sxy / sxx
    a = math.exp(my - b * mx)
    ss_tot = sum((y - my) ** 2 for _, y in points)
    ss_res = sum((y - (my + b * (x - mx))) ** 2 for x, y in points)
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0
    return PowerLaw(a, b, r2)
