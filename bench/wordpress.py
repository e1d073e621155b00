"""Benchmark posts/s into a real WordPress: the sink (batch/v1 + concurrency) vs a sequential loop.

Goal (issue 6): the sink >= 1.5x a sequential one-post-per-request loop, measured in the same run
on the same site (about 55 posts/s sequential and about 95 posts/s with both cores saturated were
measured on a 2-core machine).

The baseline is the loop one writes first: `POST /wp/v2/posts` once per post, one after the
other, with exactly the sink's request body (tag and category ids resolved before the clock
starts, which favours the baseline). Ours is `anp-synth import --sink wordpress` in-process,
doing its whole job: JSONL, validation, ledger, lookups by source_id, mapping, batch/v1 calls of
25, `concurrency` calls at a time. Both sides create fresh posts; each round alternates the
order, and the best round of each side counts.

WordPress comes from `scripts/wordpress.sh up` (or ANP_WP_URL / ANP_WP_USER / ANP_WP_APP_PASSWORD
for another site — the bench deletes only the posts it creates, seeds 700000 on). Without one it skips, saying why.
Env: ANP_BENCH_WP_COUNT (posts per side and round, default 300), ANP_BENCH_WP_ROUNDS (2),
ANP_BENCH_WP_CONCURRENCY (4, the php -S workers of scripts/wordpress.sh).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from anp_synth.errors import AnpError
from anp_synth.generate.builder import PostBuilder
from anp_synth.importer.ledger import Ledger
from anp_synth.importer.run import Importer, Options
from anp_synth.jsonl import content_hash, dumps_line
from anp_synth.sinks.wordpress import BATCH_LIMIT, WordPressSink
from anp_synth.sinks.wordpress.content import categories_of, post_fields, tags_of

GOAL = 1.5
COUNT = int(os.environ.get("ANP_BENCH_WP_COUNT", "300"))
ROUNDS = int(os.environ.get("ANP_BENCH_WP_ROUNDS", "2"))
CONCURRENCY = int(os.environ.get("ANP_BENCH_WP_CONCURRENCY", "4"))
FIRST_SEED = 700_000
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "wordpress.sh"


def _credentials() -> tuple[str, str, str] | str:
    """(url, user, password) of a WordPress to use, or the reason there is none."""
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
    return values["ANP_WP_URL"], values["ANP_WP_USER"], values["ANP_WP_APP_PASSWORD"]


def _cleanup(rest: httpx.Client, sink: WordPressSink) -> None:
    """Delete the bench's own posts (its seed range only), 25 per batch/v1 call (not timed)."""
    first = f"alphanode-{FIRST_SEED:06d}"
    last = f"alphanode-{FIRST_SEED + 2 * COUNT * ROUNDS - 1:06d}"
    after: str | None = f"alphanode-{FIRST_SEED - 1:06d}"
    ids: list[str] = []
    while after is not None:
        page = sink.list(after=after, limit=100)
        mine = [item for item in page.items if first <= item.source_id <= last]
        ids += [item.remote_id for item in mine]
        # Keyset order is by source id: past the range, nothing more is ours.
        after = page.next if len(mine) == len(page.items) else None
    for start in range(0, len(ids), BATCH_LIMIT):
        requests = [
            {"method": "DELETE", "path": f"/wp/v2/posts/{i}?force=true"}
            for i in ids[start : start + BATCH_LIMIT]
        ]
        rest.post("/wp-json/batch/v1", json={"requests": requests}).raise_for_status()


def _sequential(rest: httpx.Client, bodies: list[dict[str, Any]]) -> float:
    start = time.perf_counter()
    for body in bodies:
        rest.post("/wp-json/wp/v2/posts", params={"_fields": "id,link"}, json=body)
    elapsed = time.perf_counter() - start
    return len(bodies) / elapsed


def _importer(sink: WordPressSink, url: str, posts: list[dict[str, Any]]) -> float:
    """`anp-synth import` in-process: ledger, batches of 25, CONCURRENCY batches in flight."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "posts.jsonl"
        data.write_bytes(b"".join(dumps_line(p) for p in posts))
        ledger = Ledger(Path(tmp) / "ledger.sqlite")
        try:
            options = Options(concurrency=CONCURRENCY, batch_size=BATCH_LIMIT)
            with data.open("rb") as fh:
                start = time.perf_counter()
                summary = Importer(sink, ledger, url, options).run(fh, str(data))
                elapsed = time.perf_counter() - start
        finally:
            ledger.close()
    if summary.created != len(posts):
        raise RuntimeError(f"import created {summary.created} of {len(posts)} posts")
    return len(posts) / elapsed


def main() -> int:
    """Run the benchmark; 1 when the goal is missed, 0 when met or skipped."""
    found = _credentials()
    if isinstance(found, str):
        print(f"wordpress: skipped — no WordPress available ({found}); run scripts/wordpress.sh up")
        return 0
    url, user, password = found
    builder = PostBuilder()
    sink = WordPressSink(url, user=user, app_password=password, concurrency=CONCURRENCY)
    rest = httpx.Client(base_url=url, auth=(user, password), timeout=60)
    try:
        sink.check()
    except (AnpError, httpx.HTTPError) as exc:
        print(f"wordpress: skipped — {url} is not usable: {exc}")
        return 0
    try:
        _cleanup(rest, sink)
        seq_rates: list[float] = []
        sink_rates: list[float] = []
        seed = FIRST_SEED
        for round_no in range(ROUNDS):
            seq_posts = [builder.build(s) for s in range(seed, seed + COUNT)]
            sink_posts = [builder.build(s) for s in range(seed + COUNT, seed + 2 * COUNT)]
            seed += 2 * COUNT
            # Every term exists before the clock starts, for both sides; the baseline also
            # gets its ids and bodies for free.
            bodies = [
                post_fields(
                    p,
                    content_hash(p),
                    sink._term_ids("tags", tags_of(p)),
                    sink._term_ids("categories", categories_of(p)),
                )
                for p in seq_posts
            ]
            for p in sink_posts:
                sink._term_ids("tags", tags_of(p))
                sink._term_ids("categories", categories_of(p))
            order = ("sequential", "sink") if round_no % 2 == 0 else ("sink", "sequential")
            for side in order:
                if side == "sequential":
                    seq_rates.append(_sequential(rest, bodies))
                else:
                    sink_rates.append(_importer(sink, url, sink_posts))
            _cleanup(rest, sink)
        seq, ours = max(seq_rates), max(sink_rates)
        ratio = ours / seq
        print(f"wordpress: {COUNT} posts per side, {ROUNDS} rounds, site {url}")
        print(f"  sequential, one post per request: {seq:7.1f} posts/s")
        print(
            f"  import --sink wordpress (batch/v1 x{BATCH_LIMIT}, concurrency {CONCURRENCY}):"
            f" {ours:7.1f} posts/s"
            f"  ({ratio:.2f}x, goal >= {GOAL}x) {'ok' if ratio >= GOAL else 'MISSED'}"
        )
        return 0 if ratio >= GOAL else 1
    finally:
        sink.close()
        rest.close()
