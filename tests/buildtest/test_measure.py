"""Measuring one build: the whole process tree's memory and CPU, failures, timeouts."""

from __future__ import annotations

import sys
from pathlib import Path

import psutil
import pytest

from anp_synth.buildtest.measure import run_build, split_command
from anp_synth.errors import UsageError

# A parent that starts a child holding ~120 MB and burning CPU, then waits for it.
TREE = (
    "import subprocess, sys\n"
    "code = 'b = bytearray(120 * 2**20)\\nfor i in range(0, len(b), 4096): b[i] = 1\\n"
    "import time\\nt = time.process_time()\\nwhile time.process_time() - t < 0.4: pass\\n"
    "time.sleep(0.3)'\n"
    "subprocess.run([sys.executable, '-c', code], check=True)\n"
)


def test_the_tree_is_measured_not_only_the_parent(tmp_path: Path) -> None:
    m = run_build([sys.executable, "-c", TREE], tmp_path)
    assert m.peak_rss_mb >= 120  # the child's memory counts
    assert m.cpu_s >= 0.35  # and its CPU time
    assert m.wall_s >= 0.7


def test_a_failing_build_shows_its_last_lines(tmp_path: Path) -> None:
    script = tmp_path / "build.py"
    script.write_text("import sys\nfor i in range(9): print('line', i)\nsys.exit(4)")
    with pytest.raises(UsageError) as info:
        run_build([sys.executable, str(script)], tmp_path)
    msg = str(info.value)
    assert msg.startswith("build: ") and "exited 4" in msg
    assert "line 8" in msg and "line 4" in msg and "line 3" not in msg and "\n" not in msg


def test_a_missing_program_and_a_bad_command_line(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="^build: no-such-generator-x: "):
        run_build(["no-such-generator-x"], tmp_path)
    with pytest.raises(UsageError, match="^build: .*quotation"):
        split_command('hugo "--minify')


def _gone_within(pid: int, *, seconds: float) -> bool:
    """True once `pid` is dead or a zombie: a SIGKILLed process on a busy machine takes a
    moment to be scheduled and exit, so the check waits, bounded, instead of looking once."""
    import time

    def gone() -> bool:
        try:
            return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    deadline = time.monotonic() + seconds
    while not gone() and time.monotonic() < deadline:
        time.sleep(0.05)
    return gone()


def test_a_build_past_its_timeout_is_killed_with_its_children(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    code = (
        "import subprocess, sys, time\n"
        "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pidfile)!r}, 'w').write(str(c.pid))\n"
        "time.sleep(60)\n"
    )
    with pytest.raises(UsageError, match="ran past 1 s"):
        run_build([sys.executable, "-c", code], tmp_path, timeout=1.0)
    assert _gone_within(int(pidfile.read_text()), seconds=10)


def test_sigterm_stops_the_build_test_and_its_build(tmp_path: Path) -> None:
    import signal
    import subprocess
    import time

    pidfile = tmp_path / "build.pid"
    script = tmp_path / "build.py"
    script.write_text(
        f"import os, time\nopen({str(pidfile)!r}, 'w').write(str(os.getpid()))\ntime.sleep(60)\n"
    )
    runner = (
        "import sys\nfrom pathlib import Path\n"
        "from anp_synth.buildtest.measure import run_build, sigterm_as_interrupt\n"
        "try:\n"
        "    with sigterm_as_interrupt():\n"
        f"        run_build([sys.executable, {str(script)!r}], Path({str(tmp_path)!r}))\n"
        "except KeyboardInterrupt:\n"
        "    sys.exit(130)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", runner])
    deadline = time.monotonic() + 30
    while not pidfile.exists() or not pidfile.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    build = int(pidfile.read_text())
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 130

    assert _gone_within(build, seconds=10)
