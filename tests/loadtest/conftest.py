"""The real reference site on 127.0.0.1, filled by `anp-synth import` (the real ledger)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from anp_synth.site.launcher import SiteProcess

CLI = [sys.executable, "-m", "anp_synth"]
POSTS = 120
FIRST_SEED = 2852


@dataclass
class SeededSite:
    site: SiteProcess
    ledger: Path
    accounts: Path

    @property
    def url(self) -> str:
        return self.site.url


def import_posts(site: SiteProcess, root: Path, count: int = POSTS) -> Path:
    """Generate `count` posts and import them with `anp-synth import`: the real ledger."""
    posts = root / "posts.jsonl"
    ledger = root / "ledger.sqlite"
    subprocess.run(
        [
            *CLI,
            "generate",
            "--seed",
            str(FIRST_SEED),
            "--count",
            str(count),
            "-o",
            str(posts),
            "-q",
        ],
        check=True,
        timeout=120,
    )
    env = {**os.environ, "ANP_TARGET_TOKEN": site.token}
    subprocess.run(
        [*CLI, "import", str(posts), "--target", site.url, "--ledger", str(ledger), "--quiet"],
        check=True,
        timeout=300,
        env=env,
    )
    return ledger


def write_accounts(path: Path) -> Path:
    path.write_text(
        json.dumps(
            {
                "users": [
                    {
                        "username": f"tester{i}",
                        "password": f"pw-{i}-not-secret",
                        "display_name": f"Tester {i}",
                    }
                    for i in range(3)
                ]
            }
        )
    )
    path.chmod(0o600)
    return path


@pytest.fixture(scope="session")
def seeded_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededSite]:
    """One reference site for the load tests of the session, stopped by pid at the end."""
    root = tmp_path_factory.mktemp("loadsite")
    accounts = write_accounts(root / "users.json")
    site = SiteProcess(root / "site.db", users_file=accounts)
    site.start()
    try:
        ledger = import_posts(site, root)
        yield SeededSite(site, ledger, accounts)
    finally:
        site.stop()
