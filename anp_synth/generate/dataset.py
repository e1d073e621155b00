"""Write a dataset: seeds → JSONL (in order, any number of workers, any shard) + manifest."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import functools
import gc
import hashlib
import mmap
import os
import re
import signal
import stat
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple, TypeAlias

import orjson

from anp_synth import __version__, collector, libc
from anp_synth.atomic import link_unnamed, unnamed_file
from anp_synth.errors import AnpError, UsageError
from anp_synth.generate.builder import DEFAULT_EPOCH, MAX_SEED, Builder, builder_for
from anp_synth.generate.profile import Profile, resolve
from anp_synth.generate.vocab import pools_faker_version, supported_locales

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

DEFAULT_COUNT = 1000
DEFAULT_OUTPUT = "posts.jsonl"
CHUNK = 1000  # posts per worker task: large enough to amortise IPC, small enough for flat memory
RESERVE_STEP = 64 << 20  # the output file's blocks are reserved this far ahead (see _Output)
# Direct writes (see _Direct): whole blocks of this size, from a staging buffer this large to
# start with; after the first DIRECT_PROBE_BYTES, a disk that kept the posts waiting for it
# more than DIRECT_MAX_WAIT of the time is left to the page cache.
DIRECT_BLOCK = 4096
STAGE_BYTES = 8 << 20
DIRECT_PROBE_BYTES = 64 << 20
DIRECT_MAX_WAIT = 0.05
# From this many posts a run makes nearly every prebuilt variant anyway (4,096 prose variants,
# 512 per stack), so it makes them all up front, as plain lists the hot path indexes directly.
PREPARE_AT = 20_000
# glibc's malloc (see _keep_chunk_memory): blocks up to this size come from the heap, and the
# heap gives its free top back to the kernel only past this size
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 64 << 20

Buffer: TypeAlias = bytes | memoryview

_SHARD_RE = re.compile(r"^(\d+)/(\d+)$")


@dataclass(frozen=True)
class Spec:
    """What to generate: a seed range, a profile, a locale and the date window.

    `profile` is a built-in name, a profile file's path or a Profile. `locale` None
    means the profile's locale mix (en_US without one); `window_days` None means the
    profile's window.
    """

    seed: int
    count: int
    profile: str | Profile = "standard"
    locale: str | None = None
    epoch: dt.date | None = None
    window_days: int | None = None

    @property
    def last_seed(self) -> int:
        return self.seed + self.count - 1

    def resolved(self) -> Spec:
        """This spec with its profile read and its window set (validates the profile)."""
        profile = resolve(self.profile)
        window = self.window_days if self.window_days is not None else profile.window_days
        epoch = self.epoch or profile.epoch or DEFAULT_EPOCH
        return Spec(self.seed, self.count, profile, self.locale, epoch, window)


class Shard(NamedTuple):
    """Part `k` of `n` (1-based) of a seed range."""

    k: int
    n: int

    def __str__(self) -> str:
        return f"{self.k}/{self.n}"


class SeedRange(NamedTuple):
    """A run of consecutive seeds: the first and how many."""

    first: int
    posts: int


class Chunk(NamedTuple):
    """A run of posts as JSONL bytes, and how many posts it holds."""

    posts: int
    data: bytes


@dataclass
class Result:
    """What a generate run wrote."""

    path: str
    manifest_path: str | None
    count: int
    bytes: int
    sha256: str
    manifest: dict[str, Any] = field(default_factory=dict)


MAX_WINDOW_DAYS = 36_525  # a century of publication dates
WORKERS_PER_CPU = 4


def max_workers() -> int:
    """The most worker processes `generate` starts: more only fight over the same CPUs."""
    return WORKERS_PER_CPU * max(1, os.cpu_count() or 1)


def validate(spec: Spec) -> Spec:
    """Check a spec; raise UsageError naming the option. Returns it with its profile read
    (a file is read once: what the posts are made from is what the manifest records)."""
    if spec.seed < 0 or spec.seed > MAX_SEED:
        raise UsageError("seed", f"{spec.seed} is outside 0..{MAX_SEED} (the 6-digit source id)")
    if spec.count <= 0:
        raise UsageError("count", f"must be a positive integer, got {spec.count}")
    if spec.last_seed > MAX_SEED:
        raise UsageError(
            "count",
            f"seeds {spec.seed}..{spec.last_seed} pass {MAX_SEED}, "
            f"the largest 6-digit source id (at most {MAX_SEED - spec.seed + 1} from this seed)",
        )
    spec = replace(spec, profile=resolve(spec.profile))
    if spec.locale is not None and spec.locale not in supported_locales():
        raise UsageError(
            "locale", f"unknown {spec.locale!r}; choose one of {', '.join(supported_locales())}"
        )
    if spec.window_days is not None and spec.window_days <= 0:
        raise UsageError("window_days", f"must be positive, got {spec.window_days}")
    full = spec.resolved()
    assert full.epoch is not None and full.window_days is not None
    if full.window_days > MAX_WINDOW_DAYS:
        raise UsageError(
            "window_days", f"at most {MAX_WINDOW_DAYS:,} days, got {full.window_days:,}"
        )
    if full.epoch.toordinal() - full.window_days < 1:
        raise UsageError(
            "window_days" if spec.window_days is not None else "epoch",
            f"{full.window_days:,} days before {full.epoch} is before year 1",
        )
    return spec


def parse_shard(text: str | None) -> Shard | None:
    """`k/n` with 1 <= k <= n → Shard(k, n); None stays None."""
    if text is None:
        return None
    match = _SHARD_RE.match(text.strip())
    if not match:
        raise UsageError("shard", f"expected k/n such as 2/4, got {text!r}")
    k, n = int(match.group(1)), int(match.group(2))
    if n < 1 or not 1 <= k <= n:
        raise UsageError("shard", f"need 1 <= k <= n, got {text!r}")
    return Shard(k, n)


def shard_range(seed: int, count: int, shard: tuple[int, int] | None) -> SeedRange:
    """The seeds of shard k of n: contiguous, so shards concatenated in order = one run."""
    if shard is None:
        return SeedRange(seed, count)
    k, n = shard
    start = seed + (k - 1) * count // n
    stop = seed + k * count // n
    return SeedRange(start, stop - start)


# -- building chunks (runs in workers too) ---------------------------------

_builders: dict[tuple[Profile, str | None, int, int], Builder] = {}


def _builder(profile: Profile, locale: str | None, epoch_ordinal: int, window: int) -> Builder:
    key = (profile, locale, epoch_ordinal, window)
    builder = _builders.get(key)
    if builder is None:
        epoch = dt.date.fromordinal(epoch_ordinal)
        builder = _builders[key] = builder_for(profile, locale, epoch, window)
    return builder


def build_chunk(
    profile: Profile, locale: str | None, epoch_ordinal: int, window: int, start: int, count: int
) -> bytes:
    """JSONL bytes of the posts with seeds start … start+count-1."""
    return _builder(profile, locale, epoch_ordinal, window).lines(start, count)


def iter_chunks(spec: Spec, workers: int = 1, chunk: int = CHUNK) -> Iterator[Chunk]:
    """Chunks in seed order; with workers > 1, at most 2×workers chunks in flight."""
    for n, data in _chunk_buffers(spec, workers, chunk):
        yield Chunk(n, bytes(data))


def _chunk_buffers(spec: Spec, workers: int, chunk: int) -> Iterator[tuple[int, Buffer]]:
    """(posts, JSONL bytes) in seed order; a buffer is valid only until the next is asked for.

    With workers, a buffer is a view of the worker's slot (see `_in_workers`): writing and
    hashing it costs no copy into this process.
    """
    spec = spec.resolved()
    assert isinstance(spec.profile, Profile) and spec.window_days and spec.epoch
    _keep_chunk_memory()
    args = (spec.profile, spec.locale, spec.epoch.toordinal(), spec.window_days)
    bounds = [
        (start, min(chunk, spec.seed + spec.count - start))
        for start in range(spec.seed, spec.seed + spec.count, chunk)
    ]
    with _prepared(_builder(*args), workers > 1 or spec.count >= PREPARE_AT):
        if workers <= 1:
            for start, n in bounds:
                yield n, build_chunk(*args, start, n)
        else:
            yield from _in_workers(args, bounds, workers)


@contextlib.contextmanager
def _prepared(builder: Builder, up_front: bool) -> Iterator[None]:
    """Make every prebuilt variant now if `up_front`, with the garbage collector paused, and
    keep them out of its way for the run.

    They are hundreds of thousands of objects that all live to the end, so a collection
    while they are made finds nothing to free; frozen (gc.freeze), later collections skip
    them, in this process and in the workers forked from it (which would otherwise touch,
    and so copy, the pages they share). Unfrozen at the end: a library caller's own objects
    go back to being collected as before.
    """
    if not up_front:
        yield
        return
    freezing = gc.get_freeze_count() == 0  # a caller that froze objects itself keeps its own
    with collector.paused():
        builder.prepare()
        if freezing:
            gc.freeze()
    try:
        yield
    finally:
        if freezing:
            gc.unfreeze()


def _in_workers(
    args: tuple[Profile, str | None, int, int], bounds: list[tuple[int, int]], workers: int
) -> Iterator[tuple[int, Buffer]]:
    """Build `bounds` in `workers` forked processes; yield each chunk's bytes in order.

    A chunk travels through a slot: an anonymous in-memory file (memfd) made before the
    workers fork, so they inherit it. Task i writes slot i mod W (W = 2×workers, the
    chunks in flight) from offset 0 and returns its length; the parent maps the slot and
    hands the view on, then gives the slot to task i+W. The slots' pages are reused from
    chunk to chunk (no file made, filled, read and freed per chunk, no copy into the parent),
    and a slot has no name, so nothing stays behind whatever ends the run.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor  # only with workers: ~10 ms

    import anp_synth.processes  # noqa: F401 - loaded before the fork: no worker imports it

    # Every prebuilt variant is made before forking (_chunk_buffers), so workers inherit
    # them instead of each building its own (a fixed cost of ~0.1-0.3 s per worker).
    window = 2 * workers
    slots = [_slot() for _ in range(min(window, len(bounds)))]
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("fork"),  # inherit the variants and the slots
        initializer=_worker_started,
        initargs=(os.getpid(),),
    )
    pending: deque[tuple[int, Future[int], int]] = deque()

    def submit(i: int) -> None:
        start, n = bounds[i]
        slot = slots[i % window]
        pending.append((n, pool.submit(build_chunk_into, *args, start, n, slot), slot))

    try:
        # The workers fork at the first submit. Ctrl-C and SIGTERM are the parent's to handle
        # (it stops the pool): blocked while forking, so a worker never sees one before it has
        # set them aside (_worker_started), and delivered to the parent right after.
        held = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            submit(0)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        for i in range(1, len(slots)):
            submit(i)
        for i in range(len(bounds)):
            n, future, slot = pending.popleft()
            size = future.result()
            with mmap.mmap(slot, size, prot=mmap.PROT_READ) as mapped, memoryview(mapped) as view:
                yield n, view
            if i + window < len(bounds):
                submit(i + window)
    finally:
        # an error or an interrupt: drop the chunks not started; wait for the running ones
        pool.shutdown(wait=True, cancel_futures=True)
        for slot in slots:
            os.close(slot)


