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
from typing import TYPE_CHECKING

import typer

from anp_synth.errors import PartialFailure

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from anp_synth.loadtest.session import LoadTestResult

DEFAULT_LEDGER = "anp-ledger.sqlite"  # the importer's default (env ANP_LEDGER)


def _ms(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:,.1f}"


def routes_table(result: LoadTestResult) -> Table:
    """The per-route table: requests, rps, p50, p95, p99, max, failures."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Load test: per route (exact percentiles, ms)", title_justify="left")
    for col in ("route", "requests", "rps", "p50", "p95", "p99", "max", "failures", "cache"):
        table.add_column(col, justify="left" if col in ("route", "cache") else "right")
    for row in result.routes:
        cache = " ".join(f"{k}:{v}" for k, v in sorted(row.cache.items()) if k != "none")
        fails = f"{row.failures:,}" + (f" ({row.failure_ratio:.1%})" if row.failures else "")
        table.add_row(
            Text(row.route),
            f"{row.requests:,}",
            f"{row.rps:,.1f}",
            _ms(row.p50),
            _ms(row.p95),
            _ms(row.p99),
            _ms(row.max),
            fails,
            cache,
            style="bold" if row.route == "Aggregated" else None,
        )
    return table


def breaches_table(result: LoadTestResult) -> Table:
    """The thresholds that were not kept."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Threshold breaches", title_justify="left", style="red")
    for col in ("route", "metric", "limit", "actual"):
        table.add_column(col)
    for b in result.breaches:
        table.add_row(Text(b.route), b.metric, b.bound, f"{b.actual:.4g}")
    return table


