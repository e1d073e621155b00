"""The judged run as JUnit XML, the format CI servers read (`--junit FILE`).

One <testcase> per threshold checked (per route, and "Aggregated" for the
[global] table), one per baseline comparison, and one each for the
saturation guard and the workers: a failed one carries a <failure> whose
message says the route, the measured value and the limit. k6's convention
(one testcase per threshold) on Jenkins/GitLab/GitHub's JUnit schema.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING

from anp_synth.errors import UsageError
from anp_synth.loadtest.baseline import RouteComparison, Verdict
from anp_synth.loadtest.thresholds import Check

if TYPE_CHECKING:
    from anp_synth.loadtest.session import LoadTestResult
    from anp_synth.loadtest.thresholds import BaselinePolicy


def value_text(metric: str, value: float) -> str:
    """A measured value or limit in its unit."""
    if metric == "max_failure_ratio":
        return f"{value:.2%}"
    if metric == "min_rps":
        return f"{value:,.1f} req/s"
    if metric == "requests":
        return f"{value:,.0f} requests"
    return f"{value:,.1f} ms"


def check_message(check: Check) -> str:
    """'ROUTE: METRIC measured VALUE, limit BOUND'."""
    if check.metric == "requests":
        limit = "> 0 requests"
    else:
        limit = f"{check.breach.bound.split()[0]} {value_text(check.metric, check.limit)}"
    return (
        f"{check.route}: {check.metric} measured {value_text(check.metric, check.actual)}, "
        f"limit {limit}"
    )


def comparison_message(c: RouteComparison, policy: BaselinePolicy) -> str:
    """What the baseline comparison found for a route, with the rule it was judged by."""
    if c.verdict == Verdict.TOO_FEW_SAMPLES:
        return f"{c.route}: too few samples to compare ({c.n_old} old, {c.n_new} new)"
    change = "n/a" if not math.isfinite(c.change) else f"{c.change:+.1%}"
    shift = ""
    if c.shift is not None:
        shift = (
            f", shift {c.shift.estimate:+,.1f} ms ({c.shift.confidence:.0%} CI "
            f"{c.shift.low:+,.1f} to {c.shift.high:+,.1f} ms)"
        )
    return (
        f"{c.route}: {c.verdict.value}: p95 {c.old_p95:,.1f} ms -> {c.new_p95:,.1f} ms "
        f"({change}){shift}, Mann-Whitney p={c.p_value:.3g} (Holm-adjusted {c.p_adjusted:.3g}); "
        f"a regression needs adjusted p < {policy.alpha:g}, "
        f"p95 growth > {policy.min_effect:.0%} and > {policy.min_effect_ms:g} ms"
    )


def _case(suite: ET.Element, classname: str, name: str) -> ET.Element:
    return ET.SubElement(suite, "testcase", classname=classname, name=name, time="0")


def _fail(case: ET.Element, kind: str, message: str) -> None:
    failure = ET.SubElement(case, "failure", message=message, type=kind)
    failure.text = message


def document(result: LoadTestResult, policy: BaselinePolicy) -> ET.Element:
    """The <testsuites> element of a judged run."""
    root = ET.Element("testsuites", name="anp-synth loadtest")
    suites: list[ET.Element] = []

    thresholds = ET.Element("testsuite", name="thresholds")
    for check in result.checks:
        name = f"{check.route} {check.metric} {check.breach.bound}"
        case = _case(thresholds, f"thresholds.{check.route}", name)
        if not check.passed:
            _fail(case, "threshold", check_message(check))
    suites.append(thresholds)

    if result.comparisons:
        base = ET.Element("testsuite", name="baseline")
        for c in result.comparisons:
            case = _case(base, f"baseline.{c.route}", f"{c.route} against the baseline")
            message = comparison_message(c, policy)
            if c.verdict == Verdict.REGRESSION:
                _fail(case, "regression", message)
            elif c.verdict == Verdict.TOO_FEW_SAMPLES:
                ET.SubElement(case, "skipped", message=message)
            else:
                ET.SubElement(case, "system-out").text = message
        suites.append(base)

    run = ET.Element("testsuite", name="run")
    cpu = result.locust.cpu
    case = _case(run, "run", "load generator not CPU-bound")
    if not result.trusted:
        _fail(
            case,
            "saturation",
            f"busiest generator process: measured {cpu.generator_max:.0f}% of a core, "
            f"limit {cpu.limit:g}%",
        )
    if result.workers is not None:
        case = _case(run, "run", "every worker reported to the end")
        lost = result.lost_workers
        if lost:
            _fail(case, "lost-worker", "; ".join(w.describe() for w in lost))
    suites.append(run)

    for suite in suites:
        cases = suite.findall("testcase")
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
        suite.set("errors", "0")
        suite.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
        suite.set("time", f"{result.duration_s:.3f}")
        root.append(suite)
    root.set("tests", str(sum(int(s.get("tests", 0)) for s in suites)))
    root.set("failures", str(sum(int(s.get("failures", 0)) for s in suites)))
    return root


def write(path: Path, result: LoadTestResult, policy: BaselinePolicy) -> None:
    """Write the JUnit XML file (atomically)."""
    tree = ET.ElementTree(document(result, policy))
    ET.indent(tree)
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tree.write(tmp, encoding="utf-8", xml_declaration=True)
        tmp.replace(path)
    except OSError as exc:
        raise UsageError("junit", f"cannot write {path}: {exc.strerror or exc}") from None
