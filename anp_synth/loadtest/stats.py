"""Exact per-route statistics from every recorded response time.

Locust rounds response times to about two significant digits before it
computes percentiles; the locustfiles here also write every sample to
`samples-<pid>.tsv` in the run's output directory, and this module reads them
back and reports exact percentiles (linear interpolation between order
statistics, as numpy's default does).

Sample line (tab-separated): route, start (epoch s), service ms, corrected ms
(empty unless the open model ran), ok (1/0), cache outcome (H/M/B/-), late (1/0).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from anp_synth.errors import InputError

AGGREGATE = "Aggregated"
SAMPLES_GLOB = "samples-*.tsv"
_CACHE_CODES = {"H": "HIT", "M": "MISS", "B": "BYPASS", "-": "none"}


@dataclass(slots=True)
class Sample:
    """One request as the load generator saw it."""

    route: str
    start: float
    ms: float
    corrected_ms: float | None
    ok: bool
    cache: str
    late: bool


@dataclass
class RouteStats:
    """The summary of one route (or of every route, under AGGREGATE)."""

    route: str
    requests: int
    failures: int
    rps: float
    p50: float
    p95: float
    p99: float
    max: float
    mean: float
    late: int = 0
    cache: dict[str, int] = field(default_factory=dict)

    @property
    def failure_ratio(self) -> float:
        """Failed requests over all requests (0 when there were none)."""
        return self.failures / self.requests if self.requests else 0.0

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dict of the figures."""
        return {
            "route": self.route,
            "requests": self.requests,
            "failures": self.failures,
            "failure_ratio": round(self.failure_ratio, 6),
            "rps": round(self.rps, 3),
            "p50_ms": round(self.p50, 3),
            "p95_ms": round(self.p95, 3),
            "p99_ms": round(self.p99, 3),
            "max_ms": round(self.max, 3),
            "mean_ms": round(self.mean, 3),
            "late": self.late,
            "cache": dict(sorted(self.cache.items())),
        }


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of already sorted values, linearly interpolated."""
    if not sorted_values:
        return math.nan
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = pos - lo
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac


def parse_line(line: str, path: str, lineno: int) -> Sample:
    """One sample from one line of a samples file; InputError names the line."""
    parts = line.rstrip("\n").split("\t")
    if len(parts) != 7:
        raise InputError(path, lineno, None, f"expected 7 tab-separated fields, got {len(parts)}")
    route, start, ms, cms, ok, cache, late = parts
    try:
        return Sample(
            route=route,
            start=float(start),
            ms=float(ms),
            corrected_ms=float(cms) if cms else None,
            ok=ok == "1",
            cache=_CACHE_CODES.get(cache, "none"),
            late=late == "1",
        )
    except ValueError as exc:
        raise InputError(path, lineno, None, f"not a number: {exc}") from None


def read_samples(directory: Path) -> list[Sample]:
    """Every sample written by every load-generator process into `directory`."""
    samples: list[Sample] = []
    for path in sorted(directory.glob(SAMPLES_GLOB)):
        with path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if line.strip():
                    samples.append(parse_line(line, str(path), lineno))
    return samples


def latency(sample: Sample) -> float:
    """The latency to judge: from the intended send time when the open model set one."""
    return sample.corrected_ms if sample.corrected_ms is not None else sample.ms


def summarize(samples: Iterable[Sample], duration_s: float | None = None) -> list[RouteStats]:
    """Per-route statistics sorted by route, then the AGGREGATE row last.

    `duration_s` is the window rps is computed over; by default the span from the
    first request's start to the last one's end.
    """
    by_route: dict[str, list[Sample]] = {}
    everything: list[Sample] = []
    for s in samples:
        by_route.setdefault(s.route, []).append(s)
        everything.append(s)
    if duration_s is None:
        duration_s = window(everything)
    rows = [_stats(route, group, duration_s) for route, group in sorted(by_route.items())]
    rows.append(_stats(AGGREGATE, everything, duration_s))
    return rows


def window(samples: Sequence[Sample]) -> float:
    """Seconds from the first request's start to the last request's end (at least 1 ms)."""
    if not samples:
        return 0.0
    first = min(s.start for s in samples)
    last = max(s.start + s.ms / 1000.0 for s in samples)
    return max(last - first, 0.001)


def latencies_by_route(samples: Iterable[Sample]) -> dict[str, list[float]]:
    """Each route's latencies (corrected when present), plus AGGREGATE, unsorted."""
    out: dict[str, list[float]] = {AGGREGATE: []}
    for s in samples:
        value = latency(s)
        out.setdefault(s.route, []).append(value)
        out[AGGREGATE].append(value)
    return out


def _stats(route: str, group: Sequence[Sample], duration_s: float) -> RouteStats:
    values = sorted(latency(s) for s in group)
    cache: dict[str, int] = {}
    for s in group:
        cache[s.cache] = cache.get(s.cache, 0) + 1
    n = len(values)
    return RouteStats(
        route=route,
        requests=n,
        failures=sum(1 for s in group if not s.ok),
        rps=n / duration_s if duration_s > 0 else 0.0,
        p50=percentile(values, 50),
        p95=percentile(values, 95),
        p99=percentile(values, 99),
        max=values[-1] if values else math.nan,
        mean=sum(values) / n if n else math.nan,
        late=sum(1 for s in group if s.late),
        cache=cache,
    )
