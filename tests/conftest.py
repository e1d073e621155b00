"""Fixtures shared across test folders."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from anp_synth.sinks.memory import reset_store

# The WordPress fixtures serve tests/wordpress and the sink contract suite (tests/sinks).
pytest_plugins = ["tests.wordpress.site"]

_names = itertools.count()


@pytest.fixture
def target() -> Iterator[str]:
    """A fresh in-memory target (memory://tN) per test, emptied after it."""
    name = f"memory://t{next(_names)}"
    yield name
    reset_store(name)
