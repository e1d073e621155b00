"""Helpers for importer tests: posts, JSONL files, a flaky sink."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from anp_synth.errors import SinkError, TransientSinkError
from anp_synth.generate.builder import build_post
from anp_synth.importer import Importer, Options, Summary
from anp_synth.importer.ledger import Ledger
from anp_synth.jsonl import dumps_line
from anp_synth.sinks.base import UpsertResult


@lru_cache(maxsize=20000)
def _post_bytes(seed: int) -> bytes:
    return orjson.dumps(build_post(seed))


def post(seed: int) -> dict[str, Any]:
    """A fresh copy of the generated post with this seed."""
    return orjson.loads(_post_bytes(seed))


def edited(seed: int, title: str = "edited title") -> dict[str, Any]:
    """The post with this seed, with a changed title (a content change)."""
    p = post(seed)
    p["title"] = title
    return p


def write_jsonl(path: Path, rows: Sequence[dict[str, Any] | bytes]) -> Path:
    """Write posts (or raw lines) as JSONL."""
    with path.open("wb") as fh:
        for r in rows:
            fh.write(r if isinstance(r, bytes) else dumps_line(r))
    return path


def fast_options(**kw: Any) -> Options:
    """Options with tiny waits, so retry tests run in milliseconds."""
    base: dict[str, Any] = {
        "wait_initial": 0.001,
        "wait_max": 0.01,
        "max_retry_time": 5.0,
        "breaker_cooldown": 0.01,
        "breaker_max_cooldown": 0.05,
        "max_pause": 5.0,
    }
    base.update(kw)
    return Options(**base)


class FlakySink:
    """Wraps a sink; fails the calls whose numbers are in `fail_calls` with a transient error."""

    def __init__(
        self,
        inner: Any,
        fail_calls: set[int] | None = None,
        *,
        down_for: int = 0,
        retry_after: float | None = None,
        write_then_fail: bool = False,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.max_batch = inner.max_batch
        self.fail_calls = fail_calls or set()
        self.down_for = down_for
        self.retry_after = retry_after
        self.write_then_fail = write_then_fail
        self.calls = 0
        self.failed = 0
        self._lock = threading.Lock()

    def _should_fail(self) -> bool:
        with self._lock:
            self.calls += 1
            fail = self.calls in self.fail_calls or self.calls <= self.down_for
            if fail:
                self.failed += 1
            return fail

    def upsert_many(
        self, posts: Sequence[dict[str, Any]], *, idempotency_keys: Sequence[str]
    ) -> list[UpsertResult | SinkError]:
        if self._should_fail():
            if self.write_then_fail:  # the write lands, the answer is lost (a timeout)
                self.inner.upsert_many(posts, idempotency_keys=idempotency_keys)
            raise TransientSinkError("503 injected", status=503, retry_after=self.retry_after)
        return self.inner.upsert_many(posts, idempotency_keys=idempotency_keys)

    def upsert(self, post: dict[str, Any], *, idempotency_key: str) -> UpsertResult:
        return self.inner.upsert(post, idempotency_key=idempotency_key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


DEAD_PID = 999_999_999  # no such process: what a crashed import leaves in the ledger


class Killed(BaseException):
    """Stands for kill -9 after the target wrote a batch and before the ledger heard."""


class DiesAfterWrite:
    """A sink whose batch write lands on the target, then the process 'dies' (raises Killed)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name, self.max_batch = inner, inner.name, inner.max_batch

    def upsert_many(self, posts: Any, *, idempotency_keys: Any) -> Any:
        self.inner.upsert_many(posts, idempotency_keys=idempotency_keys)
        raise Killed

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def jsonl_bytes(seeds: range) -> bytes:
    """The generated posts with these seeds, as JSONL bytes (for a stdin-like stream)."""
    return b"".join(orjson.dumps(post(s)) + b"\n" for s in seeds)


def run_import(sink: Any, ledger: Ledger, target: str, path: Path, **opts: Any) -> Summary:
    """Import the file at `path` with fast_options(**opts); the file's path labels the run."""
    with path.open("rb") as fh:
        return Importer(sink, ledger, target, fast_options(**opts)).run(fh, str(path))


def anp_cli(
    *args: str, token: str | None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `anp-synth ARGS` in a subprocess with this target token (None: no token at all)."""
    env = {k: v for k, v in os.environ.items() if k != "ANP_TARGET_TOKEN"}
    if token is not None:
        env["ANP_TARGET_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "anp_synth", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
