"""The importer: read a JSONL file, plan what to write against the ledger, apply it to a sink.

    read (line numbers) → validate → plan (ledger: unchanged → skip, no request)
        → apply (batches on N threads, retries with backoff + full jitter, circuit breaker)
        → confirm in the ledger (one transaction per batch) → run log + quarantine file

A rerun after a crash resumes the same run (see `Ledger.begin_run`); every write is an
upsert keyed by source id with an Idempotency-Key derived from source id + content hash.
"""

from __future__ import annotations

import hashlib
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import orjson
import stamina
from pydantic import ValidationError

from anp_synth.errors import (
    SinkError,
    TargetDownError,
    TerminalSinkError,
    TokenRefusedError,
    TransientSinkError,
)
from anp_synth.importer import ledger as L
from anp_synth.jsonl import Line, content_hash, iter_lines, parse_line
from anp_synth.post import Post, first_error, is_source_id
from anp_synth.sinks.base import Sink, UpsertResult

CHUNK = 1000  # lines planned per ledger lookup: bounds memory whatever the file size
GAVE_UP = "gave up"  # last_error prefix of posts that failed transiently: a rerun resends them


def idempotency_key(source_id: str, content_hash_: str, scope: str = "") -> str:
    """The Idempotency-Key of a write: source id + content hash (+ the run it belongs to).

    The scope (`run7`, `rollback7`) keeps a retried or resumed write replayable while a
    later run that sends the same content again (after a rollback) is not answered from
    the target's idempotency store instead of being written.
    """
    key = f"{source_id}.{content_hash_}"
    return f"{key}.{scope}" if scope else key


def url_path(url: str) -> str:
    """The route of a URL (`http://h/posts/x` → `/posts/x`), as purge wants it."""
    return urlsplit(url).path or "/"


def raw_digest(raw: bytes) -> bytes:
    """Digest of a line's exact bytes: equal bytes → equal content, without re-validating."""
    # sha256 has CPU instructions on current x86/ARM: ~1.5x faster here than blake2b.
    return hashlib.sha256(raw).digest()[:16]


@dataclass(slots=True)
class Options:
    """How an import runs. Defaults are the CLI's defaults."""

    concurrency: int = 4
    batch_size: int = 500
    dry_run: bool = False
    only: frozenset[str] | None = None
    retry_quarantine: bool = False
    max_attempts: int = 8
    max_retry_time: float = 60.0
    wait_initial: float = 0.2
    wait_max: float = 10.0
    breaker_threshold: int = 5
    breaker_cooldown: float = 1.0
    breaker_max_cooldown: float = 15.0
    max_pause: float = 300.0
    stale_after: float = L.STALE_AFTER


@dataclass(slots=True)
class Summary:
    """What a run did; `counts` is what the ledger stores."""

    run_id: int | None
    resumed: bool
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    quarantined: int = 0
    sent: int = 0
    read: int = 0
    filtered: int = 0
    elapsed: float = 0.0
    dry_run: bool = False
    would_create: int = 0
    would_update: int = 0
    log_path: str | None = None
    quarantine_path: str | None = None
    purged: int = 0

    @property
    def rate(self) -> float:
        """Posts handled per second (read, skipped or written)."""
        return self.read / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def ok(self) -> bool:
        """True when nothing was quarantined or failed."""
        return self.failed == 0 and self.quarantined == 0

    def counts(self) -> dict[str, int]:
        """The counts stored with the run in the ledger."""
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "quarantined": self.quarantined,
            "read": self.read,
        }


@dataclass(frozen=True, slots=True)
class _Candidate:
    line: int
    source_id: str
    value: dict[str, Any]
    raw: bytes
    digest: bytes


@dataclass(slots=True)
class _Item:
    line: int
    source_id: str
    post: dict[str, Any]
    hash: str
    url_before: str | None = None


@dataclass(slots=True)
class _BatchResult:
    done: list[tuple[_Item, UpsertResult, bool]] = field(default_factory=list)
    terminal: list[tuple[_Item, str, int | None]] = field(default_factory=list)
    transient: list[tuple[_Item, str]] = field(default_factory=list)
    purged: int = 0


