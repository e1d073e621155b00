"""Sending: one batch of posts to the sink, with retries, the circuit breaker and purges.

Runs in a worker thread; it only talks to the sink and the run log (the ledger is the
importer's, on its own thread). Transient errors are retried with backoff and full jitter
(a Retry-After wins); a refused batch is split to isolate the refused posts; a group that
still fails after every attempt is split too, so only a post that keeps failing gives up.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import stamina

from anp_synth.contract import UpsertOutcome
from anp_synth.edge.keys import change_keys
from anp_synth.errors import SinkError, TerminalSinkError, TokenRefusedError, TransientSinkError
from anp_synth.importer.breaker import CircuitBreaker
from anp_synth.importer.ledger import Known
from anp_synth.importer.options import Options
from anp_synth.importer.runlog import RunLog
from anp_synth.sinks.base import Sink, UpsertResult

if TYPE_CHECKING:
    from anp_synth.edge.purge import Purger


def retry_context(opt: Options, *, on: Any, **extra: Any) -> Any:
    """stamina's retry loop bounded by the run's options (attempts, total time, waits): the
    one bound for writes and purges, so `--max-attempts` and friends mean the same for both."""
    return stamina.retry_context(
        on=on,
        attempts=opt.max_attempts,
        timeout=opt.max_retry_time,
        wait_initial=opt.wait_initial,
        wait_max=opt.wait_max,
        **extra,
    )


def idempotency_key(source_id: str, content_hash_: str, scope: str = "") -> str:
    """The Idempotency-Key of a write: source id + content hash (+ the run it belongs to).

    The scope (`run7`, `rollback7`) keeps a retried or resumed write replayable while a
    later run that sends the same content again (after a rollback) is not answered from
    the target's idempotency store instead of being written.
    """
    key = f"{source_id}.{content_hash_}"
    return f"{key}.{scope}" if scope else key


def run_scope(run_id: int, ledger_id: str) -> str:
    """The key scope of an import run's writes: its id in its ledger, and the ledger's id.

    A resumed run keeps both (its keys stay replayable); a run of another ledger that has the
    same id (a lost ledger, made again) gets other keys, so a target that keeps keys (the
    reference site for a day, the static sinks with their files) writes, or answers
    "unchanged", instead of replaying the first ledger's answers into the second.
    """
    return f"run{run_id}-{ledger_id}"


def url_path(url: str) -> str:
    """The route of a URL (`http://h/posts/x` → `/posts/x`), as purge wants it."""
    return urlsplit(url).path or "/"


@dataclass(slots=True)  # never changed, yet not frozen: one a post, ~4x cheaper to make
class Item:
    """A post to send: its line in the file, its body and its content hash."""

    line: int
    source_id: str
    post: dict[str, Any]
    hash: str


@dataclass(slots=True)  # never changed, yet not frozen: one a post, ~4x cheaper to make
class Done:
    """A post the target confirmed; `retried`: an earlier attempt may have reached it."""

    item: Item
    result: UpsertResult
    retried: bool


@dataclass(frozen=True, slots=True)
class Refused:
    """A post the target refused for good (a terminal error)."""

    item: Item
    reason: str
    status: int | None


@dataclass(frozen=True, slots=True)
class GaveUp:
    """A post that still failed transiently after every attempt (a rerun sends it again)."""

    item: Item
    reason: str


@dataclass(slots=True)
class BatchResult:
    """What became of every post of a batch."""

    done: list[Done] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    gave_up: list[GaveUp] = field(default_factory=list)
    purged_keys: int = 0  # keys an edge (--purge) confirmed purging
    purge_failed: list[str] = field(default_factory=list)  # edge purges that still failed

    def __len__(self) -> int:
        return len(self.done) + len(self.refused) + len(self.gave_up)


def batches(
    sends: list[Item], known: dict[str, Known], run_id: int, size: int
) -> Iterator[list[Item]]:
    """The batches to send: posts of an interrupted batch of this run first, as that batch.

    Posts an earlier pass of this run sent in one batch go again as that same batch, in
    the same order: same body, same Idempotency-Key, so the target can replay its first
    answer (created/updated + previous) instead of saying "unchanged".
    """
    again: dict[str, list[Item]] = {}
    fresh: list[Item] = []
    for item in sends:
        k = known.get(item.source_id)
        if k is not None and k.batch and k.maybe_written(run_id):
            again.setdefault(k.batch, []).append(item)
        else:
            fresh.append(item)
    yield from again.values()
    for start in range(0, len(fresh), size):
        yield fresh[start : start + size]


@dataclass(slots=True)
class _Attempts:
    total: int = 0  # requests for this batch so far (the run log's "attempt")
    tries: int = 0  # requests in the current retry cycle (the backoff's exponent)


class Sender:
    """Sends batches to one sink; shared by the worker threads of one run."""

    def __init__(
        self,
        sink: Sink,
        breaker: CircuitBreaker,
        options: Options,
        log: RunLog,
        purgers: Sequence[Purger] = (),
        on_retry: Callable[[str, int, float], None] | None = None,
        scope: str | None = None,
    ) -> None:
        self.sink, self.breaker, self.opt, self.log = sink, breaker, options, log
        self.purgers = purgers
        self.scope = scope  # the keys' scope (run_scope); None: `run<id>`
        self.on_retry = on_retry or (lambda error, posts, wait: None)

    def send(self, batch: list[Item], run_id: int) -> BatchResult:
        """Send one batch until every post is confirmed, refused or given up; then purge."""
        out = BatchResult()
        count = _Attempts()
        # While the breaker is open a batch waits for the target instead of giving up, but
        # only until this deadline: a batch that fails on its own (one post the target
        # always answers with a 5xx) must not hold the run until max_pause and make it
        # fatal. Half of max_pause at most, so a target that is really down still trips
        # the breaker's TargetDownError (every single send below fails too) first.
        deadline = time.monotonic() + min(self.opt.max_retry_time, self.opt.max_pause / 2)
        groups: list[list[Item]] = [list(batch)]
        while groups:
            left, error = self._send_group(groups.pop(), out, run_id, count, deadline)
            if len(left) > 1:
                # Gave up on several posts at once: send each alone (one retry cycle each,
                # the deadline has passed), so only a post that keeps failing fails, like a
                # refused batch is split in _attempt.
                groups.extend([i] for i in reversed(left))
            elif left:
                reason = f"gave up after {count.total} attempts: {error}"
                out.gave_up.append(GaveUp(left[0], reason))
        self._purge(out)
        if self.purgers:
            purge_edges(self.purgers, edge_keys(out.done), self.opt, self.log, out)
        return out

    def _send_group(
        self,
        items: list[Item],
        out: BatchResult,
        run_id: int,
        count: _Attempts,
        deadline: float,
    ) -> tuple[list[Item], TransientSinkError | None]:
        """Retry `items` for one retry cycle; returns those still failing and the last error."""
        opt = self.opt

        def backoff(exc: Exception) -> bool | float:
            # Full jitter (uniform in [0, min(cap, base·2^n)]); a Retry-After wins when given.
            if not isinstance(exc, TransientSinkError):
                return False
            if exc.retry_after is not None:
                wait = min(max(exc.retry_after, 0.0), opt.wait_max)
            else:
                wait = random.uniform(0, min(opt.wait_max, opt.wait_initial * 2**count.tries))
            self.on_retry(str(exc), len(remaining), wait)
            return wait

        remaining = items
        count.tries = 0
        while True:
            try:
                # the jitter is backoff's own (full jitter); stamina adds none
                for attempt in retry_context(opt, on=backoff, wait_jitter=0.0):
                    with attempt:
                        self.breaker.before_call()
                        count.total += 1
                        count.tries += 1
                        remaining = self._attempt(remaining, out, run_id, count.total)
                        if remaining:
                            raise TransientSinkError(f"{len(remaining)} items failed transiently")
                return [], None
            except TransientSinkError as exc:
                if self.breaker.is_open and time.monotonic() < deadline:
                    count.tries = 0  # the target is down: wait for it instead of burning attempts
                    continue
                return remaining, exc

    def _attempt(
        self, items: list[Item], out: BatchResult, run_id: int, attempt_no: int
    ) -> list[Item]:
        """One request for `items`; returns those to retry."""
        t0 = time.perf_counter()
        try:
            results = self.sink.upsert_many(
                [i.post for i in items],
                idempotency_keys=[
                    idempotency_key(i.source_id, i.hash, self.scope or f"run{run_id}")
                    for i in items
                ],
            )
        except TransientSinkError as exc:
            self.breaker.failure()
            self.log.write(
                {
                    "run": run_id,
                    "source_id": items[0].source_id,
                    "batch": len(items),
                    "action": "retry",
                    "status": exc.status,
                    "attempt": attempt_no,
                    "latency_ms": _ms_since(t0),
                    "error": str(exc)[:300],
                }
            )
            raise
        except TerminalSinkError as exc:
            self.breaker.success()
            return self._refused(items, exc, out, run_id, attempt_no)
        self.breaker.success()
        latency = _ms_since(t0)
        return [
            item
            for item, res in zip(items, results, strict=True)
            if not self._record_answer(item, res, out, run_id, attempt_no, latency)
        ]

    def _refused(
        self,
        items: list[Item],
        exc: TerminalSinkError,
        out: BatchResult,
        run_id: int,
        attempt_no: int,
    ) -> list[Item]:
        """The whole request was refused: fatal for a bad token, else isolate the bad posts."""
        if exc.status in (401, 403):
            raise TokenRefusedError(
                f"the target refused the token ({exc.status}); give it the site's import "
                "token (ANP_TARGET_TOKEN, or a token file)"
            ) from None
        if len(items) == 1:
            out.refused.append(Refused(items[0], str(exc), exc.status))
            return []
        # The whole batch was refused (e.g. too large): isolate the bad posts one by one.
        # A transient error on one of them retries that post only: the others are
        # already in out.done/out.refused and must not be sent (or counted) twice.
        retry: list[Item] = []
        for i in items:
            try:
                retry.extend(self._attempt([i], out, run_id, attempt_no))
            except TransientSinkError:
                retry.append(i)
        return retry

    def _record_answer(
        self,
        item: Item,
        res: UpsertResult | SinkError,
        out: BatchResult,
        run_id: int,
        attempt_no: int,
        latency: float,
    ) -> bool:
        """File one post's answer in `out` and the run log; False when it is to be retried."""
        settled = True
        action: str
        status: int | None
        if isinstance(res, UpsertResult):
            out.done.append(Done(item, res, attempt_no > 1))
            action, status = res.outcome, 201 if res.outcome == UpsertOutcome.CREATED else 200
        elif isinstance(res, TransientSinkError):
            settled = False
            action, status = "retry", res.status
        else:
            out.refused.append(Refused(item, str(res), res.status))
            action, status = "rejected", res.status
        self.log.write(
            {
                "run": run_id,
                "source_id": item.source_id,
                "action": action,
                "status": status,
                "attempt": attempt_no,
                "latency_ms": latency,
            }
        )
        return settled

    def _purge(self, out: BatchResult) -> None:
        # Only the routes of posts this batch updated: their page, and the page they had before.
        paths = purge_paths(d.result for d in out.done)
        if not paths:
            return
        try:
            for attempt in stamina.retry_context(on=TransientSinkError, attempts=3, timeout=10):
                with attempt:
                    self.sink.purge(paths)
        except SinkError as exc:
            self.log.write({"action": "purge-failed", "error": str(exc)[:300]})


