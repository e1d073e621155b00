"""`site serve`: run the reference target site; `site init`: lay out a static site to import into."""

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
    behind_https: bool = typer.Option(
        False,
        "--behind-https",
        help="Readers reach the site over https through a proxy: the session cookie is Secure "
        "(X-Forwarded-Proto: https from a loopback proxy does the same per request).",
    ),
) -> None:
    """Serve the site: pages, the import API under /api, /health."""
    from anp_synth.site.server import serve

    serve(db, host, port, workers, users, token_file, access_log, key_headers, behind_https)


@site_app.command("init")
def init_cmd(
    generator: str = typer.Argument(..., help="hugo, jekyll or eleventy."),
    directory: str = typer.Argument(..., help="A new (or empty) folder for the site."),
) -> None:
    """Lay out a minimal static site (config, layouts, tag pages, pagination, a feed)."""
    from anp_synth.sinks.static.skeleton import init_site

    written = init_site(generator, directory)
    typer.echo(f"wrote a {generator} site to {directory} ({len(written)} files)", err=True)


def register(app: typer.Typer) -> None:
    """Add the `site` command group to the app."""
    app.add_typer(site_app, name="site")
