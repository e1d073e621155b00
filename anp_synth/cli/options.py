"""Options several commands share, defined once: a command takes the Option object as the
default of its parameter (kept light: typer only, no library imports)."""

import typer

DEFAULT_LEDGER = "anp-ledger.sqlite"
LEDGER_ENV = "ANP_LEDGER"
# one wording for the ledger in every command's help (a path, as every --ledger takes)
LEDGER_HELP = "The import ledger, a SQLite file."

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
    help=f"{LEDGER_HELP[:-1]}; the confirmed posts come from it (default {DEFAULT_LEDGER}).",
)
