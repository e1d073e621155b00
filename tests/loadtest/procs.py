"""Is a process, or a process group, still running? For the interruption tests (by pid, by group)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import psutil


def running(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting to be reaped runs nothing)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def group_running(pgid: int) -> list[int]:
    """The pids of process group `pgid` that still run."""
    found = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid and running(proc.pid):
                found.append(proc.pid)
        except (ProcessLookupError, psutil.Error):
            continue
    return found


def wait_for_requests(
    proc: subprocess.Popen[str], out: Path, processes: int, timeout: float = 60.0
) -> tuple[int, list[psutil.Process]]:
    """Wait (at most `timeout`) until a running `anp-synth loadtest` shows requests in its
    progress.json and Locust's master and its `processes` workers (one process: just it)
    run; returns Locust's count then and its processes."""
    deadline = time.monotonic() + timeout
    want = 1 + (processes if processes > 1 else 0)
    seen, locust = 0, []
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            seen = json.loads((out / "progress.json").read_text()).get("requests", 0)
        except (OSError, ValueError):
            seen = 0
        locust = psutil.Process(proc.pid).children(recursive=True)
        if seen > 0 and len(locust) >= want:
            break
        time.sleep(0.2)
    return seen, locust
