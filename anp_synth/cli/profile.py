"""`profile show|stats|fit`: read, measure and fit the profiles `generate --profile` takes."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from anp_synth.errors import UsageError

app = typer.Typer(
    help="Profiles: show one, measure a dataset's shape, fit a profile to a sample.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command("show")
def show_cmd(
    profile: str = typer.Argument(..., help="A built-in name (light|standard|heavy) or FILE.toml."),
) -> None:
    """Print the resolved profile: every key, as a complete profile file."""
    from anp_synth.generate.profile import resolve

    sys.stdout.write(resolve(profile).to_toml())


@app.command("stats")
def stats_cmd(
    posts: str = typer.Argument(..., help="posts.jsonl, a WXR export (.xml) or a Markdown folder."),
    as_json: bool = typer.Option(False, "--json", help="Print the shape as JSON."),
) -> None:
    """Print the measured shape of a dataset: the quantities a profile sets."""
    from anp_synth.generate.shape import shape_of, table_rows

    shape = shape_of(posts)
    if as_json:
        import orjson

        sys.stdout.buffer.write(orjson.dumps(shape.as_json(), option=orjson.OPT_INDENT_2) + b"\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"shape of {posts}", show_header=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for key, value in table_rows(shape):
        table.add_row(key, value)
    Console().print(table)


@app.command("fit")
def fit_cmd(
    sample: str = typer.Argument(
        ..., help="A WordPress export (WXR .xml), a folder of Markdown, or posts.jsonl."
    ),
    output: str = typer.Option(..., "--output", "-o", help="The profile file to write (.toml)."),
    name: str | None = typer.Option(
        None, "--name", help="The profile's name (default: the file's)."
    ),
) -> None:
    """Write a profile whose generated posts reproduce the sample's shape."""
    from anp_synth.generate.fit import fit
    from anp_synth.generate.shape import shape_of

    target = Path(output)
    if target.suffix != ".toml":
        raise UsageError("output", f"expected a .toml file, got {output!r}")
    if not target.parent.is_dir():
        raise UsageError("output", f"directory {str(target.parent)!r} does not exist")
    shape = shape_of(sample)
    text = fit(shape, name or _name_of(target), sample)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    sys.stderr.write(f"fitted {shape.posts:,} posts of {sample} → {output}\n")


def _name_of(path: Path) -> str:
    stem = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "-" for c in path.stem)
    return stem[:64] or "custom"


def register(root: typer.Typer) -> None:
    """Add the `profile` group to the app."""
    root.add_typer(app, name="profile")
