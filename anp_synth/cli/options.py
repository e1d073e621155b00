"""Values several commands share on the command line (kept light: no library imports)."""

DEFAULT_LEDGER = "anp-ledger.sqlite"
LEDGER_ENV = "ANP_LEDGER"
