"""Is a process, or a process group, still running? For the interruption tests (by pid, by group)."""

from __future__ import annotations

import os

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
