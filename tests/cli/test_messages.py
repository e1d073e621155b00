"""Rule 8: messages in the user's terms — encodings, empty input, `--only`, no rate of nothing.

Every input the commands read goes through one reader (anp_synth.textfile, and
jsonl.open_input for posts): a byte that is not UTF-8 is "not UTF-8 at byte N of line L",
a UTF-16 file is called UTF-16, a UTF-8 byte-order mark is skipped.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from anp_synth import textfile
from anp_synth.cli import main
from anp_synth.errors import InputError
from anp_synth.jsonl import dumps_line
from tests.importer.posts import post

SEEDS = (470_001, 470_002, 470_003)


def _posts() -> bytes:
    return b"".join(dumps_line(post(s)) for s in SEEDS)


def _import(tmp_path: Path, capsys, data: bytes, *args: str) -> tuple[int, str, str]:
    path = tmp_path / "posts.jsonl"
    path.write_bytes(data)
    code = main(["import", str(path), "--sink", "memory", "--target", f"memory://{tmp_path.name}",
                 "--ledger", str(tmp_path / "l.sqlite"), *args])  # fmt: skip
    got = capsys.readouterr()
    return code, got.out, got.err


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (b"ab\xffcd", "not UTF-8 at byte 3 of line 1"),
        (b"line one\nt\xc3\xa9\xe9\n", "not UTF-8 at byte 4 of line 2"),  # after a valid é
        (b"a\nb\nc\n\xc3", "not UTF-8 at byte 1 of line 4"),  # a cut multi-byte character
    ],
)
def test_the_position_of_a_bad_byte_is_said_in_lines_and_bytes(data: bytes, where: str) -> None:
    assert textfile.utf8_problem(data) == where
    with pytest.raises(InputError, match=f"^f.txt: {where}$"):
        textfile.decode(data, "f.txt")


def test_utf16_and_utf32_are_recognised_and_a_utf8_mark_is_skipped() -> None:
    text = '{"a": 1}\n'
    for encoding, name in (("utf-16", "UTF-16"), ("utf-32", "UTF-32")):
        with pytest.raises(InputError, match=f"is {name} \\(it starts with a {name} byte-order"):
            textfile.decode(text.encode(encoding), "f.json")
    with pytest.raises(InputError, match="is UTF-16 \\(every other byte is NUL\\)"):
        textfile.decode(text.encode("utf-16-le"), "f.json")
    assert textfile.decode(textfile.UTF8_BOM + text.encode(), "f.json") == text
    assert textfile.utf8_problem("日本語 ru русский".encode()) is None


def test_a_post_line_that_is_not_utf8_is_quarantined_naming_byte_and_line(
    tmp_path: Path, capsys
) -> None:
    lines = _posts().splitlines(keepends=True)
    at = lines[1].index(b'"title":"') + len(b'"title":"')
    lines[1] = lines[1][:at] + b"\xe9" + lines[1][at:]
    code, _, err = _import(tmp_path, capsys, b"".join(lines), "-q")
    assert code == 3, err
    quarantine = next((tmp_path / "l.sqlite.runs").glob("*.quarantine.jsonl"))
    entries = [json.loads(x) for x in quarantine.read_text().splitlines()]
    assert [(e["line"], e["reason"]) for e in entries] == [
        (2, f"not UTF-8 at byte {at + 1} of line 2")
    ]


@pytest.mark.parametrize(
    ("encoding", "named"),
    [("utf-16", "UTF-16 (it starts with a UTF-16 byte-order mark)"),
     ("utf-16-le", "UTF-16 (every other byte is NUL)"),
     ("utf-32", "UTF-32 (it starts with a UTF-32 byte-order mark)")],
)  # fmt: skip
def test_a_utf16_posts_file_is_refused_as_such_before_a_run(
    tmp_path: Path, capsys, encoding: str, named: str
) -> None:
    code, _, err = _import(tmp_path, capsys, _posts().decode().encode(encoding))
    assert code == 2
    assert err.strip().splitlines() == [
        f"error: {tmp_path / 'posts.jsonl'}: the input is {named}; save it as UTF-8"
    ]
    assert not (tmp_path / "l.sqlite.runs").exists()  # refused before a run began


def test_a_posts_file_with_a_utf8_byte_order_mark_imports(tmp_path: Path, capsys) -> None:
    code, out, err = _import(tmp_path, capsys, textfile.UTF8_BOM + _posts())
    assert code == 0, err
    assert "created     │     3" in out.replace("┃", "│")


@pytest.mark.parametrize("data", [b"", b"\n\n  \n"])
def test_an_empty_input_says_so_exit_3_and_prints_no_rate(
    tmp_path: Path, capsys, data: bytes
) -> None:
    code, out, err = _import(tmp_path, capsys, data)
    assert code == 3
    assert err.strip().splitlines()[-1] == (
        f"error: {tmp_path / 'posts.jsonl'}: no posts to import (the input is empty)"
    )
    assert "posts/s" not in out  # no rate of zero posts


def test_only_ids_that_match_nothing_are_named(tmp_path: Path, capsys) -> None:
    first = f"alphanode-{SEEDS[0]:06d}"
    only = f"{first},alphanode-999998,alphanode-999999"
    code, _, err = _import(tmp_path, capsys, _posts(), "--only", only, "-q")
    assert code == 0, err
    assert err.strip().splitlines() == [
        f"import: --only: 2 of 3 ids match no post in {tmp_path / 'posts.jsonl'}: "
        "alphanode-999998, alphanode-999999"
    ]
    code, _, err = _import(tmp_path, capsys, _posts(), "--only", "alphanode-999999", "-q")
    assert code == 3
    assert err.strip().splitlines()[-1] == (
        f"error: --only: no post in {tmp_path / 'posts.jsonl'} has these ids: alphanode-999999"
    )


def _loadtest(tmp_path: Path, capsys, *args: str) -> tuple[int, str]:
    manifest = tmp_path / "m.json"
    if not manifest.exists():
        manifest.write_text('{"format": "anp-synth-targets/1", "posts": [{"url": "/"}]}')
    code = main(["loadtest", "--target", "http://127.0.0.1:9", "--out", str(tmp_path / "out"),
                 *args])  # fmt: skip
    return code, capsys.readouterr().err.strip().splitlines()[-1]


def test_every_input_file_of_the_load_test_names_a_bad_byte(tmp_path: Path, capsys) -> None:
    (tmp_path / "t.toml").write_bytes(b"[global]\np95_ms = 10  # caf\xe9\n")
    (tmp_path / "bad.json").write_bytes(
        b'{"format": "anp-synth-targets/1", "posts": [{"url": "/\xe9"}]}'
    )
    (tmp_path / "rules.json").write_bytes('[{"pattern": "/"}]'.encode("utf-16"))
    cases = [
        (["--manifest", str(tmp_path / "m.json"), "--thresholds", str(tmp_path / "t.toml")],
         f"error: {tmp_path / 't.toml'}: not UTF-8 at byte 19 of line 2"),
        (["--manifest", str(tmp_path / "bad.json")],
         f"error: {tmp_path / 'bad.json'}: not UTF-8 at byte 55 of line 1"),
        (["--manifest", str(tmp_path / "m.json"), "--cache-rules", str(tmp_path / "rules.json")],
         f"error: {tmp_path / 'rules.json'}: the input is UTF-16"),
    ]  # fmt: skip
    for args, first in cases:
        code, line = _loadtest(tmp_path, capsys, *args)
        assert code == 2 and line.startswith(first), line


def test_a_profile_file_that_is_not_utf8_names_the_byte(tmp_path: Path, capsys) -> None:
    profile = tmp_path / "p.toml"
    profile.write_bytes(b'name = "caf\xe9"\n')
    code = main(["generate", "--profile", str(profile), "--count", "1", "-o", "-"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == [f"error: {profile}: not UTF-8 at byte 12 of line 1"]


def _status_rows() -> tuple[tuple[str, ...], list[list[str]]]:
    headers = ("id", "file", "target", "state", "counts", "started", "finished")
    row = ["12", "a-rather-long-posts-file-name.jsonl", "https://staging.example.org:8443",
           "interrupted", "created 1,234, quarantined 5", "2026-12-01 23:51:55",
           "2026-12-01 23:59:01"]  # fmt: skip
    return headers, [row, row]


@pytest.mark.parametrize("terminal", [True, False])
def test_status_tables_never_cut_or_fold_a_value(terminal: bool) -> None:
    import io

    from rich.console import Console

    from anp_synth.cli.tables import print_rows

    out = io.StringIO()
    console = Console(file=out, width=80, force_terminal=terminal, highlight=False)
    headers, rows = _status_rows()
    print_rows(console, "runs in l.sqlite", headers, rows)
    text = out.getvalue()
    lines = text.splitlines()
    for value in rows[0]:
        # every value whole, on one line (a wrapped or cut one would be split or "…")
        assert any(value in line for line in lines), value
    assert "…" not in text
    if terminal:  # a terminal of 80 columns: no line longer than it
        assert max(len(line.rstrip()) for line in lines) <= 80


def test_status_through_a_pipe_keeps_whole_names(tmp_path: Path) -> None:
    import subprocess
    import sys

    posts = tmp_path / "a-rather-long-posts-file-name-for-a-pipe.jsonl"
    posts.write_bytes(_posts())
    ledger = tmp_path / "l.sqlite"
    cli = [sys.executable, "-m", "anp_synth"]
    target = "memory://a-rather-long-memory-target-name"
    subprocess.run([*cli, "import", str(posts), "--sink", "memory", "--target", target,
                    "--ledger", str(ledger), "-q"], check=True, timeout=60)  # fmt: skip
    done = subprocess.run([*cli, "status", "--ledger", str(ledger)], capture_output=True,
                          text=True, timeout=60, check=True)  # fmt: skip
    row = next(line for line in done.stdout.splitlines() if posts.name in line)
    assert target in row and "created 3" in row
