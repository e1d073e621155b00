"""Import: push posts into a target idempotently, with a ledger; resume, verify, roll back."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from anp_synth.importer.options import Options
    from anp_synth.importer.run import Importer
    from anp_synth.importer.send import idempotency_key
    from anp_synth.importer.summary import Summary

# Loaded on first use: reading a ledger (the load tests do) must not import the sender's
# pydantic and stamina.
_EXPORTS = {
    "Importer": "anp_synth.importer.run",
    "Options": "anp_synth.importer.options",
    "Summary": "anp_synth.importer.summary",
    "idempotency_key": "anp_synth.importer.send",
}

__all__ = ["Importer", "Options", "Summary", "idempotency_key"]


def __getattr__(name: str) -> Any:
    """Import a re-exported name's module on first use (PEP 562)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
