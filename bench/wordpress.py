"""Benchmark posts/s into a real WordPress: batch/v1 (the fallback) vs the plugin's bulk route in
`hooks` and `direct` mode, the same posts at the same concurrency, measured in one run.

Goals (issue 13): `--wp-mode hooks` >= 4x the batch/v1 path, `--wp-mode direct` >= 20x.
Each side is `anp-synth import --sink wordpress` in-process doing its whole job (JSONL,
validation, ledger, mapping, the writes), from an empty site (the bench deletes its posts
between sides, untimed), with a fresh ledger; the posts are the same seeds on every side.
Then a no-op rerun of the last side with its ledger must send no request at all.

The long run (ANP_BENCH_WP_LONG posts, default 100,000; `--wp-mode` ANP_BENCH_WP_LONG_MODE,
default direct) imports into the site as it grows and compares the posts/s of the last 10,000
posts with the first 10,000 (goal >= 0.8: the source_id lookup and the per-call work stay
constant-cost), and prints the importer's RSS at both points. ANP_BENCH_WP_LONG=0 skips it.
Then a load test of that grown site (`anp-synth loadtest --ledger` of the long run: readers by
view count, listings, search, logged-in members, ANP_BENCH_WP_LOAD_USERS users for
ANP_BENCH_WP_LOAD_DURATION, defaults 20 and 60s), its Markdown table printed;
ANP_BENCH_WP_LOAD_DURATION=0 skips it.

WordPress comes from `scripts/wordpress.sh up` (or ANP_WP_URL / ANP_WP_USER / ANP_WP_APP_PASSWORD
for another site — the bench deletes only the posts it creates, seeds 700000 on; after the long
run on the script's own site it runs `scripts/wordpress.sh reset` instead, which empties it). Without one it
skips, saying why. Env: ANP_BENCH_WP_COUNT (posts per side, default 2000),
ANP_BENCH_WP_CONCURRENCY (4).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from anp_synth.errors import AnpError
from anp_synth.generate.builder import PostBuilder
from anp_synth.importer.ledger import Ledger
from anp_synth.importer.run import Importer, Options
from anp_synth.jsonl import dumps_line
from anp_synth.sinks.wordpress import WordPressSink

GOALS = {"hooks": 4.0, "direct": 20.0}
LONG_GOAL = 0.8
COUNT = int(os.environ.get("ANP_BENCH_WP_COUNT", "2000"))
CONCURRENCY = int(os.environ.get("ANP_BENCH_WP_CONCURRENCY", "4"))
LONG = int(os.environ.get("ANP_BENCH_WP_LONG", "100000"))
LONG_MODE = os.environ.get("ANP_BENCH_WP_LONG_MODE", "direct")
LOAD_USERS = int(os.environ.get("ANP_BENCH_WP_LOAD_USERS", "20"))
LOAD_DURATION = os.environ.get("ANP_BENCH_WP_LOAD_DURATION", "60s")
FIRST_SEED = 700_000
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "wordpress.sh"


def _credentials() -> tuple[str, str, str] | str:
    """(url, user, password) of a WordPress to use, or the reason there is none. Sets
    ANP_WP_USERS_FILE (the reader accounts for the load test) when the script knows it."""
    env = os.environ
    if env.get("ANP_WP_URL") and env.get("ANP_WP_USER") and env.get("ANP_WP_APP_PASSWORD"):
        return env["ANP_WP_URL"], env["ANP_WP_USER"], env["ANP_WP_APP_PASSWORD"]
    try:
        out = subprocess.run(
            ["bash", str(SCRIPT), "env"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"scripts/wordpress.sh env failed: {exc}"
    if out.returncode != 0:
        return out.stderr.strip() or "scripts/wordpress.sh env failed"
    values = {}
    for line in out.stdout.splitlines():
        key, _, value = line.partition("=")
        values[key] = value.strip("'")
    if values.get("ANP_WP_USERS_FILE"):
        os.environ.setdefault("ANP_WP_USERS_FILE", values["ANP_WP_USERS_FILE"])
    return values["ANP_WP_URL"], values["ANP_WP_USER"], values["ANP_WP_APP_PASSWORD"]


class _Counting(httpx.HTTPTransport):
    """An HTTP transport that counts the requests it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        return super().handle_request(request)


