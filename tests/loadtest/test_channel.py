"""Exact figures from any number of workers: the sample channel over Locust's messaging.

The same latencies (tests/loadtest/synthetic_locustfile.py) go through one
process and through three Locust workers (`--processes 3`): every figure of the
summary and the saved baseline must be identical, and the master's tally must
account for every sample. A worker that dies mid-run is reported.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import psutil
import pytest
from junitparser import JUnitXml

from tests.loadtest.procs import group_running, running, wait_for_requests
from tests.loadtest.synthetic_samples import COUNT, SAMPLES
from tests.localhttp import serving

LOCUSTFILE = Path(__file__).with_name("synthetic_locustfile.py")
CLI = [sys.executable, "-m", "anp_synth", "loadtest"]
FIGURES = ("requests", "failures", "p50_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms", "cache")


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def target() -> Iterator[str]:
    """Something that answers at the target (the synthetic locustfile requests nothing)."""
    with serving(_Ok) as url:
        yield url


@contextlib.contextmanager
def _holding(port: int) -> Iterator[None]:
    """Keep 127.0.0.1:`port` bound meanwhile (when something else holds it, so much the same)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        with contextlib.suppress(OSError):
            sock.bind(("127.0.0.1", port))
            sock.listen()
        yield


def run(
    target: str, out: Path, processes: int, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    out.mkdir(parents=True, exist_ok=True)
    manifest = out.parent / f"{out.name}-targets.json"
    thresholds = out.parent / f"{out.name}-thresholds.toml"
    thresholds.write_text("[global]\nmax_failure_ratio = 0.5\n")
    manifest.write_text(
        json.dumps({"format": "anp-synth-targets/1", "posts": [{"url": "/", "view_count": 1}]})
    )
    return subprocess.run(
        [
            *CLI,
            "--target",
            target,
            "--manifest",
            str(manifest),
            "--locustfile",
            str(LOCUSTFILE),
            "--users",
            str(processes),
            "--spawn-rate",
            str(processes),
            "--processes",
            str(processes),
            "--duration",
            "8s",
            "--cpu-limit",
            "100",
            "--out",
            str(out),
            "--thresholds",
            str(thresholds),
            "--save-baseline",
            str(out / "baseline.json"),
            "--junit",
            str(out / "junit.xml"),
            "--markdown",
            str(out / "comment.md"),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **(env or {})},
    )


def figures(out: Path) -> dict[str, dict[str, object]]:
    doc = json.loads((out / "summary.json").read_text())
    rows = [*doc["routes"], doc["aggregate"]]
    return {row["route"]: {k: row[k] for k in FIGURES} for row in rows}


@pytest.fixture(scope="module")
def single(target: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("one") / "out"
    result = run(target, out, 1)
    assert result.returncode == 0, result.stdout + result.stderr
    # the live progress line (not a terminal: one line every 5 s of the 8 s run)
    assert " requests · " in result.stderr and "s left)" in result.stderr, result.stderr
    return out


def test_one_process_records_every_sample(single: Path) -> None:
    doc = json.loads((single / "summary.json").read_text())
    assert doc["aggregate"]["requests"] == COUNT
    assert doc["aggregate"]["failures"] == sum(1 for s in SAMPLES if not s[2])
    assert doc["workers"] is None  # no master, no channel


def test_three_workers_give_the_figures_of_one_process(
    target: str, single: Path, tmp_path: Path
) -> None:
    out = tmp_path / "three"
    with _holding(5557):  # Locust's default port, as another local run's master would hold it
        result = run(target, out, 3)
    assert result.returncode == 0, result.stdout + result.stderr
    assert figures(out) == figures(single)
    one = json.loads((single / "baseline.json").read_text())["routes"]
    three = json.loads((out / "baseline.json").read_text())["routes"]
    assert three == one
    # the master wrote them, from three workers' messages, sent while the run went on
    tally = json.loads((out / "channel.json").read_text())
    assert len(tally["workers"]) == 3
    assert tally["samples"] == COUNT
    for worker in tally["workers"]:
        assert worker["final"] and worker["complete"] and worker["gaps"] == 0
        assert worker["messages"] >= 3, worker  # during the run, not only at its end
        assert worker["sent"] == worker["samples"] == len(range(worker["index"], COUNT, 3))
    doc = json.loads((out / "summary.json").read_text())
    assert doc["workers"]["lost"] == 0 and doc["passed"]
    assert "3 worker(s) sent 6,000 exact samples" in result.stdout
    # the CI outputs of the same run: every testcase passed, the workers' one included
    xml = JUnitXml.fromfile(str(out / "junit.xml"))
    names = [case.name for suite in xml for case in suite if not case.result]
    assert "Aggregated max_failure_ratio <= 0.5" in names
    assert "every worker reported to the end" in names
    assert sum(suite.failures for suite in xml) == 0
    comment = (out / "comment.md").read_text()
    assert comment.startswith("### Load test: ✅ passed")
    assert f"Report: [{out / 'anp-report.html'}]" in comment
    assert "Load test passed" in (out / "anp-report.html").read_text()


def test_a_worker_that_dies_is_reported_and_its_sent_samples_counted(
    target: str, tmp_path: Path
) -> None:
    out = tmp_path / "dies"
    die_after = 800
    result = run(target, out, 2, {"ANP_TEST_DIE_AFTER": str(die_after)})
    assert result.returncode == 3, result.stdout + result.stderr
    assert "1 worker(s) lost before the end" in result.stderr + result.stdout
    doc = json.loads((out / "summary.json").read_text())
    assert not doc["passed"] and doc["workers"]["lost"] == 1
    lost = [w for w in doc["workers"]["each"] if w["lost"]]
    assert [w["index"] for w in lost] == [1]
    assert lost[0]["samples"] == die_after  # everything it sent before it died
    survivor = len(range(0, COUNT, 2))
    assert doc["aggregate"]["requests"] == survivor + die_after
    assert any("worker 1" in note and "800 samples" in note for note in doc["notes"])
    xml = JUnitXml.fromfile(str(out / "junit.xml"))
    failed = [case.name for suite in xml for case in suite if case.result]
    assert failed == ["every worker reported to the end"]


@pytest.mark.parametrize(
    ("sig", "processes"),
    [(signal.SIGINT, 1), (signal.SIGTERM, 1), (signal.SIGTERM, 2)],
    ids=["ctrl-c", "sigterm", "sigterm-2-workers"],
)
def test_an_interrupted_run_keeps_its_partial_report_with_every_request_made(
    target: str, tmp_path: Path, sig: signal.Signals, processes: int
) -> None:
    """Interrupted mid-replay: exit 130, the partial report counts every request made, no
    Locust process is left. The replay pauses 2 s per 400 samples (14 s or more per
    process, well over Locust's 5 s stop timeout), so the interruption comes in its middle
    and Locust stops it before the end: fewer than all samples, as many as Locust counted."""
    out = tmp_path / "cut"
    out.mkdir()
    manifest = tmp_path / "targets.json"
    manifest.write_text(json.dumps({"format": "anp-synth-targets/1", "posts": [{"url": "/"}]}))
    proc = subprocess.Popen(
        [*CLI, "--target", target, "--manifest", str(manifest), "--locustfile", str(LOCUSTFILE),
         "--users", str(processes), "--spawn-rate", str(processes), "--processes", str(processes),
         "--duration", "2m", "--cpu-limit", "100", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "ANP_TEST_PAUSE_S": "2.0"},
    )  # fmt: skip
    locust: list[psutil.Process] = []
    try:
        # once Locust's progress shows the replay going (or 60 s at most): interrupt
        seen, locust = wait_for_requests(proc, out, processes)
        assert 0 < seen < COUNT, seen  # mid-replay
        groups = {os.getpgid(p.pid) for p in locust}
        assert os.getpgid(proc.pid) not in groups  # Locust runs in a group of its own
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "interrupted", err
    assert "Traceback" not in err
    assert [p.pid for p in locust if running(p.pid)] == []
    assert [g for g in groups if group_running(g)] == []
    doc = json.loads((out / "summary.json").read_text())
    assert doc["interrupted"] and not doc["passed"]
    # every request made up to the interruption, none lost: as many as Locust itself counted
    requests = doc["aggregate"]["requests"]
    assert seen <= requests < COUNT
    assert doc["uncounted_requests"] == 0
    if processes == 1:
        locust_json = json.loads((out / "locust.json").read_text())
        assert sum(e["num_requests"] for e in locust_json) == requests
        assert doc["workers"] is None
    else:
        tally = doc["workers"]
        assert tally["lost"] == 0 and len(tally["each"]) == processes
        assert sum(w["sent"] for w in tally["each"]) == requests
        assert all(w["final"] and w["sent"] == w["samples"] for w in tally["each"])
    assert doc["notes"] == ["interrupted: these figures cover the run up to the interruption only"]
    assert "Load test interrupted" in (out / "anp-report.html").read_text()


def test_plain_locust_master_and_workers_use_the_channel_too(tmp_path: Path) -> None:
    """`locust -f … --master` with --anp-data/--anp-out, workers with no data and no --anp-*."""
    from anp_synth.site.launcher import free_port

    out = tmp_path / "master"
    out.mkdir()
    manifest = tmp_path / "targets.json"
    manifest.write_text(json.dumps({"format": "anp-synth-targets/1", "posts": [{"url": "/"}]}))
    port = str(free_port())
    locust = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--loglevel", "WARNING"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANP_LOADTEST_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])  # the replay's samples module
    workers = [
        subprocess.Popen(
            [*locust, "--worker", "--master-port", port],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(2)
    ]
    try:
        master = subprocess.run(
            [*locust, "--master", "--headless", "--expect-workers", "2", "--master-bind-port",
             port, "--expect-workers-max-wait", "60", "--exit-code-on-error", "0", "-u", "2", "-r", "2", "-t", "8s", "--host", "http://127.0.0.1:9",
             "--anp-data", str(manifest), "--anp-out", str(out), "--csv", str(out / "locust")],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )  # fmt: skip
        for worker in workers:
            worker.wait(timeout=30)
    finally:
        for worker in workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
    assert master.returncode == 0, master.stderr
    tally = json.loads((out / "channel.json").read_text())
    assert tally["samples"] == COUNT and len(tally["workers"]) == 2
    assert all(w["final"] and w["sent"] == w["samples"] for w in tally["workers"])
    lines = sum(1 for f in out.glob("samples-w*.tsv") for _ in f.open(encoding="utf-8"))
    assert lines == COUNT
    assert not list(tmp_path.glob("samples-*.tsv"))  # the workers wrote nothing of their own
    with (out / "locust_stats.csv").open() as fh:
        rows = {r["Name"]: int(r["Request Count"]) for r in csv.DictReader(fh)}
    assert rows["Aggregated"] == COUNT  # Locust's own final statistics arrived as well
