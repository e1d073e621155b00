"""Benchmark the static sinks and the build test, with baselines measured in the same run.

Goals (issue 12):
  1. The hugo sink writes 20,000 posts at >= 0.5 of the rate of a bare loop that writes the
     same bytes to the same kind of folder (open, write, close; no temp file, no rename). The
     sink is given the posts as the importer hands them (checked and hashed when read, a
     CheckedPost); the rate for plain dicts, which it checks itself, is printed beside it.
  2. A rerun of the unchanged import touches no file and runs at >= 0.5 of the rate of
     reading the JSONL (line by line, parsed, nothing else).
  3. `buildtest` for Hugo at 1,000 / 5,000 / 20,000 posts: prints the growth exponent of
     each build kind, and anp-synth's own share of the build test's wall time (< 10%).

ANP_BENCH_STATIC_POSTS and ANP_BENCH_BUILD_COUNTS (e.g. 200,1000) make it smaller;
ANP_BENCH_BUILD_OUT=DIR keeps the build test's report (json, md, png, svg, html) in DIR.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from anp_synth.generate.builder import PostBuilder
from anp_synth.importer.ledger import Ledger
from anp_synth.importer.run import Importer, Options
from anp_synth.jsonl import dumps_line, iter_lines
from anp_synth.post import checked
from anp_synth.sinks.static.hugo import HugoSink
from anp_synth.sinks.static.skeleton import init_site

POSTS = int(os.environ.get("ANP_BENCH_STATIC_POSTS", "20000"))
BUILD_COUNTS = os.environ.get("ANP_BENCH_BUILD_COUNTS", "1000,5000,20000")
FIRST_SEED = 200_000
GOAL_WRITE = 0.5
GOAL_RERUN = 0.5
GOAL_SHARE = 0.10
ROUNDS = 2


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _write_posts(path: Path) -> None:
    builder = PostBuilder("standard", "en_US")
    with path.open("wb") as fh:
        for seed in range(FIRST_SEED, FIRST_SEED + POSTS):
            fh.write(dumps_line(builder.build(seed)))


def _posts(path: Path) -> list[dict]:  # type: ignore[type-arg]
    with path.open("rb") as fh:
        return [ln.value for ln in iter_lines(fh)]


def bare_loop(folder: Path, files: list[tuple[str, bytes]]) -> float:
    """posts/s of writing the same bytes to the same names: open, write, close."""
    folder.mkdir(parents=True)
    t0 = time.perf_counter()
    for name, data in files:
        with open(folder / name, "wb") as fh:
            fh.write(data)
    return len(files) / (time.perf_counter() - t0)


def sink_loop(root: Path, posts: list[dict]) -> float:  # type: ignore[type-arg]
    """posts/s of the hugo sink: (check and hash a plain dict), render, compare, write
    unnamed and link in, with the write's mark."""
    init_site("hugo", root)
    sink = HugoSink(str(root))
    t0 = time.perf_counter()
    for start in range(0, len(posts), 500):
        batch = posts[start : start + 500]
        sink.upsert_many(batch, idempotency_keys=["k"] * len(batch))
    return len(posts) / (time.perf_counter() - t0)


def read_jsonl(path: Path) -> float:
    """posts/s of reading the file line by line, parsed."""
    t0 = time.perf_counter()
    with path.open("rb") as fh:
        n = sum(1 for _ in iter_lines(fh))
    return n / (time.perf_counter() - t0)


def _stat(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in folder.iterdir()}


def writes(tmp: Path, src: Path) -> int:
    posts = _posts(src)
    render = HugoSink.__new__(HugoSink).render  # the same bytes the sink writes
    files = [(f"{p['slug']}.md", render(p)) for p in posts]
    mb = sum(len(d) for _, d in files) / 2**20
    # As the importer hands them: checked by the model and hashed when read (CheckedPost).
    handed = [checked(p) for p in posts]
    best_bare = best_sink = best_plain = 0.0
    for r in range(ROUNDS):  # alternating rounds: other jobs slow both sides alike
        best_bare = max(best_bare, bare_loop(tmp / f"bare{r}", files))
        best_sink = max(best_sink, sink_loop(tmp / f"sink{r}", handed))
        best_plain = max(best_plain, sink_loop(tmp / f"plain{r}", posts))
    ratio = best_sink / best_bare
    print(f"  sink write: {best_sink:,.0f} posts/s vs bare loop {best_bare:,.0f} posts/s "
          f"({POSTS:,} posts, {mb:.0f} MB): {ratio:.2f}x (goal >= {GOAL_WRITE}) {_verdict(ratio >= GOAL_WRITE)}")  # fmt: skip
    print(f"  sink write of plain dicts (the sink checks and hashes each): {best_plain:,.0f} posts/s "
          f"({best_plain / best_bare:.2f}x)")  # fmt: skip
    return 0


