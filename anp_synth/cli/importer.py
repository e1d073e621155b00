"""`import`, `status`, `verify` and `rollback`: the second stage of the pipeline."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from anp_synth.cli.options import DEFAULT_LEDGER, LEDGER_ENV, LEDGER_HELP
from anp_synth.errors import PartialFailure, UsageError, excerpt

if TYPE_CHECKING:  # for annotations only: imported inside the commands that run
    from rich.console import Console
    from rich.table import Table

    from anp_synth.importer import Summary
    from anp_synth.importer.ledger import Run
    from anp_synth.sinks.base import Sink

STATIC_SINKS = ("hugo", "jekyll", "eleventy")  # --target is a folder, no token
TOKEN_ENV = "ANP_TARGET_TOKEN"
SINK_HELP = "Sink: anp, memory, wordpress, hugo, jekyll, eleventy."  # static: the registry is imported when a command runs


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _quiet_retries() -> None:
    # stamina logs every scheduled retry through `logging` (stderr here); the run log
    # already records each failed attempt, so the terminal stays readable.
    import stamina.instrumentation

    stamina.instrumentation.set_on_retry_hooks([])


def _notice(message: str) -> None:
    # Retries and pauses are said on stderr even with -q: a run that waits says why.
    sys.stderr.write(f"import: {message}\n")
    sys.stderr.flush()


def read_token(token_file: str | None) -> str | None:
    """The target's token from --token-file or ANP_TARGET_TOKEN (never from argv)."""
    if token_file:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise UsageError("token_file", f"{token_file}: {exc.strerror}") from None
        if not token:
            raise UsageError("token_file", f"{token_file}: the file is empty")
        return token
    return os.environ.get(TOKEN_ENV) or None


def check_target(sink: str, target: str) -> str:
    """The target in its one spelling (anp_synth.target), if the sink can address it; else a
    UsageError naming --target."""
    from anp_synth.sinks.registry import sink_names
    from anp_synth.target import MEMORY, is_url, normalise

    if sink not in sink_names():
        raise UsageError("sink", f"unknown sink {sink!r}; choose from {', '.join(sink_names())}")
    spelled = normalise(target)
    if sink == "memory":
        if not spelled.startswith(MEMORY):
            raise UsageError("target", f"{target!r}: the memory sink takes memory://NAME")
    elif sink in STATIC_SINKS:
        if not Path(spelled).is_dir():
            raise UsageError(
                "target", f"{target!r}: the {sink} sink takes a site's folder (site init makes one)"
            )
    elif not is_url(spelled):
        raise UsageError("target", f"{target!r}: expected http://HOST[:PORT] or https://…")
    return spelled


def open_sink(
    name: str,
    target: str,
    token_file: str | None,
    concurrency: int = 4,
    timeout: float = 10.0,
    wp_mode: str | None = None,
    *,
    writes: bool = True,
) -> Sink:
    """Build the sink; the anp sink needs a token to write (wordpress reads ANP_WP_USER /
    ANP_WP_APP_PASSWORD); reading (`writes=False`: a dry run, verify) needs none."""
    from anp_synth.sinks.registry import create_sink

    target = check_target(name, target)
    token = read_token(token_file)
    if token is None and writes and name not in ("memory", "wordpress", *STATIC_SINKS):
        raise UsageError(
            None,
            f"no token for {target}: set {TOKEN_ENV} or pass --token-file PATH "
            "(the reference site stores its token in <db>.token)",
        )
    extra: dict[str, Any] = {}
    if wp_mode is not None:
        if name != "wordpress":
            raise UsageError("wp_mode", "applies to --sink wordpress only")
        extra["wp_mode"] = wp_mode
    return create_sink(name, target, token, concurrency=concurrency, timeout=timeout, **extra)


def _count_lines(path: str) -> int | None:
    if path == "-":
        return None
    n = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            n += block.count(b"\n")
    return n


PURGE_HELP = (
    "Purge an edge by cache key after each confirmed batch: KIND=URL, e.g. "
    "varnish=http://127.0.0.1:6081 (repeatable)."
)


def _open_purgers(specs: list[str] | None) -> list[Any]:
    from anp_synth.edge.purge import parse_purge

    return [parse_purge(spec) for spec in specs or []]


