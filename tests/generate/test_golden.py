"""Golden files: the generator reproduces fixtures/ byte for byte (regenerate: tests/generate/golden.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
import pytest

from anp_synth.generate.dataset import Spec, generate
from tests.generate import golden


@pytest.mark.parametrize("locale", golden.LOCALES)
@pytest.mark.parametrize("profile", golden.PROFILES)
def test_golden_posts_are_regenerated_byte_for_byte(profile: str, locale: str) -> None:
    expected = golden.posts_path(profile, locale).read_bytes()
    assert golden.posts_bytes(profile, locale) == expected


def test_golden_seed_2852_is_the_seed_articles_post() -> None:
    line = golden.posts_path("standard", "en_US").read_bytes().splitlines()[2]
    post = orjson.loads(line)
    assert post["source_id"] == "alphanode-002852"
    assert post["title"] == (
        "python services notes: reducing build time for a content heavy programming website"
    )
    assert post["meta"]["payload"]["seed"] == 2852
    assert post["meta"]["reference"].startswith("anp-ref-002852-")
    assert post["meta"]["stack"] == ["python services", "backend", "python"]


def test_generate_2852_1000_matches_golden_sha256_and_manifest(tmp_path: Path) -> None:
    out = tmp_path / "posts.jsonl"
    result = generate(Spec(golden.RUN_SEED, golden.RUN_COUNT), str(out))
    recorded = golden.RUN_SHA256.read_text().split()[0]
    assert hashlib.sha256(out.read_bytes()).hexdigest() == recorded == result.sha256
    assert (tmp_path / "posts.manifest.json").read_bytes() == golden.RUN_MANIFEST.read_bytes()


def test_schema_command_matches_committed_schema(cli) -> None:  # type: ignore[no-untyped-def]
    ran = cli("schema")
    assert ran.code == 0
    assert ran.out == golden.SCHEMA.read_bytes() == golden.schema_bytes()
    schema = orjson.loads(ran.out)
    assert "meta" in schema["properties"] and "similar" in schema["properties"]
