"""The bench's own measuring tools (bench/generate.py): the instruction counter, the ceiling's runs."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from bench.generate import FIRST_SEED, WORKER_POSTS, halves_commands, instructions, together

needs_valgrind = pytest.mark.skipif(
    shutil.which("valgrind") is None, reason="valgrind not installed"
)


@needs_valgrind
def test_instructions_count_the_work_of_the_process(tmp_path: Path) -> None:
    idle = instructions([sys.executable, "-S", "-c", "pass"], tmp_path)
    busy = instructions([sys.executable, "-S", "-c", "sum(range(3_000_000))"], tmp_path)
    assert idle > 1_000_000  # an interpreter's start-up is millions of instructions
    assert busy > idle + 3_000_000 * 5  # each loop step is several instructions more
    assert not list(tmp_path.iterdir())  # the counts file is removed


@needs_valgrind
def test_a_failing_command_is_an_error_not_a_count(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="exited"):
        instructions([sys.executable, "-S", "-c", "raise SystemExit(3)"], tmp_path)


def test_together_runs_every_command_and_removes_the_halves_files(tmp_path: Path) -> None:
    write = "import pathlib, sys; pathlib.Path(sys.argv[1]).write_text('x')"
    made = [tmp_path / "half-0.jsonl", tmp_path / "half-1.manifest.json"]
    kept = tmp_path / "other.txt"
    commands = [[sys.executable, "-S", "-c", write, str(path)] for path in [*made, kept]]
    wall = together(commands, tmp_path)
    assert wall > 0
    assert list(tmp_path.iterdir()) == [kept]  # every command ran; only the halves' files went


def test_together_reports_a_failing_command(tmp_path: Path) -> None:
    ok = [sys.executable, "-S", "-c", "pass"]
    with pytest.raises(RuntimeError, match="exited 3"):
        together([ok, [sys.executable, "-S", "-c", "raise SystemExit(3)"]], tmp_path)


def test_halves_split_the_workers_seeds_in_two_files(tmp_path: Path) -> None:
    first, second = halves_commands(tmp_path)
    seeds = [int(c[c.index("--seed") + 1]) for c in (first, second)]
    counts = [int(c[c.index("--count") + 1]) for c in (first, second)]
    assert seeds == [FIRST_SEED, FIRST_SEED + WORKER_POSTS // 2]
    assert counts == [WORKER_POSTS // 2] * 2
    assert first[first.index("-o") + 1] != second[second.index("-o") + 1]
