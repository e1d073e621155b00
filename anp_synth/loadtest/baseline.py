"""Saved baselines and the comparison of a run with one.

A baseline keeps, per route, up to MAX_SAMPLES latencies of a run (an evenly
spaced subsample of the sorted values when there were more, which keeps the
distribution's shape). A route counts as a regression only when both hold:

- the Mann-Whitney U test says the new latencies are stochastically larger
  (one-sided p < alpha), as sitespeed.io and Mozilla's perf tools do;
- the p95 grew by more than the effect-size floor: `min_effect` (relative)
  AND `min_effect_ms` (absolute). With thousands of samples the test flags
  differences far too small to matter; the floor keeps noise from failing a
  release.

Improvements are reported the same way, mirrored; they never fail a run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import orjson

from anp_synth.errors import InputError, UsageError
from anp_synth.jsonl import read_document
from anp_synth.loadtest.stats import percentile
from anp_synth.loadtest.thresholds import BaselinePolicy

FORMAT = "anp-synth-baseline/1"
MAX_SAMPLES = 5000
MIN_SAMPLES = 20


@dataclass(frozen=True)
class MannWhitney:
    """The result of a two-sample Mann-Whitney U test (normal approximation, tie-corrected)."""

    u: float
    z: float
    p_greater: float  # P-value for "the second sample is stochastically larger"
    p_less: float
    effect: float  # common-language effect size: P(new > old) + P(new == old)/2


def mann_whitney(old: list[float], new: list[float]) -> MannWhitney:
    """Compare two samples; `p_greater` small means `new` tends to be larger."""
    n1, n2 = len(old), len(new)
    if n1 == 0 or n2 == 0:
        raise ValueError("both samples must be non-empty")
    tagged = sorted([(v, 0) for v in old] + [(v, 1) for v in new])
    n = n1 + n2
    rank_sum_new = 0.0
    tie_term = 0.0
    i = 0
    while i < n:
        j = i
        while j + 1 < n and tagged[j + 1][0] == tagged[i][0]:
            j += 1
        avg_rank = (i + j) / 2.0 + 1.0
        t = j - i + 1
        if t > 1:
            tie_term += t**3 - t
        for k in range(i, j + 1):
            if tagged[k][1] == 1:
                rank_sum_new += avg_rank
        i = j + 1
    u_new = rank_sum_new - n2 * (n2 + 1) / 2.0
    mu = n1 * n2 / 2.0
    var = n1 * n2 / 12.0 * ((n + 1) - tie_term / (n * (n - 1))) if n > 1 else 0.0
    if var <= 0:
        z = 0.0
    else:
        # continuity correction towards the mean
        diff = u_new - mu
        z = (diff - math.copysign(0.5, diff)) / math.sqrt(var) if diff else 0.0
    p_greater = 0.5 * math.erfc(z / math.sqrt(2))
    p_less = 0.5 * math.erfc(-z / math.sqrt(2))
    return MannWhitney(u=u_new, z=z, p_greater=p_greater, p_less=p_less, effect=u_new / (n1 * n2))


class Verdict(StrEnum):
    """How a route's latencies compare with the baseline's."""

    REGRESSION = "regression"
    IMPROVEMENT = "improvement"
    UNCHANGED = "unchanged"
    TOO_FEW_SAMPLES = "too few samples"


@dataclass(frozen=True)
class RouteComparison:
    """One route of the current run against the baseline."""

    route: str
    verdict: Verdict
    old_p95: float
    new_p95: float
    change: float  # relative change of p95
    p_value: float
    effect: float
    n_old: int
    n_new: int

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {
            "route": self.route,
            "verdict": self.verdict.value,
            "old_p95_ms": round(self.old_p95, 3),
            "new_p95_ms": round(self.new_p95, 3),
            "change": round(self.change, 4) if math.isfinite(self.change) else None,
            "p_value": self.p_value,
            "effect": round(self.effect, 4),
            "n_old": self.n_old,
            "n_new": self.n_new,
        }


def compare_route(
    route: str, old: list[float], new: list[float], policy: BaselinePolicy
) -> RouteComparison:
    """Judge one route's latencies against the baseline's."""
    old_sorted, new_sorted = sorted(old), sorted(new)
    old_p95 = percentile(old_sorted, 95) if old else math.nan
    new_p95 = percentile(new_sorted, 95) if new else math.nan
    if len(old) < MIN_SAMPLES or len(new) < MIN_SAMPLES:
        return RouteComparison(
            route,
            Verdict.TOO_FEW_SAMPLES,
            old_p95,
            new_p95,
            math.nan,
            math.nan,
            math.nan,
            len(old),
            len(new),
        )
    change = (new_p95 - old_p95) / old_p95 if old_p95 > 0 else math.inf
    test = mann_whitney(old_sorted, new_sorted)
    grew = new_p95 - old_p95
    if test.p_greater < policy.alpha and change > policy.min_effect and grew > policy.min_effect_ms:
        verdict, p = Verdict.REGRESSION, test.p_greater
    elif (
        test.p_less < policy.alpha and -change > policy.min_effect and -grew > policy.min_effect_ms
    ):
        verdict, p = Verdict.IMPROVEMENT, test.p_less
    else:
        verdict, p = Verdict.UNCHANGED, min(test.p_greater, test.p_less)
    return RouteComparison(
        route, verdict, old_p95, new_p95, change, p, test.effect, len(old), len(new)
    )


def compare(
    baseline: dict[str, list[float]], current: dict[str, list[float]], policy: BaselinePolicy
) -> list[RouteComparison]:
    """Every route present in both runs, compared; routes in only one run are skipped."""
    return [
        compare_route(route, baseline[route], current[route], policy)
        for route in sorted(set(baseline) & set(current))
    ]


def subsample(values: list[float], limit: int = MAX_SAMPLES) -> list[float]:
    """At most `limit` values: evenly spaced order statistics of the sorted values."""
    ordered = sorted(values)
    if len(ordered) <= limit:
        return ordered
    step = (len(ordered) - 1) / (limit - 1)
    return [ordered[round(i * step)] for i in range(limit)]


def save(path: str | Path, target: str, latencies: dict[str, list[float]]) -> None:
    """Store a run's latencies per route as a baseline file (written atomically)."""
    p = Path(path)
    doc = {
        "format": FORMAT,
        "target": target,
        "routes": {route: [round(v, 3) for v in subsample(vs)] for route, vs in latencies.items()},
    }
    tmp = p.with_name(p.name + ".tmp")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(orjson.dumps(doc))
        tmp.replace(p)
    except OSError as exc:
        raise UsageError("save_baseline", f"cannot write {p}: {exc.strerror or exc}") from None


def load(path: str | Path) -> dict[str, list[float]]:
    """A baseline's latencies per route; InputError names the file and the field."""
    p = Path(path)
    doc = read_document(p, FORMAT, "a baseline file")
    routes = doc.get("routes")
    if not isinstance(routes, dict):
        raise InputError(str(p), None, "routes", "expected an object of route → latencies")
    out: dict[str, list[float]] = {}
    for route, values in routes.items():
        if not isinstance(values, list) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in values
        ):
            raise InputError(str(p), None, f"routes.{route}", "expected a list of numbers")
        out[route] = [float(v) for v in values]
    return out
