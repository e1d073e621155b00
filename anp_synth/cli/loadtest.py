"""`loadtest` and `export-targets`: the third stage of the pipeline.

The options are the fields of `anp_synth.loadtest.settings.Settings`, by the same
names; an option left out takes the Settings default (stated in its help), so the
defaults and the checks live there alone. Nothing here imports locust (it
monkey-patches the process with gevent): the run happens in a subprocess.
The library and rich are imported when a command runs, so `anp-synth --help` starts fast.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from anp_synth.cli import options
from anp_synth.errors import PartialFailure

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from anp_synth.loadtest.session import LoadTestResult
    from anp_synth.loadtest.settings import Settings
    from anp_synth.loadtest.stats import RouteStats


def _ms(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:,.1f}"


# The per-route figures; a route name is never cut (thresholds files must spell it exactly).
LATENCY_COLUMNS = ("requests", "p50", "p95", "p99", "max")
TRAFFIC_COLUMNS = ("rps", "failures", "cache")


def _route_cell(table: Table, header: str = "route") -> None:
    """The route column: whole names on one line, never folded, cut or wrapped."""
    table.add_column(header, justify="left", no_wrap=True, overflow="ignore")


def _route_row(row: RouteStats) -> dict[str, str]:
    cache = " ".join(f"{k}:{v}" for k, v in sorted(row.cache.items()) if k != "none")
    return {
        "requests": f"{row.requests:,}",
        "rps": f"{row.rps:,.1f}",
        "p50": _ms(row.p50),
        "p95": _ms(row.p95),
        "p99": _ms(row.p99),
        "max": _ms(row.max),
        "failures": f"{row.failures:,}" + (f" ({row.failure_ratio:.1%})" if row.failures else ""),
        "cache": cache,
    }


def _figures_table(result: LoadTestResult, title: str, columns: tuple[str, ...]) -> Table:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    _route_cell(table)
    for col in columns:
        # numbers stay whole; the cache outcomes and the failure ratio wrap between words
        words = col in ("cache", "failures")
        table.add_column(col, justify="left" if col == "cache" else "right", no_wrap=not words)
    for row in result.routes:
        cells = _route_row(row)
        table.add_row(
            Text(row.route),
            *(cells[c] for c in columns),
            style="bold" if row.route == "Aggregated" else None,
        )
    return table


def routes_tables(result: LoadTestResult, width: int | None = None) -> list[Table]:
    """The per-route figures: one table, or two (latency, traffic) when one is wider than
    `width` (an 80-column terminal), so that no route name is ever cut or wrapped."""
    from rich.console import Console

    title = "Load test: per route (exact percentiles, ms)"
    whole = _figures_table(result, title, LATENCY_COLUMNS[:1] + TRAFFIC_COLUMNS[:1]
                           + LATENCY_COLUMNS[1:] + TRAFFIC_COLUMNS[1:])  # fmt: skip
    if width is None:
        return [whole]
    measure = Console(width=10_000).measure(whole)
    if measure.maximum <= width:
        return [whole]
    return [
        _figures_table(result, title, LATENCY_COLUMNS),
        _figures_table(result, "Load test: per route, traffic and cache", TRAFFIC_COLUMNS),
    ]


def routes_table(result: LoadTestResult) -> Table:
    """The per-route table: requests, rps, p50, p95, p99, max, failures, cache."""
    return routes_tables(result)[0]


def breaches_table(result: LoadTestResult) -> Table:
    """The thresholds that were not kept."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Threshold breaches", title_justify="left", style="red")
    _route_cell(table)
    for col in ("metric", "limit", "actual"):
        table.add_column(col)
    for b in result.breaches:
        table.add_row(Text(b.route), b.metric, b.bound, f"{b.actual:.4g}")
    return table


def _shift(c: object) -> str:
    shift = getattr(c, "shift", None)
    if shift is None:
        return "—"
    return f"{shift.estimate:+,.1f} [{shift.low:+,.1f}, {shift.high:+,.1f}]"


def baseline_table(result: LoadTestResult) -> Table:
    """Each route against the baseline: p95, the shift with its CI, the p-values, the verdict."""
    from rich.table import Table
    from rich.text import Text

    table = Table(
        title="Against the baseline (Mann-Whitney U, Holm-adjusted over routes; "
        "Hodges-Lehmann shift, 95% CI, ms; p95 floor)",
        title_justify="left",
    )
    _route_cell(table)
    for col in ("old p95", "new p95", "change", "shift [95% CI]", "p", "p (Holm)"):
        table.add_column(col, justify="right")
    table.add_column("verdict")
    for c in result.comparisons:
        style = {"regression": "red", "improvement": "green"}.get(c.verdict)
        table.add_row(
            Text(c.route),
            _ms(c.old_p95),
            _ms(c.new_p95),
            "—" if math.isnan(c.change) else f"{c.change:+.1%}",
            _shift(c),
            "—" if math.isnan(c.p_value) else f"{c.p_value:.2g}",
            "—" if math.isnan(c.p_adjusted) else f"{c.p_adjusted:.2g}",
            c.verdict,
            style=style,
        )
    return table


