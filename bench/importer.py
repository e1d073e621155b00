"""Benchmark the importer against the reference site, with baselines measured in the same run.

Goals (issue 4):
  1. 20,000 posts into the reference site with default settings: >= 3,000 posts/s.
     Baseline: the same posts sent by a bare client (pre-encoded bulk bodies, no
     validation, no ledger) to a fresh site: the site's own ceiling.
  2. Rerun of a completed 100,000-post import (all unchanged): >= 50,000 posts/s
     through the ledger skip path, with flat memory (RSS sampled every 50 ms).
     Baseline: reading the same file line by line and doing nothing else.

Pinning: the site runs on core 0, this process (the importer) on core 1, so neither
steals the other's core. CPU seconds of both sides and the time spent in SQLite are
printed, and the limit is named from them.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil

from anp_synth.generate.builder import PostBuilder
from anp_synth.importer.ledger import Ledger
from anp_synth.importer.run import Importer, Options
from anp_synth.jsonl import dumps_line, iter_lines
from anp_synth.sinks.anp import AnpSink
from anp_synth.site.launcher import SiteProcess

IMPORT_POSTS = int(os.environ.get("ANP_BENCH_IMPORT_POSTS", "20000"))
RERUN_POSTS = int(os.environ.get("ANP_BENCH_RERUN_POSTS", "100000"))
FIRST_SEED = 100_000
GOAL_IMPORT = 3000.0
GOAL_SKIP = 50_000.0
FLAT_MB = 64.0  # RSS growth allowed during the rerun (a 100k-post file is ~470 MB)
SITE_CPU, CLIENT_CPU = 0, 1
ROUNDS = 2


def _pin(pid: int, cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > cpu:
        for p in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
            os.sched_setaffinity(p.pid, {cpu})


def _cpu(pid: int) -> float:
    procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    return sum(p.cpu_times().user + p.cpu_times().system for p in procs)


def _self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def write_posts(path: Path, count: int) -> None:
    """Generate `count` posts into a JSONL file."""
    builder = PostBuilder("standard", "en_US")
    with path.open("wb") as fh:
        for seed in range(FIRST_SEED, FIRST_SEED + count):
            fh.write(dumps_line(builder.build(seed)))


@contextmanager
def site_at(db: Path) -> Iterator[SiteProcess]:
    """A fresh reference site pinned to its core."""
    with SiteProcess(db) as site:
        _pin(site.pid, SITE_CPU)
        yield site


class _SqliteTimer:
    """Adds up the time the importer spends in ledger calls (SQLite)."""

    def __init__(self, ledger: Ledger) -> None:
        self.seconds = 0.0
        for name in ("known", "mark_pending", "mark_sent", "confirm", "fail", "save_counts"):
            setattr(ledger, name, self._wrap(getattr(ledger, name)))

    def _wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*a: Any, **kw: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                self.seconds += time.perf_counter() - t0

        return timed


class _RssSampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process()
        self.start_rss = self.proc.memory_info().rss
        self.peak = self.start_rss
        self.samples: list[int] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(0.05):
            rss = self.proc.memory_info().rss
            self.samples.append(rss)
            self.peak = max(self.peak, rss)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def baseline_bulk(site: SiteProcess, path: Path) -> float:
    """posts/s of a bare client: pre-encoded bulk bodies of 500, 2 requests in flight."""
    bodies: list[bytes] = []
    batch: list[bytes] = []
    with path.open("rb") as fh:
        lines = [ln.raw for ln in iter_lines(fh, parse=False)]
    for raw in lines:
        batch.append(raw)
        if len(batch) == 500:
            bodies.append(b'{"posts":[' + b",".join(batch) + b"]}")
            batch = []
    if batch:
        bodies.append(b'{"posts":[' + b",".join(batch) + b"]}")
    headers = {**site.auth_headers, "Content-Type": "application/json"}
    with httpx.Client(base_url=site.url, headers=headers, timeout=60) as client:

        def send(body: bytes) -> None:
            client.post("/api/posts/bulk", content=body).raise_for_status()

        t0 = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(send, bodies))
        return IMPORT_POSTS / (time.perf_counter() - t0)


def run_import(site: SiteProcess, path: Path, ledger_path: Path) -> dict[str, float]:
    """Import with default options; returns rate and where the time went."""
    sink = AnpSink(site.url, site.token)
    with Ledger(ledger_path) as ledger:
        timer = _SqliteTimer(ledger)
        site_cpu0, cpu0 = _cpu(site.pid), _self_cpu()
        cores0 = psutil.cpu_times(percpu=True)
        t0 = time.perf_counter()
        with path.open("rb") as fh:
            summary = Importer(sink, ledger, site.url, Options()).run(fh, str(path))
        elapsed = time.perf_counter() - t0
        out = {
            "elapsed": elapsed,
            "rate": summary.read / elapsed,
            "created": summary.created,
            "unchanged": summary.unchanged,
            "site_cpu": _cpu(site.pid) - site_cpu0,
            "client_cpu": _self_cpu() - cpu0,
            "sqlite": timer.seconds,
            "core_busy": _core_busy(cores0, psutil.cpu_times(percpu=True)),
        }
    sink.close()
    return out


def _core_busy(before: list[Any], after: list[Any]) -> list[float]:
    """Share of each core busy with anything (ours or another user's) between two readings."""
    out = []
    for b, a in zip(before, after, strict=True):
        total = sum(a) - sum(b)
        idle = (a.idle - b.idle) + (getattr(a, "iowait", 0) - getattr(b, "iowait", 0))
        out.append(1 - idle / total if total > 0 else 0.0)
    return out


def rerun_skip(site: SiteProcess, path: Path, ledger_path: Path) -> dict[str, float]:
    """Rerun a completed import: every post skipped through the ledger."""
    sink = AnpSink(site.url, site.token)
    with Ledger(ledger_path) as ledger:
        timer = _SqliteTimer(ledger)
        sampler = _RssSampler()
        sampler.start()
        cpu0 = _self_cpu()
        t0 = time.perf_counter()
        with path.open("rb") as fh:
            summary = Importer(sink, ledger, site.url, Options()).run(fh, str(path))
        elapsed = time.perf_counter() - t0
        sampler.stop()
    sink.close()
    half = len(sampler.samples) // 2
    mid = max(sampler.samples[:half] or [sampler.start_rss])
    return {
        "elapsed": elapsed,
        "rate": summary.read / elapsed,
        "unchanged": summary.unchanged,
        "sent": summary.sent,
        "client_cpu": _self_cpu() - cpu0,
        "sqlite": timer.seconds,
        "rss_start_mb": sampler.start_rss / 2**20,
        "rss_mid_mb": mid / 2**20,
        "rss_peak_mb": sampler.peak / 2**20,
    }


def baseline_read(path: Path) -> float:
    """posts/s of reading the file line by line and doing nothing with it."""
    t0 = time.perf_counter()
    with path.open("rb") as fh:
        n = sum(1 for _ in iter_lines(fh, parse=False))
    return n / (time.perf_counter() - t0)


def _limit(r: dict[str, float]) -> str:
    site_busy = r["site_cpu"] / r["elapsed"]
    client_busy = r["client_cpu"] / r["elapsed"]
    sqlite_share = r["sqlite"] / r["elapsed"]
    if site_busy >= max(client_busy, 0.8):
        who = "the site's CPU (its core is saturated)"
    elif client_busy >= 0.8:
        who = "the importer's CPU"
    elif max(r["core_busy"]) >= 0.9:
        who = "other processes on this shared machine taking the cores"
    else:
        who = "latency (neither core is saturated)"
    cores = ", ".join(f"{b:.0%}" for b in r["core_busy"])
    return (
        f"site process {site_busy:.0%} of a core, importer {client_busy:.0%}, SQLite "
        f"{sqlite_share:.0%} of wall time; cores busy overall [{cores}] → limited by {who}"
    )


def main() -> int:
    """Run both measurements; 1 when a goal is missed."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > CLIENT_CPU:
        os.sched_setaffinity(0, {CLIENT_CPU})
    failed = 0
    with tempfile.TemporaryDirectory(prefix="anp-bench-import-") as tmp:
        root = Path(tmp)
        small, big = root / "posts-20k.jsonl", root / "posts-100k.jsonl"
        print(f"importer: generating {IMPORT_POSTS:,} and {RERUN_POSTS:,} posts …", flush=True)
        write_posts(small, IMPORT_POSTS)
        write_posts(big, RERUN_POSTS)

        # Interleaved rounds, best of each: the machine is shared, and a neighbour's burst
        # should not decide the ratio.
        base, r = 0.0, None
        for n in range(ROUNDS):
            with site_at(root / f"base{n}" / "site.db") as site:
                base = max(base, baseline_bulk(site, small))
            with site_at(root / f"imp{n}" / "site.db") as site:
                got = run_import(site, small, root / f"imp{n}.ledger")
            if r is None or got["rate"] > r["rate"]:
                r = got
        assert r is not None
        ok = r["rate"] >= GOAL_IMPORT and r["created"] == IMPORT_POSTS
        failed += not ok
        print(
            f"importer: {IMPORT_POSTS:,} posts into the reference site (defaults: concurrency "
            f"{Options().concurrency}, batch {Options().batch_size}; best of {ROUNDS}): "
            f"{r['rate']:,.0f} posts/s ({r['elapsed']:.2f}s) — goal >= {GOAL_IMPORT:,.0f}: "
            f"{'OK' if ok else 'MISSED'}"
        )
        print(
            f"importer:   baseline bare client (pre-encoded bulk of 500, best of {ROUNDS}): "
            f"{base:,.0f} posts/s; importer / baseline = {r['rate'] / base:.2f}"
        )
        print(f"importer:   {_limit(r)}")

        with site_at(root / "big" / "site.db") as site:
            first = run_import(site, big, root / "big.ledger")
            print(
                f"importer: first import of {RERUN_POSTS:,} posts: {first['rate']:,.0f} posts/s "
                f"({first['elapsed']:.1f}s); {_limit(first)}",
                flush=True,
            )
            read = baseline_read(big)
            s = rerun_skip(site, big, root / "big.ledger")
        # Flat: the peak stays within FLAT_MB of the RSS before the run (the file is ~470 MB)
        # and the second half adds nothing the first half did not already hold.
        growth = max(s["rss_peak_mb"] - s["rss_start_mb"], 0.0)
        ok = s["rate"] >= GOAL_SKIP and s["unchanged"] == RERUN_POSTS and s["sent"] == 0
        flat = growth < FLAT_MB
        failed += not (ok and flat)
        print(
            f"importer: rerun of the completed {RERUN_POSTS:,}-post import: {s['rate']:,.0f} "
            f"posts/s ({s['elapsed']:.2f}s, {s['sent']:.0f} requests) — goal >= "
            f"{GOAL_SKIP:,.0f}: {'OK' if ok else 'MISSED'}"
        )
        print(
            f"importer:   baseline reading the file and nothing else: {read:,.0f} posts/s; "
            f"skip path / baseline = {s['rate'] / read:.2f}"
        )
        print(
            f"importer:   memory: RSS {s['rss_start_mb']:.0f} MB at start, {s['rss_mid_mb']:.0f} MB "
            f"by mid-run, {s['rss_peak_mb']:.0f} MB peak (peak − start {growth:.1f} MB, "
            f"second half − first half {s['rss_peak_mb'] - s['rss_mid_mb']:.1f} MB; "
            f"flat: {'OK' if flat else 'NO'})"
        )
        busy = s["client_cpu"] / s["elapsed"]
        where = (
            "the importer's CPU (hashing each line, one ledger lookup per 1,000 lines)"
            if busy >= 0.8
            else "the importer's core, shared with other processes on this machine"
        )
        print(
            f"importer:   importer CPU {busy:.0%} of wall time, SQLite {s['sqlite'] / s['elapsed']:.0%}"
            f" → limited by {where}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
