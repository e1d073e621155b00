"""Our HTML report: one self-contained file with the charts the issue names."""

from __future__ import annotations

import re
from pathlib import Path

from anp_synth.loadtest import report, thresholds
from tests.loadtest.test_ci_outputs import NOW, OLD, RULES, result


def test_the_report_is_one_offline_file_with_thresholds_baseline_and_cache_mix(
    tmp_path: Path,
) -> None:
    run = result(tmp_path)
    path = report.write(tmp_path / report.FILE, run, NOW, thresholds.parse(RULES), OLD)
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>") and "Load test failed" in text
    # self-contained: plotly.js inline once, nothing fetched from elsewhere
    assert len(re.findall(r"plotly\.js v\d", text)) == 1
    assert "<script src=" not in text and 'src="http' not in text
    # over time and CDF for Aggregated and each route, then the cache mix
    assert text.count('class="plotly-graph-div"') == 2 * 3 + 1
    for title in (
        "Aggregated: latency percentiles and throughput over time",
        "/posts/[slug]: latency distribution (CDF)",
        "Cache outcome mix per route (X-Cache)",
    ):
        assert title.replace("/", "\\u002f") in text, title  # plotly escapes / in JSON
    # the thresholds are drawn: the route's p95 limit and the global one
    assert "p95 limit 30 ms" in text and "p95 limit 1000 ms" in text
    assert '"name":"baseline"' in text  # the baseline's distribution beside this run's
    assert "Against the baseline" in text and "regression" in text
