"""Fault tests against the real reference site on 127.0.0.1: kill -9, injected faults,
a lost ledger, and rollback of an update run. The importer runs as a subprocess (the CLI),
exactly as a user runs it.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from anp_synth.errors import AnpError
from anp_synth.generate.builder import build_post
from anp_synth.importer.ledger import Action, ItemState, Ledger, RunState
from anp_synth.jsonl import content_hash, dumps_line
from anp_synth.sinks.anp import AnpSink
from anp_synth.sinks.base import iter_all
from anp_synth.site.launcher import SiteProcess
from tests.importer.faultproxy import KINDS, FaultProxy
from tests.importer.posts import edited

pytestmark = pytest.mark.slow

COUNT = 5000
FIRST_SEED = 200_000
RUN_DEADLINE = 180.0  # seconds for any one import subprocess


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """5,000 generated posts as JSONL, and their expected hashes."""
    path = tmp_path_factory.mktemp("faults") / "posts.jsonl"
    expected: dict[str, str] = {}
    with path.open("wb") as fh:
        for seed in range(FIRST_SEED, FIRST_SEED + COUNT):
            p = build_post(seed)
            expected[p["source_id"]] = content_hash(p)
            fh.write(dumps_line(p))
    return path, expected


def confirmed(ledger: Path) -> int:
    """Confirmed items in the ledger, read while the importer runs (WAL allows it)."""
    if not ledger.exists():
        return 0
    try:
        with Ledger.open_readonly(ledger) as led:
            return led.item_states().get(ItemState.CONFIRMED, 0)
    except (AnpError, sqlite3.OperationalError):  # not created yet, or busy: no progress yet
        return 0


def created_in(ledger: Path) -> int:
    """How many posts the runs in the ledger created (lost answers included)."""
    with Ledger.open_readonly(ledger) as led:
        return sum(led.change_counts(r.id).get(Action.CREATED, 0) for r in led.runs(limit=None))


def progress_kill(ledger: Path, threshold: int) -> Callable[[float], bool]:
    """Kill once the ledger passes `threshold` confirmed items AND this run confirmed some:
    the kill then lands mid-import, not in the start-up of a run already past the mark."""
    floor = max(threshold, confirmed(ledger) + 1)
    return lambda _t: confirmed(ledger) >= floor


def cli(
    *args: str,
    token: str,
    kill_when: Callable[[float], bool] | None = None,
    stdin: bytes | None = None,
) -> tuple[int, bool]:
    """Run `anp-synth ARGS`; SIGKILL it as soon as kill_when(elapsed) is true. → (code, killed)."""
    env = {**os.environ, "ANP_TARGET_TOKEN": token}
    proc = subprocess.Popen(
        [sys.executable, "-m", "anp_synth", *args],
        env=env,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    if stdin is not None:
        assert proc.stdin is not None
        proc.stdin.write(stdin)
        proc.stdin.close()
    started = time.monotonic()
    try:
        while proc.poll() is None:
            elapsed = time.monotonic() - started
            if elapsed > RUN_DEADLINE:
                raise AssertionError(f"anp-synth {' '.join(args)} ran past {RUN_DEADLINE}s")
            if kill_when is not None and kill_when(elapsed):
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)
                return proc.returncode, True
            time.sleep(0.01)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode not in (0, 3):
        raise AssertionError(f"anp-synth {' '.join(args)} exited {proc.returncode}: {err}")
    return proc.returncode, False


def target_state(url: str, token: str) -> list[tuple[str, str]]:
    """(source_id, hash) of every post on the site, through the keyset listing."""
    sink = AnpSink(url, token)
    try:
        return [(r.source_id, r.hash) for r in iter_all(sink, page_size=1000)]
    finally:
        sink.close()


def health_count(url: str) -> int:
    return int(httpx.get(f"{url}/health", timeout=5).json()["posts"])


def assert_exactly(site: SiteProcess, expected: dict[str, str]) -> None:
    state = target_state(site.url, site.token)
    ids = [sid for sid, _ in state]
    assert len(ids) == len(set(ids)), "a post is on the site twice"
    assert dict(state) == expected
    assert health_count(site.url) == len(expected)


def import_args(path: Path, url: str, ledger: Path, *extra: str) -> list[str]:
    return ["import", str(path), "--target", url, "--ledger", str(ledger), "-q", *extra]


def test_kill_9_at_ten_random_points_then_resume_and_roll_back(tmp_path, site, dataset) -> None:
    path, expected = dataset
    ledger = tmp_path / "ledger.sqlite"
    small = ("--batch-size", "100")  # more batches, so more distinct points to die at
    rng = random.Random(4)
    kills = 0
    # Two kills by time (start-up, planning) and ten by progress (mid-import, increasing).
    for delay in sorted(rng.uniform(0.05, 0.6) for _ in range(2)):
        _, killed = cli(
            *import_args(path, site.url, ledger, *small),
            token=site.token,
            kill_when=lambda t, d=delay: t >= d,
        )
        kills += killed
    for threshold in sorted(rng.sample(range(50, COUNT - 1000), 10)):
        _, killed = cli(
            *import_args(path, site.url, ledger, *small),
            token=site.token,
            kill_when=progress_kill(ledger, threshold),
        )
        kills += killed
    assert kills >= 10
    code, killed = cli(*import_args(path, site.url, ledger, *small), token=site.token)
    assert (code, killed) == (0, False)
    assert_exactly(site, expected)
    with Ledger.open_readonly(ledger) as led:
        runs = led.runs(limit=None)
    assert len(runs) == 1, "every rerun resumed the same run"
    assert runs[0].state == RunState.COMPLETED and runs[0].resumed >= 10
    final = runs[0].counts
    assert (final["created"], final["unchanged"], final["read"]) == (COUNT, 0, COUNT)
    # A rerun now changes nothing, and rollback (of run 1, not of the no-op) empties the site.
    assert cli(*import_args(path, site.url, ledger, *small), token=site.token) == (0, False)
    assert cli("rollback", "--ledger", str(ledger), "--yes", token=site.token) == (0, False)
    assert target_state(site.url, site.token) == [] and health_count(site.url) == 0


def test_twenty_percent_injected_faults_and_kills_lose_and_duplicate_nothing(
    tmp_path, site, dataset
) -> None:
    path, expected = dataset
    ledger = tmp_path / "ledger.sqlite"
    rng = random.Random(7)
    with FaultProxy(site.port or 0, rate=0.2, seed=11, slow=1.5) as proxy:
        args = import_args(path, proxy.url, ledger, "--timeout", "1", "--batch-size", "100")
        for threshold in sorted(rng.sample(range(200, COUNT - 500), 3)):
            cli(*args, token=site.token, kill_when=progress_kill(ledger, threshold))
        code, killed = cli(*args, token=site.token)
        assert (code, killed) == (0, False)
        faults = {k: proxy.counts[k] for k in KINDS}
        total = sum(proxy.counts.values())
        assert all(n > 0 for n in faults.values()), faults
        assert 0.1 < sum(faults.values()) / total < 0.3, (faults, total)
        assert_exactly(site, expected)
        # Everything the run wrote it knows it wrote, lost answers included: rollback
        # (through the proxy, faults off to keep the test short) empties the site.
        assert created_in(ledger) == COUNT
        proxy.enabled = False
        assert cli("rollback", "--ledger", str(ledger), "--yes", token=site.token) == (0, False)
    assert target_state(site.url, site.token) == []


def test_a_deleted_ledger_between_runs_creates_no_duplicates(tmp_path, site, dataset) -> None:
    path, expected = dataset
    ledger = tmp_path / "ledger.sqlite"
    rng = random.Random(9)
    for threshold in sorted(rng.sample(range(100, COUNT - 500), 3)):
        # Each run starts from an empty ledger, so progress counts from zero again.
        cli(
            *import_args(path, site.url, ledger),
            token=site.token,
            kill_when=progress_kill(ledger, threshold),
        )
        for suffix in ("", "-wal", "-shm"):
            Path(f"{ledger}{suffix}").unlink(missing_ok=True)
    assert cli(*import_args(path, site.url, ledger), token=site.token) == (0, False)
    assert_exactly(site, expected)


def test_rollback_of_an_update_run_restores_the_site_exactly(tmp_path, site) -> None:
    ledger = tmp_path / "ledger.sqlite"
    base = [build_post(s) for s in range(300_000, 301_000)]
    first = tmp_path / "first.jsonl"
    first.write_bytes(b"".join(dumps_line(p) for p in base))
    assert cli(*import_args(first, site.url, ledger), token=site.token) == (0, False)
    sink = AnpSink(site.url, site.token)
    before_list = [(r.source_id, r.hash, r.url, r.remote_id) for r in iter_all(sink)]
    before_posts = {p["source_id"]: sink.get(p["source_id"]) for p in base[:50]}
    second = tmp_path / "second.jsonl"
    rows = [edited(s, f"changed {s}") for s in range(300_000, 300_050)]
    rows += base[50:] + [build_post(s) for s in range(301_000, 301_100)]
    second.write_bytes(b"".join(dumps_line(p) for p in rows))
    assert cli(*import_args(second, site.url, ledger), token=site.token) == (0, False)
    with Ledger.open_readonly(ledger) as led:
        actions = led.change_counts(2)
    assert actions == {Action.UPDATED: 50, Action.CREATED: 100}
    assert cli("rollback", "--ledger", str(ledger), "--yes", token=site.token) == (0, False)
    after_list = [(r.source_id, r.hash, r.url, r.remote_id) for r in iter_all(sink)]
    assert after_list == before_list
    for sid, was in before_posts.items():
        now = sink.get(sid)
        assert was is not None and now is not None and now.post == was.post
    sink.close()
