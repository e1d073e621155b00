"""The static sinks' writer process: a large batch's new files are written by it, with the
same bytes and marks, the same answers, a failure that is only its post's, and no process
left behind (closed, garbage-collected, or its sink's process killed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from anp_synth.atomic import MARK
from anp_synth.errors import TransientSinkError
from anp_synth.sinks.registry import create_sink
from anp_synth.sinks.static.files import StaticSink
from anp_synth.sinks.static.skeleton import init_site
from anp_synth.sinks.static.writer import WriterProcess
from tests.importer.posts import edited, post

WAIT_S = 20.0
BATCH = 100  # above StaticSink.writer_batch


def _sink(generator: str, root: Path, writer_batch: int | None = None) -> StaticSink:
    init_site(generator, root)
    sink = create_sink(generator, str(root))
    assert isinstance(sink, StaticSink)
    if writer_batch is not None:
        sink.writer_batch = writer_batch  # type: ignore[misc]
    return sink


def _folder(sink: StaticSink) -> dict[str, tuple[bytes, bytes]]:
    return {
        p.name: (p.read_bytes(), os.getxattr(p, MARK))
        for p in sorted(sink.folder.iterdir())
        if p.is_file() and p.name.endswith(".md") and not p.name.startswith("_")
    }


def _writer_pid(sink: StaticSink) -> int:
    writer = sink._writer  # noqa: SLF001 - the process this test is about
    assert writer is not None and writer.alive
    return writer._process.pid  # noqa: SLF001


def _gone(pid: int) -> bool:
    """Whether process `pid` ends (or is a zombie nobody reaped yet) within WAIT_S."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("generator", ["hugo", "jekyll", "eleventy"])
def test_a_large_batch_is_written_by_the_writer_with_the_same_files(
    generator: str, tmp_path: Path
) -> None:
    batch = [post(s) for s in range(5000, 5000 + BATCH)]
    keys = [f"k{i}" for i in range(BATCH)]
    here = _sink(generator, tmp_path / "here", writer_batch=10**9)
    there = _sink(generator, tmp_path / "there")
    expected = here.upsert_many(batch, idempotency_keys=keys)
    got = there.upsert_many(batch, idempotency_keys=keys)
    pid = _writer_pid(there)
    assert got == expected and {r.outcome for r in got} == {"created"}  # type: ignore[union-attr]
    assert _folder(there) == _folder(here) and len(_folder(there)) == BATCH
    # the writer answered only once every file was there: the index knows them all
    assert [there.get(p["source_id"]) is not None for p in batch] == [True] * BATCH
    there.close()
    assert _gone(pid) and there._writer is None  # noqa: SLF001
    here.close()


def test_a_file_the_writer_cannot_write_fails_only_its_post(tmp_path: Path) -> None:
    sink = _sink("hugo", tmp_path / "site")
    batch = [post(s) for s in range(6000, 6000 + BATCH)]
    (sink.folder / f"{batch[7]['slug']}.md").mkdir()  # the post's name is taken by a folder
    res = sink.upsert_many(batch, idempotency_keys=[f"k{i}" for i in range(BATCH)])
    _writer_pid(sink)  # the writer wrote them
    assert isinstance(res[7], TransientSinkError) and "Is a directory" in str(res[7])
    assert [getattr(r, "outcome", None) for i, r in enumerate(res) if i != 7] == ["created"] * 99
    assert sink.get(batch[7]["source_id"]) is None
    sink.close()


def test_a_batch_reads_as_if_written_one_post_after_the_other(tmp_path: Path) -> None:
    # the same post twice in one batch, its second version changed: created, then updated
    # (the update waits for the writer's create, and journals the first version)
    sink = _sink("hugo", tmp_path / "site")
    first = [post(s) for s in range(7000, 7000 + BATCH)]
    second = edited(7003, title="a second version")
    res = sink.upsert_many([*first, second], idempotency_keys=[f"k{i}" for i in range(BATCH + 1)])
    _writer_pid(sink)
    assert res[3].outcome == "created" and res[BATCH].outcome == "updated"  # type: ignore[union-attr]
    assert res[BATCH].previous == first[3]  # type: ignore[union-attr]
    got = sink.get(first[3]["source_id"])
    assert got is not None and got.post is not None and got.post["title"] == "a second version"
    sink.close()


