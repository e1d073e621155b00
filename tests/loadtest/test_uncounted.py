"""An interrupted run says exactly how many of Locust's requests its figures lack (session.uncounted)."""

from __future__ import annotations

import json
from pathlib import Path

from anp_synth.loadtest.runner import CpuReport, LocustResult, locust_count
from anp_synth.loadtest.session import uncounted


def _result(out: Path) -> LocustResult:
    idle = CpuReport(per_process={}, host_mean=0.0, samples=0)
    return LocustResult(
        -1, idle, out / "report.html", out / "locust", out / "locust.json", out / "locust.log",
        0.0, 0.0,
    )  # fmt: skip


def _json(out: Path, *counts: int) -> None:
    entries = [{"name": f"/r{i}", "num_requests": n} for i, n in enumerate(counts)]
    (out / "locust.json").write_text(json.dumps(entries))


def _csv(out: Path, total: int) -> None:
    (out / "locust_stats.csv").write_text(
        f"Type,Name,Request Count\nGET,/,{total}\n,Aggregated,{total}\n"
    )


def test_locusts_final_count_beyond_the_samples_is_stated_exactly(tmp_path: Path) -> None:
    _json(tmp_path, 4000, 2000)
    _csv(tmp_path, 5000)  # the JSON, written at shutdown, is the final count
    assert locust_count(_result(tmp_path)) == (6000, True)
    missing, note = uncounted(_result(tmp_path), 5200) or (None, "")
    assert missing == 800
    assert "Locust counted 6,000 requests; 800 of them are not in these figures" in note


def test_every_request_recorded_needs_no_note(tmp_path: Path) -> None:
    _json(tmp_path, 6000)
    assert uncounted(_result(tmp_path), 6000) is None
    # a master may count fewer than its workers' samples (late stats reports): not a loss
    assert uncounted(_result(tmp_path), 6100) is None


def test_a_locust_stopped_before_its_final_count_gives_a_lower_bound(tmp_path: Path) -> None:
    _csv(tmp_path, 3000)  # only the CSV it rewrites every second while running
    assert locust_count(_result(tmp_path)) == (3000, False)
    missing, note = uncounted(_result(tmp_path), 2000) or (None, "")
    assert missing == 1000
    assert "at least 3,000 requests, 1,000 or more of them not in these figures" in note


def test_no_count_from_locust_at_all_is_said_to_be_unknown(tmp_path: Path) -> None:
    assert locust_count(_result(tmp_path)) is None
    missing, note = uncounted(_result(tmp_path), 10) or (0, "")
    assert missing is None and "how many more it made is unknown" in note
