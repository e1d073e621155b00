"""The bench's instruction counter (bench/generate.py): callgrind's total of a whole process."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from bench.generate import instructions

pytestmark = pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")


def test_instructions_count_the_work_of_the_process(tmp_path: Path) -> None:
    idle = instructions([sys.executable, "-S", "-c", "pass"], tmp_path)
    busy = instructions([sys.executable, "-S", "-c", "sum(range(3_000_000))"], tmp_path)
    assert idle > 1_000_000  # an interpreter's start-up is millions of instructions
    assert busy > idle + 3_000_000 * 5  # each loop step is several instructions more
    assert not list(tmp_path.iterdir())  # the counts file is removed


def test_a_failing_command_is_an_error_not_a_count(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="exited"):
        instructions([sys.executable, "-S", "-c", "raise SystemExit(3)"], tmp_path)