def _slot() -> int:
    """An anonymous in-memory file (a descriptor) a worker hands a chunk over in."""
    try:
        if hasattr(os, "memfd_create"):
            return os.memfd_create("anp-synth-chunk", 0)  # inherited by forked workers
        with tempfile.TemporaryFile() as handle:  # unlinked already: only the descriptor
            return os.dup(handle.fileno())
    except OSError as exc:
        raise AnpError(
            f"cannot make a slot for the workers' chunks: {exc.strerror or exc}"
        ) from None


_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def _worker_started(parent: int) -> None:
    """In each worker: leave Ctrl-C and SIGTERM to the parent, which stops the pool (a
    terminal signals the whole group: a worker would print its own traceback), and die
    with the parent, even when it is killed with SIGKILL."""
    from anp_synth.processes import die_with_parent

    for sig in _STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)  # one that came while forking is dropped here
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    die_with_parent(signal.SIGKILL)()
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)


def build_chunk_into(
    profile: Profile,
    locale: str | None,
    epoch_ordinal: int,
    window: int,
    start: int,
    count: int,
    slot: int,
) -> int:
    """Write the chunk's JSONL bytes at the start of `slot`; return their length (in workers)."""
    data = build_chunk(profile, locale, epoch_ordinal, window, start, count)
    written = 0
    try:
        while written < len(data):
            written += os.pwrite(slot, memoryview(data)[written:], written)
    except OSError as exc:  # the memory the slot lives in ran out
        raise AnpError(f"cannot hand a chunk to the writer: {exc.strerror or exc}") from None
    return len(data)


