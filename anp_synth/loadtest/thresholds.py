"""Pass/fail thresholds from a TOML file, judged against exact route statistics.

    [global]                     # the aggregate of every request
    p95_ms = 500
    max_failure_ratio = 0.01
    min_rps = 20

    [routes."/posts/[slug]"]     # one route, by its Locust request name
    p50_ms = 50
    p95_ms = 200
    p99_ms = 400

    [baseline]                   # how --baseline judges a regression
    alpha = 0.01                 # significance level of the Mann-Whitney U test
    min_effect = 0.20            # p95 must grow by more than 20 % …
    min_effect_ms = 10           # … and by more than 10 ms to count

See fixtures/loadtest-thresholds.toml for a complete example.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from anp_synth import textfile
from anp_synth.errors import InputError
from anp_synth.loadtest.stats import AGGREGATE, RouteStats

LIMIT_KEYS = ("p50_ms", "p95_ms", "p99_ms", "max_failure_ratio", "min_rps")
BASELINE_KEYS = ("alpha", "min_effect", "min_effect_ms")


@dataclass(frozen=True)
class Limits:
    """The limits of one scope (global or one route); None means unchecked."""

    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_failure_ratio: float | None = None
    min_rps: float | None = None


@dataclass(frozen=True)
class BaselinePolicy:
    """When a slower run counts as a regression."""

    alpha: float = 0.01
    min_effect: float = 0.20
    min_effect_ms: float = 10.0


@dataclass(frozen=True)
class Thresholds:
    """Every limit of a thresholds file."""

    global_: Limits = field(default_factory=Limits)
    routes: dict[str, Limits] = field(default_factory=dict)
    baseline: BaselinePolicy = field(default_factory=BaselinePolicy)


@dataclass(frozen=True)
class Breach:
    """One limit a route did not keep."""

    route: str
    metric: str
    limit: float
    actual: float

    @property
    def bound(self) -> str:
        """The limit as a condition: "<= 500", ">= 20", or "> 0" (requests)."""
        if self.metric == "requests":
            return "> 0"
        return f"{'>=' if self.metric == 'min_rps' else '<='} {self.limit:g}"


def _number(path: str, where: str, key: str, value: object, *, ratio: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(path, None, f"{where}.{key}", f"expected a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < 0 or (ratio and number > 1):
        bound = "between 0 and 1" if ratio else "a finite number >= 0"
        raise InputError(path, None, f"{where}.{key}", f"expected {bound}, got {value!r}")
    return number


def _limits(path: str, where: str, table: object) -> Limits:
    if not isinstance(table, dict):
        raise InputError(path, None, where, "expected a table")
    unknown = sorted(set(table) - set(LIMIT_KEYS))
    if unknown:
        raise InputError(
            path,
            None,
            f"{where}.{unknown[0]}",
            f"unknown key; expected one of {', '.join(LIMIT_KEYS)}",
        )
    values = {
        key: _number(path, where, key, table[key], ratio=key == "max_failure_ratio")
        for key in LIMIT_KEYS
        if key in table
    }
    return Limits(**values)


def parse(text: str, path: str = "<thresholds>") -> Thresholds:
    """Thresholds from TOML text; InputError names the file and the field."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, None, None, f"invalid TOML: {exc}") from None
    unknown = sorted(set(doc) - {"global", "routes", "baseline"})
    if unknown:
        raise InputError(
            path, None, unknown[0], 'unknown table; expected [global], [routes."NAME"], [baseline]'
        )
    global_ = _limits(path, "global", doc.get("global", {}))
    routes_table = doc.get("routes", {})
    if not isinstance(routes_table, dict):
        raise InputError(path, None, "routes", "expected a table of routes")
    routes = {
        name: _limits(path, f'routes."{name}"', table) for name, table in routes_table.items()
    }
    base = doc.get("baseline", {})
    if not isinstance(base, dict):
        raise InputError(path, None, "baseline", "expected a table")
    bad = sorted(set(base) - set(BASELINE_KEYS))
    if bad:
        raise InputError(
            path,
            None,
            f"baseline.{bad[0]}",
            f"unknown key; expected one of {', '.join(BASELINE_KEYS)}",
        )
    policy = BaselinePolicy(
        **{
            key: _number(path, "baseline", key, base[key], ratio=key == "alpha")
            for key in BASELINE_KEYS
            if key in base
        }
    )
    return Thresholds(global_=global_, routes=routes, baseline=policy)


def load(path: str | Path) -> Thresholds:
    """Thresholds from a TOML file."""
    return parse(textfile.read_text(path), str(path))


@dataclass(frozen=True)
class Check:
    """One limit checked against one route (or the aggregate), kept or not."""

    route: str
    metric: str
    limit: float
    actual: float
    passed: bool

    @property
    def breach(self) -> Breach:
        """The same check as a Breach (for one that failed)."""
        return Breach(self.route, self.metric, self.limit, self.actual)


def _check(route: str, limits: Limits, stats: RouteStats | None) -> list[Check]:
    if stats is None or stats.requests == 0:
        return [Check(route, "requests", 1, 0, False)]
    out: list[Check] = []
    for metric, actual in (("p50_ms", stats.p50), ("p95_ms", stats.p95), ("p99_ms", stats.p99)):
        limit = getattr(limits, metric)
        if limit is not None:
            out.append(Check(route, metric, limit, actual, not actual > limit))
    if limits.max_failure_ratio is not None:
        ratio = stats.failure_ratio
        out.append(
            Check(
                route,
                "max_failure_ratio",
                limits.max_failure_ratio,
                ratio,
                not ratio > limits.max_failure_ratio,
            )
        )
    if limits.min_rps is not None:
        out.append(
            Check(route, "min_rps", limits.min_rps, stats.rps, not stats.rps < limits.min_rps)
        )
    return out


def checks(thresholds: Thresholds, rows: list[RouteStats]) -> list[Check]:
    """Every limit of the file, checked: [global] against the aggregate, each route its own.

    A route named in the file that made no requests fails its check: a
    threshold that could not be checked must not pass silently.
    """
    by_route = {row.route: row for row in rows}
    out = []
    if thresholds.global_ != Limits():
        out = _check(AGGREGATE, thresholds.global_, by_route.get(AGGREGATE))
    for route, limits in sorted(thresholds.routes.items()):
        out.extend(_check(route, limits, by_route.get(route)))
    return out


def evaluate(thresholds: Thresholds, rows: list[RouteStats]) -> list[Breach]:
    """Every breach: the checks that failed."""
    return [c.breach for c in checks(thresholds, rows) if not c.passed]