def _cleanup(rest: httpx.Client, sink: WordPressSink, last_seed: int) -> None:
    """Delete the bench's own posts (its seed range only), 25 per batch/v1 call (not timed)."""
    first = f"alphanode-{FIRST_SEED:06d}"
    last = f"alphanode-{last_seed:06d}"
    after: str | None = f"alphanode-{FIRST_SEED - 1:06d}"
    ids: list[str] = []
    for _ in range(10_000):  # bounded: 1,000,000 posts
        if after is None:
            break
        page = sink.list(after=after, limit=100)
        mine = [item for item in page.items if first <= item.source_id <= last]
        ids += [item.remote_id for item in mine]
        # Keyset order is by source id: past the range, nothing more is ours.
        after = page.next if len(mine) == len(page.items) else None
    for start in range(0, len(ids), 25):
        requests = [
            {"method": "DELETE", "path": f"/wp/v2/posts/{i}?force=true"}
            for i in ids[start : start + 25]
        ]
        rest.post("/wp-json/batch/v1", json={"requests": requests}).raise_for_status()


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def _import(
    sink: WordPressSink,
    url: str,
    data: Path,
    ledger_path: Path,
    on_progress: Callable[[int], None] | None = None,
) -> tuple[float, Any]:
    """`anp-synth import` in-process; (seconds, summary)."""
    ledger = Ledger(ledger_path)
    try:
        options = Options(concurrency=CONCURRENCY, batch_size=sink.max_batch)
        with data.open("rb") as fh:
            start = time.perf_counter()
            summary = Importer(sink, ledger, url, options, on_progress=on_progress).run(
                fh, str(data)
            )
            elapsed = time.perf_counter() - start
    finally:
        ledger.close()
    return elapsed, summary


def _write(path: Path, seeds: range) -> Path:
    builder = PostBuilder()
    with path.open("wb") as fh:
        for seed in seeds:
            fh.write(dumps_line(builder.build(seed)))
    return path


def _side_by_side(url: str, user: str, password: str, rest: httpx.Client, tmp: Path) -> int:
    data = _write(tmp / "posts.jsonl", range(FIRST_SEED, FIRST_SEED + COUNT))
    last_seed = FIRST_SEED + COUNT - 1
    rates: dict[str, float] = {}
    failed = 0
    for mode in ("rest", "hooks", "direct"):
        sink = WordPressSink(url, user=user, app_password=password, wp_mode=mode, timeout=120)
        try:
            _cleanup(rest, sink, last_seed)
            elapsed, summary = _import(sink, url, data, tmp / f"{mode}.sqlite")
            if summary.created != COUNT:
                raise RuntimeError(f"{mode}: import created {summary.created} of {COUNT} posts")
            rates[mode] = COUNT / elapsed
            route = sink.route
        finally:
            sink.close()
        print(f"  {mode:6} {rates[mode]:8.1f} posts/s   {route}")
    for mode, goal in GOALS.items():
        ratio = rates[mode] / rates["rest"]
        ok = ratio >= goal
        failed += not ok
        print(
            f"  {mode} / batch/v1: {ratio:5.1f}x (goal >= {goal:.0f}x) {'ok' if ok else 'MISSED'}"
        )
    # A rerun of the last side with its ledger: every post is known, nothing may be sent.
    counting = _Counting()
    sink = WordPressSink(
        url, user=user, app_password=password, wp_mode="direct", transport=counting, timeout=120
    )
    try:
        _, summary = _import(sink, url, data, tmp / "direct.sqlite")
    finally:
        sink.close()
    ok = counting.sent == 0 and summary.created == summary.updated == 0
    failed += not ok
    print(
        f"  no-op rerun (same ledger): {counting.sent} requests sent, "
        f"{summary.created + summary.updated} posts written {'ok' if ok else 'MISSED'}"
    )
    sink = WordPressSink(url, user=user, app_password=password, wp_mode="rest", timeout=120)
    try:
        _cleanup(rest, sink, last_seed)
    finally:
        sink.close()
    return failed


