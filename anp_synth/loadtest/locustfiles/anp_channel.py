"""The sample channel: workers send every sample to the master over Locust's own messaging.

Locust's master merges its workers' statistics from response times rounded to
two significant digits. Here every worker sends its exact samples (the TSV
lines of `anp_synth.loadtest.stats`, unchanged: error bound 0) to the master
with `runner.send_message`, while the test runs (at least every
SEND_INTERVAL_S, and whenever MAX_LINES are buffered) and at its end; the
master appends them to `samples-<worker>.tsv` in its own output directory and
keeps a tally per worker in CHANNEL_FILE. Nothing is copied between machines,
no folder is shared. A worker keeps at most MAX_LINES samples in memory and no
message holds more.

Messages:
- HELLO, worker → master, once the worker's handlers are registered (Locust
  connects a worker before its locustfile's init runs).
- SETUP, master → worker, the answer: the scenario settings, the targets
  manifest and the cache rules (a worker needs no data files), and whether to
  record samples. Users wait for it (`wait_ready`) before their first request.
- SAMPLES, worker → master: {"seq", "lines", "count", "sent", "final"}; `sent`
  is the worker's running total, so the master sees a lost message.
- STOP, master → worker, when a headless master stops: stop the users and send
  the last samples. The master waits for every live worker's final message
  (at most its stop timeout + FINAL_WAIT_S) before Locust quits them; a worker
  that died is reported in CHANNEL_FILE with the samples of its last message.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from typing import Any

import gevent
import gevent.event
from locust import events
from locust.runners import MasterRunner, WorkerRunner

from anp_synth.loadtest.channel import FINAL_WAIT_S

HELLO = "anp_hello"
SETUP = "anp_setup"
SAMPLES = "anp_samples"
STOP = "anp_stop"
MAX_LINES = 2000  # samples per message (about 60 bytes each)
SEND_INTERVAL_S = 1.0
SETUP_WAIT_S = 30.0
CHANNEL_FILE = "channel.json"
CHANNEL_FORMAT = "anp-synth-channel/1"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def is_worker(runner: Any) -> bool:
    """True in a Locust worker process."""
    return isinstance(runner, WorkerRunner)


def is_master(runner: Any) -> bool:
    """True in a Locust master process (also the parent of --processes)."""
    return isinstance(runner, MasterRunner)


class WorkerChannel:
    """A worker's side: sends the recorder's lines, counts what it sent."""

    def __init__(self, runner: Any, on_setup: Callable[[dict[str, Any]], None]) -> None:
        self.runner = runner
        self.on_setup = on_setup
        self.record = False  # the master says whether it records samples
        self.seq = 0
        self.sent = 0
        self.last_was_final = False
        self.pending: list[str] = []  # recorded before SETUP arrived
        self.directory = ""  # where this worker writes its own tally (its --out), if anywhere
        runner.register_message(SETUP, self._setup)
        runner.register_message(STOP, self._stop, concurrent=True)
        events.quitting.add_listener(self.write_tally)
        runner.send_message(HELLO, None)

    def _setup(self, environment: Any, msg: Any, **_: Any) -> None:
        self.record = bool(msg.data.get("record"))
        self.on_setup(msg.data)
        READY.set()

    def _stop(self, environment: Any, msg: Any, **_: Any) -> None:
        environment.runner.stop()  # fires test_stop: the recorder sends its last lines

    def send(self, lines: list[str], final: bool) -> None:
        """Send buffered lines (and say whether they are the last of this test).

        Lines recorded before the master's SETUP said whether to record are held
        (a worker with data of its own may start before it arrives), then sent.
        """
        if not READY.is_set():
            self.pending.extend(lines)
            return
        if not self.record:
            self.pending.clear()
            return
        if self.pending:
            lines, self.pending = self.pending + lines, []
        if not lines and (not final or self.last_was_final):
            return
        chunks = [lines[i : i + MAX_LINES] for i in range(0, len(lines), MAX_LINES)] or [[]]
        for n, chunk in enumerate(chunks):
            last = final and n == len(chunks) - 1
            self.last_was_final = last
            self.seq += 1
            self.sent += len(chunk)
            self.runner.send_message(
                SAMPLES,
                {
                    "seq": self.seq,
                    "lines": "".join(chunk),
                    "count": len(chunk),
                    "sent": self.sent,
                    "final": last,
                },
            )

    def write_tally(self, **_: Any) -> None:
        """This worker's own count of what it sent, in its own --out (read by tests only)."""
        if not self.directory:
            return
        path = os.path.join(self.directory, f"worker-{os.getpid()}.json")
        doc = {
            "client_id": self.runner.client_id,
            "messages": self.seq,
            "sent": self.sent,
        }
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(doc, fh)


