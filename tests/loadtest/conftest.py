"""The real reference site on 127.0.0.1, seeded through its bulk API, plus a ledger of it."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from anp_synth.site.launcher import SiteProcess
from anp_synth.synth import build_post
from tests.loadtest.ledger_fixture import write_ledger

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


def seed_site(site: SiteProcess, ledger: Path, count: int = POSTS) -> Path:
    """Upsert `count` generated posts through the bulk API; write the ledger the importer would."""
    posts = [build_post(seed) for seed in range(FIRST_SEED, FIRST_SEED + count)]
    with httpx.Client(timeout=60.0) as client:
        resp = client.post(
            f"{site.url}/api/posts/bulk", json={"posts": posts}, headers=site.auth_headers
        )
    resp.raise_for_status()
    results = resp.json()["items"]
    assert all(r["result"] in ("created", "unchanged", "updated") for r in results), results[:3]
    items = [
        {
            "source_id": post["source_id"],
            "url": r["url"],
            "view_count": post["meta"]["view_count"],
            "title": post["title"],
            "tags": post["tags"],
            "stack": post["meta"]["stack"],
        }
        for post, r in zip(posts, results, strict=True)
    ]
    return write_ledger(ledger, site.url, items)


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
        ledger = seed_site(site, root / "ledger.sqlite")
        yield SeededSite(site, ledger, accounts)
    finally:
        site.stop()


CLI = [sys.executable, "-m", "anp_synth"]
