"""The static sinks beyond the contract suite: files on disk, through the real importer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from anp_synth.errors import TerminalSinkError, UsageError
from anp_synth.importer import rollback
from anp_synth.importer.ledger import Ledger
from anp_synth.importer.verify import verify
from anp_synth.sinks.registry import create_sink
from anp_synth.sinks.static.files import TMP_SUFFIX, StaticSink
from anp_synth.sinks.static.markdown import body, read_post
from anp_synth.sinks.static.skeleton import init_site
from tests.importer.posts import edited, post, run_import, write_jsonl

GENERATORS = ["hugo", "jekyll", "eleventy"]


def _site(generator: str, tmp_path: Path) -> tuple[Path, StaticSink]:
    root = tmp_path / generator
    init_site(generator, root)
    sink = create_sink(generator, str(root))
    assert isinstance(sink, StaticSink)
    return root, sink


def _files(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.name: (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.iterdir())
        if p.name.endswith(".md") and not p.name.startswith("_")
    }


@pytest.mark.parametrize("generator", GENERATORS)
def test_posts_land_where_the_generator_looks(generator: str, tmp_path: Path) -> None:
    root, sink = _site(generator, tmp_path)
    p = post(2852)
    sink.upsert(p, idempotency_key="k")
    expected = {
        "hugo": root / "content/posts" / f"{p['slug']}.md",
        "jekyll": root / "_posts" / f"{p['published_at'][:10]}-{p['slug']}.md",
        "eleventy": root / "posts" / f"{p['slug']}.md",
    }[generator]
    data = expected.read_bytes()
    assert read_post(data) == p
    head = data.split(b"\n---\n", 1)[0].decode()
    assert f'\ntitle: "{p["title"]}"' in head and f'\nslug: "{p["slug"]}"' in head
    assert '\ncategories: ["python services","backend","python"]' in head
    assert f'\nsource_id: "{p["source_id"]}"' in head
    assert '\nlang: "en"' in head and '\nlanguage: "en"' in head
    text = data.decode()
    assert f"```{p['code'][0]['language']}\n{p['code'][0]['source']}```" in text
    assert "\n- check pagination on deep pages\n" in text
    assert (
        f"![reducing build time with python services visual reference 1]({p['image']['url']})"
        in text
    )
    assert "\n## production checks\n" in text


@pytest.mark.parametrize("generator", GENERATORS)
def test_a_rerun_rewrites_nothing_and_a_change_rewrites_exactly_its_file(
    generator: str, tmp_path: Path
) -> None:
    root, sink = _site(generator, tmp_path)
    src = write_jsonl(tmp_path / "posts.jsonl", [post(s) for s in range(10, 16)])
    with Ledger(tmp_path / "ledger.sqlite") as led:
        first = run_import(sink, led, str(root), src)
        assert first.created == 6
        before = _files(sink.folder)
        assert len(before) == 6
        # A lost ledger: the sink finds every post by the source_id of its front matter.
    with Ledger(tmp_path / "other-ledger.sqlite") as led:
        again = run_import(create_sink(generator, str(root)), led, str(root), src)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 6)
    assert _files(sink.folder) == before  # bytes and mtime of every file
    changed = [post(s) for s in range(10, 16)]
    changed[3] = edited(13, "a changed title")
    write_jsonl(src, changed)
    with Ledger(tmp_path / "ledger.sqlite") as led:
        third = run_import(create_sink(generator, str(root)), led, str(root), src)
    assert (third.created, third.updated, third.unchanged) == (0, 1, 5)
    after = _files(sink.folder)
    assert set(after) == set(before)
    differ = [name for name in after if after[name] != before[name]]
    assert len(differ) == 1 and post(13)["slug"] in differ[0]
    assert read_post(after[differ[0]][0]) == changed[3]


@pytest.mark.parametrize("generator", GENERATORS)
def test_rollback_restores_byte_for_byte_and_verify_agrees(generator: str, tmp_path: Path) -> None:
    root, sink = _site(generator, tmp_path)
    src = write_jsonl(tmp_path / "posts.jsonl", [post(s) for s in range(20, 24)])
    with Ledger(tmp_path / "ledger.sqlite") as led:
        run_import(sink, led, str(root), src)
        before = {n: b for n, (b, _) in _files(sink.folder).items()}
        write_jsonl(src, [edited(20, "second title"), *[post(s) for s in range(21, 24)], post(25)])
        second = run_import(sink, led, str(root), src)
        assert (second.created, second.updated) == (1, 1)
        with src.open("rb") as fh:
            assert verify(fh, sink, led, str(root)).ok
        result = rollback.apply(rollback.plan(led, target=str(root)), sink, led)
        assert (result.deleted, result.restored, result.failed) == (1, 1, [])
        assert {n: b for n, (b, _) in _files(sink.folder).items()} == before
        write_jsonl(src, [post(s) for s in range(20, 24)])
        with src.open("rb") as fh:
            report = verify(fh, sink, led, str(root))
        assert report.ok, report
        (sink.folder / next(iter(before))).write_text("---\nnot: ours\n---\n")
        with src.open("rb") as fh:
            broken = verify(fh, create_sink(generator, str(root)), led, str(root))
        assert not broken.ok and len(broken.missing) == 1


def test_a_slug_that_would_leave_the_folder_is_refused(tmp_path: Path) -> None:
    root, sink = _site("hugo", tmp_path)
    p = post(30)
    p["slug"] = "../../escaped"
    with pytest.raises(TerminalSinkError) as info:
        sink.upsert(p, idempotency_key="k")
    assert info.value.status == 422
    assert not (tmp_path / "escaped.md").exists() and not (root / "escaped.md").exists()

    class Leaky(StaticSink):  # a generator whose file name would escape, past the model
        def filename(self, post):  # type: ignore[no-untyped-def]
            return "../" + post["slug"] + ".md"

    with pytest.raises(TerminalSinkError, match="outside"):
        Leaky(str(root)).upsert(post(31), idempotency_key="k")
    assert not any(root.glob("*.md"))


def test_writes_are_atomic_and_a_killed_write_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, sink = _site("hugo", tmp_path)
    sink.upsert(post(40), idempotency_key="k")
    path = sink.folder / f"{post(40)['slug']}.md"
    old = path.read_bytes()

    def killed(src: str, dst: str) -> None:  # the process dies between write and rename
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        sink.upsert(edited(40), idempotency_key="k2")
    assert path.read_bytes() == old
    monkeypatch.undo()
    assert [p.name for p in sink.folder.iterdir() if p.name.endswith(TMP_SUFFIX)] == []
    # What a kill -9 leaves (a temporary file) is a dot file no generator reads; a new
    # sink removes it when it first scans the folder.
    stale = sink.folder / f".{path.name}.1.2{TMP_SUFFIX}"
    stale.write_bytes(b"half a fi")
    fresh = create_sink("hugo", str(root))
    assert fresh.get(post(40)["source_id"]) is not None
    assert not stale.exists()


def test_a_target_that_is_not_a_folder_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="^target: .*not a directory"):
        create_sink("hugo", str(tmp_path / "nope"))


def test_a_bare_folder_is_taken_as_the_posts_folder(tmp_path: Path) -> None:
    sink = create_sink("jekyll", str(tmp_path))
    sink.upsert(post(50), idempotency_key="k")
    assert [p.name for p in tmp_path.iterdir()] == [
        f"{post(50)['published_at'][:10]}-{post(50)['slug']}.md"
    ]


def test_site_init_refuses_a_folder_with_files(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("x")
    with pytest.raises(UsageError, match="not an empty folder"):
        init_site("hugo", tmp_path)
    with pytest.raises(UsageError, match="unknown generator 'gatsby'"):
        init_site("gatsby", tmp_path / "new")


def test_the_cli_lays_out_a_site_and_imports_into_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from anp_synth.cli import main

    site = tmp_path / "site"
    assert main(["site", "init", "hugo", str(site)]) == 0
    assert (site / "hugo.toml").is_file() and (site / "layouts/_default/single.html").is_file()
    src = write_jsonl(tmp_path / "posts.jsonl", [post(s) for s in range(60, 63)])
    ledger = str(tmp_path / "l.sqlite")
    args = ["import", str(src), "--sink", "hugo", "--target", str(site), "--ledger", ledger, "-q"]
    assert main(args) == 0
    assert len(list((site / "content/posts").glob("alphanode*.md"))) == 0  # named by slug
    assert len([p for p in (site / "content/posts").glob("*.md") if p.name != "_index.md"]) == 3
    capsys.readouterr()
    args[5] = str(tmp_path / "missing")
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --target: ") and "hugo sink takes" in err[0]
    assert main(["site", "init", "hugo", str(site)]) == 2
    assert "not an empty folder" in capsys.readouterr().err


def test_a_file_deleted_behind_the_sinks_back_is_created_again(tmp_path: Path) -> None:
    root, sink = _site("hugo", tmp_path)
    first = sink.upsert(post(70), idempotency_key="k")
    (sink.folder / f"{post(70)['slug']}.md").unlink()
    assert sink.get(post(70)["source_id"]) is None
    again = sink.upsert(post(70), idempotency_key="k2")
    assert (first.outcome, again.outcome) == ("created", "created")
    assert read_post((sink.folder / f"{post(70)['slug']}.md").read_bytes()) == post(70)


def test_a_text_that_starts_a_list_only_once_put_together_is_escaped() -> None:
    # The figure's caption line is the caption, ". image source: " and the source: a caption
    # "1" makes it start like an ordered list item, though no single field of the post does
    # (the renderer decides once per post whether any text needs escaping).
    p = post(1)
    p["image"]["caption"] = "1"
    assert "\n*\\1. image source: " in body(p)
    p["image"]["caption"] = "plain"
    assert "\n*plain. image source: " in body(p)


def test_every_code_block_is_fenced_with_its_language() -> None:
    p = post(2852)
    p["code"] = [
        {"language": "python", "source": "print('one')\n"},
        {"language": "c++", "source": "a ``` b\n"},  # a fence inside: the fence grows
    ]
    text = body(p)
    assert "```python\nprint('one')\n```" in text
    assert "````c++\na ``` b\n````" in text
    assert text.index("```python") < text.index("````c++") < text.index("## implementation")


def test_hugo_code_escapes_shortcode_delimiters_the_way_hugo_shows_them() -> None:
    from anp_synth.sinks.static.markdown import hugo_code

    assert hugo_code("plain {{ .Title }} code") == "plain {{ .Title }} code"
    assert hugo_code('x("{{< a b=1 >}}")') == 'x("{{</* a b=1 */>}}")'
    assert hugo_code("{{% m %}} {{< n >}}") == "{{%/* m */%}} {{</* n */>}}"
    # an opener without its closer (or with another opener first) cannot be paired
    assert hugo_code("{{< a") == "{{\u200b< a"
    assert hugo_code("{{< a {{< b >}}") == "{{\u200b< a {{</* b */>}}"
    assert hugo_code("{{% a >}}") == "{{\u200b% a >}}"


def test_a_batch_reads_as_written_one_post_after_the_other(tmp_path: Path) -> None:
    # The same post twice, and two posts with one slug, in one batch: as if sent one by one.
    root, sink = _site("hugo", tmp_path)
    clash = post(81)
    clash["slug"] = post(80)["slug"]
    batch = [post(s) for s in range(82, 82 + 40)] + [post(80), edited(80), clash]
    res = sink.upsert_many(batch, idempotency_keys=[f"k{i}" for i in range(len(batch))])
    assert [r.outcome for r in res if not isinstance(r, Exception)][-3:] == [
        "created",
        "updated",
        "created",
    ]
    assert [r.source_id for r in res if not isinstance(r, Exception)] == [
        p["source_id"] for p in batch
    ]
    assert read_post((sink.folder / f"{clash['slug']}.md").read_bytes()) == clash
    assert res[-2].previous == post(80)  # type: ignore[union-attr]


def test_a_write_that_fails_fails_only_its_post_and_ctrl_c_stops_the_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anp_synth.errors import TransientSinkError
    from anp_synth.sinks.static import files

    root, sink = _site("hugo", tmp_path)
    batch = [post(s) for s in range(90, 130)]
    bad = sink.folder / f"{batch[7]['slug']}.md"
    write = files.write_atomic

    def failing(path: str, data: bytes, **kw: object) -> None:
        if os.fspath(path) == os.fspath(bad):
            raise OSError(28, "No space left on device")
        write(path, data, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(files, "write_atomic", failing)
    res = sink.upsert_many(batch, idempotency_keys=[f"k{i}" for i in range(len(batch))])
    assert isinstance(res[7], TransientSinkError) and "No space left" in str(res[7])
    assert [getattr(r, "outcome", None) for i, r in enumerate(res) if i != 7] == ["created"] * 39
    assert not bad.exists() and sink.get(batch[7]["source_id"]) is None

    def interrupted(path: str, data: bytes, **kw: object) -> None:
        if os.fspath(path) == os.fspath(bad):
            raise KeyboardInterrupt  # Ctrl-C during a write: raised, nothing left
        write(path, data, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(files, "write_atomic", interrupted)
    more = [post(s) for s in range(130, 160)]
    with pytest.raises(KeyboardInterrupt):
        sink.upsert_many([*more, batch[7]], idempotency_keys=["j"] * (len(more) + 1))
    assert not bad.exists()
    monkeypatch.undo()
    # the batch resent: what landed before the interrupt is known again (the folder is read
    # afresh) and answered as it was written, the rest written now
    again = sink.upsert_many([*more, batch[7]], idempotency_keys=["j"] * (len(more) + 1))
    assert [getattr(r, "outcome", None) for r in again] == ["created"] * (len(more) + 1)
    assert len([p for p in sink.folder.glob("*.md") if p.name != "_index.md"]) == 40 + 30


def test_an_import_checks_each_post_once_and_the_sink_checks_what_it_was_not_told(
    tmp_path: Path, model_checks: list[object]
) -> None:
    root, sink = _site("hugo", tmp_path)
    checks = model_checks
    src = write_jsonl(tmp_path / "posts.jsonl", [post(s) for s in range(200, 212)])
    with Ledger(tmp_path / "ledger.sqlite") as led:
        assert run_import(sink, led, str(root), src).created == 12
    assert len(checks) == 12  # the importer's check; the sink takes its CheckedPost as checked
    bad = post(212)
    bad["meta"]["score"]["quality"] = 1000
    with pytest.raises(TerminalSinkError, match="quality"):
        sink.upsert(bad, idempotency_key="k")  # a plain dict: the sink checks it itself
    assert len(checks) == 13
