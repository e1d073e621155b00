"""Profiles as files: the format, its validation, and what a profile changes in the posts."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import orjson
import pytest

from anp_synth.errors import InputError, UsageError
from anp_synth.generate import profile as profiles
from anp_synth.generate.builder import DEFAULT_WINDOW_DAYS, PostBuilder, builder_for
from anp_synth.generate.dataset import Spec, generate
from anp_synth.generate.profile import BUILTIN, Count, builtin, from_text, load, resolve
from anp_synth.generate.vocab import locale_pools, vocabulary
from anp_synth.post import Post
from tests.generate import golden

SAMPLE = range(20_000, 24_000)


def _write(tmp_path: Path, text: str, name: str = "mysite.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- the built-in files ------------------------------------------------------


@pytest.mark.parametrize("name", BUILTIN)
def test_a_builtin_profile_as_a_copied_file_gives_the_golden_bytes(
    name: str, tmp_path: Path
) -> None:
    # the shipped file IS the profile: a copy of it with its name gives the same posts
    text = builtin(name).to_toml()
    copied = load(_write(tmp_path, text, f"{name}.toml"))
    assert copied.name == name
    builder = PostBuilder(copied, "en_US")
    got = b"".join(
        orjson.dumps(builder.build(seed), option=orjson.OPT_APPEND_NEWLINE) for seed in golden.SEEDS
    )
    assert got == golden.posts_path(name, "en_US").read_bytes()


def test_builtin_profiles_resolve_to_complete_files_that_read_back_equal() -> None:
    for name in BUILTIN:
        profile = builtin(name)
        again = from_text(profile.to_toml(), "shown.toml")
        assert again.to_toml() == profile.to_toml()
        assert profile.window_days == DEFAULT_WINDOW_DAYS
    assert builtin("light").production_paragraphs == Count(1, 2)
    assert builtin("heavy").tool_entities is True


# -- validation: one line naming the file, the key and what is allowed -------


@pytest.mark.parametrize(
    ("text", "key", "allowed"),
    [
        ("[body]\nparagraphs = 3\n", "'body.paragraphs'", "allowed: production_paragraphs"),
        ("[bodyy]\nx = 1\n", "'bodyy'", "allowed: format, name, base, [body]"),
        ('[meta]\nchecklist = "five"\n', "'meta.checklist'", "must be an integer 0..1000"),
        ("[meta]\nchecklist = [8, 5]\n", "'meta.checklist'", "need 0 <= lo <= hi <= 1000"),
        ("[images]\nper_post = 0\n", "'images.per_post'", "an integer 1..1000"),
        ("[code]\nper_post = 33\n", "'code.per_post'", "an integer 0..32"),
        ("[code]\nlines = [10, 500]\n", "'code.lines'", "need 0 <= lo <= hi <= 200"),
        ("[code]\nblocks = 2\n", "'code.blocks'", "allowed: per_post, lines"),
        ("[tags]\nzipf = -1\n", "'tags.zipf'", "a number 0..4"),
        ("[tags]\nstack_tags = 1\n", "'tags.stack_tags'", "true or false"),
        ("[stacks]\ndistinct = 15\n", "'stacks.distinct'", "must be 1..14"),
        ("[authors]\ndistinct = 1001\n", "'authors.distinct'", "must be 1..1000"),
        ("[body]\nclos_per_mille = 2\n", "'body.clos_per_mille'", "unknown key"),
        ("[body]\ncloser_per_mille = 1001\n", "'body.closer_per_mille'", "0..1000"),
        ("[published]\nweekdays = { mon = 1, funday = 2 }\n", "'published.weekdays'", "mon..sun"),
        ("[published]\nhours = [1, 2]\n", "'published.hours'", "24 integer weights"),
        ("[mix]\nlocales = { fr_FR = 1 }\n", "'mix.locales'", "unknown locale 'fr_FR'"),
        ("[mix]\nheavy_per_mille = 50\n", "'mix.heavy'", "must name a built-in profile"),
        ("format = 2\n", "'format'", "must be 1"),
        ('base = "huge"\n', "'base'", "one of light, standard, heavy"),
        (
            "[meta]\nnotes = { values = [1, 2], weights = [1] }\n",
            "'meta.notes'",
            "2 values but 1 weights",
        ),
    ],
)
def test_a_bad_profile_is_one_line_naming_file_key_and_what_is_allowed(
    tmp_path: Path, text: str, key: str, allowed: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        load(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(path)), message
    assert key in message and allowed in message, message


def test_bad_toml_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "[body]\nproduction_paragraphs = [3,, 4]\n")
    with pytest.raises(InputError, match=r"mysite.toml: not valid TOML: .*line"):
        load(path)


def test_an_unknown_name_or_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown 'huge'; choose one of light, standard, heavy"):
        resolve("huge")
    with pytest.raises(UsageError, match="no such file"):
        resolve(str(tmp_path / "nope.toml"))


def test_the_cli_says_one_line_and_exits_2(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = _write(tmp_path, "[tags]\nper_post = [1, 2000]\n")
    ran = cli("generate", "--profile", str(path), "-n", "3", "-o", str(tmp_path / "p.jsonl"))
    assert ran.code == 2
    assert ran.err.count("\n") == 1 and "Traceback" not in ran.err
    assert f"{path}: field 'tags.per_post': must be" in ran.err
    assert not (tmp_path / "p.jsonl").exists()


# -- what a profile file changes ---------------------------------------------


def test_a_partial_file_takes_the_rest_from_its_base(tmp_path: Path) -> None:
    mine = load(_write(tmp_path, 'base = "heavy"\n[meta]\nchecklist = 3\n'))
    heavy = builtin("heavy")
    assert mine.name == "mysite" and mine.checklist == Count(3, 3)
    assert mine.tools == heavy.tools and mine.extra_tools == heavy.extra_tools


def test_counts_fixed_ranges_and_weights_shape_the_lists(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "[meta]\nchecklist = 6\nnotes = { values = [0, 5], weights = [1, 3] }\n"
        "[images]\nper_post = [2, 2]\n[tags]\nper_post = 3\nstack_tags = false\n",
    )
    builder = PostBuilder(load(path), "en_US")
    posts = [builder.build(seed) for seed in SAMPLE]
    assert {len(p["checklist"]) for p in posts} == {6}
    assert {len(p["meta"]["image_sources"]) for p in posts} == {2}
    notes = Counter(len(p["meta"]["notes"]) for p in posts)
    assert set(notes) == {0, 5}
    assert 0.70 < notes[5] / len(posts) < 0.80  # weight 3 of 4
    assert {len(p["tags"]) for p in posts} == {3}


def test_code_blocks_per_post_and_their_lines(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "[code]\nper_post = { values = [0, 2, 6], weights = [1, 2, 1] }\nlines = [5, 80]\n",
    )
    builder = PostBuilder(load(path), "en_US")
    posts = [builder.build(seed) for seed in SAMPLE]
    blocks = Counter(len(p["code"]) for p in posts)
    assert set(blocks) == {0, 2, 6}
    assert 0.42 < blocks[2] / len(posts) < 0.58  # weight 2 of 4
    lengths = [len(c["source"].splitlines()) for p in posts for c in p["code"]]
    assert min(lengths) == 5 and max(lengths) == 80 and 35 < sum(lengths) / len(lengths) < 50
    for p in posts:
        Post.model_validate(p)
        stack = next(s for s in vocabulary().stacks if s["name"] == p["meta"]["outline"]["stack"])
        for code in p["code"]:
            assert code["language"] == stack["language"] == p["meta"]["code_language"]
            # n lines of the stack's own snippets, read on from one (a blank line between two)
            first = code["source"].split("\n", 1)[0]
            assert any(s.startswith(first + "\n") for s in stack["snippets"]), first
            lines = set(code["source"].splitlines())
            assert lines <= {ln for s in stack["snippets"] for ln in s.splitlines()} | {""}
    whole = PostBuilder(from_text("[code]\nper_post = 3\nlines = 0\n", "w.toml"), "en_US")
    for seed in SAMPLE[:200]:
        post = whole.build(seed)
        stack_name = post["meta"]["outline"]["stack"]
        snippets = next(s["snippets"] for s in vocabulary().stacks if s["name"] == stack_name)
        assert len(post["code"]) == 3 and all(c["source"] in snippets for c in post["code"])
        assert len({c["source"] for c in post["code"]}) == min(3, len(snippets))


def test_cardinality_and_zipf_of_tags_stacks_and_authors(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "[tags]\ndistinct = 300\nzipf = 0.6\nper_post = [3, 6]\nstack_tags = false\n"
        "[stacks]\ndistinct = 3\nzipf = 0\n[authors]\ndistinct = 4\nzipf = 2\n",
    )
    builder = PostBuilder(load(path), "en_US")
    posts = [builder.build(seed) for seed in SAMPLE]
    tags = Counter(t for p in posts for t in p["tags"])
    assert 200 < len(tags) <= 300  # a flat Zipf reaches most of the pool
    assert any(" " in t and t.split()[-1] in ("testing", "performance") for t in tags)
    stacks = Counter(p["meta"]["outline"]["stack"] for p in posts)
    assert len(stacks) == 3
    assert max(stacks.values()) / min(stacks.values()) < 1.2  # zipf 0: uniform
    authors = Counter(p["author"] for p in posts).most_common()
    assert len(authors) == 4
    assert 3.4 < authors[0][1] / authors[1][1] < 4.6  # zipf 2: rank 1 is 4x rank 2


@pytest.mark.parametrize("locale", ["en_US", "ja_JP", "ru_RU"])
def test_a_multi_author_site_gets_hundreds_of_distinct_authors(tmp_path: Path, locale: str) -> None:
    builder = PostBuilder(load(_write(tmp_path, "[authors]\ndistinct = 800\nzipf = 0\n")), locale)
    authors = Counter(builder.build(seed)["author"] for seed in range(20_000, 32_000))
    assert 780 < len(authors) <= 800  # 12,000 posts over 800 equally likely names reach nearly all
    # the first 60 are the built-ins' authors: a profile with fewer keeps its bytes
    assert set(authors) <= set(locale_pools(locale).authors[:800])


def test_view_counts_follow_median_and_sigma(tmp_path: Path) -> None:
    path = _write(tmp_path, "[views]\nmedian = 300\nsigma = 0.5\n")
    builder = PostBuilder(load(path), "en_US")
    views = sorted(builder.build(seed)["meta"]["view_count"] for seed in SAMPLE)
    median = views[len(views) // 2]
    p90 = views[len(views) * 9 // 10]
    assert 270 < median < 330
    assert 1.7 < p90 / median < 2.1  # e^(1.2816 * 0.5) = 1.90


def test_weekday_and_hour_rhythm(tmp_path: Path) -> None:
    import datetime as dt

    hours = [0] * 24
    hours[21] = 3
    hours[9] = 1
    path = _write(
        tmp_path,
        "[published]\nweekdays = { mon = 1, sat = 1 }\n" + f"hours = {hours}\n",
    )
    builder = PostBuilder(load(path), "en_US")
    stamps = [builder.build(seed)["published_at"] for seed in SAMPLE]
    days = Counter(dt.date.fromisoformat(s[:10]).weekday() for s in stamps)
    assert set(days) == {0, 5} and abs(days[0] - days[5]) < len(stamps) * 0.05
    by_hour = Counter(int(s[11:13]) for s in stamps)
    assert set(by_hour) == {9, 21}
    assert 0.70 < by_hour[21] / len(stamps) < 0.80


def test_a_locale_mix_and_a_share_of_heavy_posts(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '[mix]\nlocales = { en_US = 80, ja_JP = 20 }\nheavy = "heavy"\nheavy_per_mille = 100\n',
    )
    builder = builder_for(load(path))
    posts = [builder.build(seed) for seed in SAMPLE]
    locales = Counter(p["locale"] for p in posts)
    assert 0.17 < locales["ja_JP"] / len(posts) < 0.23
    heavy = sum(len(p["checklist"]) >= 14 for p in posts)  # the standard checklist has <= 8
    assert 0.08 < heavy / len(posts) < 0.12
    # forcing a locale keeps the heavy share, drops the mix
    forced = builder_for(load(path), "ru_RU")
    assert {forced.build(seed)["locale"] for seed in range(100)} == {"ru_RU"}
    # the core of a post does not depend on the mix
    plain = PostBuilder("standard", "en_US")
    for post in posts[:50]:
        base = plain.build(post["seed"])
        assert post["published_at"] == base["published_at"] and post["title"] != ""
        assert post["meta"]["view_count"] == base["meta"]["view_count"]


def test_the_manifest_records_the_profile_file_and_its_sha256(tmp_path: Path) -> None:
    text = 'name = "mysite"\n[meta]\nchecklist = 2\n'
    path = _write(tmp_path, text)
    result = generate(Spec(0, 20, str(path)), str(tmp_path / "posts.jsonl"))
    manifest = orjson.loads((tmp_path / "posts.manifest.json").read_bytes())
    assert manifest == result.manifest
    assert manifest["profile"] == "mysite"
    assert manifest["profile_toml"] == text
    assert manifest["profile_sha256"] == hashlib.sha256(text.encode()).hexdigest()
    # the recorded text alone makes the same dataset again
    again = _write(tmp_path, manifest["profile_toml"], "again.toml")
    generate(Spec(0, 20, str(again)), str(tmp_path / "again.jsonl"))
    assert (tmp_path / "again.jsonl").read_bytes() == (tmp_path / "posts.jsonl").read_bytes()


def test_generate_reads_the_profile_file_once(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # what the posts are made from is what the manifest records: one reading serves both
    from anp_synth import textfile

    path = _write(tmp_path, 'name = "mysite"\n[meta]\nchecklist = 2\n')
    reads: Counter[str] = Counter()
    read_text = textfile.read_text

    def counted(where, *args, **kwargs):  # type: ignore[no-untyped-def]
        reads[str(where)] += 1
        return read_text(where, *args, **kwargs)

    monkeypatch.setattr(textfile, "read_text", counted)
    generate(Spec(0, 20, str(path)), str(tmp_path / "posts.jsonl"), workers=2)
    assert reads[str(path)] == 1


def test_a_profile_file_gives_the_same_bytes_in_another_process_and_with_workers(
    tmp_path: Path,
) -> None:
    from tests.generate.conftest import run_cli

    path = _write(
        tmp_path,
        "[tags]\ndistinct = 500\nzipf = 1.3\n[views]\nmedian = 900\nsigma = 1.1\n"
        '[mix]\nlocales = { en_US = 2, ru_RU = 1 }\nheavy = "light"\nheavy_per_mille = 300\n',
    )
    one = tmp_path / "one.jsonl"
    two = tmp_path / "two.jsonl"
    a = run_cli(
        "generate",
        "--profile",
        str(path),
        "-n",
        "3000",
        "-o",
        str(one),
        "-q",
        env={"PYTHONHASHSEED": "1", "TZ": "Asia/Tokyo"},
    )
    b = run_cli(
        "generate",
        "--profile",
        str(path),
        "-n",
        "3000",
        "-o",
        str(two),
        "-q",
        "-w",
        "2",
        env={"PYTHONHASHSEED": "2"},
    )
    assert a.code == b.code == 0, a.err + b.err
    assert one.read_bytes() == two.read_bytes()
    assert profiles.load(path).name == "mysite"


def test_long_bodies_repeat_paragraphs_once_the_vocabulary_runs_out(tmp_path: Path) -> None:
    path = _write(tmp_path, "[body]\nproduction_paragraphs = 40\nfinal_paragraphs = 12\n")
    post = PostBuilder(load(path), "en_US").build(5)
    assert len(post["sections"][0]["paragraphs"]) == 40
    assert len(post["sections"][2]["paragraphs"]) == 12


def test_the_epoch_of_a_profile_ends_its_window_and_the_option_overrides_it(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path, "[published]\nepoch = 2020-03-01\nwindow_days = 10\n")
    spec = Spec(0, 1, str(path)).resolved()
    assert str(spec.epoch) == "2020-03-01" and spec.window_days == 10
    stamps = {PostBuilder(load(path)).build(seed)["published_at"][:10] for seed in range(300)}
    assert min(stamps) >= "2020-02-20" and max(stamps) <= "2020-02-29"
    import datetime as dt

    forced = Spec(0, 1, str(path), epoch=dt.date(2021, 1, 1), window_days=5).resolved()
    assert str(forced.epoch) == "2021-01-01" and forced.window_days == 5


def test_a_weekday_rhythm_alone_and_an_hour_rhythm_alone(tmp_path: Path) -> None:
    import datetime as dt

    weekdays = PostBuilder(load(_write(tmp_path, "[published]\nweekdays = { tue = 1 }\n")))
    stamps = [weekdays.build(seed)["published_at"] for seed in SAMPLE]
    assert {dt.date.fromisoformat(s[:10]).weekday() for s in stamps} == {1}
    assert {int(s[11:13]) for s in stamps} == set(range(7, 19))  # the midday-peaked default
    assert len({s[:10] for s in stamps}) > 140  # every Tuesday of the window, or nearly
    hours = [0] * 24
    hours[3] = 1
    only_hours = PostBuilder(load(_write(tmp_path, f"[published]\nhours = {hours}\n", "h.toml")))
    stamps = [only_hours.build(seed)["published_at"] for seed in SAMPLE]
    assert {int(s[11:13]) for s in stamps} == {3}
    weekend = sum(dt.date.fromisoformat(s[:10]).weekday() >= 5 for s in stamps)
    assert weekend < len(stamps) * 0.2  # the weekend-redraw rhythm (2/7 without it)


def test_the_shipped_view_logarithms_are_the_computed_ones() -> None:
    from anp_synth.generate.builder import view_log_ratios
    from anp_synth.generate.vocab import vocabulary

    vocab = vocabulary()
    # rewrite them with view_log_ratios if the quantiles change
    assert vocab.view_count_logs == view_log_ratios(vocab.view_count_quantiles)


def test_zipf_weights_of_fewer_ranks_are_a_prefix() -> None:
    from anp_synth.generate.profile import zipf_weights

    many = zipf_weights(300, "1.07")
    assert zipf_weights(40, "1.07") == many[:40] and zipf_weights(300, "1.07") == many
    assert many[0] == 1 << 24 and 7_900_000 < many[1] - many[0] < 8_000_000  # 2^24 / 2^1.07
