"""The import/status/verify/rollback commands: output, exit codes, token handling."""

from __future__ import annotations

import pytest

from anp_synth.cli import main
from anp_synth.cli.importer import read_token
from anp_synth.errors import UsageError
from anp_synth.importer.ledger import Ledger
from anp_synth.sinks.memory import store_for
from tests.importer.posts import post, write_jsonl


def test_import_then_rerun_then_status(tmp_path, target, capsys) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [post(s) for s in range(30)])
    led = str(tmp_path / "l.sqlite")
    assert main(["import", str(path), "--target", target, "--sink", "memory", "--ledger", led]) == 0
    out = capsys.readouterr().out
    assert "created" in out and "30" in out and "posts/s" in out
    assert main(["import", str(path), "--target", target, "--sink", "memory", "--ledger", led]) == 0
    assert main(["status", "--ledger", led]) == 0
    out = capsys.readouterr().out
    assert "completed" in out
    assert main(["status", "--ledger", led, "--run", "1"]) == 0
    assert "alphanode-000000" in capsys.readouterr().out
    assert len(store_for(target).posts) == 30


def test_quarantine_exits_3_and_keeps_the_good_posts(tmp_path, target, capsys) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [post(1), b"nope\n", post(2)])
    led = str(tmp_path / "l.sqlite")
    code = main(["import", str(path), "--target", target, "--sink", "memory", "--ledger", led])
    assert code == 3
    assert "1 quarantined" in capsys.readouterr().err
    assert len(store_for(target).posts) == 2


def test_usage_errors_exit_2_with_one_line(tmp_path, target, capsys, monkeypatch) -> None:
    led = str(tmp_path / "l.sqlite")
    assert main(["import", str(tmp_path / "none.jsonl"), "--target", target, "--ledger", led]) == 2
    assert "no such file" in capsys.readouterr().err
    path = write_jsonl(tmp_path / "p.jsonl", [post(1)])
    monkeypatch.delenv("ANP_TARGET_TOKEN", raising=False)
    assert main(["import", str(path), "--target", "http://127.0.0.1:9", "--ledger", led]) == 2
    err = capsys.readouterr().err
    assert "ANP_TARGET_TOKEN" in err and "Traceback" not in err
    assert main(["import", str(path), "--target", target, "--sink", "nope", "--ledger", led]) == 2
    assert main(["import", str(path), "--target", target, "--sink", "memory", "-c", "0"]) == 2


def test_a_busy_ledger_exits_1(tmp_path, target, capsys) -> None:
    led = tmp_path / "l.sqlite"
    with Ledger(led) as other:
        other.begin_run("x", target, "memory", {}, pid=1)
        path = write_jsonl(tmp_path / "p.jsonl", [post(1)])
        code = main(
            ["import", str(path), "--target", target, "--sink", "memory", "--ledger", str(led)]
        )
    assert code == 1
    assert "in use by run 1" in capsys.readouterr().err


def test_rollback_asks_unless_yes_and_dry_run_changes_nothing(tmp_path, target, capsys) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [post(s) for s in range(5)])
    led = str(tmp_path / "l.sqlite")
    main(["import", str(path), "--target", target, "--sink", "memory", "--ledger", led])
    assert main(["rollback", "--ledger", led, "--dry-run"]) == 0
    assert "delete 5 created" in capsys.readouterr().out
    assert len(store_for(target).posts) == 5
    assert main(["rollback", "--ledger", led]) == 2  # stdin is not a terminal
    assert main(["rollback", "--ledger", led, "--yes"]) == 0
    assert store_for(target).posts == {}
    assert main(["verify", str(path), "--target", target, "--sink", "memory", "--ledger", led]) == 3


def test_token_comes_from_file_or_env_only(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ANP_TARGET_TOKEN", "from-env")
    assert read_token(None) == "from-env"
    f = tmp_path / "tok"
    f.write_text("from-file\n")
    assert read_token(str(f)) == "from-file"
    f.write_text("")
    with pytest.raises(UsageError, match="empty"):
        read_token(str(f))
    with pytest.raises(UsageError, match="^token_file"):
        read_token(str(tmp_path / "missing"))


def test_no_token_option_on_the_command_line(tmp_path, target, capsys) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [post(1)])
    args = ["import", str(path), "--target", target, "--sink", "memory"]
    args += ["--ledger", str(tmp_path / "l.sqlite"), "-q"]
    assert main(args) == 0  # valid without it: only --token can make the next call fail
    capsys.readouterr()
    assert main([*args, "--token", "secret"]) == 2
    err = capsys.readouterr().err
    assert "No such option" in err and "--token" in err and "secret" not in err
