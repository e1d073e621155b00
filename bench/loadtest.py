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
microseconds of CPU (50-90 here, measured by this bench), where the Python site
renders and answers each request in Python, on the very cores the generators need. Varnish, not nginx, because it
serves the site's real answer (its headers, ETag and cache verdict) with no copy
of the page to keep in step; every request is checked to be a hit (X-Cache).
For each round the load phase (PHASE: from just after its first request, before its end) is
measured from outside: the requests Varnish served in it (varnishstat
MAIN.client_req) and the CPU each part used (psutil, CPU seconds of each process
tree over the same window, in cores): the Locust master, each worker, Varnish,
the site, and the rest of the machine. Requests per generator CPU-second compare
the harness's efficiency whether or not the cores were free; when the goal is
missed with the cores full, the table says where the CPU went.
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
from collections.abc import Callable
from dataclasses import replace
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
# the load phase of a distributed round, in seconds from its start (Locust's imports
# and its users' start take the first ~1.5 s, its report writing follows the run)
DIST_SECONDS = 10
# The load phase of a distributed round: from PHASE[0] s after its first request reached the
# target (the users are running; a master starts its clock only once its workers are in) for
# PHASE[1] s, well before its end.
PHASE = (1.5, 6.0)
FIRST_REQUEST_WAIT_S = 60.0


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
        "-t", f"{DIST_SECONDS}s", "--csv", str(out / "locust"), "--only-summary",
        "--exit-code-on-error", "0", "--loglevel", "WARNING",
    ]  # fmt: skip
    if processes > 1:  # on loopback, on a port of its own (as `anp-synth loadtest` does)
        port = str(free_port())
        cmd += ["--processes", str(processes), "--master-bind-host", "127.0.0.1"]
        cmd += ["--master-bind-port", port, "--master-host", "127.0.0.1", "--master-port", port]
    return subprocess.Popen(
        cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


class PhaseCpu(threading.Thread):
    """CPU seconds of each part (a process tree) and of the whole host over a run's load phase."""

    def __init__(
        self, locust: int, others: dict[str, int], started: float, served: Callable[[], int]
    ) -> None:
        super().__init__(daemon=True, name="bench-phase-cpu")
        self.locust, self.others, self.started = locust, others, started
        self.served = served  # requests the target has served so far
        self.cores: dict[str, float] = {}
        self.rps = 0.0  # requests/s the target served in the phase

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

    def _snapshot(self) -> tuple[dict[str, dict[int, float]], float, float]:
        parts = {"locust": self._seconds(process_tree(self.locust))}
        for name, pid in self.others.items():
            parts[name] = self._seconds(process_tree(pid))
        host = psutil.cpu_times()
        busy = sum(host) - host.idle - getattr(host, "iowait", 0.0)
        return parts, busy, time.monotonic()

    def run(self) -> None:
        before = self.served()
        while self.served() == before:
            if time.monotonic() > self.started + FIRST_REQUEST_WAIT_S:
                return
            time.sleep(0.1)
        time.sleep(PHASE[0])
        first, busy0, t0 = self._snapshot()
        n0 = self.served()
        time.sleep(PHASE[1])
        n1 = self.served()
        last, busy1, t1 = self._snapshot()
        wall = t1 - t0
        self.rps = (n1 - n0) / wall
        ours = 0.0
        for name, pids in last.items():
            deltas = {pid: v - first.get(name, {}).get(pid, 0.0) for pid, v in pids.items()}
            if name == "locust":
                workers = sorted(pid for pid in deltas if pid != self.locust)
                self.cores["master/process"] = deltas.get(self.locust, 0.0) / wall
                for n, pid in enumerate(workers):
                    self.cores[f"worker {n}"] = deltas[pid] / wall
                self.cores["generators"] = sum(deltas.values()) / wall
            else:
                self.cores[name] = sum(deltas.values()) / wall
            ours += sum(deltas.values()) / wall
        self.cores["rest of the host"] = max(0.0, (busy1 - busy0) / wall - ours)
        self.cores["host busy"] = (busy1 - busy0) / wall


def distributed(
    url: str, settings: Settings, root: Path, parts: dict[str, int], served: Callable[[], int]
) -> int:
    """One process vs 2 workers, and 2 workers with vs without the sample channel."""
    assert settings.manifest is not None
    silent = {  # the same scenario from plain options, recording nothing, sending nothing
        "ANP_LOADTEST_DATA": str(settings.manifest),
        "ANP_LOADTEST_WEIGHTS": "reader=1,browser=0,member=0,inspector=0",
        "ANP_LOADTEST_THINK": "0",
        "ANP_LOADTEST_SIMILAR": "0",
    }
    runs: dict[str, list[float]] = {"one": [], "two": [], "two-silent": []}
    phases: dict[str, list[PhaseCpu]] = {name: [] for name in runs}
    samples_seen = 0
    loads = []
    for i in range(ROUNDS):
        for name in runs:
            out = root / f"dist-{i}-{name}"
            out.mkdir(parents=True)
            if name == "two-silent":
                env = silent
            else:
                doc = replace(settings, out=out, processes=2 if name == "two" else 1)
                env = {"ANP_LOADTEST_SETTINGS": str(doc.write(out / "settings.json"))}
            loads.append(os.getloadavg()[0])
            proc = _start_k(1 if name == "one" else 2, url, out, env)
            phase = PhaseCpu(proc.pid, parts, time.monotonic(), served)
            phase.start()
            runs[name].append(_finish(proc, out, DIST_SECONDS)[0])
            phase.join(timeout=FIRST_REQUEST_WAIT_S)
            phases[name].append(phase)
            _all_hits(out)
            if name == "two":
                samples_seen += sum(
                    1 for f in out.glob("samples-*.tsv") for _ in f.open(encoding="utf-8")
                )
    one, two, silent_two = (statistics.median(runs[k]) for k in ("one", "two", "two-silent"))
    scale, channel = two / one, two / silent_two
    print(
        f"loadtest, distributed: {ROUNDS} interleaved rounds of {DIST_SECONDS} s, {DIST_USERS} "
        f"users, the same page, every request a Varnish hit (nothing pinned; {os.cpu_count()} "
        f"cores; load average {min(loads):.1f}-{max(loads):.1f} at the rounds' starts)"
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
    print(
        f"  the load phase ({PHASE[1]:g} s from {PHASE[0]:g} s after a run's first request; "
        "median of the rounds; "
        f"CPU in cores, {os.cpu_count()} on this host; requests as Varnish counted them):"
    )
    eff: dict[str, float] = {}
    for name, found in phases.items():
        roles = sorted({role for p in found for role in p.cores}, key=_role_order)
        line = ", ".join(
            f"{role} {statistics.median(p.cores.get(role, 0.0) for p in found):.2f}"
            for role in roles
        )
        eff[name] = statistics.median(
            p.rps / max(p.cores.get("generators", 0.0), 1e-9) for p in found
        )
        rps = statistics.median(p.rps for p in found)
        print(f"    {name:<11}: {rps:,.0f} req/s; {eff[name]:,.0f} req per generator CPU-second")
        print(f"    {'':<11}  {line}")
    if min(eff.values()) > 0:
        print(
            "  per generator CPU-second, 2 workers make "
            f"{eff['two'] / eff['one']:.2f} of one process's requests (what K=2 gives per core, "
            f"cores free or not); the channel costs {1 - eff['two'] / eff['two-silent']:+.1%} of "
            "the silent workers' requests per CPU-second"
        )
    else:  # the req/s figures above stand; only this breakdown is missing
        print(
            "  the load phase was not seen in some run (Varnish's request counter did not move "
            "while it lasted: varnishd publishes its counters per session, and keep-alive "
            "sessions may outlast the run), so no per-CPU-second figures"
        )
    return 0 if ok_scale and ok_channel else 1


def _varnish_served(workdir: Path) -> Callable[[], int]:
    """A counter of the requests a Varnish instance has received (varnishstat MAIN.client_req)."""

    def served() -> int:
        found = subprocess.run(
            ["varnishstat", "-n", str(workdir), "-1", "-f", "MAIN.client_req"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return int(found.stdout.split()[1])

    return served


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
                    _varnish_served(root / "edge" / "instance"),
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
