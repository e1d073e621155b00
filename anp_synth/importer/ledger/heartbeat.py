"""Is a run alive: its process exists and its heartbeat is fresh. The one place that decides.

A running import beats (writes the time into its run row) every HEARTBEAT_EVERY seconds
from a background thread with its own connection, so a long pause still beats. A run
whose pid is gone crashed; a run whose pid lives but has not beaten for STALE_AFTER
seconds is stale (a hung process, or a pid reused by another process): both may be taken
over by the next import.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from enum import StrEnum
from pathlib import Path

from anp_synth.importer.ledger import schema
from anp_synth.importer.ledger.states import RunState

STALE_AFTER = 15.0  # seconds without a heartbeat before a live-looking run counts as dead
HEARTBEAT_EVERY = 2.0


class Liveness(StrEnum):
    """What the ledger can tell about the process of a running run."""

    ALIVE = "alive"
    CRASHED = "crashed"  # its process is gone
    STALE = "stale"  # its process may exist, but it stopped beating


def pid_alive(pid: int) -> bool:
    """True when a process with this pid exists on this machine (zombies count as dead)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().split(b")")[-1].split()[0] != b"Z"
    except OSError:
        return True


def liveness(
    pid: int, heartbeat: float, *, stale_after: float = STALE_AFTER, now: float | None = None
) -> Liveness:
    """Whether the process `pid`, last beating at `heartbeat` (epoch seconds), is alive."""
    if not pid_alive(pid):
        return Liveness.CRASHED
    if (time.time() if now is None else now) - heartbeat >= stale_after:
        return Liveness.STALE
    return Liveness.ALIVE


class Heartbeat(threading.Thread):
    """Beats for one run until stopped."""

    def __init__(self, path: Path, run_id: int, pid: int, every: float = HEARTBEAT_EVERY) -> None:
        super().__init__(name="ledger-heartbeat", daemon=True)
        self.path, self.run_id, self.pid, self.every = path, run_id, pid, every
        self._stop_event = threading.Event()

    def run(self) -> None:
        """Beat every `every` seconds (a busy ledger skips a beat, the next one will do).

        Only while the run is still this pid's: a process resumed after another import took
        its run over must not make the run look alive again."""
        db = schema.connect(self.path)  # its own connection: the owner's is not thread-safe
        try:
            while not self._stop_event.wait(self.every):
                try:
                    db.execute(
                        "UPDATE runs SET heartbeat = ? WHERE id = ? AND state = ? AND pid = ?",
                        (time.time(), self.run_id, RunState.RUNNING, self.pid),
                    )
                except sqlite3.OperationalError:
                    continue
        finally:
            db.close()

    def stop(self) -> None:
        """Stop beating (waits for the thread; one never started, e.g. when a Ctrl-C landed
        between its making and its start, has nothing to wait for)."""
        self._stop_event.set()
        if self.ident is not None:
            self.join(timeout=5)