def _long_run(url: str, user: str, password: str, rest: httpx.Client, tmp: Path) -> int:
    window = min(10_000, max(1, LONG // 5))
    data = _write(tmp / "long.jsonl", range(FIRST_SEED, FIRST_SEED + LONG))
    marks: list[tuple[int, float, float]] = []  # (posts done, time, rss)
    done = 0

    def progress(n: int) -> None:
        nonlocal done
        done += n
        marks.append((done, time.perf_counter(), _rss_mb()))

    sink = WordPressSink(url, user=user, app_password=password, wp_mode=LONG_MODE, timeout=300)
    try:
        _cleanup(rest, sink, FIRST_SEED + LONG - 1)
        start = time.perf_counter()
        marks.append((0, start, _rss_mb()))
        elapsed, summary = _import(sink, url, data, tmp / "long.sqlite", progress)
    finally:
        sink.close()

    def at(count: int) -> tuple[float, float]:
        """(time, rss) when `count` posts were done (the first mark at or past it)."""
        for posts, when, rss in marks:
            if posts >= count:
                return when, rss
        return marks[-1][1], marks[-1][2]

    t0, rss0 = at(0)
    t1, rss1 = at(window)
    t2, _ = at(LONG - window)
    t3, rss3 = at(LONG)
    first, last = window / (t1 - t0), window / (t3 - t2)
    ratio = last / first
    ok = ratio >= LONG_GOAL and summary.created == LONG
    print(
        f"  long run, --wp-mode {LONG_MODE}: {LONG} posts in {elapsed:.0f} s "
        f"({LONG / elapsed:.0f} posts/s); first {window}: {first:.0f} posts/s, last {window}: "
        f"{last:.0f} posts/s ({ratio:.2f}, goal >= {LONG_GOAL}) {'ok' if ok else 'MISSED'}; "
        f"importer RSS {rss1:.0f} MB after the first {window}, {rss3:.0f} MB at the end "
        f"(start {rss0:.0f} MB)"
    )
    failed = 0 if ok else 1
    if LOAD_DURATION not in ("", "0", "0s"):
        failed += _load_test(url, tmp / "long.sqlite", tmp / "load")
    if os.environ.get("ANP_WP_URL"):  # someone else's site: delete exactly the bench's posts
        sink = WordPressSink(url, user=user, app_password=password, wp_mode="rest", timeout=120)
        try:
            _cleanup(rest, sink, FIRST_SEED + LONG - 1)
        finally:
            sink.close()
    else:  # the script's throwaway site: deleting 100,000 posts over REST takes hours
        subprocess.run(
            ["bash", str(SCRIPT), "reset"], capture_output=True, timeout=600, check=False
        )
    return failed


def _load_test(url: str, ledger: Path, out: Path) -> int:
    """`anp-synth loadtest` of the grown site from the long run's ledger; prints its table."""
    args = [
        *(sys.executable, "-m", "anp_synth", "loadtest", "--target", url, "--ledger", str(ledger)),
        *("--out", str(out), "--markdown", str(out / "summary.md")),
        *("--users", str(LOAD_USERS), "--spawn-rate", str(LOAD_USERS), "--duration", LOAD_DURATION),
    ]
    if os.environ.get("ANP_WP_USERS_FILE"):
        args += ["--accounts", os.environ["ANP_WP_USERS_FILE"]]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=1800, check=False)
    print(
        f"  load test of the grown site ({LOAD_USERS} users, {LOAD_DURATION}; exit "
        f"{proc.returncode}: 0 passed, 3 thresholds or a CPU-bound generator):"
    )
    table = out / "summary.md"
    if table.exists():
        print("    " + table.read_text().strip().replace("\n", "\n    "))
    else:
        print("    " + (proc.stderr.strip() or proc.stdout.strip())[-2000:])
    return 0 if proc.returncode in (0, 3) and table.exists() else 1


def main() -> int:
    """Run the benchmark; 1 when a goal is missed, 0 when met or skipped."""
    found = _credentials()
    if isinstance(found, str):
        print(f"wordpress: skipped — no WordPress available ({found}); run scripts/wordpress.sh up")
        return 0
    url, user, password = found
    probe = WordPressSink(url, user=user, app_password=password)
    try:
        probe.check()
    except (AnpError, httpx.HTTPError) as exc:
        print(f"wordpress: skipped — {url} is not usable: {exc}")
        return 0
    finally:
        probe.close()
    print(f"wordpress: {COUNT} posts per side, concurrency {CONCURRENCY}, site {url}")
    rest = httpx.Client(base_url=url, auth=(user, password), timeout=120)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            failed = _side_by_side(url, user, password, rest, Path(tmp))
            if LONG > 0:
                failed += _long_run(url, user, password, rest, Path(tmp))
    finally:
        rest.close()
    return 1 if failed else 0
