"""One `anp-synth loadtest`: manifest → Locust subprocess → exact stats → verdict.

The verdict is judged here, in the parent, from every recorded response time:
thresholds, the baseline comparison and the saturation guard. Everything lands
in `<out>/summary.json` beside Locust's own HTML and CSV reports.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import orjson

from anp_synth.errors import AnpError, UsageError
from anp_synth.loadtest import baseline as baseline_mod
from anp_synth.loadtest import manifest as manifest_mod
from anp_synth.loadtest import thresholds as thresholds_mod
from anp_synth.loadtest.baseline import RouteComparison
from anp_synth.loadtest.runner import (
    SATURATION_PCT,
    LocustResult,
    LocustRun,
    log_tail,
    run_locust,
)
from anp_synth.loadtest.stats import (
    AGGREGATE,
    RouteStats,
    latencies_by_route,
    read_samples,
    summarize,
)
from anp_synth.loadtest.thresholds import Breach, Limits, Thresholds

SCENARIOS = ("reader", "browser", "member", "inspector")  # locustfiles/locustfile.py
# Without a thresholds file, only failures judge the run: more than 1 % fails it.
DEFAULT_THRESHOLDS = Thresholds(global_=Limits(max_failure_ratio=0.01))
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s?)?$")


def parse_duration(text: str) -> float:
    """Seconds from '90', '90s', '2m', '1m30s' or '1h'; UsageError names --duration."""
    match = _DURATION.match(text.strip())
    if not text.strip() or not match or not any(match.groups()):
        raise UsageError("duration", f"expected e.g. 60s, 2m or 1m30s, got {text!r}")
    h, m, s = match.groups()
    seconds = int(h or 0) * 3600 + int(m or 0) * 60 + float(s or 0)
    if seconds <= 0:
        raise UsageError("duration", f"must be more than 0 s, got {text!r}")
    return seconds


@dataclass
class Settings:
    """Everything `anp-synth loadtest` was asked to do."""

    target: str
    out: Path
    ledger: Path | None = None
    manifest: Path | None = None
    users: int = 10
    spawn_rate: float = 10.0
    duration_s: float = 60.0
    processes: int = 1
    arrival_rate: float = 0.0
    thresholds: Path | None = None
    baseline: Path | None = None
    save_baseline: Path | None = None
    weights: str | None = None
    accounts: Path | None = None
    think: str | None = None
    min_effect: float | None = None
    min_effect_ms: float | None = None
    locustfile: Path | None = None
    cpu_limit: float = SATURATION_PCT


@dataclass
class Outcome:
    """The judged result of a run."""

    routes: list[RouteStats]
    breaches: list[Breach]
    comparisons: list[RouteComparison]
    locust: LocustResult
    summary_path: Path
    late: int
    duration_s: float
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[RouteComparison]:
        """Routes significantly and materially slower than the baseline."""
        return [c for c in self.comparisons if c.verdict == "regression"]

    @property
    def trusted(self) -> bool:
        """False when the load generator was CPU-bound (its figures are not the site's)."""
        return not self.locust.cpu.saturated

    @property
    def passed(self) -> bool:
        """No breach, no regression, figures trustworthy."""
        return not self.breaches and not self.regressions and self.trusted


def validate(settings: Settings) -> None:
    """Refuse bad option values before anything starts."""
    if not re.match(r"^https?://[^/\s]+", settings.target):
        raise UsageError("target", f"expected http(s)://host[:port], got {settings.target!r}")
    if settings.users < 1:
        raise UsageError("users", f"must be at least 1, got {settings.users}")
    if settings.spawn_rate <= 0:
        raise UsageError("spawn_rate", f"must be more than 0, got {settings.spawn_rate:g}")
    if settings.processes < 1:
        raise UsageError("processes", f"must be at least 1, got {settings.processes}")
    if settings.arrival_rate < 0 or not math.isfinite(settings.arrival_rate):
        raise UsageError("arrival_rate", f"must be >= 0, got {settings.arrival_rate:g}")
    if not 0 < settings.cpu_limit <= 100:
        raise UsageError(
            "cpu_limit", f"expected a percentage in (0, 100], got {settings.cpu_limit:g}"
        )
    if settings.ledger is None and settings.manifest is None:
        raise UsageError("ledger", "or --manifest: the load test needs the imported posts")
    if settings.save_baseline is not None:
        # checked before the run, so that a run's figures are not lost at the end
        parent = settings.save_baseline.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(
                "save_baseline", f"cannot create {parent}: {exc.strerror or exc}"
            ) from None
        if settings.save_baseline.is_dir():
            raise UsageError("save_baseline", f"{settings.save_baseline} is a directory")
    if settings.think is not None:
        parts = settings.think.split(",")
        try:
            values = [float(v) for v in parts]
        except ValueError:
            values = []
        if (
            not 1 <= len(parts) <= 2
            or len(values) != len(parts)
            or min(values) < 0
            or values != sorted(values)
        ):
            raise UsageError(
                "think", f"expected MIN,MAX seconds (or one value), got {settings.think!r}"
            )
    if settings.weights is not None and settings.locustfile is None:
        for part in filter(None, (p.strip() for p in settings.weights.split(","))):
            name, _, value = part.partition("=")
            if name.strip() not in SCENARIOS or not value.strip().isdigit():
                raise UsageError(
                    "weights",
                    f"expected NAME=INT with NAME in {', '.join(SCENARIOS)}, got {part!r}",
                )
    for option, path in (
        ("thresholds", settings.thresholds),
        ("baseline", settings.baseline),
        ("accounts", settings.accounts),
        ("manifest", settings.manifest),
        ("locustfile", settings.locustfile),
    ):
        if path is not None and not path.is_file():
            raise UsageError(option, f"no file at {path}")


def check_reachable(target: str) -> None:
    """Fail fast (exit 1) when nothing answers at the target, instead of a run of errors."""
    try:
        with httpx.Client(timeout=10.0) as client:
            client.get(target.rstrip("/") + "/")
    except httpx.HTTPError as exc:
        raise AnpError(
            f"--target: cannot reach {target}: {exc.__class__.__name__}: {exc}"
        ) from None


def prepare_manifest(settings: Settings) -> Path:
    """The manifest the locustfile reads: given, or exported from the ledger into --out."""
    if settings.manifest is not None:
        manifest_mod.load(settings.manifest)  # fail here, clearly, not inside Locust
        return settings.manifest
    assert settings.ledger is not None
    path = settings.out / "targets.json"
    manifest_mod.export(settings.ledger, settings.target, path)
    return path


def run(settings: Settings) -> Outcome:
    """Run the load test and judge it; raises only for errors, not for a failed verdict."""
    validate(settings)
    try:
        settings.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError("out", f"cannot create {settings.out}: {exc.strerror or exc}") from None
    thresholds = (
        thresholds_mod.load(settings.thresholds) if settings.thresholds else DEFAULT_THRESHOLDS
    )
    policy = thresholds.baseline
    if settings.min_effect is not None:
        policy = replace(policy, min_effect=settings.min_effect)
    if settings.min_effect_ms is not None:
        policy = replace(policy, min_effect_ms=settings.min_effect_ms)
    old = baseline_mod.load(settings.baseline) if settings.baseline else None
    manifest = prepare_manifest(settings)
    check_reachable(settings.target)
    # the open model needs every user at once: a slow ramp would make the first slots late
    spawn_rate = (
        max(settings.spawn_rate, settings.users) if settings.arrival_rate else settings.spawn_rate
    )

    locust_run = LocustRun(
        target=settings.target.rstrip("/"),
        manifest=manifest,
        out=settings.out,
        users=settings.users,
        spawn_rate=spawn_rate,
        duration_s=settings.duration_s,
        processes=settings.processes,
        arrival_rate=settings.arrival_rate,
        weights=settings.weights,
        accounts=settings.accounts,
        think=settings.think,
        cpu_limit=settings.cpu_limit,
    )
    if settings.locustfile is not None:
        locust_run.locustfile = settings.locustfile
    result = run_locust(locust_run)
    if result.returncode != 0:
        raise AnpError(
            f"locust exited with {result.returncode} (log: {result.log}):\n{log_tail(result.log)}"
        )
    samples = read_samples(settings.out)
    if not samples:
        raise AnpError(f"locust made no requests (log: {result.log}):\n{log_tail(result.log)}")
    rows = summarize(samples)
    duration = rows[-1].requests / rows[-1].rps if rows[-1].rps else 0.0
    breaches = thresholds_mod.evaluate(thresholds, rows)
    latencies = latencies_by_route(samples)
    comparisons = baseline_mod.compare(old, latencies, policy) if old is not None else []
    if settings.save_baseline is not None:
        baseline_mod.save(settings.save_baseline, settings.target, latencies)
    notes: list[str] = []
    if settings.accounts is None:
        notes.append("no --accounts: the logged-in scenario did not run")
    inspected = [s for s in samples if s.route.startswith("[inspect]")]
    if inspected and all(s.cache == "none" for s in inspected):
        # Reported, not failed: a site may have no page cache at all (core WordPress).
        notes.append(
            f"cache inspector: the target sent no X-Cache header on any of {len(inspected)} "
            "responses, so it has no named cache rules to check (core WordPress has no page "
            "cache; a cache plugin or proxy would add one)"
        )
    late = sum(s.late for s in samples)
    outcome = Outcome(
        routes=rows,
        breaches=breaches,
        comparisons=comparisons,
        locust=result,
        summary_path=settings.out / "summary.json",
        late=late,
        duration_s=duration,
        notes=notes,
    )
    if not outcome.trusted:
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
    write_summary(outcome, settings, policy)
    return outcome


def write_summary(
    outcome: Outcome, settings: Settings, policy: thresholds_mod.BaselinePolicy
) -> None:
    """The run's JSON summary in --out (no secrets: only paths and figures)."""
    doc = {
        "format": "anp-synth-loadtest/1",
        "target": settings.target,
        "started": outcome.locust.started,
        "duration_s": round(outcome.duration_s, 3),
        "users": settings.users,
        "spawn_rate": settings.spawn_rate,
        "processes": settings.processes,
        "arrival_rate": settings.arrival_rate or None,
        "latency": "from the intended send time (open model)"
        if settings.arrival_rate
        else "from the actual send time",
        "late_requests": outcome.late if settings.arrival_rate else None,
        "routes": [r.as_dict() for r in outcome.routes if r.route != AGGREGATE],
        "aggregate": outcome.routes[-1].as_dict(),
        "breaches": [
            {"route": b.route, "metric": b.metric, "limit": b.limit, "actual": b.actual}
            for b in outcome.breaches
        ],
        "baseline": {
            "file": str(settings.baseline) if settings.baseline else None,
            "policy": {
                "alpha": policy.alpha,
                "min_effect": policy.min_effect,
                "min_effect_ms": policy.min_effect_ms,
            },
            "routes": [c.as_dict() for c in outcome.comparisons],
        },
        "cpu": outcome.locust.cpu.as_dict(),
        "locust_exit_code": outcome.locust.returncode,
        "trusted": outcome.trusted,
        "passed": outcome.passed,
        "notes": outcome.notes,
        "reports": {
            "html": str(outcome.locust.html),
            "csv": str(outcome.locust.csv_prefix) + "_stats.csv",
            "json": str(outcome.locust.json),
            "log": str(outcome.locust.log),
        },
    }
    tmp = outcome.summary_path.with_name("summary.json.tmp")
    tmp.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    tmp.replace(outcome.summary_path)
