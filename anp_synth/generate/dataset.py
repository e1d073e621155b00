"""Write a dataset: seeds → JSONL (in order, any number of workers, any shard) + manifest."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import orjson

from anp_synth import __version__
from anp_synth.errors import UsageError
from anp_synth.generate.builder import DEFAULT_EPOCH, MAX_SEED, Builder, builder_for
from anp_synth.generate.profile import Profile, resolve
from anp_synth.generate.vocab import pools_faker_version, supported_locales

DEFAULT_COUNT = 1000
DEFAULT_OUTPUT = "posts.jsonl"
CHUNK = 1000  # posts per worker task: large enough to amortise IPC, small enough for flat memory
# From this many posts a run makes nearly every prebuilt variant anyway (4,096 prose variants,
# 512 per stack), so it makes them all up front, as plain lists the hot path indexes directly.
PREPARE_AT = 20_000

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


def validate(spec: Spec) -> None:
    """Check a spec; raise UsageError naming the option."""
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
    resolve(spec.profile)
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
    line = _builder(profile, locale, epoch_ordinal, window).line
    return b"".join([line(seed) for seed in range(start, start + count)])


def iter_chunks(spec: Spec, workers: int = 1, chunk: int = CHUNK) -> Iterator[Chunk]:
    """Chunks in seed order; with workers > 1, at most 2×workers chunks in flight."""
    spec = spec.resolved()
    assert isinstance(spec.profile, Profile) and spec.window_days and spec.epoch
    args = (spec.profile, spec.locale, spec.epoch.toordinal(), spec.window_days)
    bounds = [
        (start, min(chunk, spec.seed + spec.count - start))
        for start in range(spec.seed, spec.seed + spec.count, chunk)
    ]
    if workers <= 1:
        if spec.count >= PREPARE_AT:
            _builder(*args).prepare()
        for start, n in bounds:
            yield Chunk(n, build_chunk(*args, start, n))
        return
    from concurrent.futures import Future, ProcessPoolExecutor  # only with workers: ~20 ms

    # Build every prebuilt variant before forking, so workers inherit them instead of
    # each building its own (a fixed cost of ~0.1-0.3 s per worker).
    _builder(*args).prepare()
    # Workers hand chunks over as files in a scratch directory (RAM-backed when
    # /dev/shm exists) rather than through the pool's pipe: two copies instead of
    # four and no 64 KB ping-pong, which is most of what a second worker costs.
    with (
        tempfile.TemporaryDirectory(prefix="anp-synth-", dir=_scratch_root()) as scratch,
        ProcessPoolExecutor(max_workers=workers) as pool,
    ):
        pending: deque[tuple[int, Future[str]]] = deque()
        todo = iter(bounds)
        for start, n in todo:
            pending.append((n, pool.submit(build_chunk_file, *args, start, n, scratch)))
            if len(pending) >= 2 * workers:
                break
        while pending:
            n, future = pending.popleft()
            path = Path(future.result())
            data = path.read_bytes()
            path.unlink()
            yield Chunk(n, data)
            nxt = next(todo, None)
            if nxt is not None:
                pending.append((nxt[1], pool.submit(build_chunk_file, *args, *nxt, scratch)))


def build_chunk_file(
    profile: Profile,
    locale: str | None,
    epoch_ordinal: int,
    window: int,
    start: int,
    count: int,
    scratch: str,
) -> str:
    """Write the chunk's JSONL bytes to a file in `scratch`; return its path (runs in workers)."""
    path = os.path.join(scratch, f"{start}.jsonl")
    with open(path, "wb") as handle:
        handle.write(build_chunk(profile, locale, epoch_ordinal, window, start, count))
    return path


def _scratch_root() -> str | None:
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None


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
    validate(spec)
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
    digest = hashlib.sha256()
    size = 0

    def pump(sink: BinaryIO) -> None:
        nonlocal size
        for n, data in iter_chunks(part, workers, chunk):
            sink.write(data)
            digest.update(data)
            size += len(data)
            if on_progress:
                on_progress(n)

    shard_text = str(shard) if shard else None
    if output == "-":
        pump(sys.stdout.buffer)
        sys.stdout.buffer.flush()
        manifest = build_manifest(part, count, size, digest.hexdigest(), shard_text)
        return Result("-", None, count, size, digest.hexdigest(), manifest)

    path = Path(output)
    mpath = manifest_path_for(path)
    # An older manifest describes the older file: it goes the moment the new file replaces it,
    # so a failure in between leaves a dataset without a manifest, never with a wrong one.
    _write_atomically(path, pump, before_replace=lambda: mpath.unlink(missing_ok=True))
    manifest = build_manifest(part, count, size, digest.hexdigest(), shard_text)
    _write_atomically(
        mpath,
        lambda f: f.write(orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n"),
    )
    return Result(str(path), str(mpath), count, size, digest.hexdigest(), manifest)


def _write_atomically(
    path: Path, write: Callable[[BinaryIO], Any], before_replace: Callable[[], None] | None = None
) -> None:
    """Write to a temporary file beside `path` and rename it at the end; nothing half-written stays."""
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise UsageError("output", f"directory {str(directory)!r} does not exist")
    if path.is_dir():
        raise UsageError("output", f"{str(path)!r} is a directory")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise UsageError("output", f"cannot write in {str(directory)!r}: {exc.strerror}") from exc
    try:
        # mkstemp makes the file 0600; a dataset gets the usual mode of a new file
        mask = os.umask(0)
        os.umask(mask)
        os.fchmod(fd, 0o666 & ~mask)
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        if before_replace is not None:
            before_replace()
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
