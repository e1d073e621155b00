"""Run Locust headless in a subprocess and watch the load generator's CPU meanwhile.

The parent never imports locust: importing it monkey-patches the whole process
with gevent. The child is started in its own session so that a run that
overstays its deadline is stopped as a group, by the child's pid.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

import orjson
import psutil

from anp_synth.errors import AnpError, excerpt
from anp_synth.loadtest.channel import FINAL_WAIT_S
from anp_synth.loadtest.progress import ProgressLine
from anp_synth.loadtest.settings import SATURATION_PCT, Settings
from anp_synth.processes import die_with_parent, free_port

LOCUSTFILE = Path(__file__).resolve().parent / "locustfiles" / "locustfile.py"
CPU_INTERVAL_S = 0.5
TREE_EVERY_S = 5.0  # during the measured window, the process tree is listed this often
STOP_TIMEOUT_S = 5.0
# An interruption: Locust stops its users (at most STOP_TIMEOUT_S), its master waits for the
# workers' last samples (at most STOP_TIMEOUT_S + FINAL_WAIT_S), then writes its reports.
INTERRUPT_GRACE_S = 2 * STOP_TIMEOUT_S + FINAL_WAIT_S + 10.0
GROUP_STOP_S = 5.0  # then each signal to what is left of the group waits this long
LOOPBACK = "127.0.0.1"  # where a --processes master listens for its own workers
SETTINGS_FILE = "settings.json"  # in --out: the Settings the locustfile reads


@dataclass
class CpuReport:
    """CPU of the load generator's processes and of the host, over the measured window."""

    per_process: dict[int, float]
    host_mean: float
    samples: int
    limit: float = SATURATION_PCT

    @property
    def generator_max(self) -> float:
        """The busiest generator process's mean CPU, in % of one core."""
        return max(self.per_process.values(), default=0.0)

    @property
    def saturated(self) -> bool:
        """True when a generator process was CPU-bound: its figures cannot be trusted."""
        return self.generator_max > self.limit

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {
            "generator_max_pct": round(self.generator_max, 1),
            "per_process_pct": {str(k): round(v, 1) for k, v in sorted(self.per_process.items())},
            "host_mean_pct": round(self.host_mean, 1),
            "samples": self.samples,
            "saturation_limit_pct": self.limit,
            "saturated": self.saturated,
        }


@dataclass
class LocustResult:
    """How the Locust subprocess ended, and where it wrote."""

    returncode: int
    cpu: CpuReport
    html: Path
    csv_prefix: Path
    json: Path
    log: Path
    started: float
    elapsed_s: float


class CpuMonitor(threading.Thread):
    """Samples the CPU of a process tree and of the host until stopped."""

    def __init__(
        self, pid: int, measure_from: float, measure_until: float, limit: float = SATURATION_PCT
    ) -> None:
        super().__init__(daemon=True, name="anp-cpu-monitor")
        self.root = psutil.Process(pid)
        self.measure_from = measure_from
        self.measure_until = measure_until
        self.stop_event = threading.Event()
        self.procs: dict[int, psutil.Process] = {}
        self.values: dict[int, list[float]] = {}
        self.host: list[float] = []
        self.limit = limit

    def run(self) -> None:
        psutil.cpu_percent(None)  # the first call only sets the reference point
        tree: list[psutil.Process] = []
        listed = 0.0
        while not self.stop_event.wait(CPU_INTERVAL_S):
            now = time.time()
            # Listing a tree reads every process of the host (~2 ms of CPU): at every sample
            # while the generators start, then every TREE_EVERY_S, not twice a second
            if now < self.measure_from or now - listed >= TREE_EVERY_S:
                try:
                    tree = [self.root, *self.root.children(recursive=True)]
                except psutil.Error:
                    return
                listed = now
            readings: dict[int, float] = {}
            for proc in tree:
                known = self.procs.setdefault(proc.pid, proc)
                try:
                    readings[proc.pid] = known.cpu_percent(None)
                except psutil.Error:
                    continue
            host = psutil.cpu_percent(None)
            # start-up (imports) and shut-down (report writing) are not the load phase
            if self.measure_from <= now <= self.measure_until:
                for pid, value in readings.items():
                    self.values.setdefault(pid, []).append(value)
                self.host.append(host)

    def report(self) -> CpuReport:
        """Mean CPU per process and of the host over the measured window."""
        per = {pid: sum(vs) / len(vs) for pid, vs in self.values.items() if vs}
        host = sum(self.host) / len(self.host) if self.host else 0.0
        return CpuReport(per_process=per, host_mean=host, samples=len(self.host), limit=self.limit)