def purge_paths(results: Iterable[UpsertResult]) -> list[str]:
    """The routes to purge after these writes: each updated post's page, and its old page."""
    paths: list[str] = []
    for res in results:
        if res.outcome == UpsertOutcome.UPDATED:
            path = url_path(res.url)
            paths.append(path)
            prev = res.previous or {}
            if isinstance(prev.get("slug"), str) and f"/posts/{prev['slug']}" != path:
                paths.append(f"/posts/{prev['slug']}")
    return paths


def edge_keys(done: Iterable[Done]) -> list[str]:
    """The cache keys to purge at an edge after these confirmed writes (anp_synth.edge.keys)."""
    keys: list[str] = []
    for d in done:
        if d.result.outcome == UpsertOutcome.CREATED:
            keys.extend(change_keys(d.item.source_id, None, d.item.post))
        elif d.result.outcome == UpsertOutcome.UPDATED:
            # previous None (a target that does not say): purged like a create, the safe side
            keys.extend(change_keys(d.item.source_id, d.result.previous, d.item.post))
    return list(dict.fromkeys(keys))


def purge_edges(
    purgers: Sequence[Purger], keys: list[str], opt: Options, log: RunLog, out: BatchResult
) -> None:
    """Purge `keys` at every edge, retried like a write; what still fails goes in `out`."""
    if not keys:
        return
    for purger in purgers:
        t0 = time.perf_counter()
        try:
            for attempt in retry_context(opt, on=TransientSinkError):
                with attempt:
                    dropped = purger.purge_keys(keys)
        except SinkError as exc:
            out.purge_failed.append(f"{purger.name}: {len(keys)} keys: {exc}")
            log.write(
                {
                    "action": "purge-failed",
                    "edge": purger.name,
                    "keys": len(keys),
                    "error": str(exc)[:300],
                }
            )
            continue
        out.purged_keys += len(keys)
        log.write(
            {
                "action": "purge",
                "edge": purger.name,
                "keys": len(keys),
                "dropped": dropped,
                "latency_ms": _ms_since(t0),
            }
        )


def _ms_since(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 1)
