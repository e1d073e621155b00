"""anp_synth.generate: chunks in order for any worker count, shards, manifest, atomic writes."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import orjson
import pytest

from anp_synth.errors import UsageError
from anp_synth.generate.builder import MixBuilder, PostBuilder, builder_for
from anp_synth.generate.dataset import (
    Spec,
    generate,
    iter_chunks,
    manifest_path_for,
    parse_shard,
    shard_range,
)
from anp_synth.generate.profile import from_text
from tests.generate import golden

GOLDEN_SHA = golden.RUN_SHA256.read_text().split()[0]


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_any_worker_count_gives_the_golden_bytes(tmp_path: Path, workers: int) -> None:
    # small chunks, so several are in flight per worker and order really is at stake
    out = tmp_path / "posts.jsonl"
    result = generate(Spec(2852, 1000), str(out), workers=workers, chunk=37)
    assert result.sha256 == GOLDEN_SHA
    assert hashlib.sha256(out.read_bytes()).hexdigest() == GOLDEN_SHA


def test_chunks_come_in_seed_order_with_their_counts() -> None:
    chunks = list(iter_chunks(Spec(100, 250), workers=2, chunk=64))
    assert [n for n, _ in chunks] == [64, 64, 64, 58]
    seeds = [orjson.loads(line)["seed"] for _, data in chunks for line in data.splitlines()]
    assert seeds == list(range(100, 350))


@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_shards_are_contiguous_and_cover_the_range_once(n: int) -> None:
    ranges = [shard_range(2852, 1000, (k, n)) for k in range(1, n + 1)]
    assert ranges[0][0] == 2852
    for (start, count), (next_start, _) in zip(ranges, ranges[1:], strict=False):
        assert start + count == next_start
    assert sum(count for _, count in ranges) == 1000


def test_shard_files_concatenate_to_the_single_run(tmp_path: Path) -> None:
    parts = []
    for k in range(1, 5):
        out = tmp_path / f"s{k}.jsonl"
        generate(Spec(2852, 1000), str(out), shard=(k, 4), workers=2, chunk=100)
        parts.append(out.read_bytes())
    assert hashlib.sha256(b"".join(parts)).hexdigest() == GOLDEN_SHA


@pytest.mark.parametrize("text", ["", "1", "1/0", "0/1", "2/1", "a/b", "1/2/3", "-1/2"])
def test_bad_shard_specs_name_the_option(text: str) -> None:
    with pytest.raises(UsageError, match="^shard"):
        parse_shard(text)


def test_manifest_is_deterministic_and_complete(tmp_path: Path) -> None:
    manifests = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        out = tmp_path / name / "posts.jsonl"
        result = generate(Spec(5, 300, "heavy", "ja_JP"), str(out), workers=2, chunk=50)
        manifests.append(manifest_path_for(out).read_bytes())
        data = out.read_bytes()
        manifest = orjson.loads(manifests[-1])
        assert manifest == result.manifest
        assert manifest["sha256"] == hashlib.sha256(data).hexdigest()
        assert manifest["bytes"] == len(data)
    assert manifests[0] == manifests[1]
    manifest = orjson.loads(manifests[0])
    assert manifest["faker_version"] and manifest["generator_version"]
    assert (manifest["profile"], manifest["locale"]) == ("heavy", "ja_JP")
    assert (manifest["seed_first"], manifest["seed_last"], manifest["count"]) == (5, 304, 300)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_output_files_get_the_mode_of_a_new_file(tmp_path: Path, umask: int) -> None:
    # what open() would give (0o666 less the umask), not mkstemp's private 0o600
    out = tmp_path / "posts.jsonl"
    previous = os.umask(umask)
    try:
        generate(Spec(0, 3), str(out))
    finally:
        os.umask(previous)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE(manifest_path_for(out).stat().st_mode) == 0o666 & ~umask


def _open_descriptors() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors in /proc")
def test_a_failing_worker_leaves_no_output_no_worker_and_no_slot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import multiprocessing

    import anp_synth.generate.dataset as gen

    real = gen.build_chunk

    def failing(*args: object) -> bytes:
        if args[4] == 300:  # the fourth chunk: workers inherit this patch when they fork
            raise RuntimeError("boom")
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(gen, "build_chunk", failing)
    before = _open_descriptors()
    out = tmp_path / "posts.jsonl"
    with pytest.raises(RuntimeError, match="boom"):
        generate(Spec(0, 1000), str(out), workers=2, chunk=100)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary file either
    assert multiprocessing.active_children() == []  # every worker was joined
    assert _open_descriptors() <= before  # the slots (memfds) are closed: nothing to leak


def test_a_new_file_never_sits_beside_the_old_files_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import anp_synth.generate.dataset as gen

    out = tmp_path / "posts.jsonl"
    generate(Spec(0, 3), str(out))
    old_manifest = manifest_path_for(out)
    assert old_manifest.exists()

    def no_manifest(*args: object, **kwargs: object) -> dict[str, object]:
        raise OSError("disk full")

    monkeypatch.setattr(gen, "build_manifest", no_manifest)
    with pytest.raises(OSError, match="disk full"):
        generate(Spec(10, 5), str(out))
    # the new posts are in place; the manifest that described the old ones is gone
    assert len(out.read_bytes().splitlines()) == 5
    assert not old_manifest.exists()


def test_a_large_run_makes_its_variants_up_front_and_gives_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anp_synth.generate import dataset

    monkeypatch.setattr(dataset, "PREPARE_AT", 1000)
    monkeypatch.setattr(dataset, "_builders", {})
    result = generate(Spec(2852, 1000), str(tmp_path / "posts.jsonl"))
    assert result.sha256 == GOLDEN_SHA
    (builder,) = dataset._builders.values()
    assert isinstance(builder, PostBuilder) and isinstance(builder._prose_variants, list)


def test_a_mix_of_one_locale_is_that_locales_builder_with_the_same_posts() -> None:
    spec = from_text("[mix]\nlocales = { ja_JP = 3 }\n", "one.toml")
    builder = builder_for(spec)
    assert isinstance(builder, PostBuilder) and builder.locale == "ja_JP"
    mix = MixBuilder(spec, None, None, None)
    assert all(builder.build(s) == mix.build(s) for s in range(5000, 5100))
