"""A child process in a process group of its own: started with its output in a log file,
stopped by the group's id (SIGTERM, then SIGKILL), so every process it started goes with it.

The site launcher (site/launcher.py) and Varnish (edge/varnish.py) are both one of these.
Children die with their parent, even when it is killed with SIGKILL: `die_with_parent` is
the preexec_fn (Linux prctl PR_SET_PDEATHSIG; SIGKILL for a build, SIGTERM for Locust, which
then stops the workers it forked; elsewhere a no-op).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from anp_synth import libc

HOST = "127.0.0.1"
PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGKILL) -> Callable[[], None]:
    """A preexec_fn: in the child, before exec, ask for `sig` when the parent dies.

    libc's prctl is looked up here, in the parent: the child, between fork and exec, only
    calls it (no import, no dlopen there, where a lock held by another thread could hang it).
    The signal comes when the thread that started the child ends: start children from the
    thread that outlives them (every caller here uses the main thread).
    """
    prctl = libc.call("prctl")

    def preexec() -> None:
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, int(sig))

    return preexec


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for a child server to bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def stop_group(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Stop the process group `process` leads: SIGTERM, then SIGKILL after `timeout` s."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout)


class ProcessGroup:
    """Owns one child: `_spawn` starts it, `stop` ends its group; a context manager."""

    def __init__(self, log_path: str | Path) -> None:
        self.log_path = Path(log_path)
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> Self:
        """Start the child and wait until it serves (each kind says how)."""
        raise NotImplementedError

    def _spawn(
        self, command: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start `command` in a new session, stdin closed, stdout and stderr to the log; it
        gets SIGTERM when this process dies, however it dies."""
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent(signal.SIGTERM),  # stops as on `stop`, even after a SIGKILL
        )
        return self.process

    def log_tail(self, lines: int = 5) -> str:
        """The last lines of the child's output, joined by ` | `."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return " | ".join(text.strip().splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the child's process group: SIGTERM, then SIGKILL after `timeout` seconds."""
        process, self.process = self.process, None
        if process is not None:
            stop_group(process, timeout)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
