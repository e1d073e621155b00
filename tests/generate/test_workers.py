"""`generate --workers` as a process tree: a signal or a kill of the parent leaves no worker
and no file behind (the dataset is written unnamed until complete)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

WAIT_S = 30.0  # the most any step below may take (a hang guard)
BIG = ["generate", "--seed", "0", "--count", "900000", "-q"]  # runs far longer than a test


def _start(args: list[str], cwd: Path, **kwargs: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own command
        [sys.executable, "-m", "anp_synth", *args],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        **kwargs,  # type: ignore[call-overload]
    )


def _workers_of(proc: subprocess.Popen[bytes], n: int) -> list[psutil.Process]:
    """The `n` worker processes of `proc`, once they exist and the output is being written."""
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        children = parent.children()
        if len(children) == n:
            return children
        time.sleep(0.05)
    raise AssertionError(f"{n} workers did not start within {WAIT_S} s")


def _wait_gone(processes: list[psutil.Process]) -> list[psutil.Process]:
    _, alive = psutil.wait_procs(processes, timeout=WAIT_S)
    return alive


def _stop(proc: subprocess.Popen[bytes], workers: list[psutil.Process]) -> None:
    for p in [psutil.Process(proc.pid), *workers] if proc.poll() is None else workers:
        if p.is_running():
            p.kill()
    proc.wait(WAIT_S)


def _unnamed_files_work(directory: Path) -> bool:
    """Whether this filesystem makes unnamed files (O_TMPFILE; overlayfs before Linux 6.6 and
    some network filesystems do not: generate then writes a named temporary file)."""
    try:
        os.close(os.open(directory, os.O_TMPFILE | os.O_WRONLY, 0o600))
    except OSError:
        return False
    return True


def _written_size(proc: subprocess.Popen[bytes], directory: Path) -> int:
    """Bytes written so far into the files `proc` is writing in `directory`: unnamed ones
    (O_TMPFILE: /proc shows them as `DIR/#INODE (deleted)`) or, where the filesystem has
    none, its named temporary file."""
    size = sum(p.stat().st_size for p in directory.glob(".posts.jsonl.*.tmp"))
    fds = Path(f"/proc/{proc.pid}/fd")
    for fd in fds.iterdir() if fds.is_dir() else ():
        try:
            target = os.readlink(fd)
            if target.startswith(f"{directory}/#") and target.endswith(" (deleted)"):
                size += fd.stat().st_size
        except OSError:
            continue  # closed meanwhile
    return size


def _wait_writing(proc: subprocess.Popen[bytes], directory: Path) -> None:
    deadline = time.monotonic() + WAIT_S
    while _written_size(proc, directory) < 10 << 20:
        assert proc.poll() is None and time.monotonic() < deadline, "no chunk was written"
        time.sleep(0.05)


@pytest.mark.parametrize("when", ["forking", "writing"])
@pytest.mark.parametrize(
    ("sig", "to_group"),
    [
        (signal.SIGTERM, False),
        (signal.SIGINT, False),
        (signal.SIGINT, True),
        (signal.SIGTERM, True),
    ],
    ids=["sigterm-parent", "sigint-parent", "ctrl-c-whole-group", "sigterm-whole-group"],
)
def test_a_signal_during_a_workers_run_leaves_no_worker_and_no_file(
    tmp_path: Path, sig: signal.Signals, to_group: bool, when: str
) -> None:
    out = tmp_path / "posts.jsonl"
    proc = _start([*BIG, "-w", "2", "-o", str(out)], tmp_path, start_new_session=True)
    workers: list[psutil.Process] = []
    try:
        workers = _workers_of(proc, 2)  # "forking": as soon as both exist
        if when == "writing":
            _wait_writing(proc, tmp_path)
        if to_group:
            os.killpg(proc.pid, sig)  # what a terminal's Ctrl-C does
        else:
            proc.send_signal(sig)
        _, err = proc.communicate(timeout=WAIT_S)
    finally:
        _stop(proc, workers)
    assert proc.returncode == 130, err
    assert err.decode().strip().splitlines() == ["interrupted"]
    assert _wait_gone(workers) == []
    assert list(tmp_path.iterdir()) == []  # no temporary file, no partial posts.jsonl


def test_workers_die_with_a_parent_killed_with_sigkill(tmp_path: Path) -> None:
    proc = _start([*BIG, "-w", "2", "-o", str(tmp_path / "posts.jsonl")], tmp_path)
    workers: list[psutil.Process] = []
    try:
        workers = _workers_of(proc, 2)
        proc.kill()  # no handler runs: only the kernel can end the workers now
        proc.wait(WAIT_S)
        assert _wait_gone(workers) == []
    finally:
        _stop(proc, workers)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_run_killed_with_sigkill_while_writing_leaves_no_file(
    tmp_path: Path, workers: str
) -> None:
    if not _unnamed_files_work(tmp_path):
        pytest.skip("this filesystem makes no unnamed files (O_TMPFILE)")
    proc = _start([*BIG, "-w", workers, "-o", str(tmp_path / "posts.jsonl")], tmp_path)
    children: list[psutil.Process] = []
    try:
        _wait_writing(proc, tmp_path)
        children = psutil.Process(proc.pid).children()
        assert list(tmp_path.iterdir()) == []  # 10 MB written, under no name
        proc.kill()  # no handler runs: nothing can remove a named temporary file now
        proc.wait(WAIT_S)
        assert _wait_gone(children) == []
    finally:
        _stop(proc, children)
    assert list(tmp_path.iterdir()) == []
