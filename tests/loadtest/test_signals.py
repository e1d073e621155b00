"""Rule 2 for the load test: SIGTERM (CI cancelling, `timeout`, `kill`) is Ctrl-C.

A real short run against the real reference site, with two Locust processes, gets a real
SIGTERM mid-run: it exits 130 with "interrupted", keeps the figures recorded so far marked
interrupted, and no process of Locust's group survives it (checked by pid and group id).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil

from tests.loadtest.conftest import CLI, SeededSite
from tests.loadtest.procs import group_running, running, wait_for_requests

WAIT_S = 60.0  # the most any step below may take (a hang guard)


def _long_run(seeded_site: SeededSite, out: Path, output: int) -> subprocess.Popen[str]:
    """A 3-minute load test with two Locust processes: it must be stopped, not end."""
    return subprocess.Popen(
        [*CLI, "loadtest", "--target", seeded_site.url, "--ledger", str(seeded_site.ledger),
         "--duration", "3m", "--processes", "2", "--users", "4", "--spawn-rate", "4",
         "--think", "0.05,0.2", "--cpu-limit", "100", "--out", str(out)],
        stdout=output,
        stderr=output,
        text=True,
    )  # fmt: skip


def test_sigterm_stops_locusts_group_and_keeps_the_partial_figures(
    seeded_site: SeededSite, tmp_path: Path
) -> None:
    out = tmp_path / "cut"
    proc = _long_run(seeded_site, out, subprocess.PIPE)
    locust: list[psutil.Process] = []
    try:
        requests, locust = wait_for_requests(proc, out, 2, WAIT_S)
        assert requests > 0 and len(locust) >= 3, (requests, locust)
        groups = {os.getpgid(p.pid) for p in locust}
        assert os.getpgid(proc.pid) not in groups  # Locust runs in a group of its own
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=WAIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "interrupted"
    assert "Traceback" not in err
    # Gone at once, not after the 3 minutes of --duration: every pid and the whole group.
    survivors = [p.pid for p in locust if running(p.pid)]
    assert survivors == []
    assert [g for g in groups if group_running(g)] == []
    doc = json.loads((out / "summary.json").read_text())
    assert doc["interrupted"] is True and doc["passed"] is False
    assert doc["aggregate"]["requests"] > 0
    assert any(note.startswith("interrupted") for note in doc["notes"])


def test_locust_dies_with_a_load_test_killed_outright(
    seeded_site: SeededSite, tmp_path: Path
) -> None:
    """SIGKILL (the OOM killer, `kill -9`) runs no cleanup: Locust must not outlive it."""
    out = tmp_path / "killed"
    proc = _long_run(seeded_site, out, subprocess.DEVNULL)
    try:
        requests, locust = wait_for_requests(proc, out, 2, WAIT_S)
        assert requests > 0 and len(locust) >= 3, (requests, locust)
        groups = {os.getpgid(p.pid) for p in locust}
    finally:
        proc.kill()
        proc.wait(timeout=WAIT_S)
    deadline = time.monotonic() + WAIT_S  # Locust's own shutdown takes a few seconds
    while time.monotonic() < deadline and any(running(p.pid) for p in locust):
        time.sleep(0.2)
    survivors = [p.pid for p in locust if running(p.pid)]
    for pid in survivors:  # never leave them loading the site for 3 minutes
        os.kill(pid, signal.SIGKILL)
    assert survivors == []
    assert [g for g in groups if group_running(g)] == []
