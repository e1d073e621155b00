"""`anp-synth loadtest --edge` through Varnish in front of the real site (a short headless run)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from anp_synth.edge.varnish import VarnishProcess, available
from anp_synth.site.launcher import SiteProcess
from tests.edge.conftest import need_varnish
from tests.loadtest.conftest import CLI, import_posts, write_accounts

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
FAST = ["--users", "6", "--spawn-rate", "6", "--think", "0.05,0.2", "--duration", "6s"]


def _routes(out: Path) -> dict[str, dict]:
    doc = json.loads((out / "summary.json").read_text())
    return {r["route"]: r for r in doc["routes"]}


@pytest.mark.skipif(
    not available() and os.environ.get("CI", "").lower() != "true", reason="no varnishd"
)
def test_loadtest_through_varnish_with_edge_passes(tmp_path: Path) -> None:
    need_varnish()
    accounts = write_accounts(tmp_path / "users.json")
    with SiteProcess(tmp_path / "site.db", users_file=accounts) as site:
        ledger = import_posts(site, tmp_path, count=60)
        manifest = tmp_path / "targets.json"
        subprocess.run(
            [*CLI, "export-targets", "--target", site.url, "--ledger", str(ledger)]
            + ["-o", str(manifest)],
            check=True,
            timeout=60,
        )
        with VarnishProcess("127.0.0.1", int(site.port or 0), tmp_path / "varnish") as edge:

            def loadtest(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
                return subprocess.run(
                    [*CLI, "loadtest", "--target", edge.url, "--manifest", str(manifest)]
                    + ["--accounts", str(accounts), "--out", str(out), *FAST, *extra],
                    capture_output=True,
                    text=True,
                    timeout=180,
                )

            weights = ["--weights", "reader=2,browser=1,member=1,inspector=3"]
            generous = ["--thresholds", str(FIXTURES / "loadtest-thresholds-generous.toml")]
            done = loadtest(tmp_path / "edge", "--edge", *weights, *generous)
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
            assert "load test passed" in done.stdout
            routes = _routes(tmp_path / "edge")
            again = routes["[inspect] /posts/[slug] (again)"]
            assert again["requests"] > 0 and again["failures"] == 0
            assert set(again["cache"]) == {"HIT"}  # the edge's HIT, checked against X-Varnish
            members = [r for name, r in routes.items() if name.startswith("[member]")]
            assert members and all(set(r["cache"]) == {"BYPASS"} for r in members)
            assert all(r["failures"] == 0 for r in members)

            # The same run straight at the origin with --edge fails: no edge verdict there.
            origin = subprocess.run(
                [*CLI, "loadtest", "--target", site.url, "--manifest", str(manifest)]
                + ["--out", str(tmp_path / "origin"), *FAST, "--edge", *generous]
                + ["--weights", "reader=0,browser=0,member=0,inspector=1"],
                capture_output=True,
                text=True,
                timeout=180,
            )
            inspected = _routes(tmp_path / "origin")["[inspect] /posts/[slug]"]
            assert inspected["failures"] == inspected["requests"] > 0
            assert origin.returncode == 3  # the failure-ratio thresholds are breached


def test_the_edge_setting_reads_from_text_and_refuses_nonsense() -> None:
    from anp_synth.errors import UsageError
    from anp_synth.loadtest.settings import Settings

    assert Settings.from_values({"edge": "1"}).edge is True
    assert Settings.from_values({"edge": "off"}).edge is False
    assert Settings.from_values({}).edge is False
    with pytest.raises(UsageError) as info:
        Settings.from_values({"edge": "maybe"})
    assert info.value.option == "edge"


def test_assets_are_fetched_like_a_browser_with_a_cache(tmp_path: Path) -> None:
    with SiteProcess(tmp_path / "site.db") as site:
        ledger = import_posts(site, tmp_path, count=8)  # few posts: readers come back to them
        done = subprocess.run(
            [*CLI, "loadtest", "--target", site.url, "--ledger", str(ledger)]
            + ["--out", str(tmp_path / "out"), "--assets", "--similar", "0"]
            + ["--weights", "reader=1,browser=0,member=0,inspector=0"]
            + ["--users", "4", "--spawn-rate", "4", "--think", "0.05,0.1", "--duration", "5s"],
            capture_output=True,
            text=True,
            timeout=180,
        )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    routes = _routes(tmp_path / "out")
    reads = routes["/posts/[slug]"]["requests"]
    images = routes["[asset] /media/…"]
    icon = routes["[asset] /favicon.ico"]
    assert images["failures"] == 0 and icon["failures"] == 0
    # An image is immutable: fetched once per user and post at most, then from the cache.
    assert 0 < images["requests"] <= 4 * 8 < reads
    # The theme's stylesheet and script are immutable too: once per user each.
    static = routes["[asset] /static/…"]
    assert static["failures"] == 0 and 0 < static["requests"] <= 4 * 2
    # The icon must be revalidated (max-age=0): a conditional request with every page.
    assert icon["requests"] == reads