def _summary_table(s: Summary) -> Table:
    from rich.table import Table

    t = Table(title="import summary" + (" (dry run)" if s.dry_run else ""), show_header=False)
    t.add_column("", style="bold")
    t.add_column("", justify="right")
    if s.run_id is not None:
        t.add_row("run", f"{s.run_id}" + (" (resumed)" if s.resumed else ""))
    if s.dry_run:
        t.add_row("would create", f"{s.would_create:,}")
        t.add_row("would update", f"{s.would_update:,}")
    else:
        t.add_row("created", f"{s.created:,}")
        t.add_row("updated", f"{s.updated:,}")
    t.add_row("unchanged", f"{s.unchanged:,}")
    t.add_row("failed", f"{s.failed:,}")
    t.add_row("quarantined", f"{s.quarantined:,}")
    if s.purged_keys or s.purge_failed:
        t.add_row("keys purged at the edge", f"{s.purged_keys:,}")
        t.add_row("edge purges failed", f"{len(s.purge_failed):,}")
    if s.filtered:
        t.add_row("not in --only", f"{s.filtered:,}")
    t.add_row("elapsed", f"{s.elapsed:.2f}s")
    if s.rate is not None:  # no rate of nothing
        t.add_row("posts/s", f"{s.rate:,.0f}")
    return t


def import_cmd(
    path: str = typer.Argument(..., help="Generated JSONL file, or - for stdin."),
    target: str = typer.Option(..., "--target", help="Target URL (e.g. http://127.0.0.1:8000)."),
    sink: str = typer.Option("anp", "--sink", help=SINK_HELP),
    ledger: Path = typer.Option(
        Path(DEFAULT_LEDGER), "--ledger", envvar=LEDGER_ENV, help=LEDGER_HELP
    ),
    concurrency: int = typer.Option(4, "--concurrency", "-c", help="Requests in flight."),
    batch_size: int = typer.Option(
        500, "--batch-size", "-b", help="Posts per bulk request (capped by the sink)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Plan only: no request, no write."),
    only: str | None = typer.Option(None, "--only", help="Comma-separated source ids."),
    retry_quarantine: bool = typer.Option(
        False, "--retry-quarantine", help="Send again posts the target refused before."
    ),
    token_file: str | None = typer.Option(
        None, "--token-file", help=f"File holding the target's token (or env {TOKEN_ENV})."
    ),
    timeout: float = typer.Option(10.0, "--timeout", help="Seconds per request."),
    max_pause: float = typer.Option(
        300.0, "--max-pause", help="Give up when the target fails this long (seconds)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar, no table."),
    purge: list[str] | None = typer.Option(None, "--purge", help=PURGE_HELP),
    wp_mode: str | None = typer.Option(
        None,
        "--wp-mode",
        help="wordpress sink: hooks (default: wp_insert_post through the plugin's bulk route),"
        " direct (multi-row SQL) or rest (batch/v1).",
    ),
) -> None:
    """Import posts idempotently into a target; a rerun skips what is already there."""
    from anp_synth.cli.progress import progress_bar
    from anp_synth.importer import Importer, Options
    from anp_synth.importer.ledger import Ledger
    from anp_synth.importer.runlog import check_run_folder
    from anp_synth.jsonl import open_input
    from anp_synth.sinks.base import preflight

    if concurrency < 1 or concurrency > 64:
        raise UsageError("concurrency", f"expected 1..64, got {concurrency}")
    if batch_size < 1:
        raise UsageError("batch_size", f"expected >= 1, got {batch_size}")
    if timeout <= 0:
        raise UsageError("timeout", f"expected > 0, got {timeout}")
    only_ids = None
    if only:
        only_ids = frozenset(s.strip() for s in only.split(",") if s.strip())
    if path != "-" and not Path(path).is_file():
        raise UsageError(None, f"{path}: no such file")
    target = check_target(sink, target)
    file_label = path if path == "-" else str(Path(path).resolve())
    opts = Options(
        concurrency=concurrency,
        batch_size=batch_size,
        dry_run=dry_run,
        only=only_ids,
        retry_quarantine=retry_quarantine,
        max_pause=max_pause,
    )
    args: dict[str, Any] = {
        "sink": sink,
        "concurrency": concurrency,
        "batch_size": batch_size,
        "only": sorted(only_ids) if only_ids else None,
        "retry_quarantine": retry_quarantine,
    }
    purgers = _open_purgers(purge)
    if purge:
        args["purge"] = [p.name for p in purgers]
    if not dry_run:
        check_run_folder(ledger)  # before the ledger is opened: nothing written when it fails
    the_sink = open_sink(
        sink, target, token_file, concurrency, timeout, wp_mode, writes=not dry_run
    )
    _quiet_retries()
    try:
        if not dry_run:  # a dry run sends nothing at all
            preflight(the_sink)
        opened = Ledger.for_planning(ledger) if dry_run else Ledger(ledger)
        with opened as led, open_input(path) as stream:
            total = _count_lines(path)
            with progress_bar(total, "importing", quiet=quiet) as advance:
                imp = Importer(
                    the_sink,
                    led,
                    target,
                    opts,
                    on_progress=advance,
                    purgers=purgers,
                    on_notice=_notice,
                )
                summary = imp.run(stream, file_label, args)
        # Sinks with several ways to write (wordpress) say which one this import took.
        route = getattr(the_sink, "route", None)
    finally:
        the_sink.close()
        for purger in purgers:
            purger.close()
    if not quiet:
        out = _console()
        if route:
            out.print(f"route: {route}", markup=False)
        out.print(_summary_table(summary))
        if summary.quarantine_path and summary.quarantined + summary.failed:
            out.print(f"quarantine: {summary.quarantine_path}", markup=False)
        if summary.log_path:
            out.print(f"run log: {summary.log_path}", markup=False)
    if summary.purge_failed:
        err = _console(stderr=True)
        for reason in summary.purge_failed[:20]:
            err.print(f"  edge purge failed: {reason}", markup=False)
    if summary.read == 0:
        raise PartialFailure(
            f"{'stdin' if path == '-' else path}: no posts to import (the input is empty)"
        )
    unmatched = sorted(only_ids - summary.matched) if only_ids else []
    if unmatched:
        listed = ", ".join(unmatched[:10]) + (
            f" and {len(unmatched) - 10:,} more" if len(unmatched) > 10 else ""
        )
        where = "stdin" if path == "-" else path
        if len(unmatched) == len(only_ids or ()):
            raise PartialFailure(f"--only: no post in {where} has these ids: {listed}")
        _notice(
            f"--only: {len(unmatched):,} of {len(only_ids or ()):,} ids match no post in {where}: {listed}"
        )
    if not summary.ok:
        raise PartialFailure(
            f"run {summary.run_id}: {summary.quarantined:,} quarantined, {summary.failed:,} "
            f"failed, {len(summary.purge_failed):,} edge purges failed "
            f"(see {summary.quarantine_path} and {summary.log_path})"
        )


