"""Rule 4 in the ledger and the commands: one target, one spelling, whatever the user typed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from anp_synth.importer.ledger import ItemState, Ledger, Planned, RunState, schema
from anp_synth.site.launcher import SiteProcess
from tests.importer.posts import post, write_jsonl

SITE = "http://127.0.0.1:8000"
SPELLINGS = ("http://127.0.0.1:8000/", "HTTP://127.0.0.1:8000", "http://127.0.0.1:8000//")


def _planned(sid: str) -> Planned:
    return Planned(sid, 1, "h", b"d", 1, "t", [], [])


def test_the_ledger_stores_and_finds_a_target_under_one_spelling(tmp_path) -> None:
    with Ledger(tmp_path / "l.sqlite") as led:
        for n, spelling in enumerate(SPELLINGS):
            run = led.begin_run(f"f{n}", spelling, "anp", {})
            led.mark_pending(spelling, run.id, [_planned(f"alphanode-00000{n}")], {})
            led.finish_run(run.id, RunState.COMPLETED, {})
        assert led.targets() == [SITE]
        assert {r.target for r in led.runs()} == {SITE}
        for spelling in (*SPELLINGS, SITE):
            assert len(list(led.items(target=spelling))) == 3
            assert set(led.known(spelling, ["alphanode-000000"])) == {"alphanode-000000"}


def _old_ledger(path: Path) -> None:
    """A version-2 ledger holding one site under two spellings, one post under both.

    Reaching inside on purpose: no API writes an old spelling any more, so the rows are
    turned back into what version 2 stored (the spelling the user typed)."""
    with Ledger(path) as led:
        for n, sids in ((1, ["alphanode-000001", "alphanode-000002"]), (2, ["alphanode-000001"])):
            run = led.begin_run(f"f{n}", SITE, "anp", {})
            led.mark_pending(SITE, run.id, [_planned(s) for s in sids], {})
            led.finish_run(run.id, RunState.COMPLETED, {})
        db = led.db
        db.execute("UPDATE runs SET target = ? WHERE id = 1", (SITE + "/",))
        db.execute(
            "UPDATE items SET target = ?, state = ? WHERE run_id = 1", (SITE + "/", "failed")
        )
        db.execute(  # the same post again, written later by run 2 under the other spelling
            "INSERT INTO items (target, source_id, run_id, content_hash, state, updated) "
            "VALUES (?, 'alphanode-000001', 2, 'h2', 'confirmed', 9e9)",
            ("HTTP://127.0.0.1:8000",),
        )
        db.execute("UPDATE runs SET target = ? WHERE id = 2", ("HTTP://127.0.0.1:8000",))
        db.execute("DELETE FROM items WHERE target = ?", (SITE,))
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")


def test_an_old_ledger_read_only_matches_its_spelling_through_the_normaliser(tmp_path) -> None:
    path = tmp_path / "l.sqlite"
    _old_ledger(path)
    before = path.read_bytes()
    with Ledger.open_readonly(path) as led:
        # the newest run's spelling is the one a read-only open follows
        assert [i.source_id for i in led.items(target=SITE)] == ["alphanode-000001"]
        assert led.last_changing_run(SITE) is None  # (no changes recorded: nothing confirmed)
        assert schema.version(led.db) == 2
    assert path.read_bytes() == before  # read-only: not migrated


def test_opening_an_old_ledger_to_write_merges_its_spellings(tmp_path) -> None:
    path = tmp_path / "l.sqlite"
    _old_ledger(path)
    with Ledger(path) as led:
        assert schema.version(led.db) == schema.SCHEMA_VERSION == 3
        assert led.targets() == [SITE] and {r.target for r in led.runs()} == {SITE}
        items = {i.source_id: i for i in led.items(target=SITE)}
        assert sorted(items) == ["alphanode-000001", "alphanode-000002"]
        # one post under two spellings: the row written last wins
        assert (items["alphanode-000001"].run_id, items["alphanode-000001"].state) == (
            2, ItemState.CONFIRMED,
        )  # fmt: skip
        assert items["alphanode-000002"].state == ItemState.FAILED


# --- the commands, against the real site ------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SiteProcess]:
    s = SiteProcess(tmp_path_factory.mktemp("identity") / "site.db")
    s.start()
    yield s
    s.stop()


def anp(*args: str, token: str = "tok") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "anp_synth", *args],
        env={**os.environ, "ANP_TARGET_TOKEN": token},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_command_takes_any_spelling_of_the_same_site(tmp_path, site) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [post(s) for s in range(420_000, 420_012)])
    ledger = str(tmp_path / "l.sqlite")
    host_port = site.url.removeprefix("http://")
    first = anp("import", str(path), "--target", site.url + "/", "--ledger", ledger, "-q",
                token=site.token)  # fmt: skip
    assert first.returncode == 0, first.stderr
    again = anp("import", str(path), "--target", f"HTTP://{host_port}//", "--ledger", ledger,
                token=site.token)  # fmt: skip
    assert again.returncode == 0, again.stderr
    with Ledger.open_readonly(ledger) as led:
        assert led.targets() == [site.url] and [r.target for r in led.runs()] == [site.url] * 2
        assert led.run(2).counts["unchanged"] == 12 and led.run(2).counts["created"] == 0
    ver = anp("verify", str(path), "--target", f"http://{host_port.upper()}/", "--ledger", ledger,
              token=site.token)  # fmt: skip
    assert ver.returncode == 0, ver.stdout + ver.stderr
    dry = anp("rollback", "--ledger", ledger, "--target", site.url + "/", "--dry-run")
    assert dry.returncode == 0 and "delete 12 created" in dry.stdout, dry.stdout + dry.stderr
    out = tmp_path / "targets.json"
    exp = anp("export-targets", "--target", site.url + "/", "--ledger", ledger, "-o", str(out))
    assert exp.returncode == 0, exp.stderr
    assert f'"target":"{site.url}"' in out.read_text().replace(" ", "")


@pytest.mark.parametrize(
    "command",
    [
        ["import", "{file}", "--target", "{bad}", "--ledger", "{ledger}"],
        ["import", "{file}", "--target", "{bad}", "--ledger", "{ledger}", "--dry-run"],
        ["verify", "{file}", "--target", "{bad}", "--ledger", "{ledger}"],
        ["rollback", "--target", "{bad}", "--ledger", "{ledger}", "--dry-run"],
        ["export-targets", "--target", "{bad}", "--ledger", "{ledger}"],
        ["loadtest", "--target", "{bad}", "--ledger", "{ledger}", "--duration", "1s"],
    ],
)
def test_an_empty_port_is_a_usage_error_for_every_command(tmp_path, command) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [post(1)])
    ledger = tmp_path / "l.sqlite"
    Ledger(ledger).close()  # a ledger that exists, so only the target can be wrong
    before = sorted(p.name for p in tmp_path.iterdir())
    values = {"file": str(path), "bad": "http://127.0.0.1:", "ledger": str(ledger)}
    res = anp(*[part.format(**values) for part in command])
    assert res.returncode == 2, res.stdout + res.stderr
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    assert lines == ["error: --target: 'http://127.0.0.1:': no port after ':'"]
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written
