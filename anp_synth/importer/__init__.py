"""Import: push posts into a target idempotently, with a ledger; resume, verify, roll back."""

from anp_synth.importer.options import Options
from anp_synth.importer.run import Importer
from anp_synth.importer.send import idempotency_key
from anp_synth.importer.summary import Summary

__all__ = ["Importer", "Options", "Summary", "idempotency_key"]
