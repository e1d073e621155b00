"""Helpers for the generate tests: run the real CLI in a subprocess or in-process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from anp_synth.cli import main


@dataclass
class Ran:
    code: int
    out: bytes
    err: str


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Ran:
    """`anp-synth ARGS` in a fresh process (its own hash seed, TZ, locale when `env` says so)."""
    full_env = {**os.environ, **(env or {})}
    done = subprocess.run(
        [sys.executable, "-m", "anp_synth", *args],
        capture_output=True,
        env=full_env,
        timeout=timeout,
        check=False,
    )
    return Ran(done.returncode, done.stdout, done.stderr.decode("utf-8", "replace"))


@pytest.fixture
def cli(capsysbinary: pytest.CaptureFixture[bytes]) -> Callable[..., Ran]:
    """`anp-synth ARGS` in this process (fast): exit code, stdout bytes, stderr text."""

    def invoke(*args: str) -> Ran:
        code = main(list(args))
        captured = capsysbinary.readouterr()
        return Ran(code, captured.out, captured.err.decode("utf-8", "replace"))

    return invoke
