"""`site serve` as a user runs it: option errors, the generated token, users, several workers."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest

from anp_synth.site.launcher import SiteProcess, free_port
from tests.site.conftest import make_post, read_log_when

CLI = [sys.executable, "-m", "anp_synth"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "0"], "--port"),
        (["--port", "70000"], "--port"),
        (["--workers", "0"], "--workers"),
        (["--users", "/nonexistent/users.json"], "--users"),
    ],
)
def test_bad_options_exit_2_with_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ANP_SITE_TOKEN"}
    done = subprocess.run(
        [*CLI, "site", "serve", "--db", str(tmp_path / "s.db"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert "Traceback" not in done.stderr


def test_bad_users_file_is_a_one_line_error(tmp_path: Path) -> None:
    users = tmp_path / "users.json"
    users.write_text('{"users": [{"username": "a"}]}')
    done = subprocess.run(
        [*CLI, "site", "serve", "--db", str(tmp_path / "s.db"), "--users", str(users)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "users[0].password" in done.stderr and "Traceback" not in done.stderr


def test_without_a_token_one_is_generated_beside_the_db_and_never_logged(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "ANP_SITE_TOKEN"}
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [*CLI, "site", "serve", "--db", str(db), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        token_file = Path(f"{db}.token")
        assert token_file.stat().st_mode & 0o777 == 0o600
        token = token_file.read_text().strip()
        assert len(token) >= 32
        users = orjson.loads(Path(f"{db}.users.json").read_bytes())["users"]
        assert users and Path(f"{db}.users.json").stat().st_mode & 0o777 == 0o600
        post = make_post(950_000)
        url = f"http://127.0.0.1:{port}/api/posts/{post['source_id']}"
        assert httpx.put(url, content=orjson.dumps(post)).status_code == 401
        ok = httpx.put(
            url, content=orjson.dumps(post), headers={"Authorization": f"Bearer {token}"}
        )
        assert ok.status_code == 201
        login = httpx.post(
            f"http://127.0.0.1:{port}/login",
            data={"username": users[0]["username"], "password": users[0]["password"]},
        )
        assert login.status_code == 303
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)
        log.close()
    output = (tmp_path / "serve.log").read_text()
    assert "generated and stored in" in output
    assert token not in output
    assert users[0]["password"] not in output


def test_the_launcher_stops_the_server_by_pid(tmp_path: Path) -> None:
    site = SiteProcess(tmp_path / "s.db")
    with site:
        pid = site.pid
        assert httpx.get(f"{site.url}/health").json()["status"] == "ok"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{site.url}/health", timeout=1)


def test_a_write_on_one_worker_purges_every_workers_cache(tmp_path: Path) -> None:
    with SiteProcess(tmp_path / "s.db", workers=2) as site:
        post = make_post(960_000)
        with httpx.Client(base_url=site.url, headers=site.auth_headers, timeout=10) as client:
            client.put(f"/api/posts/{post['source_id']}", content=orjson.dumps(post))
            path = f"/posts/{post['slug']}"
            # Fresh connections spread over both workers; each worker answers its first
            # request for the page with a MISS and caches it: two MISSes = both cached it.
            outcomes = []
            for _ in range(300):
                outcomes.append(httpx.get(site.url + path).headers["x-cache"].split(";")[0])
                if outcomes.count("MISS") == 2 and outcomes[-1] == "HIT":
                    break
            assert outcomes.count("MISS") == 2, outcomes
            changed = {**post, "title": "changed through one worker"}
            client.put(f"/api/posts/{post['source_id']}", content=orjson.dumps(changed))
            # Workers read the purge log every 20 ms: wait (bounded) until 30 fresh connections
            # in a row, spread over both workers, all get the new page. A worker that missed the
            # purge would serve its stale copy for the rule's whole TTL, and this never happens.
            in_a_row = 0
            deadline = time.monotonic() + 10
            while in_a_row < 30 and time.monotonic() < deadline:
                fresh = "changed through one worker" in httpx.get(site.url + path).text
                in_a_row = in_a_row + 1 if fresh else 0
            assert in_a_row == 30
        log = read_log_when(site, '"path":"/api/posts/alphanode-960000"')
        assert log.count('"method":"PUT"') == 2


def _serve_refused(tmp_path: Path, db: Path, *args: str) -> str:
    """`site serve` that must refuse at once: exit 2, one line, no URL announced, no file."""
    before = set(tmp_path.rglob("*"))
    env = {k: v for k, v in os.environ.items() if k != "ANP_SITE_TOKEN"}
    done = subprocess.run(
        [*CLI, "site", "serve", "--db", str(db), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert "http://" not in done.stderr  # the URL is announced only once it can be served
    assert set(tmp_path.rglob("*")) == before  # no token, no users file, no database
    return lines[0]


def _foreign_sqlite(path: Path) -> None:
    import sqlite3

    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY)")
    db.close()


@pytest.mark.parametrize(
    ("make", "name", "needle"),
    [
        (lambda p: p.write_bytes(b"not a database, just text\n" * 100), "garbage.db",
         "not an SQLite database"),
        (lambda p: p.mkdir(), "adir", "is a directory"),
        (_foreign_sqlite, "ledger.sqlite", "an SQLite file, but not the site's (tables runs)"),
    ],
)  # fmt: skip
def test_a_db_that_is_not_the_sites_is_refused(
    tmp_path: Path, make, name: str, needle: str
) -> None:
    db = tmp_path / name
    make(db)
    line = _serve_refused(tmp_path, db, "--port", str(free_port()))
    assert line.startswith(f"error: --db: {db}") and needle in line


def test_a_db_whose_folder_cannot_be_made_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("a file where a folder should be")
    line = _serve_refused(tmp_path, tmp_path / "file" / "sub" / "site.db")
    assert line.startswith("error: --db: cannot create") and "is not a folder" in line


def test_a_port_in_use_is_refused_before_the_url_is_announced(tmp_path: Path) -> None:
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        for workers in ("1", "2"):
            line = _serve_refused(tmp_path, tmp_path / "s.db", "--port", str(port),
                                  "--workers", workers)  # fmt: skip
            assert line == f"error: --port: 127.0.0.1:{port} is in use by another program"


def test_a_launched_site_stops_when_its_parent_is_killed(tmp_path: Path) -> None:
    """A SiteProcess's site gets SIGTERM when the process that started it dies, even by SIGKILL
    (a test run cut by a timeout used to leave its sites serving)."""
    import psutil

    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from anp_synth.site.launcher import SiteProcess\n"
        f"s = SiteProcess(Path({str(tmp_path / 'site.db')!r})).start()\n"
        "print(s.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert parent.stdout is not None
        site_pid = int(parent.stdout.readline())
        site = psutil.Process(site_pid)
        assert site.is_running() and site.status() != psutil.STATUS_ZOMBIE
        parent.kill()
        parent.wait(10)
        deadline = time.monotonic() + 20
        gone = False
        while time.monotonic() < deadline and not gone:
            try:
                gone = site.status() == psutil.STATUS_ZOMBIE
            except psutil.NoSuchProcess:
                gone = True
            time.sleep(0.1)
        assert gone, f"site pid {site_pid} still running after its parent was killed"
    finally:
        parent.kill()
        parent.wait(10)
        with contextlib.suppress(ProcessLookupError, NameError):
            os.killpg(site_pid, signal.SIGKILL)