def _run_state(run: Run) -> str:
    from anp_synth.importer.ledger import Liveness, RunState

    if run.state != RunState.RUNNING:
        return run.state
    alive = run.liveness()
    return "running" if alive is Liveness.ALIVE else f"{alive} (rerun to resume)"


def status_cmd(
    ledger: Path = typer.Option(
        Path(DEFAULT_LEDGER), "--ledger", envvar=LEDGER_ENV, help=LEDGER_HELP
    ),
    run: int | None = typer.Option(None, "--run", help="Show the items of this run."),
    limit: int = typer.Option(50, "--limit", help="Items to list with --run."),
) -> None:
    """Runs in the ledger, newest first; with --run, that run's items."""
    from anp_synth.cli.tables import print_rows
    from anp_synth.importer.ledger import Ledger

    out = _console()
    with Ledger.open_readonly(ledger) as led:
        if run is None:
            rows = [
                [
                    str(r.id),
                    Path(r.file).name if r.file != "-" else "-",
                    r.target,
                    _run_state(r),
                    ", ".join(f"{k} {v:,}" for k, v in r.counts.items() if v and k != "read"),
                    r.started.replace("T", " ").rstrip("Z"),
                    (r.finished or "").replace("T", " ").rstrip("Z"),
                ]
                for r in led.runs()
            ]
            headers = ("id", "file", "target", "state", "counts", "started", "finished")
            print_rows(out, f"runs in {ledger}", headers, rows)
            return
        r = led.run(run)
        states = led.item_states(r.id)
        out.print(
            f"run {r.id}: {_run_state(r)}; {r.file} → {r.target}; items last written by it: "
            + (", ".join(f"{k} {v:,}" for k, v in sorted(states.items())) or "none"),
            markup=False,
        )
        items = [
            [item.source_id, item.state, str(item.attempts), item.url or "",
             excerpt(item.last_error or "")]
            for _, item in zip(range(limit), led.items(run_id=r.id), strict=False)
        ]  # fmt: skip
        print_rows(out, None, ("source_id", "state", "attempts", "url", "last_error"), items)


