"""The runs table: start (or take over) a run, finish it, and read runs back."""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from anp_synth.errors import LedgerBusyError, RunTakenOverError, UsageError
from anp_synth.importer.ledger.base import LedgerFile, now_iso
from anp_synth.importer.ledger.heartbeat import (
    HEARTBEAT_EVERY,
    STALE_AFTER,
    Heartbeat,
    Liveness,
    liveness,
)
from anp_synth.importer.ledger.states import RunState


@dataclass(slots=True)
class Run:
    """One import run as the ledger records it."""

    id: int
    file: str
    target: str
    sink: str
    args: dict[str, Any]
    state: RunState
    started: str
    finished: str | None
    heartbeat: float
    pid: int
    counts: dict[str, int] = field(default_factory=dict)
    resumed: int = 0

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Run:
        """The run of a `runs` row."""
        return cls(
            id=row["id"],
            file=row["file"],
            target=row["target"],
            sink=row["sink"],
            args=orjson.loads(row["args"]),
            state=RunState(row["state"]),
            started=row["started"],
            finished=row["finished"],
            heartbeat=row["heartbeat"],
            pid=row["pid"],
            counts=orjson.loads(row["counts"]),
            resumed=row["resumed"],
        )

    def liveness(self, stale_after: float = STALE_AFTER, now: float | None = None) -> Liveness:
        """Whether the process holding this run is alive (meaningful while it is running)."""
        return liveness(self.pid, self.heartbeat, stale_after=stale_after, now=now)