class CircuitBreaker:
    """Pauses every worker while the target keeps failing, and lets them go when it answers.

    After `threshold` consecutive transient failures it opens for a cooldown (doubling up
    to `max_cooldown`); the next call after the cooldown is the probe. Failing for longer
    than `max_pause` without a single success raises TargetDownError.
    """

    def __init__(
        self,
        threshold: int = 5,
        cooldown: float = 1.0,
        max_cooldown: float = 15.0,
        max_pause: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold, self.initial, self.max_cooldown = threshold, cooldown, max_cooldown
        self.max_pause, self.clock = max_pause, clock
        self.cooldown = cooldown
        self.failures = 0
        self.reopen_at = 0.0
        self.failing_since: float | None = None
        self.opened = 0  # how many times it opened (for the summary and tests)
        self._cond = threading.Condition()

    @property
    def is_open(self) -> bool:
        """True while calls are being held back."""
        with self._cond:
            return self.failures >= self.threshold

    def before_call(self) -> None:
        """Block while open; raise TargetDownError when the target has been down too long."""
        with self._cond:
            while True:
                now = self.clock()
                if self.failing_since is not None and now - self.failing_since > self.max_pause:
                    raise TargetDownError(
                        f"the target kept failing for {now - self.failing_since:.0f}s "
                        f"(circuit breaker limit {self.max_pause:.0f}s); rerun to resume"
                    )
                if self.failures < self.threshold or now >= self.reopen_at:
                    return
                self._cond.wait(timeout=min(self.reopen_at - now, 1.0))

    def success(self) -> None:
        """The target answered: close."""
        with self._cond:
            self.failures = 0
            self.cooldown = self.initial
            self.failing_since = None
            self._cond.notify_all()

    def failure(self) -> None:
        """A transient failure: open after `threshold` in a row."""
        with self._cond:
            now = self.clock()
            if self.failing_since is None:
                self.failing_since = now
            self.failures += 1
            if self.failures >= self.threshold and now >= self.reopen_at:
                self.reopen_at = now + self.cooldown
                self.cooldown = min(self.cooldown * 2, self.max_cooldown)
                self.opened += 1


def run_paths(ledger_path: str | Path, run_id: int) -> tuple[Path, Path]:
    """The run log and quarantine file of a run, in a folder beside the ledger."""
    p = Path(ledger_path)
    folder = p.with_name(p.name + ".runs")
    return folder / f"run-{run_id}.log.jsonl", folder / f"run-{run_id}.quarantine.jsonl"


class _Writer:
    """Append JSONL records to a file, opened lazily."""

    def __init__(self, path: Path, mode: str) -> None:
        self.path, self.mode = path, mode
        self._fh: BinaryIO | None = None
        self._lock = threading.Lock()  # workers log their attempts themselves

    def write(self, record: dict[str, Any]) -> None:
        data = orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
        with self._lock:
            if self._fh is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fh = self.path.open(self.mode + "b")  # type: ignore[assignment]
            assert self._fh is not None
            self._fh.write(data)

    def flush(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.flush()

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None


def _validation_reason(exc: ValidationError) -> str:
    first = first_error(exc)
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"field {first.field!r}: {first.message}{more}"


class Importer:
    """One import of one file into one target, recorded in one ledger."""

    def __init__(
        self,
        sink: Sink,
        ledger: L.Ledger,
        target: str,
        options: Options | None = None,
        *,
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        self.sink, self.ledger, self.target = sink, ledger, target
        self.opt = options or Options()
        self.on_progress = on_progress or (lambda n: None)
        self.breaker = CircuitBreaker(
            self.opt.breaker_threshold,
            self.opt.breaker_cooldown,
            self.opt.breaker_max_cooldown,
            self.opt.max_pause,
        )
        self.batch_size = max(1, min(self.opt.batch_size, sink.max_batch))
        self._log: _Writer | None = None

    # -- entry ----------------------------------------------------------------------------

    def run(self, stream: BinaryIO, file_label: str, args: dict[str, Any] | None = None) -> Summary:
        """Import every post of `stream`; returns the summary (never raises for bad items).

        A rerun of the same file into the same target resumes a crashed or failed run; a
        stdin import (`file_label` "-") never does: "-" says nothing about the content, so
        it always starts a new run (see `Ledger.begin_run`).
        """
        started = time.perf_counter()
        if self.opt.dry_run:
            summary = Summary(run_id=None, resumed=False, dry_run=True)
            self._pass(stream, summary, None, None, None)
            summary.elapsed = time.perf_counter() - started
            return summary
        run = self.ledger.begin_run(
            file_label, self.target, self.sink.name, args or {}, stale_after=self.opt.stale_after
        )
        summary = Summary(run_id=run.id, resumed=run.resumed > 0)
        log_path, q_path = run_paths(self.ledger.path, run.id)
        summary.log_path, summary.quarantine_path = str(log_path), str(q_path)
        log = _Writer(log_path, "a")
        self._log = log
        # Each pass re-reads the whole file, so the quarantine is rewritten, not appended.
        quarantine = _Writer(q_path, "w")
        if q_path.exists():
            q_path.unlink()
        self.ledger.start_heartbeat(run.id)
        log.write({"ts": time.time(), "run": run.id, "action": "start", "resumed": run.resumed})
        state = L.FAILED
        try:
            self._pass(stream, summary, run.id, log, quarantine)
            state = L.COMPLETED if summary.ok else L.PARTIAL
        finally:
            summary.elapsed = time.perf_counter() - started
            self._totals_from_ledger(summary, run.id, finished=state != L.FAILED)
            log.write(
                {"ts": time.time(), "run": run.id, "action": "finish", "state": state}
                | summary.counts()
            )
            log.close()
            quarantine.close()
            self.ledger.finish_run(run.id, state, summary.counts())
        return summary

    def _totals_from_ledger(self, summary: Summary, run_id: int, finished: bool) -> None:
        # A resumed run counts what its earlier passes created and updated, too.
        changes = self.ledger.db.execute(
            "SELECT action, count(*) FROM changes WHERE run_id = ? GROUP BY action", (run_id,)
        )
        by = {r[0]: r[1] for r in changes}
        summary.created, summary.updated = by.get("created", 0), by.get("updated", 0)
        if summary.resumed and finished:
            # This pass skipped what earlier passes wrote; those count as created/updated.
            summary.unchanged = max(
                0,
                summary.read
                - summary.created
                - summary.updated
                - summary.failed
                - summary.quarantined
                - summary.filtered,
            )

    # -- plan + apply ---------------------------------------------------------------------

    def _pass(
        self,
        stream: BinaryIO,
        summary: Summary,
        run_id: int | None,
        log: _Writer | None,
        quarantine: _Writer | None,
    ) -> None:
        seen = bytearray(1_000_000)  # one flag per possible seed: flat memory for duplicates
        pool = ThreadPoolExecutor(max_workers=self.opt.concurrency, thread_name_prefix="import")
        inflight: set[Future[_BatchResult]] = set()
        limit = self.opt.concurrency * 2
        fatal: BaseException | None = None

        def quarantine_line(line: int, sid: str | None, kind: str, reason: str, raw: bytes | None):
            summary.quarantined += 1
            if quarantine is not None:
                rec: dict[str, Any] = {
                    "line": line,
                    "source_id": sid,
                    "kind": kind,
                    "reason": reason,
                }
                if raw is not None:
                    rec["raw"] = raw.decode("utf-8", "replace")
                quarantine.write(rec)

        def collect(block: bool) -> None:
            nonlocal fatal
            if not inflight:
                return
            done, _ = wait(inflight, timeout=None if block else 0, return_when=FIRST_COMPLETED)
            for fut in done:
                inflight.discard(fut)
                try:
                    res = fut.result()
                except BaseException as exc:  # a fatal error in a worker stops the run
                    fatal = fatal or exc
                    continue
                self._record(res, summary, run_id, quarantine_line)

        try:
            for chunk in _chunks(iter_lines(stream, parse=False), CHUNK):
                items, known = self._screen(chunk, seen, summary, quarantine_line)
                self.on_progress(len(chunk) - len(items))
                if not items:
                    continue
                planned, sends = self._plan(items, known, summary, quarantine_line)
                self.on_progress(len(items) - len(sends))
                if not sends or run_id is None:
                    continue
                self.ledger.mark_pending(self.target, run_id, planned, known)
                for batch in self._batches(sends, known, run_id):
                    while len(inflight) >= limit and fatal is None:
                        collect(block=True)
                    if fatal is not None:
                        raise fatal
                    self.ledger.mark_sent(
                        self.target, [i.source_id for i in batch], batch[0].source_id
                    )
                    summary.sent += len(batch)
                    inflight.add(pool.submit(self._send, batch, run_id))
                    collect(block=False)
                if log is not None:
                    log.flush()
                if fatal is not None:
                    raise fatal
            while inflight:
                collect(block=True)
            if fatal is not None:
                raise fatal
        finally:
            for fut in inflight:
                fut.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            if run_id is not None:
                # Batches still running when the run stopped (fatal error, Ctrl-C) finished
                # during the shutdown: record what the target confirmed, or those writes
                # would stay "sent" and out of every rollback.
                for fut in inflight:
                    if fut.cancelled() or fut.exception() is not None:
                        continue
                    self._record(fut.result(), summary, run_id, quarantine_line)
                self.ledger.save_counts(run_id, summary.counts())

    def _screen(
        self,
        chunk: list[Line],
        seen: bytearray,
        summary: Summary,
        quarantine_line: Callable[[int, str | None, str, str, bytes | None], None],
    ) -> tuple[list[_Candidate], dict[str, L.Known]]:
        """Skip unchanged lines, quarantine bad ones; the rest are candidates to plan."""
        # Skip path first: a line whose exact bytes were confirmed before is unchanged,
        # without parsing or validating it again (what makes reruns cheap).
        guesses = [_guess_source_id(ln.raw) for ln in chunk]
        known = self.ledger.known(self.target, [g for g in guesses if g is not None])
        items: list[_Candidate] = []
        only = self.opt.only
        for ln, guess in zip(chunk, guesses, strict=True):
            summary.read += 1
            digest = raw_digest(ln.raw)
            k = known.get(guess) if guess is not None else None
            if (
                guess is not None
                and k is not None
                and k.raw_digest == digest
                and k.state == "confirmed"
            ):
                if _first_time(seen, guess, ln, quarantine_line):
                    if only is None or guess in only:
                        summary.unchanged += 1
                    else:
                        summary.filtered += 1
                continue
            ln = parse_line(ln)
            if ln.error is not None:
                quarantine_line(ln.number, None, "input", ln.error, ln.raw)
                continue
            value = ln.value
            sid = value.get("source_id") if isinstance(value, dict) else None
            if not isinstance(sid, str) or not is_source_id(sid):
                reason = "not a JSON object"
                if isinstance(value, dict):
                    reason = "field 'source_id': missing or not alphanode-NNNNNN"
                    try:
                        Post.model_validate(value)
                    except ValidationError as exc:
                        reason = _validation_reason(exc)
                sid_text = sid if isinstance(sid, str) else None
                quarantine_line(ln.number, sid_text, "input", reason, ln.raw)
                continue
            if not _first_time(seen, sid, ln, quarantine_line):
                continue
            if only is not None and sid not in only:
                summary.filtered += 1
                continue
            items.append(_Candidate(ln.number, sid, value, ln.raw, digest))
        missing = [i.source_id for i in items if i.source_id not in known]
        if missing:
            known.update(self.ledger.known(self.target, missing))
        return items, known

    def _plan(
        self,
        items: list[_Candidate],
        known: dict[str, L.Known],
        summary: Summary,
        quarantine_line: Callable[[int, str | None, str, str, bytes | None], None],
    ) -> tuple[list[L.Planned], list[_Item]]:
        """Validate and hash the candidates; what the ledger has confirmed is skipped."""
        planned: list[L.Planned] = []
        sends: list[_Item] = []
        relearn: list[tuple[str, bytes]] = []
        for c in items:
            sid = c.source_id
            k = known.get(sid)
            if (
                k is not None
                and k.raw_digest == c.digest
                and k.state == "failed"
                and not self.opt.retry_quarantine
                and not (k.last_error or "").startswith(GAVE_UP)
            ):
                quarantine_line(
                    c.line,
                    sid,
                    "target",
                    f"refused by the target before ({k.last_error}); "
                    "unchanged since: use --retry-quarantine to send it again",
                    None,
                )
                continue
            try:
                Post.model_validate(c.value)
            except ValidationError as exc:
                quarantine_line(c.line, sid, "input", _validation_reason(exc), c.raw)
                continue
            h = content_hash(c.value)
            if k is not None and k.state == "confirmed" and k.content_hash == h:
                summary.unchanged += 1
                relearn.append((sid, c.digest))
                continue
            if self.opt.dry_run:
                if k is None:
                    summary.would_create += 1
                else:
                    summary.would_update += 1
                continue
            meta = c.value.get("meta") or {}
            planned.append(
                L.Planned(
                    sid,
                    c.line,
                    h,
                    c.digest,
                    meta.get("view_count"),
                    c.value.get("title"),
                    list(c.value.get("tags") or []),
                    list(meta.get("stack") or []),
                )
            )
            sends.append(_Item(c.line, sid, c.value, h))
        if relearn and not self.opt.dry_run:
            self.ledger.remember_digests(self.target, relearn)
        return planned, sends

    def _batches(
        self, sends: list[_Item], known: dict[str, L.Known], run_id: int
    ) -> Iterator[list[_Item]]:
        # Posts an earlier pass of this run sent in one batch go again as that same batch,
        # in the same order: same body, same Idempotency-Key, so the target can replay
        # its first answer (created/updated + previous) instead of saying "unchanged".
        again: dict[str, list[_Item]] = {}
        fresh: list[_Item] = []
        for item in sends:
            k = known.get(item.source_id)
            if k is not None and k.batch and k.maybe_written(run_id):
                again.setdefault(k.batch, []).append(item)
            else:
                fresh.append(item)
        yield from again.values()
        for start in range(0, len(fresh), self.batch_size):
            yield fresh[start : start + self.batch_size]

    def _record(
        self,
        res: _BatchResult,
        summary: Summary,
        run_id: int | None,
        quarantine_line: Callable[[int, str | None, str, str, bytes | None], None],
    ) -> None:
        assert run_id is not None
        confirmed = [
            L.Confirmed(i.source_id, r.outcome, r.remote_id, r.url, r.hash, r.previous, retried)
            for i, r, retried in res.done
        ]
        changes = self.ledger.confirm(self.target, run_id, confirmed)
        # A change recorded under an earlier run (its write landed then) is unchanged here.
        changed = {c.source_id for c in changes if c.run_id == run_id}
        summary.unchanged += sum(1 for c in confirmed if c.source_id not in changed)
        summary.purged += res.purged
        refused = [(i.source_id, reason) for i, reason, _ in res.terminal]
        if refused:
            self.ledger.fail(self.target, refused)
        gave_up = [(i.source_id, reason) for i, reason in res.transient]
        if gave_up:
            # A request that timed out may still have written them.
            self.ledger.fail(self.target, gave_up, maybe_written=True)
        for i, reason, _status in res.terminal:
            quarantine_line(i.line, i.source_id, "target", reason, None)
        for i, reason in res.transient:
            summary.failed += 1
            quarantine_line(i.line, i.source_id, "gave-up", reason, None)
            summary.quarantined -= 1  # counted as failed, still listed in the quarantine file
        self.on_progress(len(res.done) + len(res.terminal) + len(res.transient))

    # -- one batch, in a worker thread ----------------------------------------------------

    def _emit(self, record: dict[str, Any]) -> None:
        if self._log is not None:
            self._log.write(record)

    def _send(self, batch: list[_Item], run_id: int) -> _BatchResult:
        out = _BatchResult()
        attempt_no = 0
        tries = 0
        opt = self.opt
        # While the breaker is open a batch waits for the target instead of giving up, but
        # only until this deadline: a batch that fails on its own (one post the target
        # always answers with a 5xx) must not hold the run until max_pause and make it
        # fatal. Half of max_pause at most, so a target that is really down still trips
        # the breaker's TargetDownError (every single send below fails too) first.
        deadline = time.monotonic() + min(opt.max_retry_time, opt.max_pause / 2)
        groups: list[list[_Item]] = [list(batch)]

        def backoff(exc: Exception) -> bool | float:
            # Full jitter (uniform in [0, min(cap, base·2^n)]); a Retry-After wins when given.
            if not isinstance(exc, TransientSinkError):
                return False
            if exc.retry_after is not None:
                return min(max(exc.retry_after, 0.0), opt.wait_max)
            return random.uniform(0, min(opt.wait_max, opt.wait_initial * 2**tries))

        while groups:
            remaining = groups.pop()
            tries = 0
            while remaining:
                try:
                    for attempt in stamina.retry_context(
                        on=backoff,
                        attempts=opt.max_attempts,
                        timeout=opt.max_retry_time,
                        wait_initial=opt.wait_initial,
                        wait_max=opt.wait_max,
                        wait_jitter=0.0,
                    ):
                        with attempt:
                            self.breaker.before_call()
                            attempt_no += 1
                            tries += 1
                            remaining = self._attempt(remaining, out, run_id, attempt_no)
                            if remaining:
                                raise TransientSinkError(
                                    f"{len(remaining)} items failed transiently"
                                )
                    remaining = []
                except TransientSinkError as exc:
                    if self.breaker.is_open and time.monotonic() < deadline:
                        tries = 0  # the target is down: wait for it instead of burning attempts
                        continue
                    if len(remaining) > 1:
                        # Gave up on several posts at once: send each alone (one retry cycle
                        # each, the deadline has passed), so only a post that keeps failing
                        # fails, like a refused batch is split in _attempt.
                        groups.extend([i] for i in reversed(remaining))
                        remaining = []
                        continue
                    out.transient.extend(
                        (i, f"gave up after {attempt_no} attempts: {exc}") for i in remaining
                    )
                    remaining = []
        self._purge(out)
        return out

    def _attempt(
        self, items: list[_Item], out: _BatchResult, run_id: int, attempt_no: int
    ) -> list[_Item]:
        """One request for `items`; returns those to retry."""
        t0 = time.perf_counter()
        retried = attempt_no > 1
        try:
            results = self.sink.upsert_many(
                [i.post for i in items],
                idempotency_keys=[
                    idempotency_key(i.source_id, i.hash, f"run{run_id}") for i in items
                ],
            )
        except TransientSinkError as exc:
            self.breaker.failure()
            self._emit(
                {
                    "ts": time.time(),
                    "run": run_id,
                    "source_id": items[0].source_id,
                    "batch": len(items),
                    "action": "retry",
                    "status": exc.status,
                    "attempt": attempt_no,
                    "latency_ms": round((time.perf_counter() - t0) * 1000, 1),
                    "error": str(exc)[:300],
                }
            )
            raise
        except TerminalSinkError as exc:
            self.breaker.success()
            if exc.status in (401, 403):
                raise TokenRefusedError(
                    f"the target refused the token ({exc.status}); set ANP_TARGET_TOKEN "
                    "or --token-file to the site's import token"
                ) from None
            if len(items) == 1:
                out.terminal.append((items[0], str(exc), exc.status))
                return []
            # The whole batch was refused (e.g. too large): isolate the bad posts one by one.
            # A transient error on one of them retries that post only: the others are
            # already in out.done/out.terminal and must not be sent (or counted) twice.
            retry: list[_Item] = []
            for i in items:
                try:
                    retry.extend(self._attempt([i], out, run_id, attempt_no))
                except TransientSinkError:
                    retry.append(i)
            return retry
        self.breaker.success()
        latency = round((time.perf_counter() - t0) * 1000, 1)
        retry = []
        action: str
        status: int | None
        for item, res in zip(items, results, strict=True):
            if isinstance(res, UpsertResult):
                out.done.append((item, res, retried))
                action, status = res.outcome, 201 if res.outcome == "created" else 200
            elif isinstance(res, TransientSinkError):
                retry.append(item)
                action, status = "retry", res.status
            else:
                assert isinstance(res, SinkError)
                out.terminal.append((item, str(res), res.status))
                action, status = "rejected", res.status
            self._emit(
                {
                    "ts": time.time(),
                    "run": run_id,
                    "source_id": item.source_id,
                    "action": action,
                    "status": status,
                    "attempt": attempt_no,
                    "latency_ms": latency,
                }
            )
        return retry

    def _purge(self, out: _BatchResult) -> None:
        # Only the routes of posts this batch updated: their page, and the page they had before.
        paths: list[str] = []
        for _item, res, _ in out.done:
            if res.outcome == "updated":
                path = url_path(res.url)
                paths.append(path)
                prev = res.previous or {}
                if isinstance(prev.get("slug"), str) and f"/posts/{prev['slug']}" != path:
                    paths.append(f"/posts/{prev['slug']}")
        if not paths:
            return
        try:
            for attempt in stamina.retry_context(on=TransientSinkError, attempts=3, timeout=10):
                with attempt:
                    self.sink.purge(paths)
            out.purged += len(paths)
        except SinkError as exc:
            self._emit({"ts": time.time(), "action": "purge-failed", "error": str(exc)[:300]})


_SOURCE_ID = re.compile(rb'"source_id"\s*:\s*"(alphanode-[0-9]{6})"')


def _guess_source_id(raw: bytes) -> str | None:
    # Only a lookup key for the skip path: a line is skipped when its exact bytes match
    # the line confirmed under this id, so a wrong guess can only miss, never mis-skip.
    m = _SOURCE_ID.search(raw, 0, 200) or _SOURCE_ID.search(raw)
    return m.group(1).decode() if m else None


def _first_time(
    seen: bytearray,
    sid: str,
    ln: Line,
    quarantine_line: Callable[[int, str | None, str, str, bytes | None], None],
) -> bool:
    """Mark a source id seen; a repeat in the file is quarantined (the first one wins)."""
    seed = int(sid[-6:])
    if seen[seed]:
        quarantine_line(
            ln.number, sid, "duplicate", f"source id {sid} repeated in the file", ln.raw
        )
        return False
    seen[seed] = 1
    return True


def _chunks(it: Iterator[Any], n: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for x in it:
        chunk.append(x)
        if len(chunk) >= n:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
