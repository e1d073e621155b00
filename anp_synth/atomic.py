"""Files whose name only ever shows them whole: written unnamed (Linux O_TMPFILE) and
linked in when complete, or through a temporary name and a rename.

The one place that does it, for `generate`'s dataset and the static sinks' post files.
Standard library only: the static sinks' writer process imports just this.
"""

from __future__ import annotations

import contextlib
import os
import threading

TMP_SUFFIX = ".anp-tmp"  # a dot name with this suffix: no generator reads it
MARK = "user.anp-synth.write"  # the extended attribute: "<outcome> <Idempotency-Key>"


def write_atomic(
    path: str | os.PathLike[str], data: bytes, *, new: bool = False, mark: str | None = None
) -> None:
    """Write `data` to `path` so that the name only ever shows a whole file.

    A new file is written unnamed (O_TMPFILE) and linked in when complete: one directory
    operation, and a killed process leaves nothing. Replacing a file (or a filesystem
    without O_TMPFILE) goes through a temporary dot file beside it and a rename. `new`: the
    caller expects no file there (if one is, it is replaced all the same). `mark`: set as the
    MARK attribute before the file gets its name (so it never shows without it).
    """
    path = os.fspath(path)
    if _TMPFILE and new:
        fd = unnamed_file(path[: path.rfind("/") + 1] or ".")  # (os.path.dirname: Python code)
        if fd is not None:
            try:
                _write_all(fd, data, mark)
                link_unnamed(fd, path)
                return
            except FileExistsError:
                pass  # there is a file after all: replace it below
            finally:
                os.close(fd)
    folder, name = os.path.split(path)
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.{threading.get_ident()}{TMP_SUFFIX}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        try:
            _write_all(fd, data, mark)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        unlink(tmp)
        raise


_TMPFILE = getattr(os, "O_TMPFILE", 0) if os.path.isdir("/proc/self/fd") else 0


def unnamed_file(folder: str | os.PathLike[str], mode: int = 0o666) -> int | None:
    """A descriptor (write-only) of a new unnamed file in `folder`, to `link_unnamed` once
    complete; None where that cannot be made (no O_TMPFILE here, or on this filesystem)."""
    if not _TMPFILE:
        return None
    try:
        return os.open(folder, _TMPFILE | os.O_WRONLY, mode)
    except OSError:
        return None


def link_unnamed(fd: int, path: str | os.PathLike[str]) -> None:
    """Give the unnamed file `fd` the name `path` (FileExistsError if it is taken)."""
    # linkat(AT_SYMLINK_FOLLOW) of /proc/self/fd/N, relative to a descriptor of that folder:
    # os.link without src_dir_fd may call link(2), which would link the /proc entry itself
    os.link(str(fd), path, src_dir_fd=_proc_fds(), follow_symlinks=True)


_PROC_FDS: list[int] = []  # this process's open /proc/self/fd, once opened
_PROC_FDS_LOCK = threading.Lock()


def _proc_fds() -> int:
    if not _PROC_FDS:
        with _PROC_FDS_LOCK:  # sinks in several threads: one of them opens it
            if not _PROC_FDS:
                _PROC_FDS.append(os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY))
    return _PROC_FDS[0]


def unlink(path: str) -> None:
    """Remove `path` if it is there."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


# A child process has its own /proc/self (its fds are its own): it opens its own.
os.register_at_fork(after_in_child=_PROC_FDS.clear)


def _write_all(fd: int, data: bytes, mark: str | None = None) -> None:
    written = os.write(fd, data)  # a regular file takes it all in one call, but for a signal
    if written < len(data):
        view = memoryview(data)[written:]
        while view:
            view = view[os.write(fd, view) :]
    if mark is not None:
        # (not contextlib.suppress: a context manager per file costs more than the call)
        try:  # noqa: SIM105
            os.setxattr(fd, MARK, mark.encode())
        except OSError:
            pass  # no user extended attributes here: the ledger infers a lost answer instead
