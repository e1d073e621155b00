"""The static sinks' writer process: a child with a GIL of its own does a batch's file system
calls while the sink renders the next posts.

A writer thread would wait for the GIL after each of its system calls (five a file) while
the renderer holds it, so little of the file I/O overlapped; a forked child does not share
it. The sink sends groups of records over a pipe (the file's path and bytes, its mark, the
journal entry an update writes first, the old file a moved post leaves); the child does each
with the function it was given (the sink's own write, so the rules stay in one place) and
answers every record with 0 or the errno of its failure, in order.

The child is forked once per sink, on its first batch, and stopped on `close`, at exit, when
its parent dies (PR_SET_PDEATHSIG: SIGTERM, which it takes as a clean stop, as it does a
SIGTERM of its own) or when its requests end (the pipe's end closed: it finishes what it
has been sent, then exits, so an interrupted batch leaves no half-written temporary file).
Ctrl-C goes to the parent alone (the child ignores SIGINT): the parent then stops it so.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import struct
import time
import weakref
from array import array
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from anp_synth.processes import die_with_parent


class FileWrite(NamedTuple):
    """One post's file system work: its journal entry first (an update), then the file, then
    its old file under another name (removed)."""

    path: Path
    data: bytes
    new: bool  # no file for the post before
    mark: str  # the file's MARK attribute
    journal: Path | None  # the entry an update writes first, with `journal_doc`
    journal_doc: bytes
    moved: Path | None


_GROUP = struct.Struct("<II")  # records, bytes
_RECORD = struct.Struct("<B6I")  # new, then the lengths of the six fields that follow
UNEXPECTED = -1  # an answer: the write failed with something other than an OSError
GONE = "the writer process ended"


def encode(writes: Sequence[FileWrite]) -> bytes:
    """One group of records as the child reads it."""
    parts: list[bytes] = []
    for w in writes:
        fields = (
            os.fsencode(w.path),
            w.data,
            w.mark.encode(),
            b"" if w.journal is None else os.fsencode(w.journal),
            w.journal_doc,
            b"" if w.moved is None else os.fsencode(w.moved),
        )
        parts.append(_RECORD.pack(w.new, *map(len, fields)))
        parts.extend(fields)
    body = b"".join(parts)
    return _GROUP.pack(len(writes), len(body)) + body


def decode(body: bytes, count: int) -> list[FileWrite]:
    """The records of one group's body."""
    out: list[FileWrite] = []
    view = memoryview(body)
    pos = 0
    for _ in range(count):
        new, *lengths = _RECORD.unpack_from(body, pos)
        pos += _RECORD.size
        fields: list[bytes] = []
        for n in lengths:
            fields.append(bytes(view[pos : pos + n]))
            pos += n
        path, data, mark, journal, doc, moved = fields
        out.append(
            FileWrite(
                Path(os.fsdecode(path)),
                data,
                bool(new),
                mark.decode(),
                Path(os.fsdecode(journal)) if journal else None,
                doc,
                Path(os.fsdecode(moved)) if moved else None,
            )
        )
    return out


class WriterGone(OSError):
    """The child ended (killed, or its parent thread gone): the records not answered."""


class Writer:
    """The child that does `apply` for each record sent; forked on the first `send`."""

    def __init__(self, apply: Callable[[FileWrite], None]) -> None:
        self._apply = apply
        self._child: _Child | None = None

    def ready(self) -> None:
        """Before a batch: the child started, or started again if it ended (never during a
        batch: the answers owed are the ended one's)."""
        child = self._child
        if child is None or not child.alive():
            if child is not None:
                child.stop()
            self._child = _Child.fork(self._apply)

    def send(self, writes: Sequence[FileWrite]) -> None:
        """Hand a group to the child."""
        child = self._child
        if child is None or child.pid is None:
            raise WriterGone(0, GONE)
        try:
            _write_all(child.requests, encode(writes))
        except BrokenPipeError:
            raise WriterGone(0, GONE) from None

    def answers(self, count: int) -> list[int]:
        """The next `count` answers, in the order sent: 0, an errno, or UNEXPECTED."""
        child = self._child
        if child is None:
            raise WriterGone(0, GONE)
        data = _read_exact(child.answers, 4 * count)
        if data is None:
            raise WriterGone(0, GONE)
        return array("i", data).tolist()

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return None if self._child is None else self._child.pid

    def stop(self) -> None:
        """End the child once it has done what it was sent; no-op when none runs."""
        child, self._child = self._child, None
        if child is not None:
            child.stop()


