"""The import command against the real reference site: files it writes, secrets, dry run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from tests.importer.posts import edited, post, write_jsonl


def anp(
    *args: str, token: str | None = None, token_file: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ANP_TARGET_TOKEN"}
    if token is not None:
        env["ANP_TARGET_TOKEN"] = token
    extra = ["--token-file", str(token_file)] if token_file else []
    return subprocess.run(
        [sys.executable, "-m", "anp_synth", *args, *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_import_writes_log_and_quarantine_beside_the_ledger_and_never_the_token(
    tmp_path, site
) -> None:
    bad = post(400_003)
    bad["meta"]["reading_time"] = 0
    path = write_jsonl(tmp_path / "p.jsonl", [post(400_001), b'{"oops"\n', bad, post(400_002)])
    ledger = tmp_path / "l.sqlite"
    res = anp("import", str(path), "--target", site.url, "--ledger", str(ledger), token=site.token)
    assert res.returncode == 3, res.stderr
    assert "Traceback" not in res.stderr and "quarantined" in res.stderr
    runs = tmp_path / "l.sqlite.runs"
    log = [orjson.loads(x) for x in (runs / "run-1.log.jsonl").read_bytes().splitlines()]
    created = [r for r in log if r.get("action") == "created"]
    assert sorted(r["source_id"] for r in created) == ["alphanode-400001", "alphanode-400002"]
    assert all(r["status"] == 201 and r["attempt"] == 1 and r["latency_ms"] >= 0 for r in created)
    q = [orjson.loads(x) for x in (runs / "run-1.quarantine.jsonl").read_bytes().splitlines()]
    assert [(r["line"], r["kind"]) for r in q] == [(2, "input"), (3, "input")]
    assert "meta.reading_time" in q[1]["reason"]
    written = b"".join(
        f.read_bytes() for f in [*runs.iterdir(), *tmp_path.glob("l.sqlite*")] if f.is_file()
    )
    assert site.token.encode() not in written
    assert site.token not in res.stdout + res.stderr


def test_an_impossible_date_is_quarantined_naming_the_field_not_retried(tmp_path, site) -> None:
    bad = post(400_012)
    bad["published_at"] = "2025-13-01T00:00:00Z"
    path = write_jsonl(tmp_path / "p.jsonl", [post(400_011), bad, post(400_013)])
    ledger = tmp_path / "l.sqlite"
    res = anp("import", str(path), "--target", site.url, "--ledger", str(ledger), token=site.token)
    assert res.returncode == 3, res.stderr
    assert "gave up" not in res.stdout + res.stderr
    runs = tmp_path / "l.sqlite.runs"
    q = [orjson.loads(x) for x in (runs / "run-1.quarantine.jsonl").read_bytes().splitlines()]
    assert [(r["line"], r["kind"], r["source_id"]) for r in q] == [(2, "input", "alphanode-400012")]
    assert "published_at" in q[0]["reason"]
    log = (runs / "run-1.log.jsonl").read_bytes()
    assert b'"status":500' not in log


def test_token_file_dry_run_and_an_update_then_verify(tmp_path, site) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(site.token)
    ledger = tmp_path / "l.sqlite"
    path = write_jsonl(tmp_path / "a.jsonl", [post(s) for s in range(410_000, 410_020)])
    assert (
        anp(
            "import",
            str(path),
            "--target",
            site.url,
            "--ledger",
            str(ledger),
            token_file=token_file,
        ).returncode
        == 0
    )
    changed = write_jsonl(
        tmp_path / "b.jsonl", [edited(410_000)] + [post(s) for s in range(410_001, 410_025)]
    )
    dry = anp(
        "import",
        str(changed),
        "--target",
        site.url,
        "--ledger",
        str(ledger),
        "--dry-run",
        token_file=token_file,
    )
    assert dry.returncode == 0 and "would create" in dry.stdout and "would update" in dry.stdout
    res = anp(
        "import", str(changed), "--target", site.url, "--ledger", str(ledger), token_file=token_file
    )
    assert res.returncode == 0, res.stderr
    ver = anp(
        "verify", str(changed), "--target", site.url, "--ledger", str(ledger), token_file=token_file
    )
    assert ver.returncode == 0, ver.stdout
    assert anp("status", "--ledger", str(ledger), "--run", "2").returncode == 0


def test_a_wrong_token_stops_the_import_with_exit_1(tmp_path, site) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [post(420_000)])
    res = anp(
        "import",
        str(path),
        "--target",
        site.url,
        "--ledger",
        str(tmp_path / "l.sqlite"),
        token="nope",
    )
    assert res.returncode == 1 and "refused the token" in res.stderr
