"""`anp-synth buildtest --vary KNOB=…`: one profile knob's effect at a fixed volume (real Hugo)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from anp_synth.buildtest.vary import parse_vary
from anp_synth.cli import main
from anp_synth.errors import UsageError
from anp_synth.generate.profile import resolve
from tests.buildtest.test_cli import _args, site  # noqa: F401 - the fixture

POSTS = 15


def _tags(path: Path) -> set[str]:
    return {t for line in path.read_text().splitlines() for t in json.loads(line)["tags"]}


def test_vary_tags_measures_each_value_at_one_volume(site: Path, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "out"
    args = _args(site, out, "--counts", str(POSTS), "--vary", "tags=2,60", "--repeat", "1")
    assert main(args) == 0
    doc = json.loads((out / "buildtest.json").read_text())
    assert doc["vary"] == {"knob": "tags", "values": [2, 60]}
    assert [(r["kind"], r["posts"], r["tags"]) for r in doc["rows"]] == [
        (k, POSTS, v) for v in (2, 60) for k in ("cold", "warm", "incremental")
    ]
    # the same posts made again with more distinct tags: every file rewritten, none added
    assert doc["imported"]["2"]["created"] == POSTS
    assert doc["imported"]["60"]["created"] == 0 and doc["imported"]["60"]["updated"] > 0
    few, many = _tags(out / "posts-tags-2.jsonl"), _tags(out / "posts-tags-60.jsonl")
    assert len(many) > len(few)
    posts = [p for p in (site / "content/posts").glob("*.md") if p.name != "_index.md"]
    assert len(posts) == POSTS
    # the built site (the last value's) has a listing per tag the posts carry
    listings = [d for d in (site / "public/tags").iterdir() if (d / "index.html").is_file()]
    assert len(listings) == len(many)
    assert all(f is not None and "exponent" in f for f in doc["fit"].values())
    assert all(f["seconds_per_1000_posts"] is None for f in doc["fit"].values())
    md = (out / "buildtest.md").read_text()
    assert "| cold | tags=60 |" in md and "tags (tags.distinct) 2, 60 at 15 posts" in md
    assert "time ∝ tags^" in md
    assert b"tags (tags.distinct)" in (out / "buildtest.svg").read_bytes()  # the x axis


def test_vary_body_length_makes_longer_posts(site: Path, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "out"
    base = tmp_path / "b.json"
    args = _args(site, out, "--counts", "5", "--vary", "paragraphs=1,12", "--repeat", "1")
    assert main([*args, "--save-baseline", str(base)]) == 0
    short, long = (out / "posts-paragraphs-1.jsonl"), (out / "posts-paragraphs-12.jsonl")
    for path, n in ((short, 1), (long, 12)):
        for line in path.read_text().splitlines():
            assert len(json.loads(line)["sections"][0]["paragraphs"]) == n
    assert long.stat().st_size > 1.3 * short.stat().st_size
    routes = set(json.loads(base.read_text())["routes"])
    assert routes == {
        f"{k}@paragraphs={v}" for k in ("cold", "warm", "incremental") for v in (1, 12)
    }


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--vary", "colours=1,2"],
            "--vary: 'colours=1,2': expected KNOB=V1,V2,… with KNOB one of",
        ),
        (["--vary", "tags=100,10"], "--vary: 'tags=100,10': each value must be larger"),
        (["--vary", "tags=x"], "--vary: 'tags=x': expected whole numbers"),
        (["--vary", "stacks=1,20"], "--vary: stacks=20: must be 1..14"),
        (["--vary", "tags=1,2", "--counts", "5,10"], "--counts: with --vary, one volume"),
    ],
)
def test_bad_vary_is_one_line_and_exit_2(
    site: Path,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    args = _args(site, tmp_path / "out", "--repeat", "1", *extra)
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_a_varied_profile_changes_only_its_knob() -> None:
    standard = resolve("standard")
    for text, field in (("tags=500", "distinct_tags"), ("stacks=3", "distinct_stacks")):
        varied = parse_vary(text).profile("standard", int(text.split("=")[1]))
        assert getattr(varied, field) == int(text.split("=")[1])
        assert varied.name == standard.name  # the same streams: only the knob moves
        assert varied.checklist == standard.checklist and varied.tags == standard.tags
    assert parse_vary("tags-per-post=0,3").knob == "tags_per_post"
    with pytest.raises(UsageError):
        parse_vary("tags=")
