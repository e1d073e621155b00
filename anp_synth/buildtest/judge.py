"""A build test's verdict: its thresholds and its baseline, judged together (exit 3 on a breach)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anp_synth.buildtest.run import Result
from anp_synth.buildtest.verdict import BuildLimits, Regression, breaches, compare
from anp_synth.loadtest import baseline as saved
from anp_synth.loadtest.thresholds import Breach


@dataclass
class Verdict:
    """Limits broken and regressions found; `failed` means exit 3."""

    breaches: list[Breach] = field(default_factory=list)
    comparisons: list[Regression] = field(default_factory=list)

    @property
    def regressions(self) -> list[Regression]:
        return [c for c in self.comparisons if c.verdict == "regression"]

    @property
    def failed(self) -> bool:
        return bool(self.breaches or self.regressions)

    def lines(self) -> list[str]:
        """One line per breach and per comparison."""
        out = [
            f"BREACH {b.route} {b.metric}: {b.actual:.3g} (limit {b.bound})" for b in self.breaches
        ]
        for c in self.comparisons:
            p = "" if c.p_value is None else f", p={c.p_value:.3g}"
            out.append(
                f"{c.verdict} {c.key}: median {c.old_median_ms:.0f} → {c.new_median_ms:.0f} ms{p}"
            )
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "failed": self.failed,
            "breaches": [
                {"at": b.route, "metric": b.metric, "limit": b.limit, "actual": b.actual}
                for b in self.breaches
            ],
            "baseline": [_reg(c) for c in self.comparisons],
        }


def _reg(c: Regression) -> dict[str, Any]:
    return {"at": c.key, "verdict": c.verdict, "old_median_ms": c.old_median_ms,
            "new_median_ms": c.new_median_ms, "p_value": c.p_value}  # fmt: skip


def judge(result: Result, limits: BuildLimits | None, baseline: Path | None) -> Verdict:
    """Check the limits and compare with the baseline file, when given."""
    v = Verdict()
    policy = (limits or BuildLimits()).baseline
    if limits is not None:
        # per kind and volume; with --vary (one volume), the worst of the knob's values
        medians: dict[tuple[str, int], float] = {}
        rss: dict[tuple[str, int], float] = {}
        for r in result.rows:
            key = (r.kind, r.posts)
            medians[key] = max(medians.get(key, 0.0), r.wall.median)
            rss[key] = max(rss.get(key, 0.0), r.rss.max)
        growth = result.settings.vary is None  # an exponent against posts, not against a knob
        exps = {k: (f.exponent if f and growth else None) for k, f in result.fits().items()}
        v.breaches = breaches(limits, medians, rss, exps)
    if baseline is not None:
        v.comparisons = compare(saved.load(baseline), result.samples_ms(), policy)
    return v


def save_baseline(result: Result, path: Path) -> None:
    """Keep this build test's wall times as a baseline (the load test's file format)."""
    saved.save(path, f"{result.settings.sink}:{result.settings.target}", result.samples_ms())
