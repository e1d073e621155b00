"""`anp-synth generate|show|schema` as a user runs them: determinism across processes, errors."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from tests.generate import golden
from tests.generate.conftest import Ran, run_cli

GOLDEN_SHA = golden.RUN_SHA256.read_text().split()[0]
Cli = Callable[..., Ran]


# -- determinism across processes and machines' settings ----------------------


@pytest.mark.parametrize(
    "env",
    [
        {"PYTHONHASHSEED": "0", "TZ": "UTC", "LC_ALL": "C"},
        {"PYTHONHASHSEED": "4242", "TZ": "Asia/Tokyo", "LC_ALL": "C.UTF-8"},
        {"PYTHONHASHSEED": "random", "TZ": "America/Los_Angeles", "LC_ALL": "tr_TR.UTF-8"},
    ],
    ids=["hash0-utc-C", "hash4242-tokyo-utf8", "hashrandom-la-tr"],
)
def test_stdout_is_byte_identical_in_fresh_processes(env: dict[str, str]) -> None:
    ran = run_cli("generate", "--seed", "2852", "--count", "1000", "-o", "-", env=env)
    assert ran.code == 0, ran.err
    assert hashlib.sha256(ran.out).hexdigest() == GOLDEN_SHA


def test_workers_and_shards_in_fresh_processes_equal_one_run(tmp_path: Path) -> None:
    ran = run_cli("generate", "--seed", "2852", "--count", "1000", "-w", "4", "-o", "-", "-q")
    assert ran.code == 0, ran.err
    assert hashlib.sha256(ran.out).hexdigest() == GOLDEN_SHA
    parts = []
    for k in (1, 2, 3):
        out = tmp_path / f"part{k}.jsonl"
        ran = run_cli(
            "generate", "--seed", "2852", "--count", "1000", "--shard", f"{k}/3", "-o", str(out)
        )
        assert ran.code == 0, ran.err
        parts.append(out.read_bytes())
        manifest = orjson.loads((tmp_path / f"part{k}.manifest.json").read_bytes())
        assert manifest["shard"] == f"{k}/3"
    assert hashlib.sha256(b"".join(parts)).hexdigest() == GOLDEN_SHA
    assert [len(p.splitlines()) for p in parts] == [333, 333, 334]


def test_random_access_seed_3851_alone_is_line_1000(cli: Cli) -> None:
    full = cli("generate", "--seed", "2852", "--count", "1000", "-o", "-")
    alone = cli("generate", "--seed", "3851", "--count", "1", "-o", "-")
    assert full.code == alone.code == 0
    lines = full.out.splitlines(keepends=True)
    assert len(lines) == 1000
    assert alone.out == lines[999]
    assert orjson.loads(alone.out)["source_id"] == "alphanode-003851"


# -- output ---------------------------------------------------------------------


def test_stdout_holds_only_jsonl_with_dash(cli: Cli) -> None:
    ran = cli("generate", "--seed", "10", "--count", "25", "-o", "-")
    assert ran.code == 0
    lines = ran.out.splitlines()
    assert [orjson.loads(line)["seed"] for line in lines] == list(range(10, 35))
    # the summary goes to stderr, never into the data; no progress bar when not a terminal
    assert ran.err.strip().splitlines() == [f"wrote 25 posts ({len(ran.out):,} bytes) to stdout"]


def test_default_count_and_output_are_documented_values(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ran = cli("generate")
    assert ran.code == 0, ran.err
    assert "posts.jsonl" in ran.err and "1,000 posts" in ran.err
    manifest = orjson.loads((tmp_path / "posts.manifest.json").read_bytes())
    assert (manifest["seed_first"], manifest["seed_last"], manifest["count"]) == (2852, 3851, 1000)
    assert manifest["sha256"] == GOLDEN_SHA
    assert len((tmp_path / "posts.jsonl").read_bytes().splitlines()) == 1000


def test_show_prints_the_post_with_its_meta_box(cli: Cli) -> None:
    ran = cli("show", "2852")
    assert ran.code == 0
    text = ran.out.decode()
    for expected in (
        "python services notes: reducing build time",
        "production checks",
        "implementation checklist",
        "final notes",
        "alphanode post meta",
        "anp-ref-002852-",
        "source id: alphanode-002852",
        "Similar Posts",
    ):
        assert expected in text


def test_show_json_is_the_generated_post(cli: Cli) -> None:
    ran = cli("show", "2852", "--json")
    line = golden.posts_path("standard", "en_US").read_bytes().splitlines()[2]
    assert orjson.loads(ran.out) == orjson.loads(line)


# -- bad input ------------------------------------------------------------------

# (arguments, how the one error line starts): the option is named first, by us or by typer
INVALID = "error: Invalid value for "
BAD = [
    (["generate", "--seed", "-1"], "error: --seed: "),
    (["generate", "--seed", "abc"], INVALID + "'--seed'"),
    (["generate", "--seed", "1.5"], INVALID + "'--seed'"),
    (["generate", "--seed", "1000000"], "error: --seed: "),
    (["generate", "--count", "0"], "error: --count: "),
    (["generate", "--count", "-3"], "error: --count: "),
    (["generate", "--count", "ten"], INVALID + "'--count'"),
    (["generate", "--seed", "999990", "--count", "11"], "error: --count: "),
    (["generate", "--profile", "huge"], "error: --profile: "),
    (["generate", "--locale", "xx_XX"], "error: --locale: "),
    (["generate", "--shard", "3/2"], "error: --shard: "),
    (["generate", "--shard", "0/2"], "error: --shard: "),
    (["generate", "--shard", "half"], "error: --shard: "),
    (["generate", "--count", "2", "--shard", "1/3"], "error: --shard: "),
    (["generate", "--workers", "0"], "error: --workers: "),
    (["generate", "--epoch", "yesterday"], "error: --epoch: "),
    (["generate", "--window-days", "0"], "error: --window-days: "),
    (["generate", "--no-such-option"], "error: No such option: --no-such-option"),
    # SEED is show's argument, not an option: the line names it as the help does
    (["show", "--", "-4"], "error: SEED: "),
    (["show", "2852", "--locale", "de_DE"], "error: --locale: "),
]


@pytest.mark.parametrize(("args", "start"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_naming_the_option_exit_2(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], start: str
) -> None:
    monkeypatch.chdir(tmp_path)
    ran = cli(*args)
    assert ran.code == 2
    lines = ran.err.strip().splitlines()
    assert len(lines) == 1, ran.err
    assert lines[0].startswith(start), lines[0]
    assert "Traceback" not in ran.err
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a temporary file


@pytest.mark.parametrize(
    "target",
    ["missing-dir/posts.jsonl", "/proc/posts.jsonl", "."],
    ids=["missing-directory", "unwritable-directory", "a-directory"],
)
def test_unwritable_output_is_one_line_exit_2(cli: Cli, tmp_path: Path, target: str) -> None:
    path = target if target.startswith("/") else str(tmp_path / target)
    ran = cli("generate", "--count", "5", "-o", path)
    assert ran.code == 2
    lines = ran.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --output:"), ran.err
    assert list(tmp_path.iterdir()) == []


def test_debug_shows_the_traceback(cli: Cli) -> None:
    ran = cli("--debug", "generate", "--count", "0")
    assert ran.code == 2
    assert "Traceback" in ran.err and "--count" in ran.err
    plain = cli("generate", "--count", "0")  # and the flag does not leak into the next run
    assert "Traceback" not in plain.err


def test_failure_midway_leaves_no_file_under_the_real_name(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import anp_synth.generate.dataset as gen

    real = gen.build_chunk
    calls = {"n": 0}

    def failing(*args: object) -> bytes:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C in the middle
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(gen, "build_chunk", failing)
    out = tmp_path / "posts.jsonl"
    out.write_bytes(b"previous complete dataset\n")
    ran = cli("generate", "--count", "2500", "-o", str(out))
    assert ran.code == 130
    assert out.read_bytes() == b"previous complete dataset\n"  # the old file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["posts.jsonl"]  # no temporary left


# -- the end of the process ------------------------------------------------------

_WITH_AN_ATEXIT_HANDLER = (
    "import atexit, sys; atexit.register(lambda: sys.stderr.write('finalised\\n'));"
    "from anp_synth.cli import run; run()"
)


def test_a_generate_run_ends_without_finalising_and_loses_no_byte() -> None:
    # Python would free the prebuilt variants one by one at exit: generate ends at once,
    # after flushing what it wrote to stdout and stderr
    args = ["generate", "--seed", "2852", "--count", "1000", "-o", "-"]
    done = subprocess.run(
        [sys.executable, "-c", _WITH_AN_ATEXIT_HANDLER, *args], capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert hashlib.sha256(done.stdout).hexdigest() == GOLDEN_SHA
    assert done.stderr.decode() == f"wrote 1,000 posts ({len(done.stdout):,} bytes) to stdout\n"


def test_a_failed_generate_run_ends_as_every_command_does() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _WITH_AN_ATEXIT_HANDLER, "generate", "--count", "0"],
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.decode().splitlines()[-1] == "finalised"
