"""Fixtures shared by the importer's unit tests: a memory sink (on the `target` of
tests/conftest.py) and a ledger per test, `imports` (write a JSONL file, import it with fast
options), and reference sites."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from anp_synth.importer import Summary
from anp_synth.importer import ledger as L
from anp_synth.sinks.memory import MemorySink
from anp_synth.site.launcher import SiteProcess
from tests.importer.posts import run_import, write_jsonl


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[L.Ledger]:
    led = L.Ledger(tmp_path / "ledger.sqlite")
    yield led
    led.close()


@pytest.fixture
def sink(target: str) -> MemorySink:
    """The in-memory sink of the test's target."""
    return MemorySink(target)


class Imports:
    """`imports(sink, "a.jsonl", rows)`: write the file (when rows are given) beside the test's
    ledger and import it into the test's target with fast options; returns the summary."""

    def __init__(self, folder: Path, ledger: L.Ledger, target: str) -> None:
        self.folder, self.ledger, self.target = folder, ledger, target

    def __call__(
        self,
        sink: Any,
        name: str,
        rows: Sequence[dict[str, Any] | bytes] | None = None,
        **opts: Any,
    ) -> Summary:
        path = self.folder / name
        if rows is not None:
            write_jsonl(path, rows)
        return run_import(sink, self.ledger, self.target, path, **opts)


@pytest.fixture
def imports(tmp_path: Path, ledger: L.Ledger, target: str) -> Imports:
    """Import files into the test's target and ledger (see `Imports`)."""
    return Imports(tmp_path, ledger, target)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[SiteProcess]:
    """A fresh reference site per test, stopped by pid."""
    s = SiteProcess(tmp_path / "site" / "site.db")
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def module_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SiteProcess]:
    """One reference site for a whole test module (its tests use posts of their own)."""
    s = SiteProcess(tmp_path_factory.mktemp("site") / "site.db")
    s.start()
    yield s
    s.stop()