class _Child:
    """A forked writer: its pid and the parent's ends of its two pipes."""

    def __init__(self, pid: int, requests: int, answers: int) -> None:
        self.pid: int | None = pid
        self.requests = requests
        self.answers = answers

    @classmethod
    def fork(cls, apply: Callable[[FileWrite], None]) -> _Child:
        req_r, req_w = os.pipe()
        ans_r, ans_w = os.pipe()
        with contextlib.suppress(OSError, AttributeError):  # fewer waits for a full pipe
            import fcntl

            fcntl.fcntl(req_w, fcntl.F_SETPIPE_SZ, 1 << 20)
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            code = 1
            try:
                _child_setup(parent, (req_r, ans_w))
                _serve(req_r, ans_w, apply)
                code = 0
            except SystemExit:
                code = 0
            finally:
                os._exit(code)
        os.close(req_r)
        os.close(ans_w)
        child = cls(pid, req_w, ans_r)
        weakref.finalize(child, _Child.stop, child)  # at exit, or when the sink is dropped
        return child

    def alive(self) -> bool:
        if self.pid is None:
            return False
        try:
            done, _ = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            done = self.pid
        if done:
            self.pid = None
        return self.pid is not None

    def stop(self, timeout: float = 10.0) -> None:
        """Close its requests (it finishes them and exits), reap it; SIGKILL after `timeout`."""
        if self.requests >= 0:
            os.close(self.requests)
            self.requests = -1
        pid, self.pid = self.pid, None
        if pid is not None:
            deadline = time.monotonic() + timeout
            while not _reaped(pid):
                if time.monotonic() > deadline:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    break
                time.sleep(0.001)
        if self.answers >= 0:
            os.close(self.answers)
            self.answers = -1


def _reaped(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done != 0


def _child_setup(parent: int, keep: tuple[int, ...]) -> None:
    """In the child: Ctrl-C is the parent's to handle, SIGTERM a clean stop, gone with the
    parent; none of the parent's other files (sockets, the ledger) held open."""
    gc.disable()  # no finalizer of the parent's objects runs here (their files are closed)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_now)
    with contextlib.suppress(ValueError):
        signal.set_wakeup_fd(-1)
    die_with_parent(signal.SIGTERM)()
    if os.getppid() != parent:  # the parent died before the request above
        raise SystemExit(0)
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 20)


def _stop_now(signum: int, frame: object) -> None:
    raise SystemExit(0)  # a write in progress removes its temporary file on the way out


def _serve(requests: int, answers: int, apply: Callable[[FileWrite], None]) -> None:
    """Do each group of records sent and answer each record, until the requests end."""
    while True:
        head = _read_exact(requests, _GROUP.size)
        if head is None:
            return
        count, size = _GROUP.unpack(head)
        body = _read_exact(requests, size)
        if body is None:
            return
        codes = array("i")
        for write in decode(body, count):
            try:
                apply(write)
            except OSError as exc:
                codes.append(exc.errno or UNEXPECTED)
            except Exception:
                codes.append(UNEXPECTED)
            else:
                codes.append(0)
        _write_all(answers, codes.tobytes())


def _read_exact(fd: int, n: int) -> bytes | None:
    """`n` bytes from `fd`, or None at its end."""
    chunks: list[bytes] = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
