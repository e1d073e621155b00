"""`loadtest` and `export-targets`: the third stage of the pipeline.

Nothing here imports locust (it monkey-patches the process with gevent): the
run happens in a subprocess started by anp_synth.loadtest.runner.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from anp_synth.errors import PartialFailure
from anp_synth.loadtest import manifest as manifest_mod
from anp_synth.loadtest.runner import SATURATION_PCT
from anp_synth.loadtest.session import Outcome, Settings, parse_duration, run

DEFAULT_LEDGER = "anp-ledger.sqlite"  # the importer's default (env ANP_LEDGER)


def _ms(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:,.1f}"


def routes_table(outcome: Outcome) -> Table:
    """The per-route table: requests, rps, p50, p95, p99, max, failures."""
    table = Table(title="Load test: per route (exact percentiles, ms)", title_justify="left")
    for col in ("route", "requests", "rps", "p50", "p95", "p99", "max", "failures", "cache"):
        table.add_column(col, justify="left" if col in ("route", "cache") else "right")
    for row in outcome.routes:
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


def breaches_table(outcome: Outcome) -> Table:
    """The thresholds that were not kept."""
    table = Table(title="Threshold breaches", title_justify="left", style="red")
    for col in ("route", "metric", "limit", "actual"):
        table.add_column(col)
    for b in outcome.breaches:
        if b.metric == "requests":
            table.add_row(Text(b.route), "requests", "> 0", "0")
        else:
            op = ">=" if b.metric == "min_rps" else "<="
            table.add_row(Text(b.route), b.metric, f"{op} {b.limit:g}", f"{b.actual:.4g}")
    return table


def baseline_table(outcome: Outcome) -> Table:
    """Each route's p95 against the baseline, with the test's verdict."""
    table = Table(title="Against the baseline (Mann-Whitney U + p95 floor)", title_justify="left")
    for col in ("route", "old p95", "new p95", "change", "p-value", "verdict"):
        table.add_column(col, justify="left" if col in ("route", "verdict") else "right")
    for c in outcome.comparisons:
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
    users: int = typer.Option(10, "--users", "-u", help="Concurrent simulated users."),
    spawn_rate: float = typer.Option(10.0, "--spawn-rate", "-r", help="Users started per second."),
    duration: str = typer.Option("60s", "--duration", "-t", help="Run time: 60s, 2m, 1m30s."),
    processes: int = typer.Option(
        1, "--processes", help="Load-generator processes (Locust master + K workers when > 1)."
    ),
    thresholds: Path | None = typer.Option(None, "--thresholds", help="Thresholds TOML file."),
    baseline: Path | None = typer.Option(None, "--baseline", help="Compare with this baseline."),
    save_baseline: Path | None = typer.Option(
        None, "--save-baseline", help="Store this run as a baseline file."
    ),
    out: Path = typer.Option(Path("out/loadtest"), "--out", help="Directory for reports."),
    arrival_rate: float = typer.Option(
        0.0, "--arrival-rate", help="Open model: requests/s in total, latency from intended send."
    ),
    accounts: Path | None = typer.Option(
        None, "--accounts", help="Login users JSON for the logged-in scenario."
    ),
    weights: str | None = typer.Option(
        None, "--weights", help="Scenario weights: reader=6,browser=3,member=1,inspector=1."
    ),
    think: str | None = typer.Option(
        None, "--think", help="Seconds between a user's tasks, MIN,MAX (default 0.5,2.0)."
    ),
    min_effect: float | None = typer.Option(
        None, "--min-effect", help="Regression floor: relative p95 growth (default 0.20)."
    ),
    min_effect_ms: float | None = typer.Option(
        None, "--min-effect-ms", help="Regression floor: absolute p95 growth in ms (default 10)."
    ),
    cpu_limit: float = typer.Option(
        SATURATION_PCT,
        "--cpu-limit",
        help="A generator process busier than this % of a core makes the figures untrustworthy.",
    ),
    locustfile: Path | None = typer.Option(
        None, "--locustfile", help="Your own locustfile instead of the bundled one."
    ),
) -> None:
    """Run the Locust scenarios headless against TARGET and judge the result.

    Exit 0: passed; 3: thresholds breached, a significant regression against the
    baseline, or the load generator was CPU-bound (figures untrustworthy).
    """
    if ledger is None and manifest is None:
        ledger = Path(DEFAULT_LEDGER)
    settings = Settings(
        target=target,
        out=out,
        ledger=ledger,
        manifest=manifest,
        users=users,
        spawn_rate=spawn_rate,
        duration_s=parse_duration(duration),
        processes=processes,
        arrival_rate=arrival_rate,
        thresholds=thresholds,
        baseline=baseline,
        save_baseline=save_baseline,
        weights=weights,
        accounts=accounts,
        think=think,
        min_effect=min_effect,
        min_effect_ms=min_effect_ms,
        cpu_limit=cpu_limit,
        locustfile=locustfile,
    )
    # wide enough for the route names when the output is a pipe or a file
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
    err = Console(stderr=True, highlight=False)
    err.print(
        f"load test: {users} users, {settings.duration_s:g} s, {processes} process(es) → {target}",
        markup=False,
    )
    outcome = run(settings)
    console.print(routes_table(outcome))
    if arrival_rate:
        console.print(
            f"open model at {arrival_rate:g} req/s: latency from the intended send time; "
            f"{outcome.late:,} requests not sent on time",
            markup=False,
        )
    if outcome.comparisons:
        console.print(baseline_table(outcome))
    if outcome.breaches:
        console.print(breaches_table(outcome))
    cpu = outcome.locust.cpu
    console.print(
        f"generator CPU {cpu.generator_max:.0f}% of a core (busiest process), "
        f"host CPU {cpu.host_mean:.0f}%",
        markup=False,
    )
    for note in outcome.notes:
        console.print(f"note: {note}", markup=False)
    console.print(
        f"reports: {outcome.locust.html} (HTML), {outcome.summary_path} (JSON), "
        f"{outcome.locust.csv_prefix}_stats.csv (CSV)",
        markup=False,
    )
    if save_baseline:
        console.print(f"baseline saved to {save_baseline}", markup=False)
    reasons = []
    if outcome.breaches:
        reasons.append(f"{len(outcome.breaches)} threshold breach(es)")
    if outcome.regressions:
        reasons.append(f"{len(outcome.regressions)} regression(s) against the baseline")
    if not outcome.trusted:
        reasons.append("the load generator was CPU-bound: figures cannot be trusted")
    if reasons:
        raise PartialFailure("load test failed: " + "; ".join(reasons))
    console.print("load test passed", markup=False)


def export_targets_cmd(
    target: str = typer.Option(..., "--target", help="The target whose confirmed items to export."),
    ledger: Path = typer.Option(
        Path(DEFAULT_LEDGER), "--ledger", envvar="ANP_LEDGER", help="Import ledger (SQLite)."
    ),
    output: Path = typer.Option(Path("targets.json"), "--output", "-o", help="Manifest to write."),
) -> None:
    """Write the confirmed posts of TARGET in the ledger as a manifest for the locustfiles."""
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
