"""A built static site as a load-test target: import → hugo → nginx (scripts/static-serve.sh) → loadtest."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from anp_synth.errors import UsageError
from anp_synth.importer.ledger import Ledger
from anp_synth.loadtest import manifest, static
from anp_synth.sinks.registry import create_sink
from anp_synth.sinks.static.skeleton import init_site
from tests.importer.posts import post, run_import, write_jsonl
from tests.loadtest.conftest import CLI
from tests.sinks.static_sites import build, need

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "static-serve.sh"


def serve(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ANP_STATIC_STATE_DIR": str(state)}
    return subprocess.run(
        ["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=120
    )


class Served:
    def __init__(self, root: Path, ledger: Path, url: str, state: Path) -> None:
        self.root, self.ledger, self.url, self.state = root, ledger, url, state


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """40 posts imported with `anp-synth import --sink hugo`, built by Hugo, served by nginx."""
    need("hugo")
    need("nginx")
    tmp = tmp_path_factory.mktemp("static-site")
    root = tmp / "site"
    init_site("hugo", root)
    data, ledger = tmp / "posts.jsonl", tmp / "ledger.sqlite"
    gen = [*CLI, "generate", "--seed", "2852", "--count", "40", "-o", str(data), "-q"]
    subprocess.run(gen, check=True, timeout=120)
    imp = [*CLI, "import", str(data), "--sink", "hugo", "--target", str(root)]
    subprocess.run([*imp, "--ledger", str(ledger), "-q"], check=True, timeout=120)
    out = build("hugo", root)
    state = tmp / "nginx"
    up = serve(state, "up", str(out))
    assert up.returncode == 0, up.stderr
    try:
        yield Served(root, ledger, up.stdout.strip(), state)
    finally:
        serve(state, "stop")


def test_loadtest_against_the_served_site_every_route_200(served: Served, tmp_path: Path) -> None:
    out = tmp_path / "lt"
    args = ["--target", served.url, "--ledger", str(served.ledger), "--out", str(out)]
    fast = ["--duration", "6s", "--users", "6", "--spawn-rate", "6", "--think", "0.05,0.2"]
    run = subprocess.run(
        [*CLI, "loadtest", *args, *fast], capture_output=True, text=True, timeout=180
    )
    assert run.returncode == 0, run.stdout + run.stderr
    doc = json.loads((out / "targets.json").read_text())
    assert doc["site"] == "static" and doc["search_terms"] == []
    assert doc["cache_rules"] == [{"pattern": "^/", "rule": "static", "cached": True}]
    assert doc["stacks"] and all(s["path"].startswith("/categories/") for s in doc["stacks"])
    assert doc["tags"] and all(t["path"].startswith("/tags/") for t in doc["tags"])
    # the ledger's URLs are the served pages, and so are the listings taken from the site
    with httpx.Client(base_url=served.url, timeout=10) as client:
        for entry in [*doc["posts"][:5], *doc["stacks"][:3], *doc["tags"][:3]]:
            path = entry.get("path") or entry["url"]
            assert client.get(path).status_code == 200, path
    routes = {r["route"]: r for r in json.loads((out / "summary.json").read_text())["routes"]}
    for name in ("/", "/posts/[slug]", "/stack/[slug]", "/tag/[slug]", "[inspect] /posts/[slug]"):
        assert routes[name]["requests"] > 0, name
    assert routes["[inspect] /posts/[slug] (304)"]["requests"] > 0  # ETag revalidated
    assert routes["[inspect] /posts/[slug]?query"]["requests"] > 0  # no bypass: still cacheable
    assert not any("search" in n or "member" in n or "login" in n for n in routes)
    assert all(r["failures"] == 0 for r in routes.values()), routes
    assert "static site: no login and no search" in run.stdout


def test_a_static_page_that_forbids_caching_fails_the_inspector(
    served: Served, tmp_path: Path
) -> None:
    # the same site served with Cache-Control no-store: the static rule says it may be kept
    state = tmp_path / "nginx"
    up = serve(state, "up", str(served.root / "public"))
    assert up.returncode == 0, up.stderr
    conf = (state / "nginx.conf").read_text().replace("public, max-age=60", "no-store")
    (state / "nginx.conf").write_text(conf)
    pid = (state / "nginx.pid").read_text().strip()
    subprocess.run(["kill", "-HUP", pid], check=True)  # nginx rereads its config
    url = up.stdout.strip()
    try:
        for _ in range(100):
            if "no-store" in httpx.get(url + "/", timeout=5).headers.get("Cache-Control", ""):
                break
            time.sleep(0.05)
        out = tmp_path / "lt"
        run = subprocess.run(
            [*CLI, "loadtest", "--target", url, "--ledger", str(served.ledger), "--out", str(out)]
            + ["--duration", "4s", "--users", "4", "--spawn-rate", "4", "--think", "0.05,0.1"]
            + ["--weights", "reader=0,browser=0,member=0,inspector=1"],
            capture_output=True,
            text=True,
            timeout=180,
        )
    finally:
        serve(state, "stop")
    assert run.returncode == 3, run.stdout + run.stderr
    routes = {r["route"]: r for r in json.loads((out / "summary.json").read_text())["routes"]}
    assert routes["[inspect] /posts/[slug]"]["failures"] > 0


def test_script_status_stop_and_refusals(served: Served, tmp_path: Path) -> None:
    status = serve(served.state, "status")
    assert status.returncode == 0 and served.url in status.stdout
    # a folder that is not a built site, and a second site on the same state dir, are refused
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "not a built site" in serve(tmp_path / "other", "up", str(empty)).stderr
    other = tmp_path / "built"
    other.mkdir()
    (other / "index.html").write_text("<p>another site</p>")
    again = serve(served.state, "up", str(other))
    assert again.returncode == 1 and "already serving" in again.stderr
    state = tmp_path / "own"
    up = serve(state, "up", str(served.root / "public"))
    assert up.returncode == 0, up.stderr
    pid = int((state / "nginx.pid").read_text())
    group = [p for p in os.listdir("/proc") if p.isdigit() and _pgid(int(p)) == pid]
    assert len(group) >= 2  # the master and its worker, in their own process group
    assert serve(state, "stop").returncode == 0
    assert not any(Path(f"/proc/{p}").exists() and _pgid(int(p)) == pid for p in group)
    assert serve(state, "status").returncode == 3
    assert serve(state, "up").returncode == 1  # DIR is required


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def test_term_links_read_a_term_index() -> None:
    page = (
        '<ul class="terms"><li><a href="/tags/c&#43;&#43;/">C&#43;&#43;</a> (2)</li>'
        '<li><a href="/tags/node.js/"><b>Node.js</b></a></li><a href="/tags/">all</a>'
        '<a href="/posts/x/">x</a></ul>'
    )
    assert static.term_links(page, "tags") == {"c++": "/tags/c++/", "node.js": "/tags/node.js/"}


def test_a_ledger_with_two_static_sites_asks_for_one(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.sqlite"
    src = write_jsonl(tmp_path / "posts.jsonl", [post(s) for s in range(2852, 2855)])
    with Ledger(ledger) as led:
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            run_import(create_sink("jekyll", str(tmp_path / name)), led, str(tmp_path / name), src)
    assert manifest.imported(ledger, str(tmp_path / "a")) == ("static", str(tmp_path / "a"))
    with pytest.raises(UsageError, match="several static sites"):
        manifest.imported(ledger, "http://127.0.0.1:9")
    one = tmp_path / "one.sqlite"
    with Ledger(one) as led:
        run_import(create_sink("jekyll", str(tmp_path / "a")), led, str(tmp_path / "a"), src)
    assert manifest.imported(one, "http://127.0.0.1:9") == ("static", str(tmp_path / "a"))
