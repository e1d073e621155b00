"""`generate`, `schema` and `show`: the first stage of the pipeline."""

from __future__ import annotations

import datetime as dt
import sys

import typer

from anp_synth.cli.progress import progress_bar
from anp_synth.errors import UsageError

# The library's defaults (anp_synth.generate.dataset, .builder), written here so that
# `--help` need not import the generator; tests/cli/test_defaults.py keeps them equal.
DEFAULT_COUNT = 1000
DEFAULT_OUTPUT = "posts.jsonl"
DEFAULT_EPOCH = "2026-01-01"
DEFAULT_WINDOW_DAYS = 3 * 365


def _parse_epoch(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError("epoch", f"expected a date YYYY-MM-DD, got {text!r}") from None


def generate_cmd(
    seed: int = typer.Option(2852, "--seed", help="First seed; post N has source id alphanode-N."),
    count: int = typer.Option(DEFAULT_COUNT, "--count", "-n", help="Number of posts (seeds)."),
    profile: str = typer.Option(
        "standard", "--profile", help="light|standard|heavy, or a profile file (FILE.toml)."
    ),
    locale: str | None = typer.Option(
        None, "--locale", help="en_US, ja_JP or ru_RU (default: the profile's mix, else en_US)."
    ),
    workers: int = typer.Option(1, "--workers", "-w", help="Processes; output is identical."),
    shard: str | None = typer.Option(None, "--shard", help="k/n: write only the k-th of n parts."),
    output: str = typer.Option(
        DEFAULT_OUTPUT, "--output", "-o", help="JSONL path, or - for stdout."
    ),
    epoch: str | None = typer.Option(
        None,
        "--epoch",
        help=f"Fixed date the publication window ends at (default: the profile's, {DEFAULT_EPOCH} in the built-in ones).",
    ),
    window_days: int | None = typer.Option(
        None,
        "--window-days",
        help=f"Length of the publication window in days (default: the profile's, {DEFAULT_WINDOW_DAYS} in the built-in ones).",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar, no summary."),
) -> None:
    """Generate posts with seeds SEED … SEED+COUNT-1 as JSONL, with a manifest beside it."""
    from anp_synth.generate.dataset import Spec, generate, parse_shard, validate

    spec = Spec(seed, count, profile, locale, _parse_epoch(epoch) if epoch else None, window_days)
    spec = validate(spec)  # the profile file read once, here
    shard_spec = parse_shard(shard)
    with progress_bar(count, "generating", quiet=quiet or output == "-") as advance:
        result = generate(spec, output, workers=workers, shard=shard_spec, on_progress=advance)
    if not quiet:
        where = "stdout" if result.path == "-" else result.path
        sys.stderr.write(
            f"wrote {result.count:,} post{'' if result.count == 1 else 's'} ({result.bytes:,} bytes) to {where}"
            + (f"; manifest {result.manifest_path}" if result.manifest_path else "")
            + "\n"
        )
    from anp_synth.cli import exit_without_finalising  # loaded already: the app is in it

    exit_without_finalising()


def schema_cmd() -> None:
    """Print the JSON Schema of a post."""
    import orjson

    from anp_synth.post import post_schema

    sys.stdout.buffer.write(orjson.dumps(post_schema(), option=orjson.OPT_INDENT_2) + b"\n")


def show_cmd(
    seed: int = typer.Argument(..., help="The post's seed."),
    profile: str = typer.Option("standard", "--profile", help="A built-in name or FILE.toml."),
    locale: str | None = typer.Option(
        None, "--locale", help="en_US, ja_JP or ru_RU (default: the profile's mix, else en_US)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the post's JSON instead."),
) -> None:
    """Print one post as a reader would see it."""
    import orjson
    from rich.console import Console

    from anp_synth.generate.builder import builder_for
    from anp_synth.generate.dataset import Spec, validate
    from anp_synth.generate.render import render_post

    try:
        spec = validate(Spec(seed, 1, profile, locale))
    except UsageError as exc:
        if exc.option != "seed":
            raise
        raise UsageError(None, f"SEED: {exc.reason}") from None  # an argument here, not --seed
    post = builder_for(spec.profile, locale).build(seed)
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(post, option=orjson.OPT_INDENT_2) + b"\n")
        return
    render_post(post, Console())


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("generate")(generate_cmd)
    app.command("schema")(schema_cmd)
    app.command("show")(show_cmd)
