"""One build of a site: wall time, CPU time and peak RSS of the build's whole process tree.

The build runs in its own session (a process group): a timeout, Ctrl-C or SIGTERM kills the
whole tree. CPU time is the build's rusage from wait4 (it and every process it waited for);
peak RSS is the largest sum of the tree's resident sets, sampled with psutil every
`interval` seconds (a short-lived child between two samples is missed; the largest single
process's peak from rusage is the floor).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from anp_synth.children import die_with_parent
from anp_synth.errors import UsageError

SAMPLE_INTERVAL = 0.02
TAIL_LINES = 5


@dataclass(frozen=True, slots=True)
class Measurement:
    """What one build cost."""

    wall_s: float
    cpu_s: float
    peak_rss_mb: float


def split_command(command: str) -> list[str]:
    """A build command line as argv (shell-like quoting), or a UsageError naming --build."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise UsageError("build", f"{command!r}: {exc}") from None
    if not argv:
        raise UsageError("build", "the build command is empty")
    return argv


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    try:
        family = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for p in family:
        with contextlib.suppress(psutil.Error):  # it exited between the listing and now
            total += p.memory_info().rss
    return total


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While inside, SIGTERM raises KeyboardInterrupt (like Ctrl-C), so builds are killed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _kill_tree(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def run_build(
    argv: list[str], cwd: Path, *, timeout: float = 3600.0, interval: float = SAMPLE_INTERVAL
) -> Measurement:
    """Run the build once in `cwd`; a failure is a UsageError that shows its last lines."""
    with tempfile.TemporaryFile() as log:
        t0 = time.perf_counter()
        try:
            child = subprocess.Popen(
                argv, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, preexec_fn=die_with_parent(signal.SIGKILL),
            )  # fmt: skip
        except OSError as exc:
            raise UsageError("build", f"{argv[0]}: {exc.strerror or exc}") from None
        peak = 0
        try:
            proc = psutil.Process(child.pid)
            deadline = t0 + timeout
            while True:
                # wait4: the exit status and the rusage of the build and all it waited for
                pid, status, usage = os.wait4(child.pid, os.WNOHANG)
                if pid:
                    break
                peak = max(peak, _tree_rss(proc))
                if time.perf_counter() > deadline:
                    raise UsageError("build", f"{shlex.join(argv)} ran past {timeout:g} s")
                time.sleep(interval)
        except BaseException:
            _kill_tree(child.pid)
            child.wait()
            raise
        wall = time.perf_counter() - t0
        child.returncode = os.waitstatus_to_exitcode(status)
        _kill_tree(child.pid)  # nothing of the build outlives it
        if child.returncode != 0:
            log.seek(0)
            lines = [ln for ln in log.read().decode("utf-8", "replace").splitlines() if ln.strip()]
            tail = " | ".join(ln.strip() for ln in lines[-TAIL_LINES:]) or "(no output)"
            raise UsageError(
                "build", f"{shlex.join(argv)} exited {child.returncode} in {cwd}: {tail}"
            )
    cpu = usage.ru_utime + usage.ru_stime
    # ru_maxrss: the largest single process of the tree (KiB on Linux): a floor for the sum
    peak_mb = max(peak / 2**20, usage.ru_maxrss / 1024)
    return Measurement(wall, cpu, peak_mb)