def test_a_writer_that_died_is_replaced_and_its_files_are_the_posts_errors(
    tmp_path: Path,
) -> None:
    sink = _sink("hugo", tmp_path / "site")
    batch = [post(s) for s in range(8000, 8000 + 2 * BATCH)]
    sink.upsert_many(batch[:BATCH], idempotency_keys=["a"] * BATCH)
    pid = _writer_pid(sink)
    os.kill(pid, signal.SIGKILL)
    assert _gone(pid)
    res = sink.upsert_many(batch[BATCH:], idempotency_keys=["b"] * BATCH)
    assert _writer_pid(sink) != pid  # a new one
    assert {r.outcome for r in res} == {"created"}  # type: ignore[union-attr]
    sink.close()


_SCRIPT = """
import sys, time
from anp_synth.sinks.registry import create_sink
from anp_synth.sinks.static.skeleton import init_site
from anp_synth.sinks.static.writer import WriterProcess
from tests.importer.posts import post
init_site("hugo", sys.argv[1])
sink = create_sink("hugo", sys.argv[1])
sink.upsert_many([post(s) for s in range(9000, 9100)], idempotency_keys=["k"] * 100)
print(sink._writer._process.pid, flush=True)
time.sleep(60)
"""


def test_the_writer_dies_with_its_sinks_process_even_by_sigkill(tmp_path: Path) -> None:
    proc = subprocess.Popen(  # noqa: S603 - our own code
        [sys.executable, "-c", _SCRIPT, str(tmp_path / "site")],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip(), "the script printed no writer pid"
        pid = int(line)
        assert psutil.pid_exists(pid)
        proc.kill()  # no handler runs: only the kernel can end the writer now
        proc.wait(WAIT_S)
        assert _gone(pid), "the writer outlived its sink's process"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_sink_dropped_without_close_stops_its_writer(tmp_path: Path) -> None:
    sink = _sink("hugo", tmp_path / "site")
    sink.upsert_many([post(s) for s in range(9500, 9600)], idempotency_keys=["k"] * BATCH)
    pid = _writer_pid(sink)
    del sink  # the last reference: its finalizer closes the writer
    assert _gone(pid)


def test_a_writer_that_cannot_start_leaves_the_writes_to_the_sink(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = _sink("hugo", tmp_path / "site")
    monkeypatch.setattr(sys, "executable", "/bin/false")  # the child ends at once, silent
    batch = [post(s) for s in range(9700, 9700 + 2 * BATCH)]
    res = sink.upsert_many(batch[:BATCH], idempotency_keys=["a"] * BATCH)
    assert {r.outcome for r in res} == {"created"}  # type: ignore[union-attr]
    assert sink._writer is not None and not sink._writer.alive  # noqa: SLF001 - it tried
    res = sink.upsert_many(batch[BATCH:], idempotency_keys=["b"] * BATCH)
    assert {r.outcome for r in res} == {"created"}  # type: ignore[union-attr]
    assert sink._writer is None  # noqa: SLF001 - no second try: this process writes
    assert len([p for p in sink.folder.glob("*.md") if not p.name.startswith("_")]) == 2 * BATCH
    sink.close()


def test_the_writer_takes_a_file_larger_than_its_pipe_among_small_ones(tmp_path: Path) -> None:
    writer = WriterProcess()
    files = {str(tmp_path / f"f{i}.md"): os.urandom(50 + i * 37) for i in range(40)}
    files[str(tmp_path / "big.md")] = os.urandom(3 << 20)  # three times the pipe
    files.update({str(tmp_path / f"g{i}.md"): os.urandom(7000) for i in range(40)})
    for path, data in files.items():
        writer.send(path, data, f"created k-{Path(path).name} r")
    assert writer.answers() == [0] * len(files)
    assert {p: Path(p).read_bytes() for p in files} == files
    assert os.getxattr(tmp_path / "big.md", MARK) == b"created k-big.md r"
    writer.close()
    assert not writer.alive
