"""Fixtures shared by the importer's unit tests: a fresh memory target and ledger per test."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from anp_synth.importer import ledger as L
from anp_synth.sinks.memory import reset_store

_names = itertools.count()


@pytest.fixture
def target() -> Iterator[str]:
    name = f"memory://t{next(_names)}"
    yield name
    reset_store(name)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[L.Ledger]:
    led = L.Ledger(tmp_path / "ledger.sqlite")
    yield led
    led.close()
