"""The golden files of `generate` in fixtures/: what they hold and how to rewrite them.

Rewrite them only for an intended change of output (a breaking change of the
dataset, see CHANGELOG):

    .venv/bin/python -m tests.generate.golden
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson

from anp_synth.generate.builder import PostBuilder
from anp_synth.generate.dataset import Spec, generate
from anp_synth.generate.profile import BUILTIN
from anp_synth.generate.vocab import supported_locales
from anp_synth.post import post_schema

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
GOLDEN = FIXTURES / "golden"
SCHEMA = FIXTURES / "post.schema.json"
# Every profile and locale the generator knows has its golden file: a new one fails until written.
PROFILES = BUILTIN
LOCALES = tuple(supported_locales())
SEEDS = (0, 1, 2852, 3851, 999_999)
RUN_SEED, RUN_COUNT = 2852, 1000  # `generate --seed 2852 --count 1000`


def posts_path(profile: str, locale: str) -> Path:
    """The golden posts of one profile and locale (one JSONL line per seed of SEEDS)."""
    return GOLDEN / f"posts-{profile}-{locale}.jsonl"


def posts_bytes(profile: str, locale: str) -> bytes:
    """JSONL bytes of the golden seeds, as `generate` writes each line."""
    builder = PostBuilder(profile, locale)
    return b"".join(
        orjson.dumps(builder.build(seed), option=orjson.OPT_APPEND_NEWLINE) for seed in SEEDS
    )


RUN_MANIFEST = GOLDEN / "generate-2852-1000.manifest.json"
RUN_SHA256 = GOLDEN / "generate-2852-1000.sha256"


def schema_bytes() -> bytes:
    """What `anp-synth schema` prints."""
    return orjson.dumps(post_schema(), option=orjson.OPT_INDENT_2) + b"\n"


def main() -> int:
    """Rewrite every golden file."""
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for profile in PROFILES:
        for locale in LOCALES:
            posts_path(profile, locale).write_bytes(posts_bytes(profile, locale))
    out = GOLDEN / "generate-2852-1000.jsonl"
    result = generate(Spec(RUN_SEED, RUN_COUNT), str(out))
    Path(result.manifest_path or "").replace(RUN_MANIFEST)
    out.unlink()
    RUN_SHA256.write_text(f"{result.sha256}  generate --seed 2852 --count 1000\n")
    SCHEMA.write_bytes(schema_bytes())
    print(f"rewrote {GOLDEN} and {SCHEMA}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