READY = gevent.event.Event()  # a worker: set when the master's SETUP arrived


def wait_ready(timeout: float = SETUP_WAIT_S) -> None:
    """In a worker, wait until the master's SETUP arrived (users call this first)."""
    if not READY.is_set() and not READY.wait(timeout):
        raise SystemExit(f"error: no settings from the master within {timeout:g} s")


def start_ticker(flush: Callable[[], None]) -> None:
    """Flush the recorder every SEND_INTERVAL_S, so samples reach the master during the run."""

    def tick() -> None:
        while True:
            gevent.sleep(SEND_INTERVAL_S)
            flush()

    gevent.spawn(tick)


class MasterChannel:
    """The master's side: writes each worker's samples, tallies them, waits for the last ones."""

    def __init__(self, environment: Any, directory: str, setup: dict[str, Any]) -> None:
        self.environment = environment
        self.runner = environment.runner
        self.directory = directory
        self.setup = {**setup, "record": bool(directory)}
        self.workers: dict[str, dict[str, Any]] = {}
        self.started = time.time()
        self.runner.register_message(SAMPLES, self._samples)
        self.runner.register_message(HELLO, self._hello)
        events.worker_connect.add_listener(self._connect)
        events.test_stopping.add_listener(self._stopping)
        events.test_stop.add_listener(self.write_report)
        events.quitting.add_listener(self.write_report)

    def _worker(self, client_id: str) -> dict[str, Any]:
        found = self.workers.get(client_id)
        if found is None:
            try:
                index = self.runner.get_worker_index(client_id)
            except Exception:  # an unknown id: keep its samples all the same
                index = len(self.workers)
            found = {
                "id": client_id,
                "index": index,
                "messages": 0,
                "samples": 0,
                "sent": 0,
                "gaps": 0,
                "final": False,
                "last_message_s": None,
                "file": f"samples-w{index}-{_UNSAFE.sub('_', client_id)[-40:]}.tsv",
            }
            self.workers[client_id] = found
        return found

    def _connect(self, client_id: str, **_: Any) -> None:
        self._worker(client_id)  # listed from its connection on: one that dies is reported

    def _hello(self, environment: Any, msg: Any, **_: Any) -> None:
        self._worker(msg.node_id)
        self.runner.send_message(SETUP, self.setup, client_id=msg.node_id)

    def _samples(self, environment: Any, msg: Any, **_: Any) -> None:
        worker = self._worker(msg.node_id)
        data = msg.data
        if data["seq"] != worker["messages"] + 1:
            worker["gaps"] += 1
        worker["messages"] += 1
        worker["samples"] += data["count"]
        worker["sent"] = data["sent"]
        worker["final"] = bool(data["final"])
        worker["last_message_s"] = round(time.time() - self.started, 3)
        if self.directory and data["lines"]:
            with open(os.path.join(self.directory, worker["file"]), "a", encoding="utf-8") as fh:
                fh.write(data["lines"])

    def _live(self) -> list[str]:
        """Connected workers that still answer heartbeats."""
        return [c.id for c in self.runner.clients.values() if c.state != "missing"]

    def _stopping(self, environment: Any, **_: Any) -> None:
        opts = environment.parsed_options
        if opts is None or not opts.headless:
            return  # the web UI's stop waits for the workers' "stopped", which follows our last
        live = self._live()
        for client_id in live:
            self._worker(client_id)["final"] = False
            self.runner.send_message(STOP, None, client_id=client_id)
        deadline = time.monotonic() + (environment.stop_timeout or 0) + FINAL_WAIT_S
        while time.monotonic() < deadline:
            waiting = [c for c in self._live() if not self._worker(c)["final"]]
            if not waiting:
                break
            gevent.sleep(0.05)

    def write_report(self, **_: Any) -> None:
        """CHANNEL_FILE: per worker, what arrived and whether its last message did."""
        if not self.directory:
            return
        live = set(self._live())
        workers = []
        for w in sorted(self.workers.values(), key=lambda w: (w["index"], w["id"])):
            workers.append(
                {
                    **w,
                    "lost": not w["final"],
                    "missing": w["id"] not in live and not w["final"],
                    "complete": w["final"] and w["gaps"] == 0 and w["sent"] == w["samples"],
                }
            )
        doc = {
            "format": CHANNEL_FORMAT,
            "exact": True,  # every sample, not a summary: error bound 0
            "max_lines_per_message": MAX_LINES,
            "send_interval_s": SEND_INTERVAL_S,
            "workers": workers,
            "samples": sum(w["samples"] for w in workers),
        }
        path = os.path.join(self.directory, CHANNEL_FILE)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2)
        os.replace(tmp, path)