class Runs(LedgerFile):
    """The runs of the ledger."""

    _beat: Heartbeat | None = None
    _held: tuple[int, int] | None = None  # (run id, pid) of the run this process holds

    def begin_run(
        self,
        file: str,
        target: str,
        sink: str,
        args: dict[str, Any],
        *,
        stale_after: float = STALE_AFTER,
        pid: int | None = None,
    ) -> Run:
        """Start a run, or take over the crashed run of the same file and target (same id).

        Raises LedgerBusyError when a live run (pid alive, fresh heartbeat) holds the ledger.
        A stdin import (file "-") is never resumed: "-" says nothing about the content, so
        a crashed stdin run is marked interrupted and the new one starts a new run.
        """
        pid = os.getpid() if pid is None else pid
        now = time.time()
        self._held = None
        target = self._target(target)
        try:
            with self._tx():
                resume = self._take_over_running(file, target, pid, now, stale_after)
                if resume is None:
                    resume = self._failed_run_of(file, target)
                args_json = orjson.dumps(args).decode()
                if resume is not None:
                    self.db.execute(
                        "UPDATE runs SET pid = ?, heartbeat = ?, resumed = resumed + 1, args = ?, "
                        "state = ?, finished = NULL WHERE id = ?",
                        (pid, now, args_json, RunState.RUNNING, resume.id),
                    )
                    run_id = resume.id
                else:
                    cur = self.db.execute(
                        "INSERT INTO runs (file, target, sink, args, state, started, heartbeat, pid)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (file, target, sink, args_json, RunState.RUNNING, now_iso(), now, pid),
                    )
                    run_id = int(cur.lastrowid or 0)
                # set before the commit, so no moment has the run committed and not held...
                self._held = (run_id, pid)
        except BaseException:
            self._held = None  # ...and cleared when the transaction did not commit
            raise
        return self.run(run_id)

    def ledger_id(self) -> str:
        """This ledger's own random id (meta `ledger_id`, made with the tables).

        Run ids count from 1 in every ledger: the id tells this ledger's run 1 from another
        ledger's (a lost ledger made again), e.g. in the Idempotency-Keys of its writes.
        """
        row = self.db.execute("SELECT value FROM meta WHERE key = 'ledger_id'").fetchone()
        return "" if row is None else str(row[0])

    def _check_owner(self) -> None:
        # One owner per run: a process paused past STALE_AFTER may find its run resumed by
        # another import (a new pid in the row) or marked interrupted; from then on every
        # write it tries is refused, in the same transaction as the write.
        if self._held is None:
            return
        run_id, pid = self._held
        row = self.db.execute("SELECT pid, state FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is not None and row["pid"] == pid and row["state"] == RunState.RUNNING:
            return
        if row is None:
            owner = "another import (the run is gone from the ledger)"
        elif row["pid"] != pid:
            now = "running" if row["state"] == RunState.RUNNING else f"now {row['state']}"
            owner = f"another import (pid {row['pid']}, as the ledger records it; {now})"
        else:
            owner = f"another import, which found it stale and marked it {row['state']}"
        raise RunTakenOverError(run_id, owner)

    def check_owner(self) -> None:
        """Raise RunTakenOverError when the run this process began is no longer its own."""
        self._check_owner()

    def drop_run(self) -> None:
        """Forget the run this process held (it was taken over): no more writes for it."""
        self.stop_heartbeat()
        self._held = None

    @property
    def held_run(self) -> int | None:
        """The id of the run this process began and still holds, if any."""
        return None if self._held is None else self._held[0]

    @property
    def holds_run(self) -> bool:
        """True while this process holds a run it began (and has not finished or lost)."""
        return self._held is not None

    def _take_over_running(
        self, file: str, target: str, pid: int, now: float, stale_after: float
    ) -> Run | None:
        """The dead running run to resume, if any; other dead running runs become interrupted."""
        resume: Run | None = None
        for row in self.db.execute("SELECT * FROM runs WHERE state = ?", (RunState.RUNNING,)):
            run = Run.from_row(row)
            if run.pid != pid and run.liveness(stale_after, now) is Liveness.ALIVE:
                raise LedgerBusyError(
                    f"ledger {self.path} is in use by run {run.id} (pid {run.pid}, "
                    f"importing {run.file} into {run.target}); wait for it to finish "
                    f"or stop it, then rerun"
                )
            if run.file == file != "-" and run.target == target and resume is None:
                resume = run
            else:
                self.db.execute(
                    "UPDATE runs SET state = ?, finished = ? WHERE id = ?",
                    (RunState.INTERRUPTED, now_iso(), run.id),
                )
        return resume

    def _failed_run_of(self, file: str, target: str) -> Run | None:
        # A run stopped by a fatal error, Ctrl-C or SIGTERM is resumed too, if it is the newest run
        # of this file into this target.
        if file == "-":
            return None
        row = self.db.execute(
            "SELECT * FROM runs WHERE file = ? AND target = ? ORDER BY id DESC LIMIT 1",
            (file, target),
        ).fetchone()
        stopped = (RunState.FAILED, RunState.INTERRUPTED)
        return Run.from_row(row) if row is not None and row["state"] in stopped else None

    def run(self, run_id: int) -> Run:
        """One run by id (UsageError when there is none)."""
        row = self.db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise UsageError("run", f"{run_id}: no such run in ledger {self.path}")
        return Run.from_row(row)

    def runs(self, limit: int | None = 50) -> list[Run]:
        """The most recent runs, newest first (every run with limit None)."""
        rows = self.db.execute("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit or -1,))
        return [Run.from_row(r) for r in rows]

    def finish_run(self, run_id: int, state: RunState, counts: dict[str, int]) -> None:
        """Record the end of a run and its final counts.

        Only a run still marked running is updated. When the run this process began was
        taken over meanwhile (another pid, or no longer running), nothing is written and
        RunTakenOverError says who holds it now.
        """
        self.stop_heartbeat()
        try:
            with self._tx():
                self.db.execute(
                    "UPDATE runs SET state = ?, finished = ?, counts = ?, heartbeat = ?"
                    " WHERE id = ? AND state = ?",
                    (state, now_iso(), orjson.dumps(counts).decode(), time.time(), run_id,
                     RunState.RUNNING),
                )  # fmt: skip
        finally:
            self._held = None

    def save_counts(self, run_id: int, counts: dict[str, int]) -> None:
        """Store running counts (so a resumed run carries them on)."""
        with self._tx():
            self.db.execute(
                "UPDATE runs SET counts = ?, heartbeat = ? WHERE id = ?",
                (orjson.dumps(counts).decode(), time.time(), run_id),
            )

    def set_run_state(self, run_id: int, state: RunState) -> None:
        """Change a run's state (e.g. to rolled_back)."""
        with self._tx():
            self.db.execute("UPDATE runs SET state = ? WHERE id = ?", (state, run_id))

    def start_heartbeat(self, run_id: int, every: float = HEARTBEAT_EVERY) -> None:
        """Beat for this run in a background thread, so a long pause still beats."""
        self.stop_heartbeat()
        pid = self._held[1] if self._held is not None and self._held[0] == run_id else os.getpid()
        self._beat = Heartbeat(self.path, run_id, pid, every)
        self._beat.start()

    def stop_heartbeat(self) -> None:
        """Stop the heartbeat thread, if any."""
        if self._beat is not None:
            self._beat.stop()
            self._beat = None

    def mark_running(self, run_id: int, *, pid: int, heartbeat: float | None = None) -> None:
        """Mark a run running, held by `pid`, last beating at `heartbeat` (default: now).

        What a process that died mid-run leaves behind (with a dead pid or an old
        heartbeat), or what a live one shows: for tests and tools that simulate either.
        """
        beat = time.time() if heartbeat is None else heartbeat
        with self._tx():
            self.db.execute(
                "UPDATE runs SET state = ?, pid = ?, heartbeat = ?, finished = NULL WHERE id = ?",
                (RunState.RUNNING, pid, beat, run_id),
            )
        if self._held is not None and self._held[0] == run_id and self._held[1] != pid:
            self.drop_run()  # now held by `pid`: not this process's any more

    def last_changing_run(self, target: str | None = None) -> Run | None:
        """The newest run that created or updated something and was not rolled back."""
        sql = (
            "SELECT r.* FROM runs r WHERE r.state != ? AND EXISTS "
            "(SELECT 1 FROM changes c WHERE c.run_id = r.id)"
        )
        params: list[Any] = [RunState.ROLLED_BACK]
        if target is not None:
            sql += " AND r.target = ?"
            params.append(self._target(target))
        row = self.db.execute(sql + " ORDER BY r.id DESC LIMIT 1", params).fetchone()
        return None if row is None else Run.from_row(row)