EXPECT_WORKERS_WAIT_S = 60.0  # a master waits this long for its workers to connect


def worker_command(settings: Settings, settings_file: Path) -> list[str]:
    """The locust command line of a worker: it takes the rest from its master."""
    assert settings.master_host is not None
    return [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(settings.locustfile or LOCUSTFILE),
        "--worker",
        "--master-host",
        settings.master_host,
        "--master-port",
        str(settings.master_port),
        "--loglevel",
        "WARNING",
        "--anp-settings",
        str(settings_file),
    ]


def command(settings: Settings, settings_file: Path) -> list[str]:
    """The locust command line of a run; the locustfile's own settings are in `settings_file`."""
    if settings.worker:
        return worker_command(settings, settings_file)
    assert settings.target is not None
    # the open model needs every user at once: a slow ramp would make the first slots late
    spawn_rate = (
        max(settings.spawn_rate, settings.users) if settings.arrival_rate else settings.spawn_rate
    )
    out = settings.out
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(settings.locustfile or LOCUSTFILE),
        "--headless",
        "--host",
        settings.target.rstrip("/"),
        "-u",
        str(settings.users),
        "-r",
        f"{spawn_rate:g}",
        "-t",
        f"{max(int(round(settings.duration)), 1)}s",
        "--stop-timeout",
        f"{STOP_TIMEOUT_S:g}",
        "--csv",
        str(out / "locust"),
        "--html",
        str(out / "report.html"),
        "--json-file",
        str(out / "locust"),
        # a failed request must not decide the exit code: thresholds do (max_failure_ratio)
        "--exit-code-on-error",
        "0",
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--anp-settings",
        str(settings_file),
    ]
    if settings.processes > 1:
        # the master and its forked workers talk on loopback, on the run's own port
        # (run_locust picks a free one): two local runs at once do not collide on 5557
        port = str(settings.master_port)
        cmd += ["--processes", str(settings.processes), "--master-bind-host", LOOPBACK]
        cmd += ["--master-bind-port", port, "--master-host", LOOPBACK, "--master-port", port]
    if settings.master:
        cmd += [
            "--master",
            "--expect-workers",
            str(settings.expect_workers),
            "--expect-workers-max-wait",
            f"{EXPECT_WORKERS_WAIT_S:g}",
            "--master-bind-port",
            str(settings.master_port),
        ]
    return cmd


