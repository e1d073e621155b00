"""Run Locust headless in a subprocess and watch the load generator's CPU meanwhile.

The parent never imports locust: importing it monkey-patches the whole process
with gevent. The child is started in its own session so that a run that
overstays its deadline is stopped as a group, by the child's pid.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from anp_synth.errors import AnpError

LOCUSTFILE = Path(__file__).resolve().parent / "locustfiles" / "locustfile.py"
SATURATION_PCT = 90.0
CPU_INTERVAL_S = 0.5


@dataclass
class LocustRun:
    """What the runner needs to start one Locust run."""

    target: str
    manifest: Path
    out: Path
    users: int = 10
    spawn_rate: float = 10.0
    duration_s: float = 60.0
    processes: int = 1
    arrival_rate: float = 0.0
    weights: str | None = None
    accounts: Path | None = None
    think: str | None = None
    locustfile: Path = LOCUSTFILE
    extra_args: list[str] = field(default_factory=list)
    stop_timeout_s: float = 5.0
    cpu_limit: float = SATURATION_PCT


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
        while not self.stop_event.wait(CPU_INTERVAL_S):
            now = time.time()
            try:
                tree = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                return
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


def command(run: LocustRun) -> list[str]:
    """The locust command line for a run (no secrets: those go through files)."""
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(run.locustfile),
        "--headless",
        "--host",
        run.target,
        "-u",
        str(run.users),
        "-r",
        f"{run.spawn_rate:g}",
        "-t",
        f"{max(int(round(run.duration_s)), 1)}s",
        "--stop-timeout",
        f"{run.stop_timeout_s:g}",
        "--csv",
        str(run.out / "locust"),
        "--html",
        str(run.out / "report.html"),
        "--json-file",
        str(run.out / "locust"),
        # a failed request must not decide the exit code: thresholds do (max_failure_ratio)
        "--exit-code-on-error",
        "0",
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    if run.processes > 1:
        cmd += ["--processes", str(run.processes)]
    return cmd + run.extra_args


def environment(run: LocustRun) -> dict[str, str]:
    """The child's environment: the locustfile's options travel as ANP_LOADTEST_* variables."""
    env = dict(os.environ)
    env["ANP_LOADTEST_DATA"] = str(run.manifest)
    env["ANP_LOADTEST_OUT"] = str(run.out)
    if run.weights is not None:
        env["ANP_LOADTEST_WEIGHTS"] = run.weights
    if run.accounts is not None:
        env["ANP_LOADTEST_ACCOUNTS"] = str(run.accounts)
    else:
        env.pop("ANP_LOADTEST_ACCOUNTS", None)
    if run.think is not None:
        env["ANP_LOADTEST_THINK"] = run.think
    # each worker process paces its own share of the open-model rate
    per_process = run.arrival_rate / max(run.processes, 1)
    env["ANP_LOADTEST_ARRIVAL_RATE"] = f"{per_process:.6f}" if run.arrival_rate > 0 else "0"
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def clear_samples(out: Path) -> None:
    """Remove samples of an earlier run in the same directory (they would be merged)."""
    for old in out.glob("samples-*.tsv"):
        old.unlink()


def run_locust(run: LocustRun) -> LocustResult:
    """Start Locust, sample CPU, wait for it within a deadline, return how it ended."""
    run.out.mkdir(parents=True, exist_ok=True)
    clear_samples(run.out)
    log = run.out / "locust.log"
    started = time.time()
    # Locust starts users after its imports (~1-2 s); skip that and the final report writing
    warmup = min(3.0, run.duration_s / 4)
    with log.open("wb") as log_fh:
        proc = subprocess.Popen(
            command(run),
            env=environment(run),
            stdout=log_fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        monitor = CpuMonitor(
            proc.pid, started + warmup, started + warmup + run.duration_s, run.cpu_limit
        )
        monitor.start()
        deadline = run.duration_s + run.stop_timeout_s + 60.0
        try:
            returncode = proc.wait(timeout=deadline)
        except subprocess.TimeoutExpired:
            _stop_group(proc)
            raise AnpError(
                f"locust did not finish within {deadline:.0f} s; stopped it (log: {log})"
            ) from None
        except BaseException:
            _stop_group(proc)
            raise
        finally:
            monitor.stop_event.set()
            monitor.join(timeout=5)
    elapsed = time.time() - started
    return LocustResult(
        returncode=returncode,
        cpu=monitor.report(),
        html=run.out / "report.html",
        csv_prefix=run.out / "locust",
        json=run.out / "locust.json",
        log=log,
        started=started,
        elapsed_s=elapsed,
    )


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop the child and the workers it forked (its own session), by the child's pid."""
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def log_tail(path: Path, lines: int = 15) -> str:
    """The last lines of the Locust log, for an error message."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])