def baseline_table(result: LoadTestResult) -> Table:
    """Each route's p95 against the baseline, with the test's verdict."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Against the baseline (Mann-Whitney U + p95 floor)", title_justify="left")
    for col in ("route", "old p95", "new p95", "change", "p-value", "verdict"):
        table.add_column(col, justify="left" if col in ("route", "verdict") else "right")
    for c in result.comparisons:
        style = {"regression": "red", "improvement": "green"}.get(c.verdict)
        table.add_row(
            Text(c.route),
            _ms(c.old_p95),
            _ms(c.new_p95),
            "—" if math.isnan(c.change) else f"{c.change:+.1%}",
            "—" if math.isnan(c.p_value) else f"{c.p_value:.2g}",
            c.verdict,
            style=style,
        )
    return table


def loadtest_cmd(
    ctx: typer.Context,
    target: str = typer.Option(
        ..., "--target", help="Base URL of the site, e.g. http://127.0.0.1:8000."
    ),
    ledger: Path | None = typer.Option(
        None,
        "--ledger",
        envvar="ANP_LEDGER",
        help=f"Import ledger to take the posts from (default {DEFAULT_LEDGER}).",
    ),
    manifest: Path | None = typer.Option(
        None, "--manifest", help="A targets manifest from export-targets, instead of --ledger."
    ),
    users: int | None = typer.Option(
        None, "--users", "-u", help="Concurrent simulated users (default 10)."
    ),
    spawn_rate: float | None = typer.Option(
        None, "--spawn-rate", "-r", help="Users started per second (default 10)."
    ),
    duration: str | None = typer.Option(
        None, "--duration", "-t", help="Run time: 60s, 2m, 1m30s (default 60)."
    ),
    processes: int | None = typer.Option(
        None,
        "--processes",
        help="Load-generator processes, Locust master + K workers when > 1 (default 1).",
    ),
    thresholds: Path | None = typer.Option(None, "--thresholds", help="Thresholds TOML file."),
    baseline: Path | None = typer.Option(None, "--baseline", help="Compare with this baseline."),
    save_baseline: Path | None = typer.Option(
        None, "--save-baseline", help="Store this run as a baseline file."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Directory for reports (default out/loadtest)."
    ),
    arrival_rate: float | None = typer.Option(
        None,
        "--arrival-rate",
        help="Open model: requests/s in total, latency from intended send (default 0: closed).",
    ),
    accounts: Path | None = typer.Option(
        None, "--accounts", help="Login users JSON for the logged-in scenario."
    ),
    weights: str | None = typer.Option(
        None,
        "--weights",
        help="Scenario weights; unnamed ones keep theirs (default "
        "reader=6,browser=3,member=1,inspector=1).",
    ),
    think: str | None = typer.Option(
        None, "--think", help="Seconds between a user's tasks, MIN,MAX (default 0.5,2)."
    ),
    similar: float | None = typer.Option(
        None,
        "--similar",
        help="Probability that a reader then opens a similar post (default 0.3).",
    ),
    page_size: int | None = typer.Option(
        None,
        "--page-size",
        help="Posts per listing page on the target, unless the manifest says (default 20).",
    ),
    cache_rules: Path | None = typer.Option(
        None,
        "--cache-rules",
        help='The target\'s cache rules, JSON [{"pattern", "rule", "cached"}]; '
        "default: the manifest's (the reference site's).",
    ),
    hit_tries: int | None = typer.Option(
        None,
        "--hit-tries",
        help="Requests before a re-requested page must be a HIT, for sites whose "
        "workers each cache (default 1).",
    ),
    min_effect: float | None = typer.Option(
        None, "--min-effect", help="Regression floor: relative p95 growth (default 0.20)."
    ),
    min_effect_ms: float | None = typer.Option(
        None, "--min-effect-ms", help="Regression floor: absolute p95 growth in ms (default 10)."
    ),
    cpu_limit: float | None = typer.Option(
        None,
        "--cpu-limit",
        help="A generator process busier than this % of a core makes the figures "
        "untrustworthy (default 90).",
    ),
    locustfile: Path | None = typer.Option(
        None, "--locustfile", help="Your own locustfile instead of the bundled one."
    ),
    edge: bool | None = typer.Option(
        None,
        "--edge/--no-edge",
        help="TARGET is a Varnish edge in front of the site: expect the edge's verdict "
        "(X-Cache with X-Varnish and Age), HITs after the first request, no cache keys.",
    ),
) -> None:
    """Run the Locust scenarios headless against TARGET and judge the result.

    Exit 0: passed; 3: thresholds breached, a significant regression against the
    baseline, or the load generator was CPU-bound (figures untrustworthy).
    """
    from rich.console import Console

    from anp_synth.loadtest.session import run
    from anp_synth.loadtest.settings import Settings

    values = dict(ctx.params)  # the parameters are named as the Settings fields
    if ledger is None and manifest is None:
        values["ledger"] = Path(DEFAULT_LEDGER)
    settings = Settings.from_values(values)
    # wide enough for the route names when the output is a pipe or a file
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
    err = Console(stderr=True, highlight=False)
    err.print(
        f"load test: {settings.users} users, {settings.duration:g} s, "
        f"{settings.processes} process(es) → {target}",
        markup=False,
    )
    result = run(settings)
    print_result(console, settings.arrival_rate, result)
    if save_baseline:
        console.print(f"baseline saved to {save_baseline}", markup=False)
    reasons = []
    if result.breaches:
        reasons.append(f"{len(result.breaches)} threshold breach(es)")
    if result.regressions:
        reasons.append(f"{len(result.regressions)} regression(s) against the baseline")
    if not result.trusted:
        reasons.append("the load generator was CPU-bound: figures cannot be trusted")
    if reasons:
        raise PartialFailure("load test failed: " + "; ".join(reasons))
    console.print("load test passed", markup=False)


def print_result(console: Console, arrival_rate: float, result: LoadTestResult) -> None:
    """The tables, the CPU line, the notes and where the reports are."""
    console.print(routes_table(result))
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
    cpu = result.locust.cpu
    console.print(
        f"generator CPU {cpu.generator_max:.0f}% of a core (busiest process), "
        f"host CPU {cpu.host_mean:.0f}%",
        markup=False,
    )
    for note in result.notes:
        console.print(f"note: {note}", markup=False)
    console.print(
        f"reports: {result.locust.html} (HTML), {result.summary_path} (JSON), "
        f"{result.locust.csv_prefix}_stats.csv (CSV)",
        markup=False,
    )


def export_targets_cmd(
    target: str = typer.Option(..., "--target", help="The target whose confirmed items to export."),
    ledger: Path = typer.Option(
        Path(DEFAULT_LEDGER), "--ledger", envvar="ANP_LEDGER", help="Import ledger (SQLite)."
    ),
    output: Path = typer.Option(Path("targets.json"), "--output", "-o", help="Manifest to write."),
) -> None:
    """Write the confirmed posts of TARGET in the ledger as a manifest for the locustfiles."""
    from rich.console import Console

    from anp_synth.loadtest import manifest as manifest_mod

    doc = manifest_mod.export(ledger, target, output)
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
