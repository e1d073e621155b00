"""Options several commands share, defined once: a command takes the Option object as the
default of its parameter (kept light: typer only, no library imports)."""

import typer

DEFAULT_LEDGER = "anp-ledger.sqlite"
LEDGER_ENV = "ANP_LEDGER"

# The site a load-test command works on (`loadtest`, `export-targets`): its base URL.
TARGET = typer.Option(
    None,
    "--target",
    help="Base URL of the site, e.g. http://127.0.0.1:8000 (a loadtest --worker takes the "
    "master's).",
)
# The import ledger the posts come from; None when left out: the command says what applies
# (`loadtest` needs none with --manifest or --worker).
LEDGER = typer.Option(
    None,
    "--ledger",
    envvar=LEDGER_ENV,
    help=f"Import ledger (SQLite file) to take the confirmed posts from (default {DEFAULT_LEDGER}).",
)
