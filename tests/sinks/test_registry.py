"""The sink factory: names, lazy imports, errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from anp_synth.errors import UsageError
from anp_synth.sinks.registry import create_sink, sink_names


def test_names_and_unknown_sink() -> None:
    assert {"anp", "memory"} <= set(sink_names())
    with pytest.raises(UsageError, match="^sink: unknown sink 'nope'"):
        create_sink("nope", "http://127.0.0.1:1")


def test_sink_modules_are_imported_only_when_used() -> None:
    code = (
        "import sys, anp_synth.sinks.registry as r, anp_synth.cli.importer;"
        "assert 'anp_synth.sinks.anp' not in sys.modules;"
        "r.create_sink('anp', 'http://127.0.0.1:1', 't');"
        "assert 'anp_synth.sinks.anp' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
