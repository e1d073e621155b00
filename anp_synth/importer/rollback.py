"""`rollback`: undo one run — delete what it created, restore what it updated — plan first."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import stamina

from anp_synth.edge.keys import change_keys
from anp_synth.errors import (
    LedgerBusyError,
    SinkError,
    TargetDownError,
    TransientSinkError,
    UsageError,
)
from anp_synth.importer.ledger import (
    Action,
    Change,
    Ledger,
    Liveness,
    Restored,
    Run,
    RunState,
)
from anp_synth.importer.options import Options
from anp_synth.importer.runlog import RunLog
from anp_synth.importer.send import BatchResult, idempotency_key, purge_edges, url_path
from anp_synth.jsonl import content_hash
from anp_synth.sinks.base import Sink, UpsertResult

if TYPE_CHECKING:
    from anp_synth.edge.purge import Purger

T = TypeVar("T")


@dataclass(slots=True)
class Plan:
    """What a rollback will do."""

    run: Run
    delete: list[Change] = field(default_factory=list)
    restore: list[Change] = field(default_factory=list)
    unrestorable: list[Change] = field(default_factory=list)  # previous version unknown

    @property
    def empty(self) -> bool:
        """True when there is nothing to undo."""
        return not (self.delete or self.restore or self.unrestorable)


class Failed(NamedTuple):
    """A post (or "(purge)") a rollback could not undo, and why."""

    source_id: str
    reason: str


@dataclass(slots=True)
class RollbackResult:
    """What a rollback did."""

    deleted: int = 0
    restored: int = 0
    failed: list[Failed] = field(default_factory=list)
    purged: int = 0
    purged_keys: int = 0  # cache keys the edges (purgers) confirmed


def plan(ledger: Ledger, run_id: int | None = None, target: str | None = None) -> Plan:
    """The rollback plan of a run (default: the newest run that changed something)."""
    if run_id is None:
        run = ledger.last_changing_run(target)
        if run is None:
            raise UsageError(None, "nothing to roll back: no run in the ledger changed the target")
    else:
        run = ledger.run(run_id)
    if target is not None and run.target != target:
        raise UsageError("target", f"{target}: run {run.id} imported into {run.target}")
    if run.state == RunState.ROLLED_BACK:
        raise UsageError("run", f"{run.id}: already rolled back")
    if run.state == RunState.RUNNING:
        if run.liveness() is Liveness.ALIVE:
            raise LedgerBusyError(
                f"run {run.id} is still importing (pid {run.pid}); wait for it to finish "
                "or stop it, then roll back"
            )
        raise UsageError(
            "run",
            f"{run.id}: the run crashed before it finished; resume it first "
            f"(rerun the import of {run.file}), then roll back",
        )
    unconfirmed = ledger.unconfirmed(run.id)
    if unconfirmed:
        raise UsageError(
            None,
            f"run {run.id} has writes that were sent but never confirmed ({unconfirmed} posts); "
            "rerun the import to resume it, then roll back",
        )
    changes = ledger.changes(run.id)
    later = ledger.later_changes(run.id, [c.source_id for c in changes])
    if later:
        runs = sorted({c.run_id for c in later}, reverse=True)
        raise UsageError(
            "run",
            f"{run.id}: later runs {', '.join(map(str, runs))} changed the same posts "
            f"(e.g. {later[0].source_id}); roll those back first",
        )
    p = Plan(run)
    for c in changes:
        if c.action == Action.CREATED:
            p.delete.append(c)
        elif c.previous is not None:
            p.restore.append(c)
        else:
            p.unrestorable.append(c)
    return p


class _Undone(NamedTuple):
    """One change undone: deleted (restored None), restored, or failed (error)."""

    change: Change
    restored: UpsertResult | None = None
    error: str | None = None
    keys: tuple[str, ...] = ()  # what an edge must purge for it
    down: bool = False  # failed because the target stopped answering, not because it refused


def _retry(fn: Callable[..., T], *args: Any, **kw: Any) -> T:
    for attempt in stamina.retry_context(on=TransientSinkError, attempts=6, timeout=60):
        with attempt:
            return fn(*args, **kw)
    raise AssertionError("unreachable: stamina raises when it gives up")


def apply(
    p: Plan,
    sink: Sink,
    ledger: Ledger,
    concurrency: int = 4,
    purgers: Sequence[Purger] = (),
) -> RollbackResult:
    """Carry out a plan against the sink (N requests in flight), then record it in the ledger.

    With `purgers`, the cache keys of every post undone are purged at those edges (retried
    like a write; a purge that still fails is one of `failed`, as "(purge)").
    """
    out = RollbackResult()
    target = p.run.target
    deleted: list[str] = []
    restored: list[Restored] = []
    paths: list[str] = []
    keys: list[str] = []

    gone = threading.Event()  # the target stopped answering: stop, do not wait per post

    def undo(c: Change) -> _Undone:
        if gone.is_set():
            return _Undone(c, error="not tried: the target stopped answering", down=True)
        try:
            if c.action == Action.CREATED:
                # Its listings are purged at the edge: read them before the post goes.
                held = _retry(sink.get, c.source_id) if purgers else None
                _retry(sink.delete, c.source_id)
                before = held.post if held is not None else None
                return _Undone(c, keys=tuple(change_keys(c.source_id, before, None)))
            assert c.previous is not None
            key = idempotency_key(c.source_id, content_hash(c.previous), f"rollback{p.run.id}")
            restored = _retry(sink.upsert, c.previous, idempotency_key=key)
            # The version undone is not kept: purged like a create of the old one (safe side).
            return _Undone(c, restored, keys=tuple(change_keys(c.source_id, None, c.previous)))
        except TransientSinkError as exc:  # still failing after the retries
            gone.set()
            return _Undone(c, error=str(exc), down=True)
        except SinkError as exc:
            return _Undone(c, error=str(exc))

    down: list[str] = []
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        for c, res, error, undone_keys, is_down in pool.map(undo, [*p.delete, *p.restore]):
            keys.extend(undone_keys)
            if is_down:
                down.append(error or "")
            elif error is not None:
                out.failed.append(Failed(c.source_id, error))
            elif res is None:
                deleted.append(c.source_id)
                if c.url:
                    paths.append(url_path(c.url))
            else:
                restored.append(Restored(c.source_id, res.hash, res.remote_id, res.url))
                paths.append(url_path(res.url))
                if c.url and url_path(c.url) != url_path(res.url):
                    paths.append(url_path(c.url))
    ledger.undo_created(target, deleted)
    ledger.undo_updated(target, restored)
    out.deleted, out.restored = len(deleted), len(restored)
    if down:  # what was undone is recorded; the rest waits for a rerun, as in import
        raise TargetDownError(
            f"{target}: the target stopped answering during the rollback ({down[0]}); "
            f"{len(deleted) + len(restored):,} of {len(down) + len(deleted) + len(restored):,} "
            "posts undone, rerun rollback to finish"
        )
    for start in range(0, len(paths), 500):
        try:
            _retry(sink.purge, paths[start : start + 500])
            out.purged += len(paths[start : start + 500])
        except SinkError as exc:
            out.failed.append(Failed("(purge)", str(exc)))
    if not out.failed and not p.unrestorable:
        ledger.set_run_state(p.run.id, RunState.ROLLED_BACK)
    if purgers:
        # After the state: the posts are undone either way; a purge that failed is reported
        # (the CLI exits 3), and `anp-synth` cannot redo it by rerunning the rollback.
        edge = BatchResult()
        purge_edges(purgers, list(dict.fromkeys(keys)), Options(), RunLog(None), edge)
        out.purged_keys = edge.purged_keys
        out.failed.extend(Failed("(purge)", reason) for reason in edge.purge_failed)
    return out
