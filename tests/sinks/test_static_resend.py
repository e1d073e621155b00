"""A static sink keeps each write's Idempotency-Key: a batch resent after a crash between the
write and the ledger is answered as it was written, so its rollback deletes or restores it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from anp_synth.importer.ledger import Ledger
from anp_synth.sinks.registry import create_sink
from anp_synth.sinks.static.files import JOURNAL, StaticSink, read_mark
from anp_synth.sinks.static.skeleton import init_site
from tests.importer.posts import edited, post, write_jsonl
from tests.sinks.static_sites import build

GENERATORS = ["hugo", "jekyll", "eleventy"]
CLI = [sys.executable, "-m", "anp_synth"]
POSTS = range(3100, 3112)  # 12 posts: three batches of 4


def _sink(generator: str, root: Path) -> StaticSink:
    sink = create_sink(generator, str(root))
    assert isinstance(sink, StaticSink)
    return sink


def _posts(sink: StaticSink) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(sink.folder.glob("*.md")) if p.name[0] != "_"}


@pytest.mark.parametrize("generator", GENERATORS)
def test_the_same_key_again_is_answered_as_it_was_written(generator: str, tmp_path: Path) -> None:
    root = tmp_path / "site"
    init_site(generator, root)
    sink = _sink(generator, root)
    p = post(3000)
    assert sink.upsert(p, idempotency_key="k1").outcome == "created"
    path = sink.path_for(p)
    mark = read_mark(path)
    assert mark is not None and mark[0] == "created" and mark[1].startswith("k1 ")
    stamp = path.stat().st_mtime_ns
    fresh = _sink(generator, root)  # another process: it reads the mark from the file
    assert fresh.upsert(p, idempotency_key="k1").outcome == "created"  # the resent write
    assert fresh.upsert(p, idempotency_key="k9").outcome == "unchanged"  # a later run's
    assert path.stat().st_mtime_ns == stamp  # neither wrote the file
    before = path.read_bytes()
    changed = edited(3000)
    first = fresh.upsert(changed, idempotency_key="u1")
    assert first.outcome == "updated" and first.previous == p
    again = _sink(generator, root).upsert(changed, idempotency_key="u1")
    assert again.outcome == "updated" and again.previous == p  # from the journal
    assert (root / JOURNAL / f"{p['source_id']}.json").is_file()
    # the post's bytes are its own (the mark is an attribute, the journal a dot folder)
    assert b"u1" not in path.read_bytes() and b"k1" not in path.read_bytes()
    restored = fresh.upsert(p, idempotency_key="r1")
    assert restored.outcome == "updated" and path.read_bytes() == before
    assert fresh.delete(p["source_id"])
    assert not (root / JOURNAL / f"{p['source_id']}.json").exists()


def _dies(after: int, *args: str) -> subprocess.CompletedProcess[str]:
    """`anp-synth ARGS`, killed with SIGKILL right after the sink wrote its `after`th batch."""
    return subprocess.run(
        [sys.executable, "-m", "tests.sinks.static_dies", str(after), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _import(data: Path, root: Path, ledger: Path, sink: str) -> list[str]:
    return ["import", str(data), "--sink", sink, "--target", str(root), "--ledger", str(ledger),
            "--batch-size", "4", "--concurrency", "1", "-q"]  # fmt: skip


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("generator", GENERATORS)
def test_kill_between_write_and_ledger_then_resume_and_roll_back_deletes_every_file(
    generator: str, tmp_path: Path
) -> None:
    root, ledger = tmp_path / "site", tmp_path / "ledger.sqlite"
    init_site(generator, root)
    data = write_jsonl(tmp_path / "posts.jsonl", [post(s) for s in POSTS])
    killed = _dies(2, *_import(data, root, ledger, generator))
    assert killed.returncode == -9, killed.stderr
    sink = _sink(generator, root)
    written = _posts(sink)
    assert len(written) == 8  # two batches on disk, the ledger has not heard of the second
    marks = {read_mark(sink.folder / name) for name in written}
    assert {m[0] for m in marks if m} == {"created"} and all(m and ".run1" in m[1] for m in marks)
    with Ledger.open_readonly(ledger) as led:
        # the first batch's answer may or may not be in (confirming runs beside sending)
        assert len(led.changes(1)) in (0, 4)
    resumed = _cli(*_import(data, root, ledger, generator))
    assert resumed.returncode == 0, resumed.stderr
    assert _posts(sink).keys() >= written.keys() and len(_posts(sink)) == 12
    assert {name: sink.folder.joinpath(name).read_bytes() for name in written} == written
    with Ledger.open_readonly(ledger) as led:
        assert [r.id for r in led.runs()] == [1]  # the same run, resumed: the same keys
        changes = led.changes(1)
    assert len(changes) == 12 and {c.action for c in changes} == {"created"}
    back = _cli("rollback", "--ledger", str(ledger), "--run", "1", "--yes")
    assert back.returncode == 0, back.stderr
    assert _posts(_sink(generator, root)) == {}


@pytest.mark.parametrize("generator", GENERATORS)
def test_kill_during_an_update_run_then_rollback_restores_every_file_byte_for_byte(
    generator: str, tmp_path: Path
) -> None:
    root, ledger = tmp_path / "site", tmp_path / "ledger.sqlite"
    init_site(generator, root)
    first = write_jsonl(tmp_path / "v1.jsonl", [post(s) for s in POSTS])
    assert _cli(*_import(first, root, ledger, generator)).returncode == 0
    original = _posts(_sink(generator, root))
    second = write_jsonl(tmp_path / "v2.jsonl", [edited(s) for s in POSTS])
    killed = _dies(2, *_import(second, root, ledger, generator))
    assert killed.returncode == -9, killed.stderr
    assert sum(a != b for a, b in zip(_posts(_sink(generator, root)).values(),
                                      original.values(), strict=True)) == 8  # fmt: skip
    assert _cli(*_import(second, root, ledger, generator)).returncode == 0
    with Ledger.open_readonly(ledger) as led:
        changes = led.changes(2)
    # every update is known with the version it replaced, the crashed batch's too
    assert len(changes) == 12 and all(c.previous is not None for c in changes)
    back = _cli("rollback", "--ledger", str(ledger), "--run", "2", "--yes")
    assert back.returncode == 0, back.stdout + back.stderr
    assert _posts(_sink(generator, root)) == original


@pytest.mark.parametrize("generator", GENERATORS)
def test_the_journal_is_not_part_of_the_built_site(generator: str, tmp_path: Path) -> None:
    root = tmp_path / "site"
    init_site(generator, root)
    sink = _sink(generator, root)
    p = post(3050)
    sink.upsert(p, idempotency_key="a")
    sink.upsert(edited(3050), idempotency_key="b")
    assert (root / JOURNAL / f"{p['source_id']}.json").is_file()
    out = build(generator, root)
    built = [str(f.relative_to(out)) for f in out.rglob("*")]
    assert any(name.startswith("posts/") for name in built)
    assert not [n for n in built if "anp-synth" in n or p["source_id"] in n], built
