"""Fixtures (a pytest plugin, see tests/conftest.py): a real WordPress for the session, started
by scripts/wordpress.sh and stopped at the end if the session started it.

Locally the tests skip (with the reason) when WordPress cannot be installed here: no apt-get,
or not root while the packages are missing. With CI=true they never skip: CI must run them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from anp_synth.sinks.wordpress import WordPressSink

ROOT = Path(__file__).resolve().parents[2]
# The sink's write paths: the plugin's bulk route in both modes, and the batch/v1 fallback.
WP_MODES = ("hooks", "direct", "rest")
SCRIPT = ROOT / "scripts" / "wordpress.sh"
UP_TIMEOUT = 300  # apt-get on a fresh machine is most of it


@dataclass(frozen=True)
class WordPress:
    """Where the test WordPress answers and how to log in to it."""

    url: str
    user: str
    app_password: str
    users_file: str

    def sink(self, **options: object) -> WordPressSink:
        """A fresh sink on this site."""
        return WordPressSink(self.url, user=self.user, app_password=self.app_password, **options)  # type: ignore[arg-type]


def _script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=UP_TIMEOUT,
        check=False,
    )


def _installable() -> str | None:
    """Why WordPress cannot be installed here, or None when it can (or already is)."""
    if shutil.which("php") and shutil.which("mariadbd"):
        return None
    if not shutil.which("apt-get"):
        return "apt-get is not available (WordPress comes from Debian's packages)"
    if os.geteuid() != 0:
        return "WordPress packages are missing and installing them needs root"
    return None


def parse_env(text: str) -> dict[str, str]:
    """`KEY='value'` lines as printed by `scripts/wordpress.sh env`."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        out[key] = value.strip("'")
    return out


def delete_imported(site: WordPress) -> None:
    """Delete every post that has a source_id, 25 per batch/v1 call (bounded: 400 calls)."""
    sink = site.sink()
    try:
        with httpx.Client(
            base_url=site.url, auth=(site.user, site.app_password), timeout=60
        ) as rest:
            for _ in range(400):
                page = sink.list(limit=100)
                if not page.items:
                    return
                ids = [item.remote_id for item in page.items]
                for start in range(0, len(ids), 25):
                    requests = [
                        {"method": "DELETE", "path": f"/wp/v2/posts/{i}?force=true"}
                        for i in ids[start : start + 25]
                    ]
                    rest.post("/wp-json/batch/v1", json={"requests": requests}).raise_for_status()
            raise AssertionError("imported posts keep coming back")
    finally:
        sink.close()


@pytest.fixture(scope="session")
def wordpress() -> Iterator[WordPress]:
    """The script's WordPress, up for the session, with no imported posts at the start."""
    in_ci = os.environ.get("CI", "").lower() == "true"
    reason = _installable()
    if reason:
        if in_ci:
            pytest.fail(f"CI must run the WordPress tests, but {reason}")
        pytest.skip(f"WordPress tests skipped: {reason}")
    was_running = "wordpress: running" in _script("status").stdout
    up = _script("up")
    if up.returncode != 0:
        pytest.fail(f"scripts/wordpress.sh up failed:\n{up.stderr[-2000:]}")
    env = parse_env(_script("env").stdout)
    site = WordPress(
        env["ANP_WP_URL"], env["ANP_WP_USER"], env["ANP_WP_APP_PASSWORD"], env["ANP_WP_USERS_FILE"]
    )
    delete_imported(site)  # start from an empty target: the tests count what they import
    try:
        yield site
    finally:
        if not was_running:
            _script("stop")


@pytest.fixture(params=WP_MODES)
def wp_mode(request: pytest.FixtureRequest) -> str:
    """Each write path in turn: --wp-mode hooks, direct, rest (the batch/v1 fallback)."""
    return str(request.param)


@pytest.fixture
def wp_sink(wordpress: WordPress, wp_mode: str) -> Iterator[WordPressSink]:
    """A sink on the test WordPress in each mode; the posts a test writes are deleted after it."""
    sink = wordpress.sink(wp_mode=wp_mode)
    try:
        yield sink
    finally:
        sink.close()
        delete_imported(wordpress)


@pytest.fixture
def wp_reader(wordpress: WordPress) -> Iterator[WordPressSink]:
    """A sink (default mode) for tests that are not about the write path; cleans up after."""
    sink = wordpress.sink()
    try:
        yield sink
    finally:
        sink.close()
        delete_imported(wordpress)
