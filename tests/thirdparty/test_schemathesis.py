"""schemathesis against the real reference site: every check, >= 2,000 cases, no failure.

The site runs as a subprocess on 127.0.0.1 (SiteProcess); `st run` reads its /openapi.json and
tests every operation in all its phases (examples, coverage, fuzzing, stateful) with all its
checks. Settings (deterministic, examples per operation) are in schemathesis.toml beside this
file; the two hooks that turn schema-valid cases into requests a client would send are in
schemathesis_hooks.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from anp_synth.site.launcher import SiteProcess

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
MIN_CASES = 2000


@pytest.mark.slow
def test_schemathesis_runs_every_check_on_every_operation_without_a_failure(
    tmp_path: Path,
) -> None:
    site = SiteProcess(tmp_path / "site.db")
    site.start()
    report = tmp_path / "report.json"
    output = tmp_path / "st.log"
    try:
        with output.open("wb") as out:
            done = subprocess.run(
                [
                    str(Path(sys.executable).parent / "st"),
                    "--config-file",
                    str(HERE / "schemathesis.toml"),
                    "run",
                    f"{site.url}/openapi.json",
                    "--checks",
                    "all",
                    "--header",
                    f"Authorization: Bearer {site.token}",
                    "--no-color",
                    "--report",
                    "json",
                    "--report-json-path",
                    str(report),
                ],
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=600,
                check=False,
            )
    finally:
        site.stop()
    log = output.read_text(encoding="utf-8", errors="replace")
    assert done.returncode == 0, log[-6000:]
    result = orjson.loads(report.read_bytes())
    assert result["complete"] and result["stop_reason"] == "completed"
    assert result["operations"]["tested"] == result["operations"]["total"] == 7
    assert result["failures"] == [] and result["errors"] == [], log[-6000:]
    cases = result["test_cases"]
    assert cases["with_failures"] == 0 and cases["errored"] == 0
    assert cases["generated"] >= MIN_CASES, cases
    assert all(p["status"] == "success" for p in result["phases"].values()), result["phases"]
