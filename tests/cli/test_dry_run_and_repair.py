"""Rule 6, the rest: the run folder is checked before a run begins; a dry run needs no token and
writes nothing; verify needs no token; verify --repair touches only the file's posts, exit 0."""

from __future__ import annotations

import http.server
import itertools
import re
import threading
from collections.abc import Iterator

import pytest

from anp_synth.cli import main
from anp_synth.importer.ledger import Ledger
from anp_synth.sinks.memory import reset_store, store_for
from tests.importer.posts import post, write_jsonl

_names = itertools.count()


@pytest.fixture
def target() -> Iterator[str]:
    name = f"memory://dryrun{next(_names)}"
    yield name
    reset_store(name)


@pytest.fixture(autouse=True)
def no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANP_TARGET_TOKEN", raising=False)


def _lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return [x for x in err.splitlines() if x.strip()]


def test_a_run_folder_that_cannot_be_made_is_exit_2_before_the_run(
    tmp_path, target, capsys
) -> None:
    posts = write_jsonl(tmp_path / "p.jsonl", [post(1)])
    ledger = tmp_path / "l.sqlite"
    (tmp_path / "l.sqlite.runs").write_text("a file where the run folder goes")
    args = ["import", str(posts), "--target", target, "--sink", "memory", "--ledger", str(ledger)]
    assert main(args) == 2
    assert _lines(capsys) == [
        f"error: --ledger: {ledger}.runs: cannot hold the run log and quarantine "
        "(exists and is not a folder)"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l.sqlite.runs", "p.jsonl"]
    assert store_for(target).posts == {}  # nothing sent either


def test_a_run_folder_under_a_file_is_named_too(tmp_path, target, capsys) -> None:
    posts = write_jsonl(tmp_path / "p.jsonl", [post(1)])
    (tmp_path / "plain").write_text("")
    ledger = tmp_path / "plain" / "l.sqlite"
    args = ["import", str(posts), "--target", target, "--sink", "memory", "--ledger", str(ledger)]
    assert main(args) == 2
    [line] = _lines(capsys)
    assert line.endswith(f"({tmp_path / 'plain'} is not a folder)") and "--ledger" in line


class _Counting(http.server.BaseHTTPRequestHandler):
    requests: list[str] = []

    def _any(self) -> None:
        _Counting.requests.append(f"{self.command} {self.path}")
        self.send_error(500)

    do_GET = do_POST = do_PUT = do_DELETE = _any

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def counting_server() -> Iterator[str]:
    _Counting.requests.clear()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_dry_run_needs_no_token_sends_nothing_and_writes_no_ledger(
    tmp_path, counting_server, capsys
) -> None:
    posts = write_jsonl(tmp_path / "p.jsonl", [post(s) for s in range(5)])
    ledger = tmp_path / "l.sqlite"
    args = ["import", str(posts), "--target", counting_server, "--ledger", str(ledger)]
    assert main([*args, "--dry-run"]) == 0, capsys.readouterr().err
    assert "would create" in capsys.readouterr().out
    assert _Counting.requests == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.jsonl"]  # no ledger, no run folder


def test_a_dry_run_plans_against_an_existing_ledger_without_changing_it(
    tmp_path, target, capsys
) -> None:
    posts = write_jsonl(tmp_path / "p.jsonl", [post(s) for s in range(5)])
    ledger = tmp_path / "l.sqlite"
    mem = ["--target", target, "--sink", "memory", "--ledger", str(ledger)]
    assert main(["import", str(posts), *mem, "-q"]) == 0
    more = write_jsonl(tmp_path / "q.jsonl", [post(s) for s in range(8)])
    before = {p.name: p.read_bytes() for p in tmp_path.glob("l.sqlite*") if p.is_file()}
    capsys.readouterr()
    assert main(["import", str(more), *mem, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"would create\D+3\b", out) and re.search(r"unchanged\D+5\b", out), out
    after = {p.name: p.read_bytes() for p in tmp_path.glob("l.sqlite*") if p.is_file()}
    # (a read-only open may leave SQLite's shared-memory index; the data files are unchanged)
    assert after["l.sqlite"] == before["l.sqlite"]
    assert after.get("l.sqlite-wal", b"") == before.get("l.sqlite-wal", b"")
    assert sorted(p.name for p in (tmp_path / "l.sqlite.runs").iterdir()) == [
        "run-1.log.jsonl"
    ]  # no run 2


def test_verify_repair_exits_0_when_it_repaired_and_keeps_other_rows(
    tmp_path, target, capsys
) -> None:
    a = write_jsonl(tmp_path / "a.jsonl", [post(s) for s in range(6)])
    b = write_jsonl(tmp_path / "b.jsonl", [post(s) for s in range(60, 62)])
    ledger = tmp_path / "l.sqlite"
    mem = ["--target", target, "--sink", "memory", "--ledger", str(ledger)]
    assert main(["import", str(a), *mem, "-q"]) == 0
    assert main(["import", str(b), *mem, "-q"]) == 0
    with Ledger(ledger) as led:  # the ledger loses file a's rows (rebuilt below)
        led.undo_created(target, [f"alphanode-00000{s}" for s in range(6)])
        kept = [i for i in led.items(target=target)]
    assert main(["verify", str(a), *mem]) == 3  # the ledger is out of date
    capsys.readouterr()
    assert main(["verify", str(a), *mem, "--repair"]) == 0, capsys.readouterr().err
    assert "rebuilt from the target: 6" in capsys.readouterr().out
    with Ledger.open_readonly(ledger) as led:
        items = {i.source_id: i for i in led.items(target=target)}
    assert len(items) == 8 and all(items[i.source_id] == i for i in kept)
