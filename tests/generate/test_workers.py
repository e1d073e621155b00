"""`generate --workers` as a process tree: a signal or a kill of the parent leaves no worker
and no file behind; a write that fails (full disk, file size limit) is one line, exit 2."""

from __future__ import annotations

import hashlib
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from anp_synth.generate import dataset
from anp_synth.generate.dataset import Spec, generate
from tests.generate import golden

GOLDEN_SHA = golden.RUN_SHA256.read_text().split()[0]
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


def _temporary_file_size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.glob(".posts.jsonl.*.tmp"))


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
        deadline = time.monotonic() + WAIT_S
        while when == "writing" and _temporary_file_size(tmp_path) < 10 << 20:
            assert time.monotonic() < deadline, "no chunk was written"
            time.sleep(0.05)
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


def _file_size_limit(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_write_that_fails_midway_is_one_line_exit_2_and_no_file(
    tmp_path: Path, workers: str
) -> None:
    # a file size limit makes every write past 8 MB fail (EFBIG), like a disk filling up
    out = tmp_path / "posts.jsonl"
    args = ["generate", "--count", "10000", "-w", workers, "-o", str(out)]
    proc = _start(args, tmp_path, preexec_fn=lambda: _file_size_limit(8 << 20))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    lines = err.decode().strip().splitlines()
    assert lines == [f"error: --output: cannot write {str(out)!r}: File too large"]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("workers", ["1", "2"])
def test_stdout_on_a_full_disk_is_one_line_exit_2(workers: str) -> None:
    with open("/dev/full", "wb") as full:
        done = subprocess.run(  # noqa: S603 - our own command
            [
                sys.executable,
                "-m",
                "anp_synth",
                "generate",
                "--count",
                "3000",
                "-w",
                workers,
                "-o",
                "-",
            ],
            stdout=full,
            stderr=subprocess.PIPE,
            timeout=120,
            check=False,
        )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.decode().strip().splitlines()
    assert lines == ["error: --output: cannot write stdout: No space left on device"]


@pytest.mark.parametrize("workers", [1, 2])
def test_reserving_the_file_ahead_in_many_steps_gives_the_golden_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    monkeypatch.setattr(dataset, "RESERVE_STEP", 100_000)  # ~46 steps over 4.6 MB
    calls: list[tuple[int, int]] = []
    real = dataset._fallocate

    def counted(fd: int, offset: int, length: int) -> bool:
        calls.append((offset, length))
        return real(fd, offset, length)

    monkeypatch.setattr(dataset, "_fallocate", counted)
    out = tmp_path / "posts.jsonl"
    result = generate(Spec(2852, 1000), str(out), workers=workers, chunk=37)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == result.sha256 == GOLDEN_SHA
    assert len(calls) > 10
    # each step starts where the last ended: one contiguous reservation
    assert [offset for offset, _ in calls[1:]] == [o + n for o, n in calls[:-1]]


def test_without_fallocate_or_with_no_room_for_a_step_plain_writes_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dataset, "RESERVE_STEP", 100_000)
    answers = iter([True, True, False])  # two steps reserved, then the filesystem says no

    def fallocate(fd: int, offset: int, length: int) -> bool:
        answer = next(answers)
        if answer:
            os.truncate(
                f"/proc/self/fd/{fd}", offset + length
            )  # what a reservation does to the size
        return answer

    monkeypatch.setattr(dataset, "_fallocate", fallocate)
    out = tmp_path / "posts.jsonl"
    generate(Spec(2852, 1000), str(out), chunk=37)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == GOLDEN_SHA
    assert next(answers, None) is None  # asked exactly three times: not again after the "no"
