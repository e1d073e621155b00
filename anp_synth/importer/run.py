"""The importer: read a JSONL file, plan what to write against the ledger, apply it to a sink.

    read (line numbers) → screen + plan (ledger: unchanged → skip, no request)   plan.py
        → send (batches on N threads, retries with backoff + full jitter,        send.py
                circuit breaker)                                                  breaker.py
        → confirm in the ledger (one transaction per batch)                       ledger/
        → run log + quarantine file                                               runlog.py

A rerun after a crash resumes the same run (see `Ledger.begin_run`); every write is an
upsert keyed by source id with an Idempotency-Key derived from source id + content hash.
"""

from __future__ import annotations

import contextlib
import gc
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any, BinaryIO

from anp_synth import collector
from anp_synth.errors import RunTakenOverError
from anp_synth.importer.breaker import CircuitBreaker, Notices
from anp_synth.importer.ledger import Action, Confirmed, Failure, Ledger, RunState
from anp_synth.importer.options import Options
from anp_synth.importer.plan import Planner
from anp_synth.importer.runlog import (
    Quarantine,
    Quarantined,
    RunLog,
    check_run_folder,
    run_paths,
)
from anp_synth.importer.send import BatchResult, Sender, batches, idempotency_key, run_scope
from anp_synth.importer.summary import Summary
from anp_synth.jsonl import iter_lines
from anp_synth.sinks.base import Sink

if TYPE_CHECKING:
    from anp_synth.edge.purge import Purger

__all__ = ["CircuitBreaker", "Importer", "Options", "Summary", "idempotency_key"]

CHUNK = 1000  # lines planned per ledger lookup: bounds memory whatever the file size


class Importer:
    """One import of one file into one target, recorded in one ledger."""

    def __init__(
        self,
        sink: Sink,
        ledger: Ledger,
        target: str,
        options: Options | None = None,
        *,
        on_progress: Callable[[int], None] | None = None,
        on_notice: Callable[[str], None] | None = None,
        purgers: Sequence[Purger] = (),
    ) -> None:
        self.sink, self.ledger, self.target = sink, ledger, target
        self.purgers = purgers  # edges to purge by key after each confirmed batch
        self.opt = options or Options()
        self.on_progress = on_progress or (lambda n: None)
        # What the user must hear while waiting (a retry, a pause); the CLI writes it to stderr.
        self.notice = Notices(on_notice or (lambda m: None))
        self.breaker = CircuitBreaker(
            self.opt.breaker_threshold,
            self.opt.breaker_cooldown,
            self.opt.breaker_max_cooldown,
            self.opt.max_pause,
            on_open=self.notice.pause,
        )
        self.batch_size = max(1, min(self.opt.batch_size, sink.max_batch))

    def run(self, stream: BinaryIO, file_label: str, args: dict[str, Any] | None = None) -> Summary:
        """Import every post of `stream`; returns the summary (never raises for bad items).

        A rerun of the same file into the same target resumes a crashed or failed run; a
        stdin import (`file_label` "-") never does: "-" says nothing about the content, so
        it always starts a new run (see `Ledger.begin_run`).
        """
        started = time.perf_counter()
        if self.opt.dry_run:
            summary = Summary(run_id=None, resumed=False, dry_run=True)
            _Pass(self, summary, None, RunLog(None), Quarantine(None)).run(stream)
            summary.elapsed = time.perf_counter() - started
            return summary
        check_run_folder(self.ledger.path)  # before the run begins: nothing half-started
        summary = Summary(run_id=None, resumed=False)
        ledger_id = self.ledger.ledger_id()  # made before the run: nothing to undo on Ctrl-C
        log, quarantine = RunLog(None), Quarantine(None)
        state = RunState.FAILED
        # Everything after the run's row is committed is inside the try: a Ctrl-C or SIGTERM
        # that lands while the run is being set up still records it interrupted.
        try:
            run = self.ledger.begin_run(
                file_label, self.target, self.sink.name, args or {},
                stale_after=self.opt.stale_after,
            )  # fmt: skip
            summary.run_id, summary.resumed = run.id, run.resumed > 0
            log_path, q_path = run_paths(self.ledger.path, run.id)
            summary.log_path, summary.quarantine_path = str(log_path), str(q_path)
            log, quarantine = RunLog(log_path), Quarantine(q_path)
            self.ledger.start_heartbeat(run.id)
            log.write({"run": run.id, "action": "start", "resumed": run.resumed})
            _Pass(self, summary, run.id, log, quarantine, run_scope(run.id, ledger_id)).run(stream)
            state = RunState.COMPLETED if summary.ok else RunState.PARTIAL
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (the CLI makes it one): a rerun resumes
            state = RunState.INTERRUPTED
            raise
        finally:
            summary.elapsed = time.perf_counter() - started
            run_id = summary.run_id if summary.run_id is not None else self.ledger.held_run
            try:
                if run_id is not None:  # None: no run began (e.g. the ledger is busy)
                    summary.run_id = run_id
                    self._finish(run_id, state, summary, log)
            finally:
                log.close()
                quarantine.close()
        return summary

    def _finish(self, run_id: int, state: RunState, summary: Summary, log: RunLog) -> None:
        lost = {"run": run_id, "action": "lost", "pid": os.getpid()}
        if not self.ledger.holds_run:  # taken over: the run and its counts are the new owner's
            log.write(lost)
            return
        self._totals_from_ledger(
            summary, run_id, finished=state not in (RunState.FAILED, RunState.INTERRUPTED)
        )
        try:
            self.ledger.finish_run(run_id, state, summary.counts())
        except RunTakenOverError:  # taken over after the last batch
            log.write(lost)
            raise
        log.write({"run": run_id, "action": "finish", "state": state} | summary.counts())

    def _totals_from_ledger(self, summary: Summary, run_id: int, finished: bool) -> None:
        # A resumed run counts what its earlier passes created and updated, too.
        by = self.ledger.change_counts(run_id)
        summary.created, summary.updated = by.get(Action.CREATED, 0), by.get(Action.UPDATED, 0)
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


