"""The static sinks' writer process: new files written on a core of their own.

A new post's file costs its system calls (an unnamed file, its bytes, the mark, the link:
~36 µs on ext4), as long as the rendering of the next post in Python. Writer threads
could not overlap them (a thread back from each system call waits for the GIL the
renderer holds), so a batch's new files go, rendered, through a pipe to this process,
which writes them with `atomic.write_atomic` while the sink renders the next posts; the
sink reads one answer a file (0 or the errno) before it answers the batch, so nothing is
reported written that is not. It imports the standard library and `atomic` only (it starts
in ~30 ms), ignores Ctrl-C (the sink's process stops it) and dies with that process.

Records, parent → child: three little-endian u32 lengths (path, mark, data), then those
bytes (path and mark in UTF-8). Answers, child → parent: one little-endian i32 a record
(a batch of at most 500 files: 2 KB of answers, far below what the pipe holds, so the
writer never waits for the sink to read them).
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import struct
import subprocess
import sys

from anp_synth.atomic import write_atomic

_HEADER = struct.Struct("<III")
_ANSWER = struct.Struct("<i")
_PIPE_BYTES = 1 << 20  # F_SETPIPE_SZ: ~150 rendered posts in flight (the default is 64 KB)
_F_SETPIPE_SZ = 1031
SEND_BYTES = 128 << 10  # records are written to the pipe this much at a time
STOP_S = 5.0  # the most `close` waits for the files in flight before it kills the process


class WriterProcess:
    """The sink's side: `send` a file, `answers` for all sent since the last call."""

    def __init__(self) -> None:
        from anp_synth.processes import die_with_parent

        self._process = subprocess.Popen(  # noqa: S603 - our own module, no shell
            [sys.executable, "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            preexec_fn=die_with_parent(signal.SIGKILL),
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._to = self._process.stdin.fileno()
        self._from = self._process.stdout
        try:
            import fcntl

            fcntl.fcntl(self._to, _F_SETPIPE_SZ, _PIPE_BYTES)
        except OSError:
            pass  # a smaller pipe (pipe-max-size): fewer files in flight, the same answers
        self._sent = 0  # files sent since the last `answers`
        self.answered = 0  # files it answered for, in all
        self._queue: list[bytes] = []  # records not yet written to the pipe
        self._queued = 0

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def send(self, path: str, data: bytes, mark: str) -> None:
        """Hand a new file to the writer: queued, and written to the pipe SEND_BYTES at a
        time (one system call, one wake-up of the writer for dozens of files)."""
        name, note = path.encode(), mark.encode()
        self._queue += (_HEADER.pack(len(name), len(note), len(data)), name, note, data)
        self._queued += len(data)
        self._sent += 1
        if self._queued >= SEND_BYTES:
            self._flush()

    def _flush(self) -> None:
        """Write the queued records to the pipe (blocks while it is full)."""
        if not self._queue:
            return
        record = b"".join(self._queue)
        self._queue.clear()
        self._queued = 0
        try:
            written = os.write(self._to, record)
            while written < len(record):
                written += os.write(self._to, memoryview(record)[written:])
        except BrokenPipeError:
            pass  # the writer is gone: `answers` says so for these files

    def answers(self) -> list[int]:
        """The errno of each file sent since the last call (0: written), in order; EPIPE for
        the files of a writer that ended before answering."""
        self._flush()
        count, self._sent = self._sent, 0
        data = self._from.read(count * _ANSWER.size) if count else b""
        got = len(data) // _ANSWER.size
        self.answered += got
        if got < count:  # it ended: wait for it, so that `alive` says so
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(STOP_S)
        codes = [code for (code,) in _ANSWER.iter_unpack(data[: got * _ANSWER.size])]
        return codes + [errno.EPIPE] * (count - got)

    def close(self) -> None:
        """Let the writer finish the files in flight and end (killed after STOP_S)."""
        assert self._process.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self._process.stdin.close()
        try:
            self._process.wait(STOP_S)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._from.close()


def main() -> int:
    """The writer's loop: each record written atomically as a new file, its answer sent.

    Reads whatever the pipe holds (up to a MB at a time), writes every whole record in it,
    and sends their answers together just before it would wait for more: one read and
    one answer a few dozen files, and no answer is held back while the sink waits for it.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the sink's process stops us
    pending = b""
    answers = bytearray()
    while True:
        chunk = os.read(0, _PIPE_BYTES)
        if not chunk:
            return 0  # the sink closed the pipe (or is gone): done
        data = pending + chunk if pending else chunk
        at, end = 0, len(data)
        while end - at >= _HEADER.size:
            n_path, n_mark, n_data = _HEADER.unpack_from(data, at)
            start = at + _HEADER.size
            stop = start + n_path + n_mark + n_data
            if stop > end:
                break  # the rest of this record is still on its way
            path = data[start : start + n_path].decode()
            mark = data[start + n_path : start + n_path + n_mark].decode()
            try:
                write_atomic(path, data[start + n_path + n_mark : stop], new=True, mark=mark)
                code = 0
            except OSError as exc:
                code = exc.errno or errno.EIO
            answers += _ANSWER.pack(code)
            at = stop
        pending = data[at:]
        if answers:
            _write_all(1, answers)
            answers.clear()


def _write_all(fd: int, data: bytes | bytearray) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


if __name__ == "__main__":
    sys.exit(main())