def verify_cmd(
    path: str = typer.Argument(..., help="The JSONL file that was imported, or -."),
    target: str = typer.Option(..., "--target", help="Target URL."),
    sink: str = typer.Option("anp", "--sink", help=SINK_HELP),
    ledger: Path = typer.Option(
        Path(DEFAULT_LEDGER), "--ledger", envvar=LEDGER_ENV, help=LEDGER_HELP
    ),
    repair: bool = typer.Option(False, "--repair", help="Rebuild the ledger from the target."),
    token_file: str | None = typer.Option(None, "--token-file", help="File holding the token."),
) -> None:
    """Compare file, ledger and target: missing, extra and hash mismatches (exit 3 if any)."""
    from rich.table import Table

    from anp_synth.importer.ledger import Ledger
    from anp_synth.importer.verify import SAMPLE, verify
    from anp_synth.jsonl import open_input
    from anp_synth.sinks.base import preflight

    if path != "-" and not Path(path).is_file():
        raise UsageError(None, f"{path}: no such file")
    target = check_target(sink, target)
    the_sink = open_sink(sink, target, token_file, writes=False)  # it only reads the target
    try:
        preflight(the_sink)
        # Reading needs no write access; only --repair changes the ledger.
        opened = Ledger.open_existing(ledger) if repair else Ledger.open_readonly(ledger)
        with opened as led, open_input(path) as stream:
            report = verify(stream, the_sink, led, target, repair=repair)
    finally:
        the_sink.close()
    out = _console()
    t = Table(title=f"verify {path} ↔ {target}")
    t.add_column("finding")
    t.add_column("count", justify="right")
    t.add_column("examples")
    t.add_row("posts in file", f"{report.in_file:,}", "")
    t.add_row("posts on target", f"{report.on_target:,}", "")
    t.add_row("items in ledger", f"{report.in_ledger:,}", "")
    for name, ids in (
        ("missing on target", report.missing),
        ("extra on target", report.extra),
        ("hash mismatch", report.mismatched),
        ("ledger out of date", report.ledger_stale),
    ):
        t.add_row(
            name, f"{len(ids):,}", ", ".join(ids[:SAMPLE]) + (" …" if len(ids) > SAMPLE else "")
        )
    out.print(t)
    if report.repaired is not None:
        out.print(
            f"ledger rows of the file's posts rebuilt from the target: {report.repaired:,}",
            markup=False,
        )
    if not report.ok:
        raise PartialFailure("file, target and ledger disagree (see the table)")


def rollback_cmd(
    ledger: Path = typer.Option(
        Path(DEFAULT_LEDGER), "--ledger", envvar=LEDGER_ENV, help=LEDGER_HELP
    ),
    target: str | None = typer.Option(None, "--target", help="Only runs into this target."),
    run: int | None = typer.Option(
        None, "--run", help="Run id (default: the newest that changed something)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the plan only."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask."),
    token_file: str | None = typer.Option(None, "--token-file", help="File holding the token."),
    purge: list[str] | None = typer.Option(None, "--purge", help=PURGE_HELP),
) -> None:
    """Undo a run: delete what it created, restore what it updated, purge those routes."""
    from anp_synth.importer import rollback as rb
    from anp_synth.importer.ledger import Ledger
    from anp_synth.sinks.base import preflight
    from anp_synth.target import normalise

    target = None if target is None else normalise(target)
    out = _console()
    with Ledger.open_readonly(ledger) if dry_run else Ledger.open_existing(ledger) as led:
        p = rb.plan(led, run, target)
        out.print(
            f"rollback of run {p.run.id} ({p.run.file} → {p.run.target}): delete "
            f"{len(p.delete):,} created, restore {len(p.restore):,} updated"
            + (
                f", {len(p.unrestorable):,} updated without a known previous version (kept)"
                if p.unrestorable
                else ""
            ),
            markup=False,
        )
        if dry_run or p.empty:
            return
        if not yes and not sys.stdin.isatty():
            raise UsageError(None, "rollback: not a terminal; pass --yes to confirm")
        purgers = _open_purgers(purge)
        the_sink = open_sink(p.run.sink, p.run.target, token_file)
        _quiet_retries()
        try:
            preflight(the_sink)  # before asking: a target that cannot be rolled back fails now
            if not yes:
                typer.confirm("Proceed?", abort=True)
            res = rb.apply(p, the_sink, led, purgers=purgers)
        finally:
            the_sink.close()
            for purger in purgers:
                purger.close()
    out.print(
        f"deleted {res.deleted:,}, restored {res.restored:,}, purged {res.purged:,} routes"
        + (f", {res.purged_keys:,} keys at the edge" if purgers else ""),
        markup=False,
    )
    if res.failed or p.unrestorable:
        err = _console(stderr=True)
        for sid, reason in res.failed[:20]:
            err.print(f"  {sid}: {reason}", markup=False)
        raise PartialFailure(
            f"rollback of run {p.run.id}: {len(res.failed)} failed, "
            f"{len(p.unrestorable)} not restorable; rerun rollback to retry"
        )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("import")(import_cmd)
    app.command("status")(status_cmd)
    app.command("verify")(verify_cmd)
    app.command("rollback")(rollback_cmd)
