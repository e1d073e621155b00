"""Rule 6: a ledger that is missing or not a ledger is one line and exit 2 for every command;
the read commands open it read-only and create nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from anp_synth.cli import main
from tests.importer.posts import post, write_jsonl


def _commands(posts: Path, ledger: Path, target: str) -> dict[str, list[str]]:
    mem = ["--target", target, "--sink", "memory", "--ledger", str(ledger)]
    return {
        "import": ["import", str(posts), *mem, "-q"],
        "status": ["status", "--ledger", str(ledger)],
        "status --run": ["status", "--ledger", str(ledger), "--run", "1"],
        "verify": ["verify", str(posts), *mem],
        "verify --repair": ["verify", str(posts), *mem, "--repair"],
        "rollback --dry-run": ["rollback", "--ledger", str(ledger), "--dry-run"],
        "rollback": ["rollback", "--ledger", str(ledger), "--yes"],
    }


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize(
    "command",
    [
        "import",
        "status",
        "status --run",
        "verify",
        "verify --repair",
        "rollback --dry-run",
        "rollback",
    ],
)
def test_a_corrupt_ledger_is_one_line_and_exit_2(tmp_path, target, capsys, command) -> None:
    posts = write_jsonl(tmp_path / "p.jsonl", [post(1)])
    ledger = tmp_path / "ledger.sqlite"
    ledger.write_bytes(b"this is not a SQLite file " * 200)
    before = ledger.read_bytes()
    assert main(_commands(posts, ledger, target)[command]) == 2
    line = _one_error_line(capsys)
    assert str(ledger) in line and "not a usable SQLite ledger" in line
    assert ledger.read_bytes() == before


@pytest.mark.parametrize(
    "command",
    ["status", "status --run", "verify", "verify --repair", "rollback --dry-run", "rollback"],
)
def test_a_missing_ledger_is_reported_alike_and_not_created(
    tmp_path, target, capsys, command
) -> None:
    posts = write_jsonl(tmp_path / "p.jsonl", [post(1)])
    ledger = tmp_path / "nothing-yet.sqlite"
    assert main(_commands(posts, ledger, target)[command]) == 2
    line = _one_error_line(capsys)
    assert line == f"error: --ledger: no ledger file at {ledger} (nothing imported yet?)"
    assert list(tmp_path.iterdir()) == [posts]


@pytest.mark.parametrize("command", ["status", "status --run", "verify", "rollback --dry-run"])
def test_read_commands_leave_the_ledger_as_it_was(tmp_path, target, capsys, command) -> None:
    posts = write_jsonl(tmp_path / "p.jsonl", [post(s) for s in range(3)])
    ledger = tmp_path / "ledger.sqlite"
    commands = _commands(posts, ledger, target)
    assert main(commands["import"]) == 0
    before = {p.name: p.read_bytes() for p in tmp_path.glob("ledger.sqlite*") if p.is_file()}
    assert main(commands[command]) == 0, capsys.readouterr().err
    after = {p.name: p.read_bytes() for p in tmp_path.glob("ledger.sqlite*") if p.is_file()}
    assert after["ledger.sqlite"] == before["ledger.sqlite"]
    assert after.get("ledger.sqlite-wal", b"") == before.get("ledger.sqlite-wal", b"")
