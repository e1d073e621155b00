"""A real browser (Debian's headless Chromium) loads the real site: home, a post, a listing.

Every request the browser made must have succeeded (the site's access log says what it was
asked and answered), no console error, and a screenshot of each page is kept as a test
artifact (ANP_TEST_ARTIFACTS, default out/test-artifacts).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import orjson
import pytest

from anp_synth.site.launcher import SiteProcess
from anp_synth.site.terms import slugify
from tests.site.conftest import make_post

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(os.environ.get("ANP_TEST_ARTIFACTS", "out/test-artifacts"))


def _need_chromium() -> str:
    if CHROMIUM:
        return CHROMIUM
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("chromium is not installed (.ci/run installs Debian's chromium)")
    pytest.skip("chromium is not installed")


def _load(browser: str, url: str, shot: Path, profile: Path) -> str:
    done = subprocess.run(
        [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
        + ["--no-first-run", f"--user-data-dir={profile}", "--window-size=1200,1400"]
        + ["--enable-logging=stderr", "--v=0", f"--screenshot={shot}", url],
        capture_output=True,
        text=True,
        timeout=90,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stderr


def test_a_browser_loads_home_a_post_and_a_listing_without_errors(tmp_path: Path) -> None:
    browser = _need_chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    posts = [make_post(seed) for seed in range(2852, 2864)]
    with SiteProcess(tmp_path / "site.db") as site:
        httpx.post(
            f"{site.url}/api/posts/bulk", content=orjson.dumps(posts), headers=site.auth_headers
        ).raise_for_status()
        pages = {
            "home": "/",
            "post": f"/posts/{posts[0]['slug']}",
            "listing": f"/tag/{slugify(posts[0]['tags'][0])}",
        }
        logs = {}
        for name, path in pages.items():
            shot = ARTIFACTS / f"browser-{name}.png"
            shot.unlink(missing_ok=True)
            logs[name] = _load(browser, site.url + path, shot, tmp_path / "profile")
            assert shot.stat().st_size > 10_000, name  # a rendered page, not a blank one
        time.sleep(0.5)  # the access log is flushed every 0.2 s
        records = [
            orjson.loads(line)
            for line in site.log_path.read_bytes().splitlines()
            if line.startswith(b"{")
        ]
    asked = [r for r in records if r["method"] == "GET" and r["path"] != "/health"]
    failed = [r for r in asked if r["status"] not in (200, 304)]
    assert failed == []
    paths = {r["path"] for r in asked}
    assert set(pages.values()) <= paths
    assert "/favicon.ico" in paths
    assert any(p.startswith("/media/") for p in paths)  # the post's image loaded
    for name, stderr in logs.items():
        console_errors = [line for line in stderr.splitlines() if "CONSOLE" in line]
        assert console_errors == [], (name, console_errors)
