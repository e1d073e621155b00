"""The write path of `generate`: blocks reserved ahead, direct writes in a writer thread, and a
write that fails (full disk, file size limit) as one line, exit 2; the bytes stay the golden
ones on every path."""

from __future__ import annotations

import errno
import fcntl
import gc
import hashlib
import mmap
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from anp_synth import libc
from anp_synth.errors import UsageError
from anp_synth.generate import dataset
from anp_synth.generate.dataset import Spec, generate
from tests.generate import golden

GOLDEN_SHA = golden.RUN_SHA256.read_text().split()[0]


def _anp_synth(*args: str, **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(  # type: ignore[call-overload]  # noqa: S603 - ours
        [sys.executable, "-m", "anp_synth", *args],
        stderr=subprocess.PIPE,
        timeout=120,
        check=False,
        **kwargs,
    )


def _file_size_limit(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_write_that_fails_midway_is_one_line_exit_2_and_no_file(
    tmp_path: Path, workers: str
) -> None:
    # a file size limit makes every write past 8 MB fail (EFBIG), like a disk filling up
    out = tmp_path / "posts.jsonl"
    args = ["generate", "--count", "10000", "-w", workers, "-o", str(out)]
    done = _anp_synth(*args, cwd=tmp_path, preexec_fn=lambda: _file_size_limit(8 << 20))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.decode().strip().splitlines()
    assert lines == [f"error: --output: cannot write {str(out)!r}: File too large"]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("workers", ["1", "2"])
def test_stdout_on_a_full_disk_is_one_line_exit_2(workers: str) -> None:
    with open("/dev/full", "wb") as full:
        done = _anp_synth("generate", "--count", "3000", "-w", workers, "-o", "-", stdout=full)
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


def _direct_writes_work(directory: Path) -> bool:
    """Whether this filesystem takes O_DIRECT (tmpfs does not)."""
    probe = directory / "probe"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_DIRECT)
    except OSError:
        return False
    os.close(fd)
    probe.unlink()
    return True


def _spy_direct(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count the direct writes and the switches back to the page cache."""
    counts = {"write": 0, "stop": 0}
    write, stop = dataset._Direct.write, dataset._Direct.stop

    def counted_write(self: dataset._Direct, data: dataset.Buffer) -> bool:
        counts["write"] += 1
        return write(self, data)

    def counted_stop(self: dataset._Direct) -> None:
        counts["stop"] += 1
        stop(self)

    monkeypatch.setattr(dataset._Direct, "write", counted_write)
    monkeypatch.setattr(dataset._Direct, "stop", counted_stop)
    return counts


def _fail_direct_write(monkeypatch: pytest.MonkeyPatch, code: int, at: int) -> None:
    """The `at`-th direct write (O_DIRECT on) fails with errno `code`; others go through."""
    real_write = os.write
    direct_writes = {"n": 0}

    def failing(fd: int, data: dataset.Buffer) -> int:
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT:
            direct_writes["n"] += 1
            if direct_writes["n"] == at:
                raise OSError(code, os.strerror(code))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", failing)


def test_with_workers_the_file_is_written_direct_with_the_golden_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not _direct_writes_work(tmp_path):
        pytest.skip("this filesystem takes no O_DIRECT")
    monkeypatch.setattr(dataset, "STAGE_BYTES", 3 * 4096)  # every chunk grows the stage
    counts = _spy_direct(monkeypatch)
    out = tmp_path / "posts.jsonl"
    result = generate(Spec(2852, 1000), str(out), workers=2, chunk=37)  # chunks of odd sizes
    assert hashlib.sha256(out.read_bytes()).hexdigest() == result.sha256 == GOLDEN_SHA
    assert counts == {"write": 28, "stop": 1}  # every chunk direct, the tail written at the end


def test_one_process_writes_direct_too_with_the_golden_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not _direct_writes_work(tmp_path):
        pytest.skip("this filesystem takes no O_DIRECT")
    monkeypatch.setattr(dataset, "STAGE_BYTES", 3 * 4096)  # every chunk grows the stage
    counts = _spy_direct(monkeypatch)
    threads: set[str] = set()
    write_blocks = dataset._Direct._write_blocks

    def in_thread(self: dataset._Direct, full: mmap.mmap, whole: int) -> int:
        threads.add(threading.current_thread().name)
        return write_blocks(self, full, whole)

    monkeypatch.setattr(dataset._Direct, "_write_blocks", in_thread)
    out = tmp_path / "posts.jsonl"
    result = generate(Spec(2852, 1000), str(out), workers=1, chunk=37)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == result.sha256 == GOLDEN_SHA
    assert counts == {"write": 28, "stop": 1}
    # the disk waits in the writer thread, not in the one building the posts
    assert len(threads) == 1 and threading.current_thread().name not in threads
    assert not any(t.name.startswith("generate-write") for t in threading.enumerate())


def test_a_write_error_in_the_writer_thread_is_the_runs_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not _direct_writes_work(tmp_path):
        pytest.skip("this filesystem takes no O_DIRECT")
    _fail_direct_write(monkeypatch, errno.ENOSPC, at=1)
    out = tmp_path / "posts.jsonl"
    with pytest.raises(UsageError, match="No space left on device"):
        generate(Spec(2852, 300), str(out), chunk=37)
    assert list(tmp_path.iterdir()) == []  # no dataset, no temporary file
    assert not any(t.name.startswith("generate-write") for t in threading.enumerate())


def _slow_direct_writes(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Each hand-over to the disk takes `seconds` more (a slow disk)."""
    real = dataset._Direct._write_blocks

    def slow(self: dataset._Direct, full: Any, whole: int) -> int:
        time.sleep(seconds)
        return real(self, full, whole)

    monkeypatch.setattr(dataset._Direct, "_write_blocks", slow)


def test_a_disk_slower_than_the_posts_goes_back_to_the_page_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not _direct_writes_work(tmp_path):
        pytest.skip("this filesystem takes no O_DIRECT")
    monkeypatch.setattr(dataset, "DIRECT_PROBE_BYTES", 1_000_000)
    _slow_direct_writes(monkeypatch, 0.03)  # ~6 MB/s: slower than 37 posts are made
    counts = _spy_direct(monkeypatch)
    out = tmp_path / "posts.jsonl"
    generate(Spec(2852, 1000), str(out), workers=2, chunk=37)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == GOLDEN_SHA
    # ~170 KB a chunk: the probe's 1 MB is passed at the 6th or 7th, then no more direct writes
    assert 5 <= counts["write"] <= 8 and counts["stop"] == 1


def test_a_slow_disk_that_keeps_up_with_the_posts_stays_direct(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # what counts is the disk against this run's own rate, not a fixed speed: a disk of
    # ~80 MB/s keeps direct writes when the posts come slower than it takes them
    if not _direct_writes_work(tmp_path):
        pytest.skip("this filesystem takes no O_DIRECT")
    monkeypatch.setattr(dataset, "DIRECT_PROBE_BYTES", 1_000_000)
    _slow_direct_writes(monkeypatch, 0.002)
    real = dataset.build_chunk

    def slow_chunk(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.02)
        return real(*args, **kwargs)

    monkeypatch.setattr(dataset, "build_chunk", slow_chunk)
    counts = _spy_direct(monkeypatch)
    out = tmp_path / "posts.jsonl"
    generate(Spec(2852, 1000), str(out), chunk=37)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == GOLDEN_SHA
    # every chunk of 37 went direct (the stop at the end writes the last part of a block)
    assert counts == {"write": 28, "stop": 1}


def test_a_filesystem_that_refuses_a_direct_write_midway_gets_plain_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not _direct_writes_work(tmp_path):
        pytest.skip("this filesystem takes no O_DIRECT")
    _fail_direct_write(monkeypatch, errno.EINVAL, at=4)
    counts = _spy_direct(monkeypatch)
    out = tmp_path / "posts.jsonl"
    generate(Spec(2852, 1000), str(out), workers=2, chunk=37)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == GOLDEN_SHA
    # the 4th direct write is refused in the writer thread; the next chunk learns of it
    assert counts == {"write": 5, "stop": 1}


@pytest.mark.parametrize("collecting", [True, False])
def test_a_run_leaves_the_garbage_collector_as_it_found_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, collecting: bool
) -> None:
    monkeypatch.setattr(dataset, "PREPARE_AT", 100)  # variants made up front, frozen for the run
    monkeypatch.setattr(dataset, "_builders", {})
    frozen_during: list[int] = []
    real = dataset.build_chunk

    def watched(*args: object) -> bytes:
        frozen_during.append(gc.get_freeze_count())
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(dataset, "build_chunk", watched)
    if not collecting:
        gc.disable()
    try:
        generate(Spec(2852, 300), str(tmp_path / "posts.jsonl"), chunk=100)
        assert gc.isenabled() is collecting
    finally:
        gc.enable()
    assert len(frozen_during) == 3 and min(frozen_during) > 0
    assert gc.get_freeze_count() == 0


_FAULTS = """
import resource, sys
from anp_synth.generate import dataset
if sys.argv[2] == "default":
    dataset._keep_chunk_memory = lambda: None  # glibc's own thresholds
dataset.generate(dataset.Spec(2852, 10_000), sys.argv[1])
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt)
"""


@pytest.mark.skipif(libc.call("mallopt") is None, reason="no mallopt in this C library")
def test_a_freed_chunk_s_memory_is_kept_for_the_next_chunk(tmp_path: Path) -> None:
    # Page faults are counted, not timed: with glibc's own thresholds every chunk's ~4.5 MB
    # lands in fresh pages a good part of the time; kept, the chunks reuse the same ones.
    faults = {}
    for how in ("default", "kept"):
        ran = subprocess.run(  # noqa: S603 - ours
            [sys.executable, "-c", _FAULTS, str(tmp_path / f"{how}.jsonl"), how],
            capture_output=True,
            timeout=120,
            check=True,
        )
        faults[how] = int(ran.stdout)
    written_pages = (tmp_path / "kept.jsonl").stat().st_size // mmap.PAGESIZE
    assert faults["default"] - faults["kept"] > written_pages // 10, (faults, written_pages)


def test_without_mallopt_generate_goes_on(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = libc.call

    def without_mallopt(name: str, *argtypes: str) -> Any:  # a C library like musl's or macOS's
        return None if name == "mallopt" else real(name, *argtypes)

    monkeypatch.setattr(libc, "call", without_mallopt)
    dataset._keep_chunk_memory.cache_clear()
    try:
        out = tmp_path / "posts.jsonl"
        generate(Spec(2852, 1000), str(out), chunk=37)
    finally:
        dataset._keep_chunk_memory.cache_clear()
    assert hashlib.sha256(out.read_bytes()).hexdigest() == GOLDEN_SHA
