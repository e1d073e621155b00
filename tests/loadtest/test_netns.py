"""Across hosts: the site, the master and two workers in four network namespaces.

Each namespace is a host of its own (a veth pair to a bridge in a fifth
namespace, 10.77.0.0/24, addresses only inside the namespaces made here). The
master (`anp-synth loadtest --master --expect-workers 2`) gets every sample
over Locust's messaging: its summary must count every request the two workers
(`anp-synth loadtest --worker --master-host …`, each with its own --out) say
they made, and no worker folder holds a samples file the master could have
read. The commands are the ones docs/loadtest.md's Kubernetes recipe runs.

Needs root and iproute2; skipped with the reason where namespaces cannot be
made, except with CI=true, where it fails instead.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.loadtest.conftest import FIRST_SEED

SUBNET = "10.77.0"
ROLES = {"site": 1, "master": 2, "w1": 3, "w2": 4}
SITE_PORT = 8000
MASTER_PORT = 5557
POSTS = 40
CLI = [sys.executable, "-m", "anp_synth"]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


def _cannot(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true: the namespace test must run, but {reason}")
    pytest.skip(reason)


@dataclass
class Hosts:
    """Five namespaces (four hosts and a hub) and the processes started in them."""

    tag: str
    made: list[str] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def ns(self, role: str) -> str:
        return f"anp{self.tag}-{role}"

    def addr(self, role: str) -> str:
        return f"{SUBNET}.{ROLES[role]}"

    def create(self) -> None:
        hub = self.ns("hub")
        _ip("netns", "add", hub)
        self.made.append(hub)
        _ip("-n", hub, "link", "add", "br0", "type", "bridge")
        _ip("-n", hub, "link", "set", "br0", "up")
        for role in ROLES:
            name = self.ns(role)
            _ip("netns", "add", name)
            self.made.append(name)
            _ip("-n", hub, "link", "add", f"h-{role}", "type", "veth", "peer", "name", "eth0",
                "netns", name)  # fmt: skip
            _ip("-n", hub, "link", "set", f"h-{role}", "master", "br0", "up")
            _ip("-n", name, "addr", "add", f"{self.addr(role)}/24", "dev", "eth0")
            _ip("-n", name, "link", "set", "eth0", "up")
            _ip("-n", name, "link", "set", "lo", "up")

    def run(self, role: str, cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.ns(role), *cmd],
            capture_output=True,
            text=True,
            **kwargs,  # type: ignore[call-overload]
        )

    def start(self, role: str, cmd: list[str], log: Path, env: dict[str, str]) -> None:
        with log.open("wb") as fh:
            proc = subprocess.Popen(
                ["ip", "netns", "exec", self.ns(role), *cmd],
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,  # stopped as a group, by this pid
            )
        self.procs.append(proc)

    def cleanup(self) -> None:
        for proc in self.procs:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                if proc.poll() is not None:
                    break
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    continue
        for name in reversed(self.made):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    if shutil.which("ip") is None:
        _cannot("iproute2's `ip` is not installed")
    if os.geteuid() != 0:
        _cannot("network namespaces need root")
    made = Hosts(tag=str(os.getpid() % 100000))
    try:
        try:
            made.create()
        except subprocess.CalledProcessError as exc:
            _cannot(f"cannot create network namespaces: {exc.stderr.strip() or exc}")
        yield made
    finally:
        made.cleanup()


def _wait_for_site(hosts: Hosts, url: str) -> None:
    probe = "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if hosts.run("master", [sys.executable, "-c", probe, url], timeout=10).returncode == 0:
            return
        time.sleep(0.5)
    raise AssertionError(f"the site did not answer at {url} from the master's namespace")


def test_a_master_counts_every_request_its_workers_made_across_namespaces(
    hosts: Hosts, tmp_path: Path
) -> None:
    env = {**os.environ, "ANP_SITE_TOKEN": "netns-test-token-not-secret"}
    site_url = f"http://{hosts.addr('site')}:{SITE_PORT}"
    db = tmp_path / "site.db"
    hosts.start(
        "site",
        [*CLI, "site", "serve", "--db", str(db), "--host", hosts.addr("site"),
         "--port", str(SITE_PORT), "--no-access-log"],
        tmp_path / "site.log",
        env,
    )  # fmt: skip
    _wait_for_site(hosts, f"{site_url}/health")
    posts, ledger, targets = (
        tmp_path / "posts.jsonl",
        tmp_path / "ledger.sqlite",
        tmp_path / "t.json",
    )
    subprocess.run(
        [
            *CLI,
            "generate",
            "--seed",
            str(FIRST_SEED),
            "--count",
            str(POSTS),
            "-o",
            str(posts),
            "-q",
        ],
        check=True,
        timeout=120,
    )
    imported = hosts.run(
        "master",
        [*CLI, "import", str(posts), "--target", site_url, "--ledger", str(ledger), "--quiet"],
        timeout=300,
        env={**os.environ, "ANP_TARGET_TOKEN": env["ANP_SITE_TOKEN"]},
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    exported = subprocess.run(
        [*CLI, "export-targets", "--target", site_url, "--ledger", str(ledger), "-o", str(targets)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert exported.returncode == 0, exported.stderr

    # the workers first (they wait for the master), each with its own folder
    worker_out = {w: tmp_path / f"{w}-out" for w in ("w1", "w2")}
    for w, out in worker_out.items():
        hosts.start(
            w,
            [*CLI, "loadtest", "--worker", "--master-host", hosts.addr("master"),
             "--master-port", str(MASTER_PORT), "--out", str(out), "--duration", "2m"],
            tmp_path / f"{w}.log",
            dict(os.environ),
        )  # fmt: skip
    master_out = tmp_path / "master-out"
    master = hosts.run(
        "master",
        [*CLI, "loadtest", "--master", "--expect-workers", "2", "--master-port", str(MASTER_PORT),
         "--target", site_url, "--manifest", str(targets), "--out", str(master_out),
         "--users", "6", "--spawn-rate", "6", "--duration", "6s", "--think", "0.05,0.2",
         "--cpu-limit", "100"],
        timeout=240,
    )  # fmt: skip
    for proc in hosts.procs[1:]:
        proc.wait(timeout=60)  # the workers quit with their master
    logs = {w: (tmp_path / f"{w}.log").read_text(errors="replace") for w in worker_out}
    assert master.returncode == 0, master.stdout + master.stderr + json.dumps(logs)

    summary = json.loads((master_out / "summary.json").read_text())
    workers = summary["workers"]["each"]
    assert len(workers) == 2 and summary["workers"]["lost"] == 0
    told = {}
    for w, out in worker_out.items():
        assert "worker done:" in logs[w], logs[w]
        assert not list(out.glob("samples-*.tsv")), f"{w} wrote samples the master could read"
        (tally,) = out.glob("worker-*.json")
        told[w] = json.loads(tally.read_text())
        assert told[w]["sent"] > 0, w
    # every request each worker made, and nothing else, is in the master's summary
    by_id = {w["id"]: w for w in workers}
    for doc in told.values():
        assert by_id[doc["client_id"]]["samples"] == doc["sent"]
    assert summary["aggregate"]["requests"] == sum(doc["sent"] for doc in told.values())
    # the master's samples are its own files, one per worker, written from the messages
    assert len(list(master_out.glob("samples-w*.tsv"))) == 2
    # Locust's own (bucketed) statistics counted the same requests
    with (master_out / "locust_stats.csv").open() as fh:
        locust_total = {r["Name"]: int(r["Request Count"]) for r in csv.DictReader(fh)}
    assert locust_total["Aggregated"] == summary["aggregate"]["requests"]
