"""Live progress of a run: the master (or the single process) writes progress.json every second.

The parent (`anp_synth.loadtest.progress`) reads it and prints a line. These
are Locust's running figures (its p95 is from its rounded buckets): a sign of
life, not the verdict, which comes from every sample at the end.
"""

from __future__ import annotations

import json
import os
from typing import Any

import gevent

FILE = "progress.json"
INTERVAL_S = 1.0


def start(environment: Any, directory: str) -> None:
    """Write progress.json in `directory` every INTERVAL_S while the process lives."""
    path = os.path.join(directory, FILE)
    tmp = path + ".tmp"

    def write() -> None:
        while True:
            gevent.sleep(INTERVAL_S)
            total = environment.runner.stats.total
            p95 = total.get_response_time_percentile(0.95) if total.num_requests else None
            doc = {
                "requests": total.num_requests,
                "failures": total.num_failures,
                "rps": round(total.current_rps, 1),
                "p95_ms": p95,
                "users": environment.runner.user_count,
            }
            try:
                with open(tmp, "w", encoding="utf-8") as fh:
                    json.dump(doc, fh)
                os.replace(tmp, path)
            except OSError:
                return

    gevent.spawn(write)
