"""Bench: our scenarios' requests/s against one cached URL vs a bare FastHttpUser, same run.

Starts the reference site (pinned to core 0), stores a few posts, warms one
post page, then runs two headless Locust processes AT THE SAME TIME, both
pinned to core 1, so that the noise of a shared machine weighs on both alike:
- bare: bench/locust_bare.py, a FastHttpUser that only GETs the URL;
- ours: loadtests/locustfile.py, the reader scenario (one load-test Settings file)
  on a manifest holding only that URL (weighted pick, checks, X-Cache read, every sample recorded).
The median over the rounds of ours/bare requests/s must be >= 0.90. Client CPU
per request (from each process's rusage, start-up included) is printed too.

Then the distributed harness, in interleaved rounds against the same page
(not pinned: K processes need K cores; the site has 2 workers):
- one process vs `--processes 2` (a master and 2 workers, every sample sent to
  the master over the channel): goal >= 1.8x the requests/s;
- 2 workers that record and send every sample vs 2 workers that record and
  send nothing (plain --anp-* options without --anp-out): the channel (with
  the recording it carries) must cost <= 5 % of requests/s.
"""

from __future__ import annotations

import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import httpx
import orjson

from anp_synth.loadtest.settings import Settings, Think
from anp_synth.site.launcher import SiteProcess

ROOT = Path(__file__).resolve().parents[1]
USERS = 10
SECONDS = 6
ROUNDS = 3
GOAL = 0.90
SCALE_GOAL = 1.8  # K=2 workers against one process
CHANNEL_GOAL = 0.95  # workers that send every sample against workers that send none
DIST_USERS = 20


def _pin(core: int) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {core})


def _pin_tree(pid: int, core: int) -> None:
    import psutil

    if (os.cpu_count() or 1) < 2:
        return
    proc = psutil.Process(pid)
    for p in [proc, *proc.children(recursive=True)]:
        p.cpu_affinity([core])


def _start(locustfile: Path, url: str, out: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    out.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "locust", "-f", str(locustfile), "--headless",
        "--host", url, "-u", str(USERS), "-r", str(USERS), "-t", f"{SECONDS}s",
        "--csv", str(out / "locust"), "--only-summary", "--exit-code-on-error", "0",
        "--loglevel", "WARNING",
    ]  # fmt: skip
    return subprocess.Popen(
        cmd,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: _pin(1),  # affinity must be set between fork and exec
    )


def _finish(proc: subprocess.Popen[bytes], out: Path) -> tuple[float, float]:
    """(requests/s, client CPU ms per request) of a finished run."""
    deadline = time.monotonic() + SECONDS + 60
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            break
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"locust did not finish: {out}")
        time.sleep(0.1)
    if proc.returncode != 0:
        raise RuntimeError(f"locust exited with {proc.returncode}: {out}")
    with (out / "locust_stats.csv").open() as fh:
        row = {r["Name"]: r for r in csv.DictReader(fh)}["Aggregated"]
    requests, failures = int(row["Request Count"]), int(row["Failure Count"])
    if failures:
        raise RuntimeError(f"{failures} failed requests in {out}")
    cpu = usage.ru_utime + usage.ru_stime
    return float(row["Requests/s"]), cpu * 1000.0 / max(requests, 1)


