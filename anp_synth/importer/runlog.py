"""A run's files beside the ledger: the JSONL run log (every attempt) and the quarantine file."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import orjson

from anp_synth.errors import UsageError


def run_folder(ledger_path: str | Path) -> Path:
    """The folder beside the ledger that holds its runs' logs and quarantine files."""
    p = Path(ledger_path)
    return p.with_name(p.name + ".runs")


def run_paths(ledger_path: str | Path, run_id: int) -> tuple[Path, Path]:
    """The run log and quarantine file of a run, in a folder beside the ledger."""
    folder = run_folder(ledger_path)
    return folder / f"run-{run_id}.log.jsonl", folder / f"run-{run_id}.quarantine.jsonl"


def check_run_folder(ledger_path: str | Path) -> Path:
    """The run folder, if it is a writable folder or can be made one; else a UsageError naming
    it. Creates nothing: checked before a run begins (and before the ledger is opened)."""
    folder = run_folder(ledger_path)
    probe = folder
    while not probe.exists() and probe.parent != probe:  # the nearest part that exists
        probe = probe.parent
    if not probe.is_dir():
        why = "exists and is not a folder" if probe == folder else f"{probe} is not a folder"
    elif not os.access(probe, os.W_OK | os.X_OK):
        why = "not writable" if probe == folder else f"{probe} is not writable"
    else:
        return folder
    raise UsageError("ledger", f"{folder}: cannot hold the run log and quarantine ({why})")


class JsonlWriter:
    """Append JSONL records to a file, opened lazily; safe to share between threads."""

    def __init__(self, path: Path, mode: str) -> None:
        self.path, self.mode = path, mode
        self._fh: BinaryIO | None = None
        self._lock = threading.Lock()  # workers log their attempts themselves

    def write(self, record: dict[str, Any]) -> None:
        """Append one record."""
        data = orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
        with self._lock:
            if self._fh is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fh = self.path.open(self.mode + "b")  # type: ignore[assignment]
            assert self._fh is not None
            self._fh.write(data)

    def flush(self) -> None:
        """Flush what was written so far."""
        with self._lock:
            if self._fh is not None:
                self._fh.flush()

    def close(self) -> None:
        """Close the file (a later write opens it again)."""
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None


class RunLog:
    """The run log: one JSONL record per event (start, attempt, retry, finish), with a time."""

    def __init__(self, path: Path | None) -> None:
        self._out = JsonlWriter(path, "a") if path is not None else None

    def write(self, record: dict[str, Any]) -> None:
        """Log one event (a dry run logs nothing)."""
        if self._out is not None:
            self._out.write({"ts": time.time(), **record})

    def flush(self) -> None:
        """Flush the log."""
        if self._out is not None:
            self._out.flush()

    def close(self) -> None:
        """Close the log."""
        if self._out is not None:
            self._out.close()


class Quarantined(NamedTuple):
    """A line that was not imported, and why; `kind` is input, duplicate, target or gave-up."""

    line: int
    source_id: str | None
    kind: str
    reason: str
    raw: bytes | None = None


class Quarantine:
    """The quarantine file of a pass: every line not imported, rewritten by each pass."""

    def __init__(self, path: Path | None) -> None:
        # Each pass re-reads the whole file, so the quarantine is rewritten, not appended.
        if path is not None and path.exists():
            path.unlink()
        self._out = JsonlWriter(path, "w") if path is not None else None

    def add(self, q: Quarantined) -> None:
        """Write one quarantined line (a dry run only counts them)."""
        if self._out is None:
            return
        rec: dict[str, Any] = {
            "line": q.line,
            "source_id": q.source_id,
            "kind": q.kind,
            "reason": q.reason,
        }
        if q.raw is not None:
            rec["raw"] = q.raw.decode("utf-8", "replace")
        self._out.write(rec)

    def close(self) -> None:
        """Close the file."""
        if self._out is not None:
            self._out.close()
