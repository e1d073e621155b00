"""`site serve`: run the reference target site."""

from __future__ import annotations

import typer

site_app = typer.Typer(
    help="The reference target site (the default import target).",
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help, like the root app (see anp_synth.cli)
)


@site_app.command("serve")
def serve_cmd(
    db: str = typer.Option("site.db", "--db", help="SQLite file; created on first start."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    workers: int = typer.Option(1, "--workers", help="Worker processes."),
    users: str | None = typer.Option(
        None, "--users", help='JSON {"users": [...]}; default: demo users in <db>.users.json.'
    ),
    token_file: str | None = typer.Option(
        None,
        "--token-file",
        help="File holding the import token (default: env ANP_SITE_TOKEN, else <db>.token).",
    ),
    access_log: bool = typer.Option(
        True, "--access-log/--no-access-log", help="One JSON line per request on stderr."
    ),
    key_headers: str = typer.Option(
        "Surrogate-Key,xkey",
        "--key-headers",
        help="Headers carrying each page's cache keys, comma-separated (Cache-Tag: "
        "Cloudflare); empty: none.",
    ),
) -> None:
    """Serve the site: pages, the import API under /api, /health."""
    from anp_synth.site.server import serve

    serve(db, host, port, workers, users, token_file, access_log, key_headers)


def register(app: typer.Typer) -> None:
    """Add the `site` command group to the app."""
    app.add_typer(site_app, name="site")