def _setting(flag: str, help_text: str, *aliases: str) -> Any:
    """An option of the load test: None when left out, so that the Settings default applies."""
    return typer.Option(None, flag, *aliases, help=help_text)


def loadtest_cmd(
    ctx: typer.Context,
    target: str | None = options.TARGET,
    ledger: Path | None = options.LEDGER,
    manifest: Path | None = _setting(
        "--manifest", "A targets manifest from export-targets, instead of --ledger."
    ),
    users: int | None = _setting("--users", "Concurrent simulated users (default 10).", "-u"),
    spawn_rate: float | None = _setting(
        "--spawn-rate", "Users started per second (default 10).", "-r"
    ),
    duration: str | None = _setting("--duration", "Run time: 60s, 2m, 1m30s (default 60).", "-t"),
    processes: int | None = _setting(
        "--processes", "Load-generator processes, Locust master + K workers when > 1 (default 1)."
    ),
    thresholds: Path | None = _setting("--thresholds", "Thresholds TOML file."),
    baseline: Path | None = _setting("--baseline", "Compare with this baseline."),
    save_baseline: Path | None = _setting("--save-baseline", "Store this run as a baseline file."),
    out: Path | None = _setting("--out", "Directory for reports (default out/loadtest)."),
    arrival_rate: float | None = _setting(
        "--arrival-rate",
        "Open model: requests/s in total, latency from intended send (default 0: closed).",
    ),
    accounts: Path | None = _setting("--accounts", "Login users JSON for the logged-in scenario."),
    weights: str | None = _setting(
        "--weights",
        "Scenario weights; unnamed ones keep theirs "
        "(default reader=6,browser=3,member=1,inspector=1).",
    ),
    think: str | None = _setting(
        "--think", "Seconds between a user's tasks, MIN,MAX (default 0.5,2)."
    ),
    similar: float | None = _setting(
        "--similar", "Probability that a reader then opens a similar post (default 0.3)."
    ),
    page_size: int | None = _setting(
        "--page-size",
        "Posts per listing page on the target, unless the manifest says (default 20).",
    ),
    cache_rules: Path | None = _setting(
        "--cache-rules",
        'The target\'s cache rules, JSON [{"pattern", "rule", "cached"}]; '
        "default: the manifest's (the reference site's).",
    ),
    hit_tries: int | None = _setting(
        "--hit-tries",
        "Requests before a re-requested page must be a HIT, for sites whose "
        "workers each cache (default 1).",
    ),
    min_effect: float | None = _setting(
        "--min-effect", "Regression floor: relative p95 growth (default 0.20)."
    ),
    min_effect_ms: float | None = _setting(
        "--min-effect-ms", "Regression floor: absolute p95 growth in ms (default 10)."
    ),
    cpu_limit: float | None = _setting(
        "--cpu-limit",
        "A generator process busier than this % of a core makes the figures "
        "untrustworthy (default 90).",
    ),
    locustfile: Path | None = _setting(
        "--locustfile", "Your own locustfile instead of the bundled one."
    ),
    master: bool = typer.Option(
        False,
        "--master",
        help="Be the Locust master of --expect-workers workers on other machines; it "
        "receives their exact samples and judges the run.",
    ),
    expect_workers: int | None = _setting(
        "--expect-workers", "With --master: workers to wait for (default 1)."
    ),
    worker: bool = typer.Option(
        False,
        "--worker",
        help="Be a worker of the master at --master-host: it sends the settings and the "
        "data, this process sends every sample back.",
    ),
    master_host: str | None = _setting(
        "--master-host", "With --worker: the master's host name or address."
    ),
    master_port: int | None = _setting(
        "--master-port",
        "The master's port: --master binds it, --worker connects to it (default 5557).",
    ),
    junit: Path | None = _setting(
        "--junit", "Write JUnit XML: a testcase per threshold and per comparison."
    ),
    markdown: Path | None = _setting(
        "--markdown", "Write a Markdown summary for a pull-request comment."
    ),
    assets: bool | None = _setting(
        "--assets/--no-assets",
        "Readers fetch each page's images, stylesheets and scripts as a browser with a "
        "cache would: first visit cold, then from cache or conditional.",
    ),
    edge: bool | None = _setting(
        "--edge/--no-edge",
        "TARGET is a Varnish edge in front of the site: expect the edge's verdict "
        "(X-Cache with X-Varnish and Age), HITs after the first request, no cache keys.",
    ),
) -> None:
    """Run the Locust scenarios headless against TARGET and judge the result.

    Exit 0: passed; 3: thresholds breached, a significant regression against the
    baseline, a worker lost before the end, or the load generator was CPU-bound
    (figures untrustworthy).
    """
    from rich.console import Console

    from anp_synth.errors import UsageError
    from anp_synth.loadtest.session import run
    from anp_synth.loadtest.settings import Settings

    values = dict(ctx.params)  # the parameters are named as the Settings fields
    if ledger is None and manifest is None and not worker:
        values["ledger"] = Path(options.DEFAULT_LEDGER)
    settings = Settings.from_values(values)
    # wide enough for the route names when the output is a pipe or a file
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
    err = Console(stderr=True, highlight=False)
    if settings.worker:
        _work_for_master(settings, console, err)
        return
    if target is None:
        raise UsageError("target", "the load test needs the site's base URL")
    announcement = (
        f"load test: {settings.users} users, {settings.duration:g} s, "
        f"{settings.generators} load-generator process(es) → {target}"
    )
    result = run(
        settings, progress=sys.stderr, on_start=lambda: err.print(announcement, markup=False)
    )
    print_result(console, settings.arrival_rate, result)
    if save_baseline:
        console.print(f"baseline saved to {save_baseline}", markup=False)
    if result.failures:
        raise PartialFailure("load test failed: " + "; ".join(result.failures))
    console.print("load test passed", markup=False)


