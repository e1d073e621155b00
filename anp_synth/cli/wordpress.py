"""`wordpress mu-plugin`, `wordpress check` and `wordpress uninstall`: what a WordPress site needs
before an import, and taking it away after."""

from __future__ import annotations

import sys

import typer

wordpress = typer.Typer(
    help="Prepare a WordPress site for `--sink wordpress`.",
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help, like the root app (see anp_synth.cli)
)
TARGET_HELP = "The site's home URL (default: env ANP_WP_URL)."


@wordpress.command("mu-plugin")
def mu_plugin_cmd(
    keys: bool = typer.Option(
        False,
        "--keys",
        help="Print the cache-keys mu-plugin instead (wp-content/mu-plugins/anp-synth-keys.php, "
        "for Varnish or a CDN in front, purged by `import --purge`).",
    ),
) -> None:
    """Print the mu-plugin to copy to wp-content/mu-plugins/anp-synth.php."""
    from anp_synth.sinks.wordpress import KEYS_MU_PLUGIN, mu_plugin_source  # loaded when used

    sys.stdout.write(mu_plugin_source(KEYS_MU_PLUGIN) if keys else mu_plugin_source())


@wordpress.command("check")
def check_cmd(
    target: str | None = typer.Option(None, "--target", help=TARGET_HELP),
    wp_mode: str = typer.Option("hooks", "--wp-mode", help="hooks, direct or rest."),
) -> None:
    """Check the mu-plugin and the application password; say which route an import takes."""
    from anp_synth.sinks.base import preflight
    from anp_synth.sinks.wordpress import WordPressSink

    sink = WordPressSink.from_env(target, wp_mode=wp_mode)
    try:
        info = preflight(sink)
        route = sink.route
    finally:
        sink.close()
    typer.echo(
        f"ok: {sink.base_url} has the anp-synth mu-plugin (version {info.get('version')}) "
        "and accepts the application password"
    )
    typer.echo(f"route: {route}")


@wordpress.command("uninstall")
def uninstall_cmd(
    target: str | None = typer.Option(None, "--target", help=TARGET_HELP),
) -> None:
    """Drop the plugin's replay table and source_id index (posts stay; delete the file after)."""
    from anp_synth.sinks.wordpress import WordPressSink

    sink = WordPressSink.from_env(target, wp_mode="rest")
    try:
        dropped = sink.uninstall()
    finally:
        sink.close()
    typer.echo(f"dropped: {', '.join(dropped)}" if dropped else "nothing to drop")
    typer.echo("now delete wp-content/mu-plugins/anp-synth.php to remove the plugin itself")


def register(app: typer.Typer) -> None:
    """Join the `wordpress` group to the app."""
    app.add_typer(wordpress, name="wordpress")