# -- writing ---------------------------------------------------------------


def manifest_path_for(path: Path) -> Path:
    """posts.jsonl → posts.manifest.json, beside it."""
    return path.with_name(path.name.removesuffix(".jsonl") + ".manifest.json")


def build_manifest(spec: Spec, count: int, size: int, sha256: str, shard: str | None) -> dict:
    """The dataset's manifest: deterministic (no time, no host), versions recorded.

    A built-in profile is named (its file ships with the version recorded); a
    profile file is recorded whole, with its sha256, so the manifest alone can
    make the dataset again.
    """
    spec = spec.resolved()
    profile = spec.profile
    assert isinstance(profile, Profile) and spec.epoch
    locales = [spec.locale] if spec.locale else [loc for loc, _ in profile.locales] or ["en_US"]
    manifest: dict[str, Any] = {
        "generator": "anp-synth",
        "generator_version": __version__,
        "faker_version": pools_faker_version(locales[0]),
        "profile": profile.name,
    }
    if profile.path is not None:
        manifest["profile_file"] = profile.path
        manifest["profile_sha256"] = profile.sha256
        manifest["profile_toml"] = profile.source
    manifest["locale"] = locales[0] if len(locales) == 1 else "mix"
    if len(locales) > 1:
        manifest["locales"] = dict(profile.locales)
    manifest.update(
        {
            "epoch": spec.epoch.isoformat(),
            "window_days": spec.window_days,
            "seed_first": spec.seed,
            "seed_last": spec.last_seed,
            "shard": shard,
            "count": count,
            "bytes": size,
            "sha256": sha256,
        }
    )
    return manifest


