"""The judged run as Markdown, fit for a pull-request comment (`--markdown FILE`).

The verdict first, then what failed (breaches, regressions, lost workers, a
CPU-bound generator), the per-route table and where the reports are.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from anp_synth.errors import UsageError
from anp_synth.loadtest.junit import check_message, comparison_message

if TYPE_CHECKING:
    from anp_synth.loadtest.session import LoadTestResult
    from anp_synth.loadtest.thresholds import BaselinePolicy


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _ms(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:,.1f}"


def render(result: LoadTestResult, policy: BaselinePolicy, report: str | None = None) -> str:
    """The comment's text."""
    failed = bool(result.breaches or result.regressions or result.lost_workers) or (
        not result.trusted
    )
    agg = result.routes[-1]
    lines = [
        f"### Load test: {'❌ failed' if failed else '✅ passed'}",
        "",
        f"{agg.requests:,} requests in {result.duration_s:,.1f} s ({agg.rps:,.1f} req/s), "
        f"p95 {_ms(agg.p95)} ms, failures {agg.failure_ratio:.2%}.",
        "",
    ]
    if result.breaches:
        lines += [f"**Threshold breaches ({len(result.breaches)})**", ""]
        lines += [f"- {_cell(check_message(c))}" for c in result.checks if not c.passed]
        lines.append("")
    if result.regressions:
        lines += [f"**Regressions against the baseline ({len(result.regressions)})**", ""]
        lines += [f"- {_cell(comparison_message(c, policy))}" for c in result.regressions]
        lines.append("")
    if result.lost_workers:
        lines += ["**Workers lost before the end**", ""]
        lines += [f"- {_cell(w.describe())}" for w in result.lost_workers]
        lines.append("")
    if not result.trusted:
        cpu = result.locust.cpu
        lines += [
            f"**The load generator was CPU-bound** ({cpu.generator_max:.0f}% of a core, "
            f"limit {cpu.limit:g}%): the figures measure the generator, not the site.",
            "",
        ]
    lines += [
        "| route | requests | req/s | p50 ms | p95 ms | p99 ms | failures |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for row in result.routes:
        name = f"**{row.route}**" if row is agg else f"`{_cell(row.route)}`"
        lines.append(
            f"| {name} | {row.requests:,} | {row.rps:,.1f} | {_ms(row.p50)} | {_ms(row.p95)} "
            f"| {_ms(row.p99)} | {row.failure_ratio:.2%} |"
        )
    lines.append("")
    if result.comparisons:
        lines += [
            "<details><summary>Against the baseline</summary>",
            "",
            "| route | old p95 ms | new p95 ms | change | shift ms [95% CI] | p (Holm) | verdict |",
            "|---|--:|--:|--:|--:|--:|---|",
        ]
        for c in result.comparisons:
            change = "—" if not math.isfinite(c.change) else f"{c.change:+.1%}"
            p = "—" if math.isnan(c.p_adjusted) else f"{c.p_adjusted:.2g}"
            shift = "—"
            if c.shift is not None:
                shift = f"{c.shift.estimate:+,.1f} [{c.shift.low:+,.1f}, {c.shift.high:+,.1f}]"
            lines.append(
                f"| `{_cell(c.route)}` | {_ms(c.old_p95)} | {_ms(c.new_p95)} | {change} "
                f"| {shift} | {p} | {c.verdict.value} |"
            )
        lines += ["", "</details>", ""]
    for note in result.notes:
        lines.append(f"> {_cell(note)}")
    if result.notes:
        lines.append("")
    if report:
        lines.append(f"Report: [{report}]({report})")
    return "\n".join(lines).rstrip() + "\n"


def write(
    path: Path, result: LoadTestResult, policy: BaselinePolicy, report: str | None = None
) -> None:
    """Write the Markdown file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(result, policy, report), encoding="utf-8")
    except OSError as exc:
        raise UsageError("markdown", f"cannot write {path}: {exc.strerror or exc}") from None
