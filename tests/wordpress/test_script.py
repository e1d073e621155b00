"""scripts/wordpress.sh: idempotent up, env, stop by pid, secrets on disk."""

from __future__ import annotations

import os
import stat
import subprocess
import uuid
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


# mariadb.pid only when this site started MariaDB (it is one server for every site).
PIDS = ("nginx.pid", "php-fpm.pid", "mariadb.pid")


def _pids() -> dict[str, str]:
    return {name: (STATE / name).read_text() for name in PIDS if (STATE / name).exists()}


def test_up_is_idempotent_and_quiet(wordpress: WordPress) -> None:
    pids = _pids()
    assert {"nginx.pid", "php-fpm.pid"} <= set(pids)
    out = _run("up", timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""
    assert _pids() == pids
    assert parse_env(_run("env").stdout)["ANP_WP_APP_PASSWORD"] == wordpress.app_password


def test_stop_then_up_keeps_the_content(wordpress: WordPress, wp_reader: WordPressSink) -> None:
    post = PostBuilder().build(914000)
    wp_reader.upsert(post, idempotency_key=f"k-{uuid.uuid4().hex}")
    web = [int((STATE / name).read_text()) for name in ("nginx.pid", "php-fpm.pid")]
    children = _children(web)
    assert children, "nginx and php-fpm run worker processes"
    mariadb_ours = (STATE / "mariadb.pid").exists()
    assert _run("stop").returncode == 0
    for pid in web + children:  # masters and their workers, all gone
        assert not Path(f"/proc/{pid}").exists(), pid
    if not mariadb_ours:  # one server for every site: one this site did not start keeps running
        ping = subprocess.run(
            ["mysqladmin", "--socket=/run/mysqld/mysqld.sock", "ping"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert ping.returncode == 0, ping.stderr
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


def _children(parents: list[int]) -> list[int]:
    """The pids whose parent is one of `parents` (nginx and php-fpm workers)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat_ = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat_.rsplit(")", 1)[1].split()[1]) in parents:
                out.append(int(entry.name))
    return out


def test_served_by_nginx_and_php_fpm_with_opcache(wordpress: WordPress) -> None:
    resp = httpx.get(f"{wordpress.url}/wp-json/anp-synth/v1/info", timeout=30)
    assert resp.headers["server"].startswith("nginx")
    conf = (STATE / "php-fpm.conf").read_text()
    assert "pm = static" in conf
    # opcache comes from Debian's fpm conf.d (a pool cannot switch it on): the fpm SAPI has it.
    info = subprocess.run(
        ["php-fpm8.2", "-i"], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    assert "opcache.enable => On" in info
    workers = int(conf.split("pm.max_children = ", 1)[1].split()[0])
    assert workers >= 2 * (os.cpu_count() or 1) or workers >= 4
    fpm = int((STATE / "php-fpm.pid").read_text())
    assert len(_children([fpm])) == workers  # a static pool: every worker is up
    status = _run("status").stdout
    assert "nginx pid" in status and "php-fpm pid" in status


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


def test_the_site_has_its_own_config_and_content(wordpress: WordPress) -> None:
    """Sites side by side (ANP_WP_PORT, ANP_WP_STATE_DIR, ANP_WP_DB): this one's config is named
    by its port and picked by WORDPRESS_CONFIG, its mu-plugins live in its state dir."""
    port = wordpress.url.rsplit(":", 1)[1]
    config = Path(f"/etc/wordpress/config-anp-{port}.php").read_text()
    assert f"http://127.0.0.1:{port}'" in config
    assert f"define('DB_NAME', '{os.environ.get('ANP_WP_DB', 'anp_wordpress')}')" in config
    assert f"WP_CONTENT_DIR', '{STATE}/wp-content'" in config
    assert (STATE / "wp-content" / "mu-plugins" / "anp-synth.php").is_file()
    assert f"WORDPRESS_CONFIG anp-{port};" in (STATE / "nginx.conf").read_text()
    # a page, not only REST: WordPress's canonical redirect sees the port (no 301 to itself)
    resp = httpx.get(f"{wordpress.url}/", timeout=30)
    assert resp.status_code == 200, resp.headers.get("location")
