"""scripts/wordpress.sh: idempotent up, env, stop by pid, secrets on disk."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import httpx
import pytest

from anp_synth.generate.builder import PostBuilder
from anp_synth.sinks.wordpress import WordPressSink
from tests.wordpress.site import SCRIPT, WordPress, parse_env

pytestmark = pytest.mark.wordpress
STATE = Path(os.environ.get("ANP_WP_STATE_DIR", "/var/tmp/anp-wordpress"))


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    # stdout is a pipe, as in `$(scripts/wordpress.sh up)`: a server holding it would hang here.
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_env_prints_the_three_assignments(wordpress: WordPress) -> None:
    out = _run("env")
    assert out.returncode == 0
    env = parse_env(out.stdout)
    assert env["ANP_WP_URL"] == wordpress.url
    assert env["ANP_WP_USER"] == "admin"
    assert len(env["ANP_WP_APP_PASSWORD"].replace(" ", "")) == 24
    # The assignments are valid shell (the password holds spaces).
    shell = subprocess.run(
        ["bash", "-c", f'{out.stdout}\nprintf %s "$ANP_WP_APP_PASSWORD"'],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout == env["ANP_WP_APP_PASSWORD"]


def test_secret_files_are_private(wordpress: WordPress) -> None:
    for name in ("app-password", "users.json", "db-password"):
        mode = stat.S_IMODE((STATE / name).stat().st_mode)
        assert mode == 0o600, name


def test_up_is_idempotent_and_quiet(wordpress: WordPress) -> None:
    pids = (STATE / "php.pid").read_text(), (STATE / "mariadb.pid").read_text()
    out = _run("up", timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""
    assert ((STATE / "php.pid").read_text(), (STATE / "mariadb.pid").read_text()) == pids
    assert parse_env(_run("env").stdout)["ANP_WP_APP_PASSWORD"] == wordpress.app_password


def test_stop_then_up_keeps_the_content(wordpress: WordPress, wp_sink: WordPressSink) -> None:
    post = PostBuilder().build(914000)
    wp_sink.upsert(post, idempotency_key="k")
    php_pid = int((STATE / "php.pid").read_text())
    assert _run("stop").returncode == 0
    assert not Path(f"/proc/{php_pid}").exists()
    with pytest.raises(httpx.TransportError):
        httpx.get(wordpress.url, timeout=2)
    out = _run("up")
    assert out.returncode == 0, out.stderr
    fresh = wordpress.sink()
    try:
        remote = fresh.get(post["source_id"])
        assert remote is not None and remote.post == post
    finally:
        fresh.close()


def test_readers_can_log_in_with_the_login_cookie(wordpress: WordPress) -> None:
    import json

    users = json.loads(Path(wordpress.users_file).read_text())["users"]
    with httpx.Client(base_url=wordpress.url, timeout=30) as client:
        client.cookies.set("wordpress_test_cookie", "WP Cookie check")
        resp = client.post(
            "/wp-login.php",
            data={"log": users[0]["username"], "pwd": users[0]["password"], "testcookie": "1"},
        )
        assert resp.status_code == 302
        assert any(name.startswith("wordpress_logged_in_") for name in client.cookies)