def _start_k(processes: int, url: str, out: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    out.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "locust", "-f", str(ROOT / "loadtests" / "locustfile.py"),
        "--headless", "--host", url, "-u", str(DIST_USERS), "-r", str(DIST_USERS),
        "-t", f"{SECONDS}s", "--csv", str(out / "locust"), "--only-summary",
        "--exit-code-on-error", "0", "--loglevel", "WARNING",
    ]  # fmt: skip
    if processes > 1:
        cmd += ["--processes", str(processes)]
    return subprocess.Popen(
        cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def distributed(url: str, settings: Settings, root: Path) -> int:
    """One process vs 2 workers, and 2 workers with vs without the sample channel."""
    assert settings.manifest is not None
    silent = {  # the same scenario from plain options, recording nothing, sending nothing
        "ANP_LOADTEST_DATA": str(settings.manifest),
        "ANP_LOADTEST_WEIGHTS": "reader=1,browser=0,member=0,inspector=0",
        "ANP_LOADTEST_THINK": "0",
        "ANP_LOADTEST_SIMILAR": "0",
    }
    runs: dict[str, list[float]] = {"one": [], "two": [], "two-silent": []}
    samples_seen = 0
    for i in range(ROUNDS):
        for name in runs:
            out = root / f"dist-{i}-{name}"
            out.mkdir(parents=True)
            if name == "two-silent":
                env = silent
            else:
                doc = replace(settings, out=out, processes=2 if name == "two" else 1)
                env = {"ANP_LOADTEST_SETTINGS": str(doc.write(out / "settings.json"))}
            proc = _start_k(1 if name == "one" else 2, url, out, env)
            runs[name].append(_finish(proc, out)[0])
            if name == "two":
                samples_seen += sum(
                    1 for f in out.glob("samples-*.tsv") for _ in f.open(encoding="utf-8")
                )
    one, two, silent_two = (statistics.median(runs[k]) for k in ("one", "two", "two-silent"))
    scale, channel = two / one, two / silent_two
    print(
        f"loadtest, distributed: {ROUNDS} interleaved rounds of {SECONDS} s, {DIST_USERS} users, "
        f"the same cached page (site: 2 workers; nothing pinned; {os.cpu_count()} cores)"
    )
    print(f"  one process          : {', '.join(f'{r:,.0f}' for r in runs['one'])} req/s")
    print(
        f"  2 workers, channel   : {', '.join(f'{r:,.0f}' for r in runs['two'])} req/s "
        f"({samples_seen:,} samples reached the master)"
    )
    print(f"  2 workers, silent    : {', '.join(f'{r:,.0f}' for r in runs['two-silent'])} req/s")
    ok_scale, ok_channel = scale >= SCALE_GOAL, channel >= CHANNEL_GOAL
    print(
        f"  2 workers / one      : {scale:.2f}x (goal >= {SCALE_GOAL}) "
        f"{'ok' if ok_scale else 'BELOW the goal'}"
    )
    print(
        f"  channel / silent     : {channel:.3f} (goal >= {CHANNEL_GOAL}, i.e. <= 5 % cost) "
        f"{'ok' if ok_channel else 'BELOW the goal'}"
    )
    return 0 if ok_scale and ok_channel else 1


def main() -> int:
    """Run the comparison; print figures and the ratio; 1 when below the goal."""
    with tempfile.TemporaryDirectory(prefix="anp-bench-load-") as tmp:
        root = Path(tmp)
        posts = root / "posts.jsonl"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "anp_synth",
                "generate",
                "--count",
                "50",
                "-o",
                str(posts),
                "-q",
            ],
            check=True,
        )
        with SiteProcess(root / "site.db") as site:
            _pin_tree(site.pid, 0)
            body = [orjson.loads(line) for line in posts.read_bytes().splitlines()]
            resp = httpx.post(
                f"{site.url}/api/posts/bulk",
                json={"posts": body},
                headers=site.auth_headers,
                timeout=60,
            )
            resp.raise_for_status()
            first = resp.json()["items"][0]
            path = httpx.URL(first["url"]).path
            for _ in range(2):
                warm = httpx.get(site.url + path)
            assert warm.headers["x-cache"].startswith("HIT"), warm.headers.get("x-cache")
            manifest = root / "one-url.json"
            manifest.write_bytes(
                orjson.dumps(
                    {
                        "format": "anp-synth-targets/1",
                        "target": site.url,
                        "posts": [
                            {"url": path, "view_count": 100, "title": "t", "tags": [], "stacks": []}
                        ],
                        "stacks": [],
                        "tags": [],
                        "search_terms": ["notes"],
                    }
                )
            )
            ours = Settings(
                target=site.url,
                manifest=manifest,
                weights={"reader": 1, "browser": 0, "member": 0, "inspector": 0},
                think=Think(0, 0),
                similar=0.0,
            )
            bare: list[tuple[float, float]] = []
            mine: list[tuple[float, float]] = []
            for i in range(ROUNDS):
                # both at once, sharing core 1 and the site: whatever else the machine
                # does at that moment weighs on both equally
                b_out, o_out = root / f"{i}-bare", root / f"{i}-ours"
                b = _start(
                    ROOT / "bench" / "locust_bare.py", site.url, b_out, {"ANP_BENCH_URL": path}
                )
                o_out.mkdir(parents=True)
                settings = replace(ours, out=o_out).write(o_out / "settings.json")
                o = _start(
                    ROOT / "loadtests" / "locustfile.py",
                    site.url,
                    o_out,
                    {"ANP_LOADTEST_SETTINGS": str(settings)},
                )
                bare.append(_finish(b, b_out))
                mine.append(_finish(o, o_out))
        with SiteProcess(root / "site.db", workers=2) as site2:
            for _ in range(4):  # each site worker caches the page for itself
                httpx.get(site2.url + path)
            dist_failed = distributed(site2.url, replace(ours, target=site2.url), root)
    ratio = statistics.median(o[0] / b[0] for o, b in zip(mine, bare, strict=True))
    print(
        f"loadtest: one cached post page; {ROUNDS} rounds of {SECONDS} s, in each the bare and our "
        f"Locust ({USERS} users each) run at once on core 1, the site on core 0"
    )
    print(
        f"  bare FastHttpUser : {', '.join(f'{r:,.0f}' for r, _ in bare)} req/s; client CPU {statistics.median(c for _, c in bare):.3f} ms/req"
    )
    print(
        f"  our scenarios     : {', '.join(f'{r:,.0f}' for r, _ in mine)} req/s; client CPU {statistics.median(c for _, c in mine):.3f} ms/req"
    )
    verdict = "ok" if ratio >= GOAL else f"BELOW the {GOAL:.0%} goal"
    print(f"  req/s ours/bare   : {ratio:.3f} (median of the rounds; goal >= {GOAL:.2f}) {verdict}")
    return 0 if ratio >= GOAL and not dist_failed else 1


if __name__ == "__main__":
    sys.exit(main())