def environment() -> dict[str, str]:
    """The child's environment, without ANP_LOADTEST_* variables (the settings file rules)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANP_LOADTEST_")}
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


# What a run leaves in --out that an interrupted next run must not read as its own
EARLIER_RUN = (
    "samples-*.tsv",
    "channel.json",
    "worker-*.json",
    "progress.json",
    "locust.json",
    "locust_stats.csv",
)


def clear_samples(out: Path) -> None:
    """Remove samples, the channel's tally and Locust's counts of an earlier run in `out`."""
    for pattern in EARLIER_RUN:
        for old in out.glob(pattern):
            old.unlink()


def run_locust(settings: Settings, progress: TextIO | None = None) -> LocustResult:
    """Start Locust on `settings` (its manifest prepared), sample CPU, wait within a deadline.

    With `progress`, a live progress line goes there while the run lasts.
    """
    out = settings.out
    out.mkdir(parents=True, exist_ok=True)
    clear_samples(out)
    if settings.processes > 1:
        settings = replace(settings, master_port=free_port())
    settings_file = settings.write(out / SETTINGS_FILE)
    log = out / "locust.log"
    started = time.time()
    # Locust starts users after its imports (~1-2 s); skip that and the final report writing
    warmup = min(3.0, settings.duration / 4)
    with log.open("wb") as log_fh:
        proc = subprocess.Popen(
            command(settings, settings_file),
            env=environment(),
            stdout=log_fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            # anp-synth killed outright (SIGKILL, OOM): Locust gets SIGTERM, stops its workers
            preexec_fn=die_with_parent(signal.SIGTERM),
        )
        monitor = CpuMonitor(
            proc.pid, started + warmup, started + warmup + settings.duration, settings.cpu_limit
        )
        monitor.start()
        live = None
        if progress is not None and not settings.worker:
            live = ProgressLine(out, settings.duration, progress)
            live.start()
        deadline = settings.duration + STOP_TIMEOUT_S + 60.0
        if settings.master or settings.worker:
            deadline += EXPECT_WORKERS_WAIT_S  # the workers connect, or wait for the master
        try:
            returncode = proc.wait(timeout=deadline)
        except subprocess.TimeoutExpired:
            stop_group(proc)
            raise AnpError(
                f"locust did not finish within {deadline:.0f} s; stopped it (log: {log})"
            ) from None
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (the CLI turns it into this)
            interrupt(proc)
            raise
        except BaseException:
            stop_group(proc)
            raise
        finally:
            if live is not None:
                live.stop()
            monitor.stop_event.set()
            monitor.join(timeout=5)
    elapsed = time.time() - started
    return LocustResult(
        returncode=returncode,
        cpu=monitor.report(),
        html=out / "report.html",
        csv_prefix=out / "locust",
        json=out / "locust.json",
        log=log,
        started=started,
        elapsed_s=elapsed,
    )


def interrupt(proc: subprocess.Popen[bytes]) -> None:
    """Stop a run early and keep what it recorded, within INTERRUPT_GRACE_S.

    Only Locust's master (the child) is signalled first: its own SIGTERM handling stops the
    users, takes every worker's last samples over the channel and writes the samples, the
    channel's tally and Locust's reports. Signalling the whole group at once would stop the
    workers before their last message (their samples lost) and a SIGKILL within the stop
    timeout would lose the samples a single process holds in memory. Whatever is left after
    the grace (or at a second Ctrl-C) is stopped as a group.
    """
    tree = process_tree(proc.pid)
    try:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=INTERRUPT_GRACE_S)
    except (ProcessLookupError, subprocess.TimeoutExpired, KeyboardInterrupt):
        pass  # gone already; or too slow, or asked twice: stop the group now
    finally:
        stop_group(proc, tree)


def stop_group(proc: subprocess.Popen[bytes], tree: list[psutil.Process] | None = None) -> None:
    """Stop the child and the workers it forked (its own session), by the child's pid.

    `tree` is the child's process tree taken before it was signalled: workers that
    outlive the master (reparented) are still in its group and waited for, by pid.
    (anp_synth.processes.stop_group, for a server whose leader answers for its group,
    returns once the leader is gone; a Locust master may go before its workers.)
    """
    procs = tree if tree is not None else process_tree(proc.pid)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break  # nobody left in the group
        try:
            proc.wait(timeout=GROUP_STOP_S)
        except subprocess.TimeoutExpired:
            continue
        _, alive = psutil.wait_procs(procs, timeout=GROUP_STOP_S)
        if not alive:
            break
    proc.poll()


def process_tree(pid: int) -> list[psutil.Process]:
    """A process and its descendants (empty when it is gone)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def locust_count(result: LocustResult) -> tuple[int, bool] | None:
    """The requests Locust itself counted, and whether that is its final count.

    Final: from its JSON report, written when it shut down. Otherwise the last of
    the CSV stats it rewrites every second while running (a lower bound: it was
    stopped before its shutdown). None when it wrote neither.
    """
    try:
        entries = orjson.loads(result.json.read_bytes())
        return sum(int(e["num_requests"]) for e in entries), True
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        pass
    try:
        with open(f"{result.csv_prefix}_stats.csv", encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                if row.get("Name") == "Aggregated":
                    return int(row["Request Count"]), False
    except (OSError, KeyError, ValueError):
        pass
    return None


def log_excerpt(path: Path) -> str:
    """The Locust log's last line, for a one-line error message (the log has the rest)."""
    lines = [line for line in log_tail(path, 50).splitlines() if line.strip()]
    return excerpt(lines[-1]) if lines else "(the log is empty)"


def log_tail(path: Path, lines: int = 15) -> str:
    """The last lines of the Locust log, for an error message."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])
