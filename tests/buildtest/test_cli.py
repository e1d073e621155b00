"""`anp-synth buildtest` end to end on a real Hugo site, with small volumes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from anp_synth.cli import main
from tests.sinks.static_sites import need


@pytest.fixture
def site(tmp_path: Path) -> Path:
    need("hugo")
    root = tmp_path / "site"
    assert main(["site", "init", "hugo", str(root)]) == 0
    return root


def _args(site: Path, out: Path, *extra: str) -> list[str]:
    return ["buildtest", "--sink", "hugo", "--target", str(site), "--build", "hugo --quiet",
            "--out", str(out), "-q", *extra]  # fmt: skip


def test_buildtest_imports_each_volume_and_writes_every_report(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    base = tmp_path / "baseline.json"
    args = _args(site, out, "--counts", "20,50", "--repeat", "2", "--save-baseline", str(base))
    assert main(args) == 0
    doc = json.loads((out / "buildtest.json").read_text())
    assert doc["format"] == "anp-synth-buildtest/1" and doc["counts"] == [20, 50]
    assert [(r["kind"], r["posts"]) for r in doc["rows"]] == [
        (k, n) for n in (20, 50) for k in ("cold", "warm", "incremental")
    ]
    assert all(len(r["builds"]) == 2 for r in doc["rows"])
    for r in doc["rows"]:
        w = r["wall_s"]
        assert 0 < w["min"] <= w["median"] <= w["max"]
        assert r["peak_rss_mb"]["max"] > 5 and r["cpu_s"]["median"] > 0
    # later volumes add to the earlier ones, through the importer
    assert doc["imported"]["20"]["created"] == 20 and doc["imported"]["50"]["created"] == 30
    posts = [p for p in (site / "content/posts").glob("*.md") if p.name != "_index.md"]
    assert len(posts) == 50
    assert len(list((site / "public/posts").glob("*/index.html"))) == 50
    assert set(doc["fit"]) == {"cold", "warm", "incremental"}
    assert all(f is not None and "exponent" in f for f in doc["fit"].values())
    assert 0 < doc["anp_synth_share"] < 1
    md = (out / "buildtest.md").read_text()
    assert "| cold | 50 |" in md and "posts^" in md
    assert (out / "buildtest.png").read_bytes().startswith(b"\x89PNG")
    assert b"<svg" in (out / "buildtest.svg").read_bytes()
    page = (out / "buildtest.html").read_text()
    assert "<svg" in page and "data:image/png;base64," in page
    saved = json.loads(base.read_text())
    assert set(saved["routes"]) == {
        f"{k}@{n}" for k in ("cold", "warm", "incremental") for n in (20, 50)
    }


def test_thresholds_breached_exit_3_and_a_baseline_is_compared(
    site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    limits = tmp_path / "limits.toml"
    limits.write_text("max_growth_exponent = 5\n[max_seconds.cold]\n10 = 0.000001\n")
    base = tmp_path / "b.json"
    slow = {f"{k}@10": [1.0, 1.0, 1.0] for k in ("cold", "warm", "incremental")}
    base.write_text(json.dumps({"format": "anp-synth-baseline/1", "target": "x", "routes": slow}))
    out = tmp_path / "out"
    args = _args(site, out, "--counts", "10", "--repeat", "1", "--thresholds", str(limits),
                 "--baseline", str(base))  # fmt: skip
    assert main(args) == 3
    doc = json.loads((out / "buildtest.json").read_text())
    assert [b["at"] for b in doc["verdict"]["breaches"]] == ["cold@10"]
    assert {c["at"] for c in doc["verdict"]["baseline"]} == {"cold@10", "warm@10", "incremental@10"}
    assert "limits breached" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--counts", "50,20"], "--counts: '50,20': each volume must be larger"),
        (["--counts", "ten"], "--counts: 'ten': expected numbers"),
        (["--build", "hugo --no-such-flag"], "--build: hugo --no-such-flag exited"),
        (["--repeat", "0"], "--repeat: expected >= 1"),
        (["--profile", "huge"], "--profile"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], change: list[str], message: str
) -> None:
    args = _args(site, tmp_path / "out", "--counts", "5", "--repeat", "1")
    for i in range(0, len(change), 2):
        if change[i] in args:
            args[args.index(change[i]) + 1] = change[i + 1]
        else:
            args += change[i : i + 2]
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_a_target_that_is_not_a_site_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "plain").mkdir()
    assert main(_args(tmp_path / "plain", tmp_path / "out", "--counts", "5")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a hugo site" in err[0] and "site init hugo" in err[0]


@pytest.mark.parametrize("generator", ["jekyll", "eleventy"])
def test_buildtest_runs_on_the_other_generators(generator: str, tmp_path: Path) -> None:
    from tests.sinks.static_sites import BUILD, build

    command, output = BUILD[generator]
    root = tmp_path / "site"
    assert main(["site", "init", generator, str(root)]) == 0
    build(generator, root)  # skips (or fails under CI) when the generator is missing
    out = tmp_path / "out"
    args = ["buildtest", "--sink", generator, "--target", str(root), "--build", " ".join(command),
            "--counts", "5,10", "--repeat", "1", "--out", str(out), "-q"]  # fmt: skip
    assert main(args) == 0
    doc = json.loads((out / "buildtest.json").read_text())
    assert [(r["kind"], r["posts"]) for r in doc["rows"]] == [
        (k, n) for n in (5, 10) for k in ("cold", "warm", "incremental")
    ]
    assert len(list((root / output / "posts").glob("*/index.html"))) == 10


def test_a_second_build_test_into_the_same_site_and_ledger_still_changes_one_post(
    site: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = _args(site, out, "--counts", "5", "--repeat", "1")
    assert main(args) == 0
    assert main(args) == 0  # the posts are there already; the edit still rewrites one file
    doc = json.loads((out / "buildtest.json").read_text())
    # the last post goes back to its generated text (the first run had edited it)
    assert doc["imported"]["5"] == {"created": 0, "updated": 1, "unchanged": 4}
