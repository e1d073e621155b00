"""Fixtures: posts, an in-process app, and the real server started once per session."""

from __future__ import annotations

import copy
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from anp_synth.generate.builder import PostBuilder
from anp_synth.site.app import SiteConfig, create_app
from anp_synth.site.auth import User
from anp_synth.site.launcher import SiteProcess

_builder = PostBuilder()
USERS = [User("ada", "correct horse battery", "Ada Lovelace"), User("bob", "hunter2hunter2", "Bob")]


def make_post(seed: int, **changes: Any) -> dict[str, Any]:
    """A generated post, with top-level fields replaced."""
    post = copy.deepcopy(_builder.build(seed))
    post.update(changes)
    return post


def read_log_when(site: SiteProcess, text: str, timeout: float = 5.0) -> str:
    """The site's log once it holds `text` (the access log is flushed every 0.2 s)."""
    deadline = time.monotonic() + timeout
    while True:
        log = site.log_path.read_text(encoding="utf-8", errors="replace")
        if text in log or time.monotonic() > deadline:
            return log
        time.sleep(0.05)


@pytest.fixture()
def token() -> str:
    return secrets.token_urlsafe(24)


@pytest.fixture()
def app_client(tmp_path: Path, token: str) -> Iterator[TestClient]:
    """The site in-process on a fresh database (unit tests)."""
    config = SiteConfig(str(tmp_path / "site.db"), token, USERS, access_log=False)
    with TestClient(create_app(config), base_url="http://testserver") as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


@pytest.fixture(scope="session")
def live_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SiteProcess]:
    """The real server as a subprocess on a free 127.0.0.1 port, stopped by pid at the end."""
    root = tmp_path_factory.mktemp("live-site")
    users = root / "users.json"
    users.write_bytes(
        orjson.dumps(
            {
                "users": [
                    {"username": u.username, "password": u.password, "display_name": u.display_name}
                    for u in USERS
                ]
            }
        )
    )
    site = SiteProcess(root / "site.db", users_file=users)
    site.start()
    try:
        yield site
    finally:
        site.stop()
