"""`buildtest`: a static site's build time and memory as its posts grow."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from anp_synth.errors import PartialFailure


def buildtest_cmd(
    sink: str = typer.Option(..., "--sink", help="hugo, jekyll or eleventy."),
    target: str = typer.Option(..., "--target", help="The site's folder (see `site init`)."),
    build: str = typer.Option(
        ..., "--build", help='The build command, run in the site: "hugo --minify".'
    ),
    counts: str | None = typer.Option(
        None,
        "--counts",
        help="Volumes of posts, increasing (default 1000,5000,20000; with --vary one, default 1000).",
    ),
    vary: str | None = typer.Option(
        None,
        "--vary",
        help="One profile knob's values at one volume instead: tags=100,1000,5000 (distinct "
        "tags), stacks=N,… (distinct categories), tags_per_post=N,…, paragraphs=N,… (body length).",
    ),
    repeat: int = typer.Option(3, "--repeat", help="Builds of each kind per volume."),
    profile: str = typer.Option("standard", "--profile", help="Meta volume: light|standard|heavy."),
    seed: int = typer.Option(0, "--seed", help="First seed of the posts."),
    out: str = typer.Option(
        "buildtest", "--out", help="Folder for buildtest.json, .md, .png, .svg, .html."
    ),
    ledger: Path | None = typer.Option(
        None, "--ledger", help="The import ledger, a SQLite file (default OUT/ledger.sqlite)."
    ),
    thresholds: str | None = typer.Option(
        None, "--thresholds", help="TOML limits (max_seconds, max_rss_mb, max_growth_exponent)."
    ),
    baseline: str | None = typer.Option(None, "--baseline", help="Compare with a saved baseline."),
    save_baseline: str | None = typer.Option(
        None, "--save-baseline", help="Save this run's builds as a baseline."
    ),
    timeout: float = typer.Option(3600.0, "--build-timeout", help="Seconds one build may take."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress lines, no table."),
) -> None:
    """Import growing volumes of posts into a static site and time its cold, warm and incremental builds."""
    from anp_synth.buildtest import report
    from anp_synth.buildtest.judge import judge
    from anp_synth.buildtest.judge import save_baseline as keep
    from anp_synth.buildtest.measure import split_command
    from anp_synth.buildtest.run import Settings, parse_counts, run
    from anp_synth.buildtest.vary import parse_vary
    from anp_synth.buildtest.verdict import load

    limits = load(thresholds) if thresholds else None
    if baseline and not Path(baseline).is_file():
        from anp_synth.errors import UsageError

        raise UsageError("baseline", f"{baseline}: no such file")
    settings = Settings(
        sink=sink,
        target=Path(target),
        build=split_command(build),
        counts=parse_counts(counts or ("1000" if vary else "1000,5000,20000")),
        repeat=repeat,
        profile=profile,
        seed=seed,
        out=Path(out),
        ledger=Path(ledger) if ledger else None,
        timeout=timeout,
        vary=parse_vary(vary) if vary else None,
    )

    def say(line: str) -> None:
        if not quiet:
            print(line, file=sys.stderr, flush=True)

    result = run(settings, say=say)
    verdict = judge(result, limits, Path(baseline) if baseline else None)
    paths = report.write(result, verdict.as_dict(), verdict.lines())
    if save_baseline:
        keep(result, Path(save_baseline))
    if not quiet:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"build test: {sink}, {build}")
        for h in report.HEADERS:
            table.add_column(h, justify="right", no_wrap=h == "build")
        for row in report.table_rows(result):
            table.add_row(*row)
        console = Console(highlight=False)
        console.print(table)
        for line in report.fit_lines(result):
            console.print(line, markup=False)
        console.print(
            f"anp-synth's own share: {result.own_share:.1%} of {result.total_s:.1f} s", markup=False
        )
        for line in verdict.lines():
            console.print(line, markup=False)
        console.print(f"report: {paths['html']} (json, md, png, svg beside it)", markup=False)
    if verdict.failed:
        raise PartialFailure(
            f"{len(verdict.breaches)} limits breached, {len(verdict.regressions)} regressions"
        )


def register(app: typer.Typer) -> None:
    """Add this module's command to the app."""
    app.command("buildtest")(buildtest_cmd)
