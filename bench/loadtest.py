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
(not pinned: K processes need K cores):
- one process vs `--processes 2` (a master and 2 workers, every sample sent to
  the master over the channel): goal >= 1.8x the requests/s;
- 2 workers that record and send every sample vs 2 workers that record and
  send nothing (plain --anp-* options without --anp-out): the channel (with
  the recording it carries) must cost <= 5 % of requests/s.
These rounds measure the harness, so the page comes from the real Varnish edge
(`anp_synth.edge.varnish`, the project's own VCL, as `scripts/varnish.sh up` runs it)
in front of the reference site, warmed until Varnish answers it as a hit: a
Varnish hit is a lookup and a copy of the stored bytes in C, tens of
microseconds of CPU (20-50 here, measured by this bench), where the Python site
renders and answers each request in Python, on the very cores the generators need. Varnish, not nginx, because it
serves the site's real answer (its headers, ETag and cache verdict) with no copy
of the page to keep in step; every request is checked to be a hit (X-Cache).
For each round the load phase is measured from outside: its whole wall seconds
from WARMUP_S after the first second Locust counted requests in to TAIL_S before
the last (Locust's own count per second, `num_reqs_per_sec` in its JSON report:
exact, and merged by the master from its workers), and the CPU each part used over
the same seconds (psutil, CPU seconds of each process tree, sampled at every whole
second): the Locust master, each worker, Varnish, the site, and the rest of the
machine. The req/s ratios are the phase's; the CPU per request of each part says
where the CPU went, whether or not the cores were free (Varnish's counters cannot
count the phase: varnishd publishes them per session, and keep-alive sessions
outlast the run).
"""

from __future__ import annotations

import csv
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import orjson
import psutil

from anp_synth.edge.varnish import VarnishProcess
from anp_synth.loadtest.runner import process_tree
from anp_synth.loadtest.settings import Settings, Think
from anp_synth.processes import free_port
from anp_synth.site.launcher import SiteProcess

ROOT = Path(__file__).resolve().parents[1]
USERS = 10
SECONDS = 6
ROUNDS = 3
GOAL = 0.90
SCALE_GOAL = 1.8  # K=2 workers against one process
CHANNEL_GOAL = 0.95  # workers that send every sample against workers that send none
DIST_USERS = 20
# a distributed round's run time (-t): Locust's imports come before it, its users' start
# takes its first ~1.5 s, its report writing follows it
DIST_SECONDS = 16
# The load phase of a distributed round, in whole wall seconds: from WARMUP_S after the first
# second Locust counted requests in (users starting; a master starts its clock only once its
# workers are in) to TAIL_S before the last (users stopping); at least MIN_PHASE_S.
WARMUP_S = 3
TAIL_S = 2
MIN_PHASE_S = 5
SNAPSHOT_LATE_S = 0.05  # a CPU snapshot taken later than this after its second is not used


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


def _finish(
    proc: subprocess.Popen[bytes], out: Path, seconds: float = SECONDS
) -> tuple[float, float]:
    """(requests/s, client CPU ms per request) of a finished run of `seconds`."""
    deadline = time.monotonic() + seconds + 60
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
        "-t", f"{DIST_SECONDS}s", "--csv", str(out / "locust"), "--json-file", str(out / "locust"),
        "--only-summary",
        "--exit-code-on-error", "0", "--loglevel", "WARNING",
    ]  # fmt: skip
    if processes > 1:  # on loopback, on a port of its own (as `anp-synth loadtest` does)
        port = str(free_port())
        cmd += ["--processes", str(processes), "--master-bind-host", "127.0.0.1"]
        cmd += ["--master-bind-port", port, "--master-host", "127.0.0.1", "--master-port", port]
    return subprocess.Popen(
        cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


class CpuTimeline(threading.Thread):
    """CPU seconds of each part (a process tree) and of the host, sampled at every wall second.

    A snapshot is taken just after each whole second of the wall clock (time.time()), the
    clock Locust counts its requests by (num_reqs_per_sec), so that the CPU between two
    snapshots and the requests Locust counted in those seconds cover the same window. The
    process trees are listed until their processes are all there; after that a snapshot is
    a few /proc reads (the bench's own CPU, counted in "rest of the host").
    """

    def __init__(self, locust: int, expected: int, others: dict[str, int]) -> None:
        super().__init__(daemon=True, name="bench-cpu-timeline")
        self.locust, self.expected, self.others = locust, expected, others
        self.stop_event = threading.Event()
        self.procs: dict[str, list[psutil.Process]] = {}
        self.snapshots: dict[int, tuple[dict[str, dict[int, float]], float]] = {}

    def _trees(self) -> dict[str, list[psutil.Process]]:
        if len(self.procs.get("locust", [])) < self.expected:
            self.procs = {"locust": process_tree(self.locust)}
            self.procs.update({name: process_tree(pid) for name, pid in self.others.items()})
        return self.procs

    @staticmethod
    def _seconds(procs: list[psutil.Process]) -> dict[int, float]:
        found = {}
        for proc in procs:
            try:
                t = proc.cpu_times()
                found[proc.pid] = t.user + t.system
            except psutil.Error:
                continue
        return found

    def run(self) -> None:
        while not self.stop_event.is_set():
            second = int(time.time()) + 1
            if self.stop_event.wait(max(second - time.time(), 0.0)):
                return
            parts = {name: self._seconds(procs) for name, procs in self._trees().items()}
            host = psutil.cpu_times()
            busy = sum(host) - host.idle - getattr(host, "iowait", 0.0)
            if time.time() - second < SNAPSHOT_LATE_S:  # else not this second's: skipped
                self.snapshots[second] = (parts, busy)

    def stop(self) -> None:
        """Stop sampling."""
        self.stop_event.set()
        self.join(timeout=5)


@dataclass
class Phase:
    """A round's load phase: requests Locust counted in it, CPU seconds of each part."""

    seconds: int
    requests: int
    cpu: dict[str, float]  # role → CPU seconds over the phase

    @property
    def rps(self) -> float:
        """Requests per second of the phase."""
        return self.requests / self.seconds

    def us_per_request(self, role: str) -> float:
        """CPU microseconds of `role` per request of the phase."""
        return self.cpu.get(role, 0.0) * 1e6 / max(self.requests, 1)

    def cores(self, role: str) -> float:
        """CPU of `role` over the phase, in cores."""
        return self.cpu.get(role, 0.0) / self.seconds


def per_second(out: Path) -> dict[int, int]:
    """Requests per wall second, as Locust counted them (its JSON report, summed over routes)."""
    counts: dict[int, int] = {}
    for entry in orjson.loads((out / "locust.json").read_bytes()):
        for second, n in entry["num_reqs_per_sec"].items():
            counts[int(second)] = counts.get(int(second), 0) + int(n)
    return counts


def phase(out: Path, timeline: CpuTimeline) -> Phase | None:
    """The load phase of a finished round: its whole seconds from WARMUP_S after the first one
    with requests to TAIL_S before the last, bounded by snapshots; None when too short."""
    counts = per_second(out)
    if not counts:
        return None
    lo, hi = min(counts) + WARMUP_S, max(counts) - TAIL_S
    snaps = timeline.snapshots
    while lo < hi and lo not in snaps:
        lo += 1
    while hi > lo and hi not in snaps:
        hi -= 1
    if hi - lo < MIN_PHASE_S:
        return None
    (first, busy0), (last, busy1) = snaps[lo], snaps[hi]
    cpu: dict[str, float] = {}
    for name, pids in last.items():
        deltas = {pid: v - first.get(name, {}).get(pid, 0.0) for pid, v in pids.items()}
        if name == "locust":
            workers = sorted(pid for pid in deltas if pid != timeline.locust)
            cpu["master/process"] = deltas.get(timeline.locust, 0.0)
            for n, pid in enumerate(workers):
                cpu[f"worker {n}"] = deltas[pid]
            cpu["generators"] = sum(deltas.values())
        else:
            cpu[name] = sum(deltas.values())
    ours = sum(v for k, v in cpu.items() if not k.startswith(("master", "worker")))
    cpu["rest of the host"] = max(0.0, busy1 - busy0 - ours)
    cpu["host busy"] = busy1 - busy0
    return Phase(hi - lo, sum(counts.get(t, 0) for t in range(lo, hi)), cpu)


def distributed(url: str, settings: Settings, root: Path, parts: dict[str, int]) -> int:
    """One process vs 2 workers, and 2 workers with vs without the sample channel."""
    assert settings.manifest is not None
    silent = {  # the same scenario from plain options, recording nothing, sending nothing
        "ANP_LOADTEST_DATA": str(settings.manifest),
        "ANP_LOADTEST_WEIGHTS": "reader=1,browser=0,member=0,inspector=0",
        "ANP_LOADTEST_THINK": "0",
        "ANP_LOADTEST_SIMILAR": "0",
    }
    phases: dict[str, list[Phase]] = {"one": [], "two": [], "two-silent": []}
    samples_seen = 0
    loads = []
    for i in range(ROUNDS):
        for name, found in phases.items():
            out = root / f"dist-{i}-{name}"
            out.mkdir(parents=True)
            if name == "two-silent":
                env = silent
            else:
                doc = replace(settings, out=out, processes=2 if name == "two" else 1)
                env = {"ANP_LOADTEST_SETTINGS": str(doc.write(out / "settings.json"))}
            loads.append(os.getloadavg()[0])
            processes = 1 if name == "one" else 2
            proc = _start_k(processes, url, out, env)
            timeline = CpuTimeline(proc.pid, processes + (processes > 1), parts)
            timeline.start()
            try:
                _finish(proc, out, DIST_SECONDS)
            finally:
                timeline.stop()
            seen = phase(out, timeline)
            if seen is None:
                raise RuntimeError(f"no load phase of {MIN_PHASE_S} s or more in {out}")
            found.append(seen)
            _all_hits(out)
            if name == "two":
                samples_seen += sum(
                    1 for f in out.glob("samples-*.tsv") for _ in f.open(encoding="utf-8")
                )
    rps = {name: [p.rps for p in found] for name, found in phases.items()}
    # A round's runs follow each other within a minute: their ratio shares that minute's load
    # from elsewhere. The verdict is the median of the rounds' ratios (one lucky or unlucky run
    # does not decide it); the ratio of each side's best round, the nearest to a quiet
    # machine, is printed beside it.
    best = {name: max(found) for name, found in rps.items()}
    scales = [t / o for t, o in zip(rps["two"], rps["one"], strict=True)]
    channels = [t / s for t, s in zip(rps["two"], rps["two-silent"], strict=True)]
    scale, channel = statistics.median(scales), statistics.median(channels)
    seconds = statistics.median(p.seconds for found in phases.values() for p in found)
    print(
        f"loadtest, distributed: {ROUNDS} interleaved rounds of {DIST_SECONDS} s, {DIST_USERS} "
        f"users, the same page, every request a Varnish hit (nothing pinned; {os.cpu_count()} "
        f"cores; load average {min(loads):.1f}-{max(loads):.1f} at the rounds' starts)"
    )
    print(
        f"  requests/s over the load phase (~{seconds:g} whole seconds, from {WARMUP_S} s after "
        f"a round's first requests to {TAIL_S} s before its last; Locust's own count per second)"
    )
    labels = {"one": "one process", "two": "2 workers, channel", "two-silent": "2 workers, silent"}
    for name, label in labels.items():
        extra = f" ({samples_seen:,} samples reached the master)" if name == "two" else ""
        print(f"  {label:<21}: {', '.join(f'{r:,.0f}' for r in rps[name])} req/s{extra}")
    ok_scale, ok_channel = scale >= SCALE_GOAL, channel >= CHANNEL_GOAL
    print(
        f"  2 workers / one      : {scale:.2f}x (median of the rounds' "
        f"{', '.join(f'{r:.2f}' for r in scales)}; best rounds {best['two'] / best['one']:.2f}x; "
        f"goal >= {SCALE_GOAL}) {'ok' if ok_scale else 'BELOW the goal'}"
    )
    print(
        f"  channel / silent     : {channel:.3f} (median of the rounds' "
        f"{', '.join(f'{r:.3f}' for r in channels)}; best rounds "
        f"{best['two'] / best['two-silent']:.3f}; goal >= {CHANNEL_GOAL}, i.e. <= 5 % cost) "
        f"{'ok' if ok_channel else 'BELOW the goal'}"
    )
    print_breakdown(phases)
    return 0 if ok_scale and ok_channel else 1


def print_breakdown(phases: dict[str, list[Phase]]) -> None:
    """CPU per request of each part over the load phase (median of the rounds), and in cores."""
    roles = sorted(
        {role for found in phases.values() for p in found for role in p.cpu}, key=_role_order
    )
    width = max(7, *(len(r) for r in roles))
    print(
        "  CPU per request over the load phase, µs (median of the rounds); below it, in cores "
        f"(of {os.cpu_count()}):"
    )
    print(f"    {'':<11}  " + " ".join(f"{r:>{width}}" for r in roles))
    for name, found in phases.items():
        per = [statistics.median(p.us_per_request(role) for p in found) for role in roles]
        cores = [statistics.median(p.cores(role) for p in found) for role in roles]
        print(f"    {name:<11}: " + " ".join(f"{v:>{width},.1f}" for v in per))
        print(f"    {'':<11}  " + " ".join(f"{v:>{width}.2f}" for v in cores))
    gen = {
        name: statistics.median(p.us_per_request("generators") for p in found)
        for name, found in phases.items()
    }
    print(
        f"  generator CPU per request: 2 workers {gen['two'] / gen['one']:.2f}x one process's "
        f"(silent {gen['two-silent'] / gen['one']:.2f}x); the channel adds "
        f"{gen['two'] / gen['two-silent'] - 1:+.1%} to the silent workers'"
    )
    # What the cores allow, whatever else ran: one process is bound by its own core
    # (1 / its CPU per request); 2 workers share every core with their master and the target.
    free = min(os.cpu_count() or 1, 2)
    two = statistics.median(
        sum(p.us_per_request(r) for r in ("generators", "varnish", "site")) for p in phases["two"]
    )
    bound = free * gen["one"] / two
    print(
        f"  with {free} cores free for them, 2 workers could make at most "
        f"{bound:.2f}x one process's requests: {free} x {gen['one']:.1f} µs (one process "
        f"per request) / {two:.1f} µs (workers + master + Varnish + site per request)"
    )


def _role_order(role: str) -> tuple[int, str]:
    order = ["generators", "master/process", "worker", "varnish", "site", "rest of the host"]
    order.append("host busy")
    return next((i for i, r in enumerate(order) if role.startswith(r)), len(order)), role


def _all_hits(out: Path) -> None:
    """Every recorded sample of a round was a cache hit (H), or the round measured the site."""
    for path in out.glob("samples-*.tsv"):
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.rstrip("\n").split("\t")[5] != "H":
                    raise RuntimeError(f"a request was not a Varnish hit: {line.strip()} ({path})")


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
            assert site.port is not None
            with VarnishProcess("127.0.0.1", site.port, root / "edge") as edge:
                for _ in range(10):
                    hit = httpx.get(edge.url + path)
                    if len(hit.headers.get("x-varnish", "").split()) == 2:
                        break
                assert hit.headers["x-cache"].startswith("HIT"), hit.headers.get("x-cache")
                assert edge.process is not None
                dist_failed = distributed(
                    edge.url,
                    replace(ours, target=edge.url),
                    root,
                    {"varnish": edge.process.pid, "site": site.pid},
                )
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
