"""The live progress line: read from the locustfile's progress.json, printed while a run lasts."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

from anp_synth.loadtest import progress


def test_the_line_says_elapsed_remaining_rate_failures_and_p95() -> None:
    doc = {"requests": 1234, "failures": 12, "rps": 101.25, "p95_ms": 48.0, "users": 10}
    text = progress.line(doc, 12.2, 60)
    assert text == (
        "  12 s of 60 s (48 s left) · 1,234 requests · 101.2 req/s · "
        "12 failures (1.0%) · p95 so far 48 ms"
    )
    assert progress.line(None, 1, 60).endswith("starting")


def test_a_log_gets_one_line_at_a_time_from_the_file(tmp_path: Path) -> None:
    stream = io.StringIO()
    printer = progress.ProgressLine(tmp_path, 30, stream, every=0.05)
    printer.start()
    time.sleep(0.2)
    (tmp_path / progress.FILE).write_text(
        json.dumps({"requests": 7, "failures": 0, "rps": 3.5, "p95_ms": None})
    )
    time.sleep(0.3)
    printer.stop()
    lines = stream.getvalue().splitlines()
    assert printer.printed == len(lines) >= 3
    assert "\r" not in stream.getvalue()  # not a terminal: whole lines, no rewriting
    assert lines[0].endswith("starting")
    assert lines[-1].endswith("7 requests · 3.5 req/s · 0 failures (0.0%) · p95 so far —")
