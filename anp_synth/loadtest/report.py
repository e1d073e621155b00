"""Our own HTML report of a run: one self-contained file, charts made with Plotly.

Beside Locust's report.html (which shows Locust's rounded figures), this one
shows ours, from every sample: per route p50/p95/p99 and requests/s over time
with the thresholds drawn, the latency distribution (CDF) of this run against
the baseline, the cache outcome mix, and the comparison with its shift and
confidence interval. plotly.js is embedded once, so the file opens offline.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from anp_synth.errors import UsageError
from anp_synth.loadtest.stats import AGGREGATE, Sample, latency, percentile

if TYPE_CHECKING:
    from anp_synth.loadtest.session import LoadTestResult
    from anp_synth.loadtest.thresholds import Thresholds

FILE = "anp-report.html"
MAX_ROUTES = 12  # the busiest routes get charts of their own (the table has every route)
TIME_BUCKETS = 60  # points per time series
CDF_POINTS = 400  # points per distribution curve
_CACHE_COLOURS = {"HIT": "#2ca02c", "MISS": "#ff7f0e", "BYPASS": "#1f77b4", "none": "#999999"}


def _buckets(samples: Sequence[Sample]) -> tuple[float, float, int]:
    t0 = min(s.start for s in samples)
    t1 = max(s.start for s in samples)
    width = max((t1 - t0) / TIME_BUCKETS, 1.0)
    return t0, width, int((t1 - t0) / width) + 1


def _limits(thresholds: Thresholds, route: str) -> dict[str, float]:
    limits = thresholds.global_ if route == AGGREGATE else thresholds.routes.get(route)
    if limits is None:
        return {}
    out = {}
    for metric in ("p50_ms", "p95_ms", "p99_ms", "min_rps"):
        value = getattr(limits, metric)
        if value is not None:
            out[metric] = value
    return out


def _over_time(
    route: str, group: Sequence[Sample], all_samples: Sequence[Sample], limits: dict[str, float]
) -> object:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    t0, width, n = _buckets(all_samples)
    per: list[list[float]] = [[] for _ in range(n)]
    for s in group:
        per[int((s.start - t0) / width)].append(latency(s))
    xs = [round((i + 0.5) * width, 2) for i in range(n)]
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.65, 0.35]
    )
    for q, colour in ((50, "#1f77b4"), (95, "#ff7f0e"), (99, "#d62728")):
        ys = [percentile(sorted(v), q) if v else None for v in per]
        fig.add_trace(
            go.Scatter(x=xs, y=ys, mode="lines+markers", name=f"p{q}", line={"color": colour}),
            row=1,
            col=1,
        )
        limit = limits.get(f"p{q}_ms")
        if limit is not None:
            fig.add_hline(
                y=limit,
                line={"color": colour, "dash": "dash"},
                annotation_text=f"p{q} limit {limit:g} ms",
                row=1,
                col=1,
            )
    fig.add_trace(
        go.Bar(x=xs, y=[len(v) / width for v in per], name="requests/s", marker_color="#7f7f7f"),
        row=2,
        col=1,
    )
    if "min_rps" in limits:
        fig.add_hline(
            y=limits["min_rps"],
            line={"dash": "dash"},
            annotation_text=f"min {limits['min_rps']:g} req/s",
            row=2,
            col=1,
        )
    fig.update_yaxes(title_text="ms", row=1, col=1)
    fig.update_yaxes(title_text="req/s", row=2, col=1)
    fig.update_xaxes(title_text="seconds into the run", row=2, col=1)
    fig.update_layout(title=f"{route}: latency percentiles and throughput over time", height=480)
    return fig


def _cdf_points(values: Sequence[float]) -> tuple[list[float], list[float]]:
    ordered = sorted(values)
    n = len(ordered)
    if n <= CDF_POINTS:
        picks = list(range(n))
    else:
        picks = [round(i * (n - 1) / (CDF_POINTS - 1)) for i in range(CDF_POINTS)]
    xs, ys = [], []
    for i in picks:
        xs.append(ordered[i])
        ys.append((i + 1) / n)
    return xs, ys


def _cdf(
    route: str, now: Sequence[float], old: Sequence[float] | None, limits: dict[str, float]
) -> object:
    import plotly.graph_objects as go

    fig = go.Figure()
    xs, ys = _cdf_points(now)
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="this run", line={"shape": "hv"}))
    if old:
        xs, ys = _cdf_points(old)
        fig.add_trace(
            go.Scatter(
                x=xs, y=ys, mode="lines", name="baseline", line={"shape": "hv", "dash": "dot"}
            )
        )
    for metric, value in limits.items():
        if metric.endswith("_ms"):
            fig.add_vline(
                x=value, line={"dash": "dash"}, annotation_text=f"{metric[:-3]} limit {value:g} ms"
            )
    fig.update_xaxes(title_text="latency, ms (log)", type="log")
    fig.update_yaxes(title_text="share of requests", range=[0, 1.01])
    fig.update_layout(title=f"{route}: latency distribution (CDF)", height=380)
    return fig


def _cache_mix(result: LoadTestResult) -> object:
    import plotly.graph_objects as go

    rows = [r for r in result.routes if r.route != AGGREGATE]
    fig = go.Figure()
    for outcome, colour in _CACHE_COLOURS.items():
        fig.add_trace(
            go.Bar(
                y=[r.route for r in rows],
                x=[r.cache.get(outcome, 0) / r.requests if r.requests else 0 for r in rows],
                name=outcome,
                orientation="h",
                marker_color=colour,
            )
        )
    fig.update_layout(
        barmode="stack",
        title="Cache outcome mix per route (X-Cache)",
        xaxis={"title": "share of requests", "tickformat": ".0%"},
        height=max(300, 28 * len(rows) + 120),
        yaxis={"automargin": True},
    )
    return fig


def _table(result: LoadTestResult) -> str:
    head = "".join(
        f"<th>{h}</th>"
        for h in ("route", "requests", "req/s", "p50", "p95", "p99", "max", "failures")
    )
    body = []
    for r in result.routes:
        cells = [
            html.escape(r.route),
            f"{r.requests:,}",
            f"{r.rps:,.1f}",
            *(f"{v:,.1f}" if not math.isnan(v) else "—" for v in (r.p50, r.p95, r.p99, r.max)),
            f"{r.failures:,} ({r.failure_ratio:.1%})",
        ]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    out = f"<table><tr>{head}</tr>{''.join(body)}</table>"
    if result.comparisons:
        head = "".join(
            f"<th>{h}</th>"
            for h in ("route", "old p95", "new p95", "shift ms [95% CI]", "p (Holm)", "verdict")
        )
        body = []
        for c in result.comparisons:
            shift = "—"
            if c.shift is not None:
                shift = f"{c.shift.estimate:+,.1f} [{c.shift.low:+,.1f}, {c.shift.high:+,.1f}]"
            p = "—" if math.isnan(c.p_adjusted) else f"{c.p_adjusted:.2g}"
            cells = [html.escape(c.route), f"{c.old_p95:,.1f}", f"{c.new_p95:,.1f}", shift, p,
                     c.verdict.value]  # fmt: skip
            cls = (
                f' class="{c.verdict.value}"'
                if c.verdict.value in ("regression", "improvement")
                else ""
            )
            body.append(f"<tr{cls}>" + "".join(f"<td>{x}</td>" for x in cells) + "</tr>")
        out += f"<h2>Against the baseline</h2><table><tr>{head}</tr>{''.join(body)}</table>"
    return out


def render(
    result: LoadTestResult,
    samples: Sequence[Sample],
    thresholds: Thresholds,
    old: dict[str, list[float]] | None,
) -> str:
    """The report's HTML (one document, plotly.js inline)."""
    by_route: dict[str, list[Sample]] = {}
    for s in samples:
        by_route.setdefault(s.route, []).append(s)
    busiest = sorted(by_route, key=lambda r: -len(by_route[r]))[:MAX_ROUTES]
    figures = []
    for route in [AGGREGATE, *sorted(busiest)]:
        group = samples if route == AGGREGATE else by_route[route]
        limits = _limits(thresholds, route)
        figures.append(_over_time(route, group, samples, limits))
        figures.append(_cdf(route, [latency(s) for s in group], (old or {}).get(route), limits))
    figures.append(_cache_mix(result))
    parts = []
    for i, fig in enumerate(figures):
        parts.append(
            fig.to_html(full_html=False, include_plotlyjs=(i == 0), config={"displaylogo": False})  # type: ignore[attr-defined]
        )
    verdict = "interrupted" if result.interrupted else "passed" if result.passed else "failed"
    agg = result.routes[-1]
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in result.notes)
    breaches = "".join(
        f"<li>{html.escape(b.route)}: {html.escape(b.metric)} {b.actual:.4g} (limit {html.escape(b.bound)})</li>"
        for b in result.breaches
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>anp-synth load test: {verdict}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
h1.passed {{ color: #2a7d2a; }} h1.failed, h1.interrupted {{ color: #b22222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; font-family: monospace; }}
tr.regression {{ background: #fdd; }} tr.improvement {{ background: #dfd; }}
</style></head><body>
<h1 class="{verdict}">Load test {verdict}</h1>
<p>{agg.requests:,} requests in {result.duration_s:,.1f} s ({agg.rps:,.1f} req/s);
p50 {agg.p50:,.1f} ms, p95 {agg.p95:,.1f} ms, p99 {agg.p99:,.1f} ms; failures {agg.failure_ratio:.2%}.
Exact percentiles from every sample (not Locust's rounded buckets).</p>
{f"<h2>Threshold breaches</h2><ul>{breaches}</ul>" if breaches else ""}
{f"<h2>Notes</h2><ul>{notes}</ul>" if notes else ""}
{_table(result)}
{"".join(parts)}
</body></html>
"""


def write(
    path: Path,
    result: LoadTestResult,
    samples: Sequence[Sample],
    thresholds: Thresholds,
    old: dict[str, list[float]] | None,
) -> Path:
    """Write the report (atomically) and return its path."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(render(result, samples, thresholds, old), encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise UsageError("out", f"cannot write {path}: {exc.strerror or exc}") from None
    return path
