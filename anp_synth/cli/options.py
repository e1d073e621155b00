"""Values several commands share on the command line (kept light: no library imports)."""

DEFAULT_LEDGER = "anp-ledger.sqlite"
LEDGER_ENV = "ANP_LEDGER"
# one wording for the ledger in every command's help (a path, as every --ledger takes)
LEDGER_HELP = "The import ledger, a SQLite file."
