"""Rule 5: an option out of range is one line naming it, exit 2, and nothing written."""

from __future__ import annotations

import pytest

from anp_synth.cli import main
from anp_synth.generate.dataset import MAX_WINDOW_DAYS, max_workers


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--epoch", "0001-01-01"], "--epoch"),  # the default window reaches before year 1
        (["--epoch", "0002-06-01", "--window-days", "600"], "--window-days"),
        (["--window-days", str(MAX_WINDOW_DAYS + 1)], "--window-days"),
        (["--window-days", "100000000"], "--window-days"),
        (["--workers", str(max_workers() + 1)], "--workers"),
        (["--workers", "1000"], "--workers"),
    ],
)
def test_generate_refuses_out_of_range_options_before_work(
    tmp_path, capsys, args: list[str], option: str
) -> None:
    out = tmp_path / "posts.jsonl"
    assert main(["generate", "--count", "3", "-o", str(out), "-q", *args]) == 2
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {option}: "), err
    assert list(tmp_path.iterdir()) == []  # no file, no temporary file


def test_the_edges_of_the_ranges_are_accepted(tmp_path) -> None:
    out = tmp_path / "posts.jsonl"
    args = ["--epoch", "0004-01-02", "--window-days", "1095", "--workers", "2"]
    assert main(["generate", "--count", "3", "-o", str(out), "-q", *args]) == 0
    assert len(out.read_bytes().splitlines()) == 3