def reruns(tmp: Path, src: Path) -> int:
    root = tmp / "rerun"
    init_site("hugo", root)
    ledger_path = tmp / "rerun.sqlite"
    with Ledger(ledger_path) as led, src.open("rb") as fh:
        t0 = time.perf_counter()
        first = Importer(HugoSink(str(root)), led, str(root), Options()).run(fh, str(src))
        imported = first.created / (time.perf_counter() - t0)
    folder = root / "content" / "posts"
    before = _stat(folder)
    best_rerun = best_read = best_lost = 0.0
    for r in range(ROUNDS):
        best_read = max(best_read, read_jsonl(src))
        with Ledger(ledger_path) as led, src.open("rb") as fh:
            t0 = time.perf_counter()
            again = Importer(HugoSink(str(root)), led, str(root), Options()).run(fh, str(src))
            best_rerun = max(best_rerun, again.read / (time.perf_counter() - t0))
        with Ledger(tmp / f"lost{r}.sqlite") as led, src.open("rb") as fh:  # a lost ledger
            t0 = time.perf_counter()
            lost = Importer(HugoSink(str(root)), led, str(root), Options()).run(fh, str(src))
            best_lost = max(best_lost, lost.read / (time.perf_counter() - t0))
        assert again.unchanged == lost.unchanged == POSTS, (again, lost)
    untouched = _stat(folder) == before
    ratio = best_rerun / best_read
    print(f"  first import through the importer: {imported:,.0f} posts/s")
    print(f"  unchanged rerun: {best_rerun:,.0f} posts/s vs reading the JSONL {best_read:,.0f} posts/s: "
          f"{ratio:.2f}x (goal >= {GOAL_RERUN}); files untouched: {untouched} "
          f"{_verdict(ratio >= GOAL_RERUN and untouched)}")  # fmt: skip
    print(f"  rerun with a lost ledger (the sink compares bytes): {best_lost:,.0f} posts/s")
    return 0


def buildtest(tmp: Path) -> int:
    from anp_synth.buildtest.run import Settings, parse_counts, run

    if shutil.which("hugo") is None:
        print("  buildtest: hugo is not installed (bash scripts/static-tools.sh); skipped")
        return 0
    root = tmp / "build-site"
    init_site("hugo", root)
    settings = Settings("hugo", root, ["hugo", "--minify", "--quiet"], parse_counts(BUILD_COUNTS),
                        repeat=1, out=Path(os.environ.get("ANP_BENCH_BUILD_OUT") or tmp / "buildtest"))  # fmt: skip
    result = run(settings)
    from anp_synth.buildtest import report
    from anp_synth.buildtest.judge import judge

    verdict = judge(result, None, None)
    paths = report.write(result, verdict.as_dict(), verdict.lines())
    print(f"  buildtest report: {paths['html']}")
    for r in result.rows:
        print(f"  {r.kind:<11} {r.posts:>7,} posts: {r.wall.median:6.2f} s, {r.rss.max:5.0f} MB")
    for kind, f in result.fits().items():
        if f is not None:
            print(
                f"  {kind}: exponent {f.exponent:.2f}, {f.per_1000(max(settings.counts)):.2f} s per 1,000 posts"
            )
    share = result.own_share
    print(f"  anp-synth's own share: {share:.1%} of {result.total_s:.1f} s (goal < {GOAL_SHARE:.0%}) "
          f"{_verdict(share < GOAL_SHARE)}")  # fmt: skip
    return 0


def main() -> int:
    print(f"static (load average {os.getloadavg()[0]:.1f}):")
    with tempfile.TemporaryDirectory(prefix="anp-bench-static-") as d:
        tmp = Path(d)
        src = tmp / "posts.jsonl"
        _write_posts(src)
        failed = 0
        for step in (writes, reruns):
            try:
                failed += step(tmp, src)
            except Exception as exc:  # a bench reports and goes on
                print(f"  {step.__name__}: ERROR {type(exc).__name__}: {exc}", file=sys.stderr)
                failed += 1
        try:
            failed += buildtest(tmp)
        except Exception as exc:
            print(f"  buildtest: ERROR {type(exc).__name__}: {exc}", file=sys.stderr)
            failed += 1
    return failed


if __name__ == "__main__":
    sys.exit(main())
