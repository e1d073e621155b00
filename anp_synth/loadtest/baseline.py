"""Saved baselines and the comparison of a run with one.

A baseline keeps, per route, up to MAX_SAMPLES latencies of a run (an evenly
spaced subsample of the sorted values when there were more, which keeps the
distribution's shape). A route counts as a regression only when both hold:

- the Mann-Whitney U test says the new latencies are stochastically larger
  (one-sided p < alpha after the Holm correction over the routes compared),
  as sitespeed.io and Mozilla's perf tools do;
- the p95 grew by more than the effect-size floor: `min_effect` (relative)
  AND `min_effect_ms` (absolute). With thousands of samples the test flags
  differences far too small to matter; the floor keeps noise from failing a
  release.

Improvements are reported the same way, mirrored; they never fail a run.
Every route also gets how much: the Hodges-Lehmann shift (median of all
pairwise differences new - old) with its 95 % confidence interval, as
TracerBench reports it.
"""

from __future__ import annotations

import bisect
import math
import statistics
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
SHIFT_SAMPLES = 2000  # per side, for the Hodges-Lehmann shift and its interval
SHIFT_RESOLUTION_MS = 0.0005  # latencies are recorded to 0.001 ms


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


@dataclass(frozen=True)
class Shift:
    """The Hodges-Lehmann shift of `new` against `old` (ms) and its confidence interval."""

    estimate: float
    low: float
    high: float
    confidence: float


def _count_at_most(old: list[float], new: list[float], d: float) -> int:
    """How many pairs (x in old, y in new) have y - x <= d (both sorted)."""
    return sum(bisect.bisect_right(new, x + d) for x in old)


def _kth_difference(old: list[float], new: list[float], k: int) -> float:
    """The k-th smallest (1-based) of the n*m differences y - x, by bisection on the value."""
    lo, hi = new[0] - old[-1], new[-1] - old[0]
    while hi - lo > SHIFT_RESOLUTION_MS:
        mid = (lo + hi) / 2.0
        if _count_at_most(old, new, mid) >= k:
            hi = mid
        else:
            lo = mid
    return hi


def hodges_lehmann(old: list[float], new: list[float], confidence: float = 0.95) -> Shift:
    """Median of all differences new - old, with the Mann-Whitney-based (Moses) interval.

    The interval is [D(c), D(nm - c + 1)] of the sorted differences, with
    c = floor(nm/2 - z * sqrt(nm(n+m+1)/12)) (normal approximation, ties
    ignored), as TracerBench reports it. Each input is thinned to at most
    SHIFT_SAMPLES evenly spaced order statistics first (the shape kept; the
    interval is then that of SHIFT_SAMPLES values: wider, never narrower, than
    the full run's), and the values are found to SHIFT_RESOLUTION_MS.
    """
    xs, ys = subsample(old, SHIFT_SAMPLES), subsample(new, SHIFT_SAMPLES)
    n, m = len(xs), len(ys)
    if not n or not m:
        raise ValueError("both samples must be non-empty")
    total = n * m
    if total % 2:
        estimate = _kth_difference(xs, ys, (total + 1) // 2)
    else:
        half = total // 2
        estimate = (_kth_difference(xs, ys, half) + _kth_difference(xs, ys, half + 1)) / 2.0
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2.0)
    c = math.floor(total / 2.0 - z * math.sqrt(total * (n + m + 1) / 12.0))
    c = max(c, 1)
    return Shift(
        estimate=estimate,
        low=_kth_difference(xs, ys, c),
        high=_kth_difference(xs, ys, total - c + 1),
        confidence=confidence,
    )


def holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (in the input's order): family-wise error <= alpha."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [1.0] * len(p_values)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


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
    p_value: float  # one-sided Mann-Whitney p of the direction judged (raw)
    effect: float
    n_old: int
    n_new: int
    p_adjusted: float = math.nan  # the same, Holm-adjusted over the routes compared
    shift: Shift | None = None  # Hodges-Lehmann shift of the latencies, ms

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        shift = self.shift
        return {
            "route": self.route,
            "verdict": self.verdict.value,
            "old_p95_ms": round(self.old_p95, 3),
            "new_p95_ms": round(self.new_p95, 3),
            "change": round(self.change, 4) if math.isfinite(self.change) else None,
            "p_value": self.p_value,
            "p_adjusted": self.p_adjusted,
            "shift_ms": None if shift is None else round(shift.estimate, 3),
            "shift_ci_ms": None if shift is None else [round(shift.low, 3), round(shift.high, 3)],
            "shift_confidence": None if shift is None else shift.confidence,
            "effect": round(self.effect, 4),
            "n_old": self.n_old,
            "n_new": self.n_new,
        }


def compare_route(
    route: str, old: list[float], new: list[float], policy: BaselinePolicy
) -> RouteComparison:
    """Judge one route's latencies against the baseline's (a family of one test)."""
    return compare({route: old}, {route: new}, policy)[0]


def compare(
    baseline: dict[str, list[float]], current: dict[str, list[float]], policy: BaselinePolicy
) -> list[RouteComparison]:
    """Every route present in both runs, compared; routes in only one run are skipped.

    Each route gets a one-sided Mann-Whitney U test in each direction; the
    p-values are Holm-adjusted over the routes compared (every route with
    enough samples, Aggregated included), so twenty unchanged routes give a
    false regression with probability <= alpha, not about 1 - (1 - alpha)^20.
    A regression also needs the p95 to grow past the effect-size floor.
    """
    routes = sorted(set(baseline) & set(current))
    sized = [
        r for r in routes if len(baseline[r]) >= MIN_SAMPLES and len(current[r]) >= MIN_SAMPLES
    ]
    tests = {r: mann_whitney(sorted(baseline[r]), sorted(current[r])) for r in sized}
    slower = dict(zip(sized, holm([tests[r].p_greater for r in sized]), strict=True))
    faster = dict(zip(sized, holm([tests[r].p_less for r in sized]), strict=True))
    out = []
    for route in routes:
        old, new = sorted(baseline[route]), sorted(current[route])
        old_p95 = percentile(old, 95) if old else math.nan
        new_p95 = percentile(new, 95) if new else math.nan
        if route not in tests:
            out.append(
                RouteComparison(
                    route,
                    Verdict.TOO_FEW_SAMPLES,
                    old_p95,
                    new_p95,
                    math.nan,
                    math.nan,
                    math.nan,
                    len(old),
                    len(new),
                )  # fmt: skip
            )
            continue
        test = tests[route]
        change = (new_p95 - old_p95) / old_p95 if old_p95 > 0 else math.inf
        grew = new_p95 - old_p95
        material_up = change > policy.min_effect and grew > policy.min_effect_ms
        material_down = -change > policy.min_effect and -grew > policy.min_effect_ms
        if slower[route] < policy.alpha and material_up:
            verdict, p, adjusted = Verdict.REGRESSION, test.p_greater, slower[route]
        elif faster[route] < policy.alpha and material_down:
            verdict, p, adjusted = Verdict.IMPROVEMENT, test.p_less, faster[route]
        elif test.p_greater <= test.p_less:
            verdict, p, adjusted = Verdict.UNCHANGED, test.p_greater, slower[route]
        else:
            verdict, p, adjusted = Verdict.UNCHANGED, test.p_less, faster[route]
        out.append(
            RouteComparison(
                route,
                verdict,
                old_p95,
                new_p95,
                change,
                p,
                test.effect,
                len(old),
                len(new),
                p_adjusted=adjusted,
                shift=hodges_lehmann(old, new),
            )  # fmt: skip
        )
    return out


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
