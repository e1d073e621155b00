"""`varnish vcl`: the shipped VCL for Varnish in front of the reference site."""

from __future__ import annotations

import sys

import typer

varnish = typer.Typer(
    help="Varnish in front of a site: the shipped VCL (see docs/caching.md).",
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help, like the root app (see anp_synth.cli)
)


@varnish.command("vcl")
def vcl_cmd(
    backend: str = typer.Option(
        "127.0.0.1:8000", "--backend", help="The origin Varnish forwards to (HOST:PORT)."
    ),
    purger: list[str] | None = typer.Option(
        None,
        "--purger",
        help="A network allowed to PURGE besides loopback, e.g. 10.0.0.0/8 (repeatable).",
    ),
) -> None:
    """Print the VCL: cache by the origin's headers, purge by xkey, strip keys and trackers."""
    from anp_synth.edge.varnish import render_vcl

    sys.stdout.write(render_vcl(backend, purger or []))


def register(app: typer.Typer) -> None:
    """Join the `varnish` group to the app."""
    app.add_typer(varnish, name="varnish")
