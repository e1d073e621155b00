"""The process-group helper: a child and everything it starts stop together, by the group."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Self

from anp_synth.processes import ProcessGroup


class _Sleeper(ProcessGroup):
    """A Python child that starts a grandchild (`sleep 60`) and prints its pid."""

    def start(self) -> Self:
        code = "import subprocess,sys,time; c=subprocess.Popen(['sleep','60']); print(c.pid, flush=True); time.sleep(60)"
        self._spawn([sys.executable, "-c", code])
        return self


def _wait_for(path: Path) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        if text.strip():
            return text
        time.sleep(0.05)
    raise AssertionError("the child wrote nothing")


def test_stop_ends_the_child_and_its_children(tmp_path: Path) -> None:
    with _Sleeper(tmp_path / "child.log") as group:
        assert group.process is not None
        child = group.process.pid
        grandchild = int(_wait_for(tmp_path / "child.log"))
        assert os.getpgid(grandchild) == child  # the child leads a group of its own
    assert group.process is None
    for pid in (child, grandchild):
        # gone, or a zombie no longer running (reaped by init later)
        stat = Path(f"/proc/{pid}/stat")
        assert not stat.exists() or stat.read_text().split(") ")[1].startswith("Z")
    assert group.log_tail() == str(grandchild)


def test_log_tail_of_a_missing_log_is_empty(tmp_path: Path) -> None:
    assert ProcessGroup(tmp_path / "none.log").log_tail() == ""
