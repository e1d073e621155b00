"""The load-test scenarios against a real WordPress, from the import ledger's URLs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from anp_synth.loadtest.manifest import imported as imported_into
from tests.wordpress.site import WordPress
from tests.wordpress.test_import import _cli, _import_args

pytestmark = pytest.mark.wordpress


@pytest.fixture
def imported(wordpress: WordPress, wp_reader: object, tmp_path: Path) -> Path:
    """60 posts imported into WordPress with `anp-synth import`: the real ledger."""
    data = tmp_path / "posts.jsonl"
    gen = _cli(wordpress, "generate", "--seed", "930000", "--count", "60", "-o", str(data), "-q")
    assert gen.returncode == 0, gen.stderr
    ledger = tmp_path / "ledger.sqlite"
    run = _cli(wordpress, *_import_args(wordpress, data, ledger), "-q")
    assert run.returncode == 0, run.stderr
    return ledger


def _loadtest(
    site: WordPress, ledger: Path, out: Path, accounts: str
) -> tuple[int, dict[str, object]]:
    proc = _cli(
        site,
        *("loadtest", "--target", site.url, "--ledger", str(ledger), "--out", str(out)),
        *("--accounts", accounts, "--duration", "6s", "--users", "6", "--spawn-rate", "6"),
        *("--weights", "reader=3,browser=3,member=2,inspector=2", "--think", "0.1,0.3"),
        timeout=120,
    )
    summary = (
        json.loads((out / "summary.json").read_text()) if (out / "summary.json").exists() else {}
    )
    assert summary, proc.stdout + proc.stderr
    return proc.returncode, summary


def _routes(summary: dict[str, object]) -> dict[str, dict[str, int]]:
    return {r["route"]: r for r in summary["routes"]}  # type: ignore[attr-defined,index]


def test_scenarios_run_against_wordpress(
    wordpress: WordPress, imported: Path, tmp_path: Path
) -> None:
    assert imported_into(imported, wordpress.url)[0] == "wordpress"
    code, summary = _loadtest(wordpress, imported, tmp_path / "out", wordpress.users_file)
    assert code == 0, summary
    manifest = json.loads((tmp_path / "out" / "targets.json").read_text())
    assert manifest["site"] == "wordpress"
    assert all(s["path"].startswith("/category/") for s in manifest["stacks"])
    routes = _routes(summary)
    # Readers, listings, search, logged-in members (WordPress's login cookie), the inspector.
    for route in ("/posts/[slug]", "/login (POST)", "[member] /posts/[slug]"):
        assert route in routes and routes[route]["requests"] >= 1, (route, sorted(routes))
    assert any(r.startswith("[inspect]") for r in routes)
    assert summary["aggregate"]["failures"] == 0  # type: ignore[index]
    assert any("no X-Cache header" in note for note in summary["notes"])  # type: ignore[attr-defined]


def test_a_refused_login_is_a_failure(wordpress: WordPress, imported: Path, tmp_path: Path) -> None:
    accounts = tmp_path / "wrong.json"
    accounts.write_text(
        json.dumps(
            {"users": [{"username": "anp-reader-1", "password": "wrong", "display_name": "x"}]}
        )
    )
    code, summary = _loadtest(wordpress, imported, tmp_path / "out", str(accounts))
    assert code != 0
    assert _routes(summary)["/login (POST)"]["failures"] >= 1