def _work_for_master(settings: Settings, console: Console, err: Console) -> None:
    """`loadtest --worker`: run for the master, say how many samples went to it."""
    from anp_synth.loadtest.session import run_worker

    err.print(
        f"load test worker → master {settings.master_host}:{settings.master_port}", markup=False
    )
    done = run_worker(settings)
    console.print(
        f"worker done: {done.sent:,} samples sent to the master in {done.messages:,} messages",
        markup=False,
    )


def print_result(console: Console, arrival_rate: float, result: LoadTestResult) -> None:
    """The tables, the CPU line, the notes and where the reports are."""
    for table in routes_tables(result, console.width):
        console.print(table)
    if arrival_rate:
        console.print(
            f"open model at {arrival_rate:g} req/s: latency from the intended send time; "
            f"{result.late:,} requests not sent on time",
            markup=False,
        )
    if result.comparisons:
        console.print(baseline_table(result))
    if result.breaches:
        console.print(breaches_table(result))
    if result.workers is not None:
        total = sum(w.samples for w in result.workers)
        console.print(
            f"{len(result.workers)} worker(s) sent {total:,} exact samples to the master "
            f"({len(result.lost_workers)} lost before the end)",
            markup=False,
        )
    cpu = result.locust.cpu
    console.print(
        f"generator CPU {cpu.generator_max:.0f}% of a core (busiest process), "
        f"host CPU {cpu.host_mean:.0f}%",
        markup=False,
    )
    for note in result.notes:
        console.print(f"note: {note}", markup=False)
    console.print(
        f"reports: {result.report} (ours, HTML), {result.locust.html} (Locust's), "
        f"{result.summary_path} (JSON), "
        f"{result.locust.csv_prefix}_stats.csv (CSV)",
        markup=False,
    )


def export_targets_cmd(
    target: str | None = options.TARGET,
    ledger: Path | None = options.LEDGER,
    output: Path = typer.Option(Path("targets.json"), "--output", "-o", help="Manifest to write."),
) -> None:
    """Write the confirmed posts of TARGET in the ledger as a manifest for the locustfiles."""
    from rich.console import Console

    from anp_synth.errors import UsageError
    from anp_synth.loadtest import manifest as manifest_mod
    from anp_synth.target import normalise

    if target is None:
        raise UsageError("target", "say which target's confirmed posts to export")
    doc = manifest_mod.export(ledger or Path(options.DEFAULT_LEDGER), normalise(target), output)
    posts = doc["posts"]
    assert isinstance(posts, list)
    Console(stderr=True, highlight=False).print(
        f"wrote {len(posts):,} posts, {len(doc['stacks']):,} stacks, "  # type: ignore[arg-type]
        f"{len(doc['tags']):,} tags, {len(doc['search_terms']):,} search terms to {output}",  # type: ignore[arg-type]
        markup=False,
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("loadtest")(loadtest_cmd)
    app.command("export-targets")(export_targets_cmd)
