"""A real browser (Debian's headless Chromium) loads the real site: home, a post, a listing,
and a member's page (logged in).

Every request the browser made must have succeeded (as the browser saw it, and in the site's
access log), no console error, and a screenshot of each page is kept as a test artifact
(ANP_TEST_ARTIFACTS, default out/test-artifacts).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import httpx
import orjson
import pytest

from anp_synth.site.cache import SESSION_COOKIE
from anp_synth.site.launcher import SiteProcess, free_port
from anp_synth.site.terms import slugify
from tests.site.cdp import Browser
from tests.site.conftest import USERS, make_post

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(os.environ.get("ANP_TEST_ARTIFACTS", "out/test-artifacts"))


def _need_chromium() -> str:
    if CHROMIUM:
        return CHROMIUM
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("chromium is not installed (.ci/run installs Debian's chromium)")
    pytest.skip("chromium is not installed")


def _users_file(path: Path) -> Path:
    users = [
        {"username": u.username, "password": u.password, "display_name": u.display_name}
        for u in USERS
    ]
    path.write_bytes(orjson.dumps({"users": users}))
    return path


def _log_in(site: SiteProcess) -> str:
    user = USERS[0]
    answer = httpx.post(
        f"{site.url}/login",
        data={"username": user.username, "password": user.password},
        follow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 303, answer.text
    return answer.cookies[SESSION_COOKIE]


def test_a_browser_loads_the_site_anonymous_and_logged_in_without_errors(tmp_path: Path) -> None:
    executable = _need_chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    posts = [make_post(seed) for seed in range(2852, 2864)]
    post_path = f"/posts/{posts[0]['slug']}"
    pages = {
        "home": "/",
        "post": post_path,
        "listing": f"/tag/{slugify(posts[0]['tags'][0])}",
    }
    users = _users_file(tmp_path / "users.json")
    visits = {}
    with SiteProcess(tmp_path / "site.db", users_file=users) as site:
        httpx.post(
            f"{site.url}/api/posts/bulk", content=orjson.dumps(posts), headers=site.auth_headers
        ).raise_for_status()
        with Browser(executable, tmp_path / "profile") as browser:
            for name, path in pages.items():
                visits[name] = browser.visit(site.url + path, ARTIFACTS / f"browser-{name}.png")
                assert browser.evaluate("document.querySelector('.username')") is None
            browser.set_cookie(SESSION_COOKIE, _log_in(site), site.url)
            visits["member"] = browser.visit(site.url + post_path, ARTIFACTS / "browser-member.png")
            shown = browser.evaluate("document.querySelector('.username').textContent")
            assert shown == USERS[0].display_name  # the member's page, not a cached copy
            # the theme's script ran: it marks the navigation link of the page being read
            home = browser.visit(site.url + "/", ARTIFACTS / "browser-member-home.png")
            current = browser.evaluate("document.querySelector('[aria-current=page]').textContent")
            assert current == "Latest"
            visits["member-home"] = home
        time.sleep(0.5)  # the access log is flushed every 0.2 s
        records = [
            orjson.loads(line)
            for line in site.log_path.read_bytes().splitlines()
            if line.startswith(b"{")
        ]
    for name, visit in visits.items():
        assert visit.failed == [], (name, visit.failed)
        assert visit.console_errors == [], (name, visit.console_errors)
        assert (ARTIFACTS / f"browser-{name}.png").stat().st_size > 10_000, name  # not blank
    asked = [r for r in records if r["method"] == "GET" and r["path"] != "/health"]
    assert [r for r in asked if r["status"] not in (200, 304)] == []
    paths = {r["path"] for r in asked}
    assert set(pages.values()) <= paths
    assert "/favicon.ico" in paths
    assert any(p.startswith("/static/site.") and p.endswith(".css") for p in paths)
    assert any(p.startswith("/static/site.") and p.endswith(".js") for p in paths)
    assert any(p.startswith("/media/") for p in paths)  # the post's image loaded


def test_the_browser_check_sees_console_errors_and_failed_requests(tmp_path: Path) -> None:
    # The checks above must be able to fail: a page with each fault is reported.
    executable = _need_chromium()
    page = tmp_path / "faulty.html"
    page.write_text(
        "<!doctype html><title>faulty</title><p>x</p>"
        "<script>console.error('broken on purpose'); undefinedFunction();</script>"
        f'<img src="http://127.0.0.1:{free_port()}/missing.png" alt="">',
        encoding="utf-8",
    )
    with Browser(executable, tmp_path / "profile") as browser:
        visit = browser.visit(page.as_uri(), tmp_path / "faulty.png")
    assert any("broken on purpose" in e for e in visit.console_errors)
    assert any("undefinedFunction" in e for e in visit.console_errors), visit.console_errors
    assert any("missing.png" in f for f in visit.failed), visit.failed
