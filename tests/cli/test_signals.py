"""Rule 2: SIGTERM is Ctrl-C for every command; an import stopped so is recorded `interrupted`
and a rerun of the same file resumes that run."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from anp_synth.importer.ledger import Ledger, RunState
from anp_synth.jsonl import dumps_line
from anp_synth.site.launcher import SiteProcess
from tests.importer.posts import post

WAIT_S = 30.0  # the most any step below may take (a hang guard)


def _run_state(ledger: Path) -> str | None:
    if not ledger.exists():
        return None
    try:
        with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True) as db:
            row = db.execute("SELECT state FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    except sqlite3.OperationalError:  # not created yet
        return None
    return row[0] if row else None


@pytest.fixture
def site(tmp_path: Path):
    s = SiteProcess(tmp_path / "site" / "site.db")
    s.start()
    yield s
    s.stop()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_stops_an_import_like_ctrl_c_and_records_it_interrupted(
    tmp_path: Path, site: SiteProcess, sig: signal.Signals
) -> None:
    ledger = tmp_path / "ledger.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-m", "anp_synth", "import", "-", "--target", site.url,
         "--ledger", str(ledger), "-q", "--batch-size", "1"],
        env={**os.environ, "ANP_TARGET_TOKEN": site.token},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdin is not None
        proc.stdin.write(dumps_line(post(490_001)))
        proc.stdin.flush()  # the pipe stays open: the import waits for more lines
        deadline = time.monotonic() + WAIT_S
        while _run_state(ledger) != RunState.RUNNING and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _run_state(ledger) == RunState.RUNNING
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=WAIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert err.decode().strip().splitlines()[-1] == "interrupted"
    assert b"Traceback" not in err
    assert _run_state(ledger) == RunState.INTERRUPTED


def test_an_interrupted_run_is_resumed_by_a_rerun_of_its_file(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.sqlite") as led:
        run = led.begin_run("posts.jsonl", "memory://t", "memory", {})
        led.finish_run(run.id, RunState.INTERRUPTED, {})
        again = led.begin_run("posts.jsonl", "memory://t", "memory", {})
        assert again.id == run.id and again.resumed == 1
        other = led.begin_run("other.jsonl", "memory://t", "memory", {})
        assert other.id != run.id


# Rule 2: a reader that goes away (`| head`) ends every command quietly, exit 141.
BROKEN_PIPE = 141


@pytest.fixture(scope="module")
def small_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pipe")
    posts = root / "posts.jsonl"
    posts.write_bytes(b"".join(dumps_line(post(480_000 + i)) for i in range(30)))
    ledger = root / "l.sqlite"
    subprocess.run(
        [sys.executable, "-m", "anp_synth", "import", str(posts), "--sink", "memory",
         "--target", "memory://pipe", "--ledger", str(ledger), "-q"],
        check=True,
        timeout=WAIT_S,
    )  # fmt: skip
    return ledger


def _with_closed_stdout(*args: str) -> subprocess.CompletedProcess[bytes]:
    """Run with stdout a pipe whose reader is already gone: every write fails with EPIPE."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [sys.executable, "-m", "anp_synth", *args],
            stdout=write,
            stderr=subprocess.PIPE,
            timeout=WAIT_S,
        )
    finally:
        os.close(write)


@pytest.mark.parametrize(
    "args",
    [
        ["generate", "--count", "50", "-o", "-", "-q"],
        ["generate", "--count", "50", "-o", "-", "-q", "--workers", "2"],
        ["show", "2852"],
        ["show", "2852", "--json"],
        ["schema"],
        ["--help"],
        ["import", "--help"],
        ["profile", "show", "standard"],
        ["varnish", "vcl"],
        ["status"],
        ["status", "--run", "1"],
        ["rollback", "--dry-run"],
    ],
)
def test_a_closed_stdout_ends_every_command_quietly(small_ledger: Path, args: list[str]) -> None:
    if args[0] in ("status", "rollback"):
        args = [*args, "--ledger", str(small_ledger)]
    result = _with_closed_stdout(*args)
    assert result.returncode == BROKEN_PIPE, result.stderr
    assert result.stderr == b""  # no traceback, no "Exception ignored in: <stdout>"


def test_generate_piped_into_head_exits_quietly(tmp_path: Path) -> None:
    """The real thing: `generate -o - | head -1` in a shell, the first post on the screen."""
    script = (
        f"set -o pipefail; {sys.executable} -m anp_synth generate --count 3000 -o - -q "
        '| head -1; echo "status ${PIPESTATUS[0]}" >&2'
    )
    result = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=WAIT_S, cwd=tmp_path
    )
    assert result.stdout.startswith('{"source_id":"alphanode-002852"')
    assert result.stdout.count("\n") == 1
    assert result.stderr == f"status {BROKEN_PIPE}\n"
