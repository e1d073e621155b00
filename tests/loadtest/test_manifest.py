import orjson
import pytest
import typer
from typer.testing import CliRunner

from anp_synth.cli import app, main
from anp_synth.errors import UsageError
from anp_synth.loadtest import manifest
from anp_synth.loadtest.cache_rules import site_rules
from tests.loadtest.ledger_fixture import write_ledger

TARGET = "http://127.0.0.1:9"


def items() -> list[dict[str, object]]:
    return [
        {
            "source_id": "alphanode-000001",
            "url": f"{TARGET}/posts/rust-notes-1",
            "view_count": 900,
            "title": "Rust notes: cache stampede for a queue worker",
            "tags": ["Caching", "Rust", "caching"],
            "stack": ["Rust", "Redis", "rust"],
        },
        {
            "source_id": "alphanode-000002",
            "url": "/posts/go-notes-2",
            "view_count": 10,
            "title": "Go notes: cache warmup for a batch job",
            "tags": ["Caching"],
            "stack": ["Go"],
        },
        {"source_id": "alphanode-000003", "url": "/posts/x", "state": "failed"},
        {"source_id": "alphanode-000004", "url": "/posts/y", "target": "http://other:1"},
    ]


def test_export_reads_confirmed_items_of_the_target_only(tmp_path) -> None:
    ledger = write_ledger(tmp_path / "l.sqlite", TARGET, items())
    doc = manifest.export(ledger, TARGET + "/", tmp_path / "t.json")
    assert [p["url"] for p in doc["posts"]] == ["/posts/rust-notes-1", "/posts/go-notes-2"]
    assert doc["posts"][0]["view_count"] == 900
    assert doc["posts"][0]["stacks"] == ["Rust", "Redis", "rust"]
    # a listing shows a post once however often a name (or a name of the same slug) repeats
    assert {s["slug"]: s["count"] for s in doc["stacks"]} == {"go": 1, "redis": 1, "rust": 1}
    assert {t["slug"]: t["count"] for t in doc["tags"]} == {"caching": 2, "rust": 1}
    assert doc["search_terms"][0] == "cache"  # the most frequent title word
    # the inspector holds the reference site to the site's own rules, carried here
    assert doc["cache_rules"] == [rule.as_json() for rule in site_rules()]
    assert manifest.load(tmp_path / "t.json") == orjson.loads((tmp_path / "t.json").read_bytes())


def test_slugify_matches_the_site() -> None:
    assert manifest.slugify("C++ / Qt") == "c-qt"
    assert manifest.slugify("Über Café") == "uber-cafe"
    assert manifest.slugify("キャッシュ").startswith("t-")


def test_unknown_target_names_the_ones_in_the_ledger(tmp_path) -> None:
    ledger = write_ledger(tmp_path / "l.sqlite", TARGET, items())
    with pytest.raises(UsageError, match="has no confirmed items.*http://127.0.0.1:9"):
        manifest.read_ledger(ledger, "http://elsewhere:80")


def test_export_targets_cli(tmp_path) -> None:
    ledger = write_ledger(tmp_path / "l.sqlite", TARGET, items())
    out = tmp_path / "m.json"
    result = CliRunner().invoke(
        app, ["export-targets", "--target", TARGET, "--ledger", str(ledger), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert len(orjson.loads(out.read_bytes())["posts"]) == 2


def test_missing_or_bad_ledger_is_a_one_line_usage_error(tmp_path, capsys) -> None:
    code = main(["export-targets", "--target", TARGET, "--ledger", str(tmp_path / "none.sqlite")])
    assert code == 2
    assert "--ledger: no ledger file" in capsys.readouterr().err
    (tmp_path / "bad.sqlite").write_text("not sqlite at all" * 100)
    code = main(["export-targets", "--target", TARGET, "--ledger", str(tmp_path / "bad.sqlite")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "bad.sqlite" in err


def test_export_targets_takes_the_ledger_from_the_env_and_needs_a_target(
    tmp_path, capsys, monkeypatch
) -> None:
    """--target and --ledger are the load test's own options (cli/options.py), shared."""
    ledger = write_ledger(tmp_path / "l.sqlite", TARGET, items())
    monkeypatch.setenv("ANP_LEDGER", str(ledger))
    out = tmp_path / "m.json"
    assert main(["export-targets", "--target", TARGET, "-o", str(out)]) == 0
    assert len(orjson.loads(out.read_bytes())["posts"]) == 2
    capsys.readouterr()
    assert main(["export-targets", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --target:"), err


def test_loadtest_and_export_targets_describe_target_and_ledger_alike() -> None:
    def helps(command: str) -> dict[str, str | None]:
        cmd = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
        return {
            p.name: getattr(p, "help", None) for p in cmd.params if p.name in ("target", "ledger")
        }

    assert helps("loadtest") == helps("export-targets")
    assert "anp-ledger.sqlite" in (helps("loadtest")["ledger"] or "")
