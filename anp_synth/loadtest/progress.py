"""The live progress line of a run, from the progress.json the locustfile writes.

On a terminal the line is rewritten every 2 s; otherwise (CI logs) one line
every 5 s. Elapsed and remaining time are the parent's; requests, rate,
failures and p95 so far are Locust's running figures (its p95 is rounded to
two significant digits): a sign of life, not the verdict.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TextIO

import orjson

FILE = "progress.json"  # locustfiles/anp_progress.FILE
TTY_EVERY_S = 2.0
LOG_EVERY_S = 5.0


def line(doc: dict[str, object] | None, elapsed: float, duration: float) -> str:
    """One progress line."""
    left = max(duration - elapsed, 0.0)
    head = f"{elapsed:4.0f} s of {duration:g} s ({left:.0f} s left)"
    if not doc:
        return f"{head} · starting"
    requests = int(doc.get("requests") or 0)  # type: ignore[call-overload]
    failures = int(doc.get("failures") or 0)  # type: ignore[call-overload]
    ratio = failures / requests if requests else 0.0
    p95 = doc.get("p95_ms")
    return (
        f"{head} · {requests:,} requests · {float(doc.get('rps') or 0):,.1f} req/s · "  # type: ignore[arg-type]
        f"{failures:,} failures ({ratio:.1%}) · p95 so far "
        f"{'—' if p95 is None else f'{float(p95):,.0f} ms'}"  # type: ignore[arg-type]
    )


class ProgressLine(threading.Thread):
    """Prints the progress of the run whose --out is `directory` until stopped."""

    def __init__(
        self, directory: Path, duration: float, stream: TextIO, every: float | None = None
    ) -> None:
        super().__init__(daemon=True, name="anp-progress")
        self.path = directory / FILE
        self.duration = duration
        self.stream = stream
        self.tty = stream.isatty()
        self.every = every if every is not None else (TTY_EVERY_S if self.tty else LOG_EVERY_S)
        self.started = time.time()
        self.stop_event = threading.Event()
        self.printed = 0

    def _read(self) -> dict[str, object] | None:
        try:
            doc = orjson.loads(self.path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return None
        return doc if isinstance(doc, dict) else None

    def run(self) -> None:
        while not self.stop_event.wait(self.every):
            text = line(self._read(), time.time() - self.started, self.duration)
            self.stream.write(f"\r{text:<110}" if self.tty else f"{text}\n")
            self.stream.flush()
            self.printed += 1

    def stop(self) -> None:
        """Stop printing (ends the terminal line)."""
        self.stop_event.set()
        self.join(timeout=5)
        if self.tty and self.printed:
            self.stream.write("\n")
            self.stream.flush()
