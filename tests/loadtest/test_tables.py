"""Rule 8: the per-route tables never cut a route name nor wrap one, on an 80-column terminal
or in a pipe — a route name is what a thresholds file must spell exactly."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
from rich.console import Console

from anp_synth.cli.loadtest import print_result
from anp_synth.loadtest import routes
from anp_synth.loadtest.runner import CpuReport
from anp_synth.loadtest.stats import AGGREGATE, RouteStats

NAMES = [*(n for names in routes.BY_SCENARIO.values() for n in names), "[asset] /static/…"]


def _result() -> SimpleNamespace:
    rows = [
        RouteStats(name, 123_456, 1_234, 1_234.5, 12.3, 123.4, 1_234.5, 12_345.6, 50.0,
                   cache={"HIT": 100_000, "MISS": 20_000, "BYPASS": 3_456})
        for name in [*NAMES, AGGREGATE]
    ]  # fmt: skip
    cpu = CpuReport(per_process={1: 20.0}, host_mean=30.0, samples=10)
    locust = SimpleNamespace(cpu=cpu, html="r.html", csv_prefix="locust")
    return SimpleNamespace(routes=rows, comparisons=[], breaches=[], workers=None, late=0,
                           locust=locust, notes=[], report="anp-report.html",
                           summary_path="summary.json")  # fmt: skip


@pytest.mark.parametrize("width", [80, 100, 150])
def test_route_names_stay_whole_at_any_width(width: int) -> None:
    out = io.StringIO()
    print_result(Console(file=out, width=width, force_terminal=False), 0, _result())  # type: ignore[arg-type]
    lines = out.getvalue().splitlines()
    assert all(len(line) <= width for line in lines)
    for name in [*NAMES, AGGREGATE]:
        # every table of the output has the route, whole, at the start of a row
        rows = [line for line in lines if line.strip().startswith(name + " ")]
        assert rows, name
    for figure in ("123,456", "12,345.6", "1,234.5", "HIT:100000", "MISS:20000", "BYPASS:3456"):
        assert figure in out.getvalue()  # numbers are not cut either
    assert "…" not in out.getvalue().replace("[asset] /static/…", "")