def generate(
    spec: Spec,
    output: str = DEFAULT_OUTPUT,
    *,
    workers: int = 1,
    shard: tuple[int, int] | None = None,
    on_progress: Callable[[int], None] | None = None,
    chunk: int = CHUNK,
) -> Result:
    """Generate `spec` (or its shard) into `output` (`-` for stdout), atomically, with a manifest."""
    spec = validate(spec)
    if workers < 1:
        raise UsageError("workers", f"must be at least 1, got {workers}")
    if workers > max_workers():
        raise UsageError(
            "workers", f"at most {max_workers()} on this machine ({WORKERS_PER_CPU} per CPU)"
        )
    shard = Shard(*shard) if shard is not None else None
    first, count = shard_range(spec.seed, spec.count, shard)
    if shard is not None and count == 0:
        raise UsageError("shard", f"shard {shard} of {spec.count} posts is empty")
    part = Spec(first, count, spec.profile, spec.locale, spec.epoch, spec.window_days)
    shard_text = str(shard) if shard else None
    out = _Output()

    def pump(sink: BinaryIO, own: bool = False) -> None:
        out.start(sink, own)
        try:
            for n, data in _chunk_buffers(part, workers, chunk):
                out.add(data)
                if on_progress:
                    on_progress(n)
            out.finish()
        finally:
            out.close()

    if output == "-":
        with _writing("stdout"):
            pump(sys.stdout.buffer)
            sys.stdout.buffer.flush()
        manifest = build_manifest(part, count, out.size, out.sha256, shard_text)
        return Result("-", None, count, out.size, out.sha256, manifest)

    path = Path(output)
    mpath = manifest_path_for(path)
    # An older manifest describes the older file: it goes the moment the new file replaces it,
    # so a failure in between leaves a dataset without a manifest, never with a wrong one.
    _write_atomically(
        path, lambda f: pump(f, own=True), before_replace=lambda: mpath.unlink(missing_ok=True)
    )
    manifest = build_manifest(part, count, out.size, out.sha256, shard_text)
    _write_atomically(
        mpath,
        lambda f: f.write(orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n"),
    )
    return Result(str(path), str(mpath), count, out.size, out.sha256, manifest)


class _Output:
    """The JSONL on its way out: written whole, hashed (the manifest's sha256) and counted.

    Into the dataset's own (temporary) file, its blocks are reserved ahead in steps of
    RESERVE_STEP (fallocate) and the file cut to its real size at the end: the filesystem
    then allocates a few large extents instead of block after block as the writes come,
    which costs a fraction of the system time. The file is renamed only once complete, so
    a padded file never sits under the real name. Where reserving is not supported (a
    filesystem without fallocate) or there is no room for a step, plain writes go on: a
    disk that is really full fails the write itself. The bytes go to the disk without
    passing through the page cache (see `_Direct`). Stdout is written
    as it is: it may be a pipe, or a file other writers share.
    """

    def __init__(self) -> None:
        self.size = 0
        self._digest = hashlib.sha256()
        self._sink: BinaryIO | None = None
        self._fd: int | None = None  # our own file: written by descriptor, reserved ahead
        self._reserving = False
        self._reserved = 0
        self._direct: _Direct | None = None

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def start(self, sink: BinaryIO, own: bool = False) -> None:
        """Write into `sink`; `own` for a new file of ours (reserved ahead, written direct)."""
        self._sink = sink
        if own and stat.S_ISREG(os.fstat(sink.fileno()).st_mode):
            self._fd = sink.fileno()
            self._reserving = True
            self._direct = _Direct.on(self._fd)

    def add(self, data: Buffer) -> None:
        n = len(memoryview(data))
        if self._reserving and self.size + n > self._reserved:
            self._reserve(self.size + n + RESERVE_STEP)
        if self._direct is not None:
            if not self._direct.write(data):
                self._direct.stop()
                self._direct = None
        elif self._fd is not None:
            _write_all(self._fd, data)
        else:
            assert self._sink is not None
            self._sink.write(data)
        self._digest.update(data)
        self.size += n

    def _reserve(self, end: int) -> None:
        assert self._fd is not None
        if _fallocate(self._fd, self._reserved, end - self._reserved):
            self._reserved = end
        else:
            self._reserving = False  # not supported here, or no room for a step: plain writes

    def finish(self) -> None:
        assert self._sink is not None
        if self._direct is not None:
            self._direct.stop()
            self._direct = None
        self._sink.flush()
        if self._fd is not None and self._reserved > self.size:
            os.ftruncate(self._fd, self.size)

    def close(self) -> None:
        """Let go of the direct writer (its write in flight waited for), whatever ended the run."""
        if self._direct is not None:
            self._direct.close()


class _Direct:
    """Writes a file with O_DIRECT, from page-aligned staging buffers straight to the disk,
    in a writer thread.

    A write through the page cache copies every byte there with the CPU that builds the
    posts (on a VM, into fresh pages at a fraction of memory speed: up to a fifth of a
    run's CPU time in one process), while a direct write has the disk take the bytes from
    our buffer, and the thread that waits for it lets go of the GIL: the next chunk is
    built meanwhile. Direct writes need offsets and lengths in whole blocks, so each chunk
    is copied behind the bytes left over from the last one (a cheap copy into pages already
    in use) and the whole blocks go to the thread; two buffers take turns (one is filled
    while the other is written). `stop` writes what is left the usual way. Where O_DIRECT
    is refused (tmpfs, some network filesystems) nothing changes; a disk slower than the
    posts are made (the posts waited for it more than DIRECT_MAX_WAIT of the time since the
    first hand-over) is left to the page cache, which can take the bytes faster than the
    disk would. What counts is the disk against this run's own rate, not a fixed speed: a
    disk of ~390 MB/s (seen here) takes one process's ~80 MB/s with the thread idle most of
    the time, and the page cache's copy would cost that process ~8% of its CPU.
    """

    def __init__(self, fd: int, flags: int) -> None:
        self._fd = fd
        self._flags = flags  # the descriptor's flags without O_DIRECT
        self._stage = mmap.mmap(-1, STAGE_BYTES)  # being filled
        self._spare: mmap.mmap | None = mmap.mmap(-1, STAGE_BYTES)  # None while written
        self._held = 0  # bytes staged, not yet handed over
        self._bytes = 0
        self._began = 0.0  # when the first blocks were handed over
        self._waited = 0.0  # how long the posts waited for the disk since then
        self._writer: ThreadPoolExecutor | None = None  # started at the first hand-over
        self._pending: tuple[Future[int], mmap.mmap, int] | None = None  # the write in flight
        self._left: bytes = b""  # what a refused write did not write, for `stop`

    @classmethod
    def on(cls, fd: int) -> _Direct | None:
        """Turn on O_DIRECT for `fd`; None where the system or filesystem refuses it."""
        direct = getattr(os, "O_DIRECT", 0)
        if not direct:
            return None
        import fcntl

        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        try:
            fcntl.fcntl(fd, fcntl.F_SETFL, flags | direct)
        except OSError:
            return None
        return cls(fd, flags)

    def write(self, data: Buffer) -> bool:
        """Stage `data` and hand its whole blocks to the writer; False when direct writes
        should stop (a write was refused, or the disk is slow): then call `stop`."""
        n = len(memoryview(data))
        if self._held + n > len(self._stage):
            self._stage = _grown(self._stage, self._held, self._held + n)
        self._stage[self._held : self._held + n] = data
        self._held += n
        whole = self._held - self._held % DIRECT_BLOCK
        if not whole:
            return True
        if not self._collect():
            return False
        spare = self._spare
        assert spare is not None
        tail = self._held - whole
        # the tail (less than a block) starts the other buffer; this one goes to the writer
        spare[:tail] = self._stage[whole : self._held]
        full, self._stage, self._spare, self._held = self._stage, spare, None, tail
        if self._writer is None:
            from concurrent.futures import ThreadPoolExecutor  # ~5 ms: only for a large file

            self._writer = ThreadPoolExecutor(1, thread_name_prefix="generate-write")
            self._began = time.perf_counter()
        self._pending = (self._writer.submit(self._write_blocks, full, whole), full, whole)
        return True

    def _write_blocks(self, full: mmap.mmap, whole: int) -> int:
        """In the writer thread: write full[:whole] direct; return how much was written
        (less when the filesystem refuses a direct write after all; other errors raise)."""
        done = 0
        with memoryview(full) as view:
            try:
                while done < whole:
                    done += os.write(self._fd, view[done:whole])
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
        return done

    def _collect(self) -> bool:
        """Wait for the write in flight (its OSError is raised here); False when direct
        writes should stop."""
        if self._pending is None:
            return True
        future, full, whole = self._pending
        self._pending = None
        started = time.perf_counter()
        done = future.result()
        now = time.perf_counter()
        self._waited += now - started
        self._bytes += done
        if len(full) < len(self._stage):  # the stage grew: so does its turn-taker
            full = _grown(full, 0, len(self._stage))
        self._spare = full
        if done < whole:
            self._left = full[done:whole]  # no direct write here after all: `stop` writes it
            return False
        slow = self._waited > DIRECT_MAX_WAIT * (now - self._began)
        return self._bytes < DIRECT_PROBE_BYTES or not slow

    def stop(self) -> None:
        """Back to writes through the page cache; write what is still unwritten, in order."""
        import fcntl

        try:
            self._collect()
        finally:
            self.close()
        fcntl.fcntl(self._fd, fcntl.F_SETFL, self._flags)
        _write_all(self._fd, self._left)
        with memoryview(self._stage) as view:
            _write_all(self._fd, view[: self._held])
        self._left, self._held = b"", 0

    def close(self) -> None:
        """Stop the writer thread, waiting for its write in flight (a run cut short)."""
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None


def _grown(buffer: mmap.mmap, keep: int, size: int) -> mmap.mmap:
    """A buffer of at least `size` bytes (whole pages) holding the first `keep` of `buffer`."""
    bigger = mmap.mmap(-1, -(-size // mmap.PAGESIZE) * mmap.PAGESIZE)
    bigger[:keep] = buffer[:keep]
    buffer.close()
    return bigger


def _write_all(fd: int, data: Buffer) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fallocate(fd: int, offset: int, length: int) -> bool:
    """Reserve blocks (Linux fallocate, mode 0); False where that cannot be done.

    Not os.posix_fallocate: where the filesystem has no fallocate, glibc's emulates it by
    writing into every block, which would cost more than it saves.
    """
    fallocate = libc.call("fallocate", "c_int", "c_int", "c_int64", "c_int64")
    return fallocate is not None and fallocate(fd, 0, offset, length) == 0


@functools.cache
def _keep_chunk_memory() -> None:
    """Have glibc's malloc keep a freed chunk's memory for the next chunk (once a process).

    A chunk's JSONL (~4.5 MB) is one block. By default glibc maps such a block from the
    kernel and unmaps it when it is freed, or trims the heap top it was freed into, so every
    chunk's bytes land in new pages: a page fault and a zeroed page for every 4 KB written
    (figures: the README, under generate, "A chunk's JSONL"). The thresholds only change where
    blocks come from, not how much is in use; the process keeps up to TRIM_THRESHOLD of freed
    heap. It stays set for the rest of the process (glibc has no way to read the previous
    values back). Where there is no mallopt (musl, macOS) nothing changes.
    """
    mallopt = libc.call("mallopt", "c_int", "c_int")
    if mallopt is None:
        return
    mallopt(-1, TRIM_THRESHOLD)  # M_TRIM_THRESHOLD
    mallopt(-3, MMAP_THRESHOLD)  # M_MMAP_THRESHOLD


@contextlib.contextmanager
def _writing(where: str) -> Iterator[None]:
    """A failed write (a full disk, a file size limit, an I/O error) is one line naming
    the output; a reader that went away (EPIPE) stays as it is, for the CLI to end quietly."""
    try:
        yield
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            raise
        raise UsageError("output", f"cannot write {where}: {exc.strerror or exc}") from None


def _write_atomically(
    path: Path, write: Callable[[BinaryIO], Any], before_replace: Callable[[], None] | None = None
) -> None:
    """Write `path` so that it only ever shows a whole file, and a killed run leaves nothing.

    The bytes go into an unnamed file (O_TMPFILE) in the same directory; once complete it
    gets a temporary name and is renamed over `path`, so even a SIGKILL (no handler runs)
    leaves no half-written dataset under any name. Where the filesystem has no unnamed files,
    a named temporary file beside it (removed on any error a handler sees) does the same.
    """
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise UsageError("output", f"directory {str(directory)!r} does not exist")
    if path.is_dir():
        raise UsageError("output", f"{str(path)!r} is a directory")
    unnamed = unnamed_file(directory, 0o600)
    if unnamed is None:
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
        except OSError as exc:
            message = f"cannot write in {str(directory)!r}: {exc.strerror}"
            raise UsageError("output", message) from exc
    else:
        fd, tmp = unnamed, ""
    try:
        # the file is made 0600; a dataset gets the usual mode of a new file
        mask = os.umask(0)
        os.umask(mask)
        os.fchmod(fd, 0o666 & ~mask)
        with _writing(repr(str(path))), os.fdopen(fd, "wb", closefd=unnamed is None) as handle:
            write(handle)
            handle.flush()
            if unnamed is not None:
                tmp = _name_unnamed(fd, directory, path.name)
        if before_replace is not None:
            before_replace()
        os.replace(tmp, path)
    except BaseException:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        if unnamed is not None:
            os.close(unnamed)


def _name_unnamed(fd: int, directory: Path, name: str) -> str:
    """Give the complete unnamed file `fd` a temporary name beside `name` (to rename)."""
    while True:
        tmp = str(directory / f".{name}.{os.urandom(6).hex()}.tmp")
        try:
            link_unnamed(fd, tmp)
        except FileExistsError:
            continue
        return tmp
