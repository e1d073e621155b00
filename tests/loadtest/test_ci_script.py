"""docs/ci.md's job, run here as CI runs it: scripts/loadtest-ci.sh, twice.

The first run has no baseline and saves one; the second compares with it
(the "last release's baseline" of the workflows). Both leave a JUnit file that
junitparser reads and a pull-request comment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from junitparser import JUnitXml

from anp_synth.site.launcher import free_port

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "loadtest-ci.sh"
DOC = ROOT / "docs" / "ci.md"


def run_job(out: Path, baseline: Path, port: int) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "ANP_CI_OUT": str(out),
        "ANP_CI_PORT": str(port),
        "ANP_CI_POSTS": "40",
        "ANP_CI_DURATION": "5s",
        "ANP_CI_BASELINE": str(baseline),
        "ANP_CI_THRESHOLDS": str(ROOT / "fixtures" / "loadtest-thresholds-generous.toml"),
        "ANP_CI_PYTHON": sys.executable,
        # a shared test machine is noisy: this checks the job, not the site's speed
        "ANP_CI_ARGS": "--users 4 --min-effect 5 --min-effect-ms 1000 --cpu-limit 100",
    }
    return subprocess.run(
        ["bash", str(SCRIPT)], capture_output=True, text=True, timeout=300, env=env, cwd=ROOT
    )


def test_the_documented_job_runs_and_compares_with_the_saved_baseline(tmp_path: Path) -> None:
    doc = DOC.read_text()
    assert doc.count("bash scripts/loadtest-ci.sh") >= 2  # both workflows run this very script
    first = run_job(tmp_path / "first", tmp_path / "none.json", free_port())
    assert first.returncode == 0, first.stdout + first.stderr
    saved = tmp_path / "first" / "baseline.json"
    assert saved.stat().st_size > 0
    xml = JUnitXml.fromfile(str(tmp_path / "first" / "junit.xml"))
    assert {suite.name for suite in xml} == {"thresholds", "run"}  # nothing to compare yet

    second = run_job(tmp_path / "second", saved, free_port())
    assert second.returncode == 0, second.stdout + second.stderr
    xml = JUnitXml.fromfile(str(tmp_path / "second" / "junit.xml"))
    suites = {suite.name: suite for suite in xml}
    assert set(suites) == {"thresholds", "baseline", "run"}
    names = {case.name for case in suites["baseline"]}
    assert "/posts/[slug] against the baseline" in names
    assert sum(suite.failures for suite in xml) == 0
    comment = (tmp_path / "second" / "comment.md").read_text()
    assert comment.startswith("### Load test: ✅ passed") and "Against the baseline" in comment
    assert (tmp_path / "second" / "loadtest" / "report.html").stat().st_size > 0