class _Pass:
    """One read of the file: plan each chunk, send its batches on the pool, record answers."""

    def __init__(
        self,
        imp: Importer,
        summary: Summary,
        run_id: int | None,
        log: RunLog,
        quarantine: Quarantine,
        scope: str | None = None,
    ) -> None:
        self.imp, self.summary, self.run_id = imp, summary, run_id
        self.ledger, self.target = imp.ledger, imp.target
        self.log, self._quarantine = log, quarantine
        self.sender = Sender(
            imp.sink, imp.breaker, imp.opt, log, imp.purgers, imp.notice.retry, scope=scope
        )
        self.planner = Planner(imp.ledger, imp.target, imp.opt, summary, self.quarantine)
        self.inflight: set[Future[BatchResult]] = set()
        self.fatal: BaseException | None = None

    def quarantine(self, q: Quarantined) -> None:
        """Quarantine one line (counted as quarantined)."""
        self.summary.quarantined += 1
        self._quarantine.add(q)

    def run(self, stream: BinaryIO) -> None:
        """Plan and send every chunk of the stream; raises the first fatal error of a worker."""
        opt = self.imp.opt
        pool = ThreadPoolExecutor(max_workers=opt.concurrency, thread_name_prefix="import")
        try:
            with collected_per_chunk() as collect:
                for chunk in _chunks(iter_lines(stream, parse=False), CHUNK):
                    self._chunk(chunk, pool)
                    collect()
            while self.inflight:
                self._collect(block=True)
            self._raise_fatal()
        except RunTakenOverError:
            self.ledger.drop_run()  # nothing more of this pass goes into the ledger
            raise
        finally:
            for fut in self.inflight:
                fut.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            if self.run_id is not None and self.ledger.holds_run:
                # Batches still running when the run stopped (fatal error, Ctrl-C) finished
                # during the shutdown: record what the target confirmed, or those writes
                # would stay "sent" and out of every rollback.
                for fut in self.inflight:
                    if not fut.cancelled() and fut.exception() is None:
                        self._record(fut.result())
                self.ledger.save_counts(self.run_id, self.summary.counts())

    def _chunk(self, chunk: list[Any], pool: ThreadPoolExecutor) -> None:
        if self.run_id is not None:
            self.ledger.check_owner()  # a process paused past STALE_AFTER notices here
        screened = self.planner.screen(chunk)
        self.imp.on_progress(len(chunk) - len(screened.candidates))
        if not screened.candidates:
            return
        plan = self.planner.plan(screened)
        self.imp.on_progress(len(screened.candidates) - len(plan.sends))
        if not plan.sends or self.run_id is None:
            return
        self.ledger.mark_pending(self.target, self.run_id, plan.planned, screened.known)
        limit = self.imp.opt.concurrency * 2
        for batch in batches(plan.sends, screened.known, self.run_id, self.imp.batch_size):
            while len(self.inflight) >= limit and self.fatal is None:
                self._collect(block=True)
            self._raise_fatal()
            self.ledger.mark_sent(self.target, [i.source_id for i in batch], batch[0].source_id)
            self.inflight.add(pool.submit(self.sender.send, batch, self.run_id))
            self._collect(block=False)
        self.log.flush()
        self._raise_fatal()

    def _raise_fatal(self) -> None:
        if self.fatal is not None:
            raise self.fatal

    def _collect(self, block: bool) -> None:
        if not self.inflight:
            return
        done, _ = wait(self.inflight, timeout=None if block else 0, return_when=FIRST_COMPLETED)
        for fut in done:
            self.inflight.discard(fut)
            try:
                res = fut.result()
            except BaseException as exc:  # a fatal error in a worker stops the run
                self.fatal = self.fatal or exc
                continue
            self._record(res)

    def _record(self, res: BatchResult) -> None:
        """Confirm a batch's writes in the ledger; record refusals and give-ups."""
        assert self.run_id is not None
        confirmed = [
            Confirmed(
                d.item.source_id,
                d.result.outcome,
                d.result.remote_id,
                d.result.url,
                d.result.hash,
                d.result.previous,
                d.retried,
            )
            for d in res.done
        ]
        changes = self.ledger.confirm(self.target, self.run_id, confirmed)
        # A change recorded under an earlier run (its write landed then) is unchanged here.
        changed = {c.source_id for c in changes if c.run_id == self.run_id}
        self.summary.unchanged += sum(1 for c in confirmed if c.source_id not in changed)
        if res.refused:
            self.ledger.fail(
                self.target, [Failure(r.item.source_id, r.reason) for r in res.refused]
            )
        if res.gave_up:
            # A request that timed out may still have written them.
            failures = [Failure(g.item.source_id, g.reason) for g in res.gave_up]
            self.ledger.fail(self.target, failures, gave_up=True)
        self.summary.purged_keys += res.purged_keys
        self.summary.purge_failed.extend(res.purge_failed)
        for r in res.refused:
            self.quarantine(Quarantined(r.item.line, r.item.source_id, "target", r.reason))
        for g in res.gave_up:
            # Counted as failed, still listed in the quarantine file.
            self.summary.failed += 1
            self._quarantine.add(Quarantined(g.item.line, g.item.source_id, "gave-up", g.reason))
        self.imp.on_progress(len(res))


@contextlib.contextmanager
def collected_per_chunk() -> Iterator[Callable[[], object]]:
    """Python's cyclic garbage collector paused for a pass, run on the young objects per chunk.

    Left automatic, the collector runs every few hundred allocations and keeps scanning
    the parsed posts of the chunk (a hundred-odd dicts and lists each) while they wait
    for their batch, and now and then everything the process holds: half of the
    importer's CPU per post (measured, see the README's "Speed"). A pass makes almost no
    cyclic garbage, so one collection of the two young generations after each chunk
    (what the call this yields does) keeps memory bounded at a fraction of the cost.
    The collector is the process's: it is on again (if it was) when the pass ends.
    """
    with collector.paused():
        yield lambda: gc.collect(1)


def _chunks(it: Iterator[Any], n: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for x in it:
        chunk.append(x)
        if len(chunk) >= n:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
