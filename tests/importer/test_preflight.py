"""Rule 1: a target that is not the import API fails fast, in one line naming the URL and why.

Each case runs the real command in a subprocess with a bound on its time (today a typo in the
port waited out --max-pause, 300 s, in silence); the bound is a hang guard, not a speed test.
"""

from __future__ import annotations

import http.server
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from anp_synth.site.launcher import SiteProcess
from tests.importer.posts import anp_cli, post, write_jsonl
from tests.localhttp import serving

HANG_GUARD_S = 60


def anp(*args: str, token: str | None = "some-token") -> subprocess.CompletedProcess[str]:
    return anp_cli(*args, token=token, timeout=HANG_GUARD_S)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Html(http.server.BaseHTTPRequestHandler):
    """A web server that is not the import API: an HTML page for every GET."""

    def do_GET(self) -> None:
        body = b"<!doctype html><html><body><h1>Welcome to nginx!</h1></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _NotFound(_Html):
    def do_GET(self) -> None:
        self.send_error(404)


class _Unavailable(_Html):
    """A proxy whose upstream is down: 503 for every GET, counted."""

    requests: list[str] = []

    def do_GET(self) -> None:
        _Unavailable.requests.append(self.path)
        self.send_error(503)


@pytest.fixture
def html_server() -> Iterator[str]:
    with serving(_Html) as url:
        yield url


@pytest.fixture
def not_found_server() -> Iterator[str]:
    with serving(_NotFound) as url:
        yield url


@pytest.fixture
def unavailable_server() -> Iterator[str]:
    _Unavailable.requests.clear()
    with serving(_Unavailable) as url:
        yield url


@pytest.fixture(scope="module")
def site(module_site: SiteProcess) -> SiteProcess:
    return module_site  # one site for the module: every test imports posts of its own


@pytest.fixture
def posts(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "p.jsonl", [post(s) for s in range(3)])


def _one_line(res: subprocess.CompletedProcess[str]) -> str:
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr
    return lines[0]


def test_nothing_listening_is_exit_1_in_one_line_naming_the_url(tmp_path, posts) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    res = anp("import", str(posts), "--target", url, "--ledger", str(tmp_path / "l"), "-q")
    assert res.returncode == 1, res.stderr
    line = _one_line(res)
    assert f"{url}/health" in line and "nothing is listening" in line
    assert not (tmp_path / "l.runs").exists()  # checked before a run began


@pytest.mark.parametrize("command", ["verify", "rollback"])
def test_verify_and_rollback_check_the_target_first(tmp_path, posts, command) -> None:
    # a site of this case's own: a rollback needs a run that changed the site (the module's
    # site holds these posts already: another ledger's import of them is "unchanged" there)
    with SiteProcess(tmp_path / "own-site.db") as site:
        _check_the_target_first(tmp_path, posts, site, command)


def _check_the_target_first(tmp_path, posts, site, command) -> None:  # type: ignore[no-untyped-def]
    ledger = str(tmp_path / "l")
    done = anp(
        "import", str(posts), "--target", site.url, "--ledger", ledger, "-q", token=site.token
    )
    assert done.returncode == 0, done.stderr
    url = f"http://127.0.0.1:{free_port()}"
    if command == "verify":
        res = anp("verify", str(posts), "--target", url, "--ledger", ledger)
    else:
        # the run's own target went away: point the ledger's run at a dead port
        import sqlite3

        with sqlite3.connect(ledger) as db:
            db.execute("UPDATE runs SET target = ?", (url,))
            db.execute("UPDATE items SET target = ?", (url,))
            db.execute("UPDATE changes SET target = ?", (url,))
        res = anp("rollback", "--ledger", ledger, "--yes")
    assert res.returncode == 1, res.stdout + res.stderr
    line = _one_line(res)
    assert url in line and "nothing is listening" in line


def test_an_html_server_is_not_the_import_api(tmp_path, posts, html_server) -> None:
    res = anp("import", str(posts), "--target", html_server, "--ledger", str(tmp_path / "l"))
    assert res.returncode == 1, res.stderr
    line = _one_line(res)
    assert f"{html_server}/health" in line and "not the anp import API" in line
    assert "text/html, not JSON" in line and "<h1>" not in line


def test_a_target_that_stays_503_is_asked_four_times_then_exit_1(
    tmp_path, posts, unavailable_server
) -> None:
    from anp_synth.sinks.base import PREFLIGHT_ATTEMPTS

    ledger = tmp_path / "l"
    res = anp("import", str(posts), "--target", unavailable_server, "--ledger", str(ledger))
    assert res.returncode == 1, res.stderr
    line = _one_line(res)
    assert f"{unavailable_server}/health: HTTP 503" in line and "giving up" in line
    assert _Unavailable.requests == ["/health"] * PREFLIGHT_ATTEMPTS  # one loop, not two
    assert not (tmp_path / "l.runs").exists()


def test_a_server_without_the_api_is_not_the_import_api(tmp_path, posts, not_found_server) -> None:
    res = anp("import", str(posts), "--target", not_found_server, "--ledger", str(tmp_path / "l"))
    assert res.returncode == 1, res.stderr
    assert "HTTP 404" in _one_line(res)


def test_a_url_with_a_path_where_there_is_no_api(tmp_path, posts, site) -> None:
    url = f"{site.url}/blog"
    res = anp(
        "import", str(posts), "--target", url, "--ledger", str(tmp_path / "l"), token=site.token
    )
    assert res.returncode == 1, res.stderr
    line = _one_line(res)
    assert f"{url}/health" in line and "not the anp import API (HTTP 404" in line


def test_the_real_site_passes_and_a_dry_run_sends_nothing(tmp_path, posts, site) -> None:
    ok = anp("import", str(posts), "--target", site.url, "--ledger", str(tmp_path / "a"), "-q",
             token=site.token)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    dead = f"http://127.0.0.1:{free_port()}"
    dry = anp("import", str(posts), "--target", dead, "--ledger", str(tmp_path / "b"), "--dry-run")
    assert dry.returncode == 0, dry.stderr


def test_verify_reads_without_a_token(tmp_path, posts) -> None:
    site = SiteProcess(tmp_path / "own" / "site.db")  # its own site: it holds only these posts
    site.start()
    try:
        ledger = str(tmp_path / "l")
        done = anp("import", str(posts), "--target", site.url, "--ledger", ledger, "-q",
                   token=site.token)  # fmt: skip
        assert done.returncode == 0, done.stderr
        res = anp("verify", str(posts), "--target", site.url, "--ledger", ledger, token=None)
        assert res.returncode == 0, res.stdout + res.stderr
        assert "posts on target" in res.stdout
        no_token = anp("import", str(posts), "--target", site.url, "--ledger", ledger, token=None)
        assert no_token.returncode == 2 and "ANP_TARGET_TOKEN" in no_token.stderr  # writing does
    finally:
        site.stop()
