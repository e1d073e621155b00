"""One `anp-synth loadtest`: manifest → Locust subprocess → exact stats → verdict.

The verdict is judged here, in the parent, from every recorded response time:
thresholds, the baseline comparison and the saturation guard. Everything lands
in `<out>/summary.json` beside Locust's own HTML and CSV reports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TextIO

import httpx
import orjson

from anp_synth.errors import AnpError, UsageError
from anp_synth.loadtest import baseline as baseline_mod
from anp_synth.loadtest import cache_rules, channel, junit, markdown, report, routes
from anp_synth.loadtest import manifest as manifest_mod
from anp_synth.loadtest import thresholds as thresholds_mod
from anp_synth.loadtest.baseline import RouteComparison, Verdict
from anp_synth.loadtest.runner import CpuReport, LocustResult, locust_count, log_excerpt, run_locust
from anp_synth.loadtest.settings import Settings
from anp_synth.loadtest.stats import (
    AGGREGATE,
    RouteStats,
    latencies_by_route,
    read_samples,
    summarize,
)
from anp_synth.loadtest.thresholds import Breach, Limits, Thresholds

# Without a thresholds file, only failures judge the run: more than 1 % fails it.
DEFAULT_THRESHOLDS = Thresholds(global_=Limits(max_failure_ratio=0.01))


@dataclass
class LoadTestResult:
    """The judged result of a run."""

    routes: list[RouteStats]
    breaches: list[Breach]
    checks: list[thresholds_mod.Check]
    comparisons: list[RouteComparison]
    locust: LocustResult
    summary_path: Path
    late: int
    duration_s: float
    notes: list[str] = field(default_factory=list)
    workers: list[channel.WorkerTally] | None = None  # None: a single process
    report: Path | None = None  # our HTML report (report.FILE in --out)
    interrupted: bool = False  # Ctrl-C or SIGTERM: the figures up to then
    # an interrupted run: requests Locust counted that are not in the figures (None: unknown)
    uncounted: int | None = None

    @property
    def lost_workers(self) -> list[channel.WorkerTally]:
        """Workers whose last message never reached the master (the run is partial)."""
        return [w for w in self.workers or [] if w.lost]

    @property
    def regressions(self) -> list[RouteComparison]:
        """Routes significantly and materially slower than the baseline."""
        return [c for c in self.comparisons if c.verdict == Verdict.REGRESSION]

    @property
    def trusted(self) -> bool:
        """False when the load generator was CPU-bound (its figures are not the site's)."""
        return not self.locust.cpu.saturated

    @property
    def passed(self) -> bool:
        """Ran to its end with no breach, no regression, trustworthy figures, every worker's
        samples in (an interrupted run is never a pass: its figures cover part of the test)."""
        return not self.failures

    @property
    def failures(self) -> list[str]:
        """Why the run failed, one phrase per reason (empty: it passed)."""
        reasons = []
        if self.interrupted:
            reasons.append("interrupted: the figures cover part of the test only")
        if self.breaches:
            reasons.append(f"{len(self.breaches)} threshold breach(es)")
        if self.regressions:
            reasons.append(f"{len(self.regressions)} regression(s) against the baseline")
        if not self.trusted:
            reasons.append("the load generator was CPU-bound: figures cannot be trusted")
        if self.lost_workers:
            reasons.append(f"{len(self.lost_workers)} worker(s) lost before the end")
        return reasons


def check_reachable(target: str) -> None:
    """Fail fast (exit 1) when nothing answers at the target, instead of a run of errors."""
    try:
        with httpx.Client(timeout=10.0) as client:
            client.get(target.rstrip("/") + "/")
    except httpx.HTTPError as exc:
        raise AnpError(f"cannot reach {target}: {exc.__class__.__name__}: {exc}") from None


def prepare_manifest(settings: Settings) -> Path:
    """The manifest the locustfile reads: given, or exported from the ledger into --out."""
    if settings.manifest is not None:
        manifest_mod.load(settings.manifest)  # fail here, clearly, not inside Locust
        return settings.manifest
    if settings.ledger is None:
        raise UsageError("ledger", "the load test needs the imported posts: a ledger or a manifest")
    assert settings.target is not None
    path = settings.out / "targets.json"
    manifest_mod.export(settings.ledger, settings.target, path)
    return path


@dataclass
class WorkerResult:
    """What a worker (`--worker`) did: it sent its samples to the master."""

    locust: LocustResult
    messages: int
    sent: int


def run_worker(settings: Settings) -> WorkerResult:
    """Run as one worker of a master elsewhere; the master judges the run."""
    try:
        settings.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError("out", f"cannot create {settings.out}: {exc.strerror or exc}") from None
    settings.check_files()
    result = run_locust(settings)
    if result.returncode != 0:
        raise AnpError(
            f"locust worker exited with {result.returncode} (log: {result.log}): "
            f"{log_excerpt(result.log)}"
        )
    tallies = sorted(settings.out.glob("worker-*.json"))
    if not tallies:
        raise AnpError(
            f"the worker never ran a test for the master at {settings.master_host}:"
            f"{settings.master_port} (log: {result.log}): {log_excerpt(result.log)}"
        )
    doc = orjson.loads(tallies[-1].read_bytes())
    return WorkerResult(result, int(doc["messages"]), int(doc["sent"]))


def run(
    settings: Settings,
    progress: TextIO | None = None,
    on_start: Callable[[], None] | None = None,
) -> LoadTestResult:
    """Run the load test and judge it; raises only for errors, not for a failed verdict.

    With `progress` (a stream), a live progress line is printed there during the run.
    `on_start` is called once every check has passed, just before Locust starts (the CLI
    announces the run there, so that a refused option is one line alone).
    """
    if settings.target is None:
        raise UsageError("target", "the load test needs the site's base URL")
    settings.check_files()
    try:
        settings.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError("out", f"cannot create {settings.out}: {exc.strerror or exc}") from None
    if settings.cache_rules is not None:
        cache_rules.read(settings.cache_rules)  # fail here, clearly, not inside Locust
    thresholds = (
        thresholds_mod.load(settings.thresholds) if settings.thresholds else DEFAULT_THRESHOLDS
    )
    if settings.thresholds is not None:
        routes.check(thresholds.routes, settings, str(settings.thresholds))
    policy = thresholds.baseline
    if settings.min_effect is not None:
        policy = replace(policy, min_effect=settings.min_effect)
    if settings.min_effect_ms is not None:
        policy = replace(policy, min_effect_ms=settings.min_effect_ms)
    old = baseline_mod.load(settings.baseline) if settings.baseline else None
    manifest = prepare_manifest(settings)
    check_reachable(settings.target)
    if on_start is not None:
        on_start()
    try:
        result = run_locust(replace(settings, manifest=manifest), progress)
    except KeyboardInterrupt:
        keep_partial(settings, thresholds, policy, old)  # Locust was stopped: its samples are in
        raise
    if result.returncode != 0:
        raise AnpError(
            f"locust exited with {result.returncode} (log: {result.log}): {log_excerpt(result.log)}"
        )
    samples = read_samples(settings.out)
    if not samples:
        raise AnpError(f"locust made no requests (log: {result.log}): {log_excerpt(result.log)}")
    rows = summarize(samples)
    duration = rows[-1].requests / rows[-1].rps if rows[-1].rps else 0.0
    checks = thresholds_mod.checks(thresholds, rows)
    breaches = [c.breach for c in checks if not c.passed]
    latencies = latencies_by_route(samples)
    comparisons = baseline_mod.compare(old, latencies, policy) if old is not None else []
    if settings.save_baseline is not None:
        baseline_mod.save(settings.save_baseline, settings.target, latencies)
    notes: list[str] = []
    static = manifest_mod.load(manifest).get("site") == cache_rules.STATIC
    if static:
        notes.append(
            "static site: no login and no search, so neither the logged-in scenario nor "
            "searches ran; the inspector held every page to the static rule (no bypass: "
            "it may be cached, and its ETag answers a conditional GET with 304)"
        )
    elif settings.accounts is None:
        notes.append("no --accounts: the logged-in scenario did not run")
    inspected = [s for s in samples if s.route.startswith("[inspect]")]
    if not static and inspected and all(s.cache == "none" for s in inspected):
        # Reported, not failed: a site may have no page cache at all (core WordPress).
        notes.append(
            f"cache inspector: the target sent no X-Cache header on any of {len(inspected)} "
            "responses, so it has no named cache rules to check (core WordPress has no page "
            "cache; a cache plugin or proxy would add one)"
        )
    late = sum(s.late for s in samples)
    workers = channel.read(settings.out)
    notes.extend(worker_notes(workers))
    judged = LoadTestResult(
        routes=rows,
        breaches=breaches,
        checks=checks,
        comparisons=comparisons,
        locust=result,
        summary_path=settings.out / "summary.json",
        late=late,
        duration_s=duration,
        notes=notes,
        workers=workers,
    )
    if not judged.trusted:
        notes.append(
            f"the load generator was CPU-bound ({result.cpu.generator_max:.0f}% of a core, "
            f"limit {result.cpu.limit:g}%): "
            "these figures measure the generator, not the site; use --processes or fewer users"
        )
    if result.cpu.host_mean > result.cpu.limit:
        notes.append(
            f"the host's CPU averaged {result.cpu.host_mean:.0f}%: other work competed with the "
            "site and the generator, so latencies may be pessimistic"
        )
    judged.report = settings.out / report.FILE
    write_summary(judged, settings, policy)
    report.write(judged.report, judged, samples, thresholds, old)
    if settings.junit is not None:
        junit.write(settings.junit, judged, policy)
    if settings.markdown is not None:
        markdown.write(settings.markdown, judged, policy, report=str(judged.report))
    return judged


def keep_partial(
    settings: Settings,
    thresholds: Thresholds,
    policy: thresholds_mod.BaselinePolicy,
    old: dict[str, list[float]] | None,
) -> None:
    """An interrupted run: summary.json and the HTML report of the samples recorded so far.

    Every request Locust counted should be among them (the runner lets Locust stop its users
    and take its workers' last samples); when not, the notes say exactly how many are missing.
    """
    samples = read_samples(settings.out)
    if not samples:
        return
    out = settings.out
    workers = channel.read(out)
    rows = summarize(samples)
    checks = thresholds_mod.checks(thresholds, rows)
    idle = CpuReport(per_process={}, host_mean=0.0, samples=0, limit=settings.cpu_limit)
    locust = LocustResult(
        -1, idle, out / "report.html", out / "locust", out / "locust.json", out / "locust.log",
        min(s.start for s in samples), 0.0,
    )  # fmt: skip
    notes = ["interrupted: these figures cover the run up to the interruption only"]
    notes.extend(worker_notes(workers))
    missing = uncounted(locust, len(samples))
    if missing is not None:
        notes.append(missing[1])
    partial = LoadTestResult(
        routes=rows,
        breaches=[c.breach for c in checks if not c.passed],
        checks=checks,
        comparisons=baseline_mod.compare(old, latencies_by_route(samples), policy) if old else [],
        locust=locust,
        summary_path=out / "summary.json",
        late=sum(s.late for s in samples),
        duration_s=rows[-1].requests / rows[-1].rps if rows[-1].rps else 0.0,
        notes=notes,
        workers=workers,
        report=out / report.FILE,
        interrupted=True,
        uncounted=missing[0] if missing is not None else 0,
    )
    write_summary(partial, settings, policy)
    report.write(out / report.FILE, partial, samples, thresholds, old)


def worker_notes(workers: list[channel.WorkerTally] | None) -> list[str]:
    """One note per worker whose samples did not all reach the master."""
    notes = []
    for worker in workers or []:
        if worker.lost:
            notes.append(worker.describe())
        elif worker.sent != worker.samples:
            notes.append(
                f"worker {worker.index} ({worker.id}) sent {worker.sent:,} samples, "
                f"{worker.sent - worker.samples:,} of them never reached the master"
            )
    return notes


def uncounted(locust: LocustResult, recorded: int) -> tuple[int | None, str] | None:
    """Requests Locust counted beyond the `recorded` samples, with a note saying so; None: none.

    Locust's master may count fewer than its workers' samples (its workers' last stats
    reports can come after it stopped listening): only a shortfall of samples is reported.
    """
    counted = locust_count(locust)
    if counted is None:
        return (
            None,
            "Locust wrote no count of its own before it stopped: "
            f"{recorded:,} requests recorded, how many more it made is unknown",
        )
    total, final = counted
    if total <= recorded:
        return None
    if final:
        return (
            total - recorded,
            f"Locust counted {total:,} requests; {total - recorded:,} of them are not in "
            "these figures (their samples were not written before Locust stopped)",
        )
    return (
        total - recorded,
        f"Locust was stopped before its final count: at least {total:,} requests, "
        f"{total - recorded:,} or more of them not in these figures",
    )


def write_summary(
    result: LoadTestResult, settings: Settings, policy: thresholds_mod.BaselinePolicy
) -> None:
    """The run's JSON summary in --out (no secrets: only paths and figures)."""
    doc = {
        "format": "anp-synth-loadtest/1",
        "target": settings.target,
        "started": result.locust.started,
        "duration_s": round(result.duration_s, 3),
        "users": settings.users,
        "spawn_rate": settings.spawn_rate,
        "processes": settings.processes,
        "arrival_rate": settings.arrival_rate or None,
        "latency": "from the intended send time (open model)"
        if settings.arrival_rate
        else "from the actual send time",
        "late_requests": result.late if settings.arrival_rate else None,
        "routes": [r.as_dict() for r in result.routes if r.route != AGGREGATE],
        "aggregate": result.routes[-1].as_dict(),
        "breaches": [
            {"route": b.route, "metric": b.metric, "limit": b.limit, "actual": b.actual}
            for b in result.breaches
        ],
        "baseline": {
            "file": str(settings.baseline) if settings.baseline else None,
            "policy": {
                "alpha": policy.alpha,
                "min_effect": policy.min_effect,
                "min_effect_ms": policy.min_effect_ms,
            },
            "routes": [c.as_dict() for c in result.comparisons],
        },
        "workers": None
        if result.workers is None
        else {
            "samples": "exact: every sample over Locust's messaging (error bound 0)",
            "lost": len(result.lost_workers),
            "each": [w.as_dict() for w in result.workers],
        },
        "cpu": result.locust.cpu.as_dict(),
        "locust_exit_code": result.locust.returncode,
        "trusted": result.trusted,
        "interrupted": result.interrupted,
        "uncounted_requests": result.uncounted,
        "passed": result.passed,
        "notes": result.notes,
        "reports": {
            "report": str(result.report) if result.report else None,
            "html": str(result.locust.html),
            "csv": str(result.locust.csv_prefix) + "_stats.csv",
            "json": str(result.locust.json),
            "log": str(result.locust.log),
        },
    }
    tmp = result.summary_path.with_name("summary.json.tmp")
    tmp.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    tmp.replace(result.summary_path)
