"""Verdicts on a build test: limits from a TOML file, and the comparison with a saved baseline.

    max_rss_mb = 2048             # peak RSS of any build
    max_growth_exponent = 1.3     # the power-law exponent of any build kind
    [max_seconds.cold]            # median wall seconds, per build kind and volume
    1000 = 5
    20000 = 60
    [baseline]                    # when --baseline calls a build slower (loadtest's policy)
    alpha = 0.05
    min_effect = 0.20
    min_effect_ms = 200

A baseline is the load test's baseline file (`anp-synth-baseline/1`) whose routes are
`KIND@POSTS` and whose values are the wall milliseconds of each repeated build. A build is a
regression when the Mann-Whitney U test (the load test's) says it is slower (one-sided
p < alpha) and its median grew by more than both floors; with the normal approximation,
alpha 0.05 needs `--repeat 3`, alpha 0.01 `--repeat 5`.
"""

from __future__ import annotations

import math
import statistics
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from anp_synth import textfile
from anp_synth.errors import InputError
from anp_synth.loadtest.baseline import mann_whitney
from anp_synth.loadtest.thresholds import BASELINE_KEYS, BaselinePolicy, Breach

KINDS = ("cold", "warm", "incremental")
TOP_KEYS = ("max_rss_mb", "max_growth_exponent", "max_seconds", "baseline")


@dataclass(frozen=True)
class BuildLimits:
    """Every limit of a build-test thresholds file; None (or absent) means unchecked."""

    max_rss_mb: float | None = None
    max_growth_exponent: float | None = None
    max_seconds: dict[str, dict[int, float]] = field(default_factory=dict)
    baseline: BaselinePolicy = field(default_factory=lambda: BaselinePolicy(0.05, 0.20, 200.0))


def _number(path: str, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(path, None, key, f"expected a number, got {value!r}")
    if value < 0:
        raise InputError(path, None, key, f"expected >= 0, got {value!r}")
    return float(value)


def parse(text: str, path: str = "<thresholds>") -> BuildLimits:
    """A thresholds document; InputError names the file and the field."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, None, None, f"not TOML: {exc}") from None
    for key in doc:
        if key not in TOP_KEYS:
            raise InputError(path, None, key, f"unknown key; expected one of {', '.join(TOP_KEYS)}")
    rss = doc.get("max_rss_mb")
    growth = doc.get("max_growth_exponent")
    seconds: dict[str, dict[int, float]] = {}
    table = doc.get("max_seconds", {})
    if not isinstance(table, dict):
        raise InputError(path, None, "max_seconds", "expected a table of build kinds")
    for kind, volumes in table.items():
        where = f"max_seconds.{kind}"
        if kind not in KINDS:
            raise InputError(path, None, where, f"unknown build kind; expected {', '.join(KINDS)}")
        if not isinstance(volumes, dict):
            raise InputError(path, None, where, "expected a table of posts = seconds")
        for posts, limit in volumes.items():
            if not posts.isdigit() or int(posts) < 1:
                raise InputError(path, None, f"{where}.{posts}", "expected a number of posts")
            seconds.setdefault(kind, {})[int(posts)] = _number(path, f"{where}.{posts}", limit)
    policy = BuildLimits().baseline
    base = doc.get("baseline", {})
    if not isinstance(base, dict):
        raise InputError(path, None, "baseline", "expected a table")
    for key in base:
        if key not in BASELINE_KEYS:
            raise InputError(
                path, None, f"baseline.{key}", f"expected one of {', '.join(BASELINE_KEYS)}"
            )
    policy = BaselinePolicy(
        **{
            k: _number(path, f"baseline.{k}", base.get(k, getattr(policy, k)))
            for k in BASELINE_KEYS
        }
    )
    return BuildLimits(
        None if rss is None else _number(path, "max_rss_mb", rss),
        None if growth is None else _number(path, "max_growth_exponent", growth),
        seconds,
        policy,
    )


def load(path: str | Path) -> BuildLimits:
    """A thresholds file."""
    return parse(textfile.read_text(path), str(path))


@dataclass(frozen=True, slots=True)
class Regression:
    """One build kind at one volume compared with the baseline."""

    key: str  # KIND@POSTS
    verdict: str  # regression, improvement, unchanged, too few builds
    old_median_ms: float
    new_median_ms: float
    p_value: float | None


def compare(
    baseline: dict[str, list[float]], current: dict[str, list[float]], policy: BaselinePolicy
) -> list[Regression]:
    """Every KIND@POSTS present in both, judged like the load test judges a route."""
    out: list[Regression] = []
    for key in sorted(set(baseline) & set(current)):
        old, new = baseline[key], current[key]
        m_old, m_new = statistics.median(old), statistics.median(new)
        if len(old) < 2 or len(new) < 2:
            out.append(Regression(key, "too few builds", m_old, m_new, None))
            continue
        test = mann_whitney(old, new)
        grew = m_new - m_old
        rel = grew / m_old if m_old > 0 else math.inf
        if (
            test.p_greater < policy.alpha
            and rel > policy.min_effect
            and grew > policy.min_effect_ms
        ):
            verdict, p = "regression", test.p_greater
        elif (
            test.p_less < policy.alpha and -rel > policy.min_effect and -grew > policy.min_effect_ms
        ):
            verdict, p = "improvement", test.p_less
        else:
            verdict, p = "unchanged", min(test.p_greater, test.p_less)
        out.append(Regression(key, verdict, m_old, m_new, p))
    return out


def breaches(
    limits: BuildLimits,
    medians: dict[tuple[str, int], float],
    peak_rss_mb: dict[tuple[str, int], float],
    exponents: dict[str, float | None],
) -> list[Breach]:
    """Every limit the build test did not keep (route is `KIND@POSTS`, or the kind)."""
    out: list[Breach] = []
    for kind, volumes in sorted(limits.max_seconds.items()):
        for posts, limit in sorted(volumes.items()):
            got = medians.get((kind, posts))
            if got is not None and got > limit:
                out.append(Breach(f"{kind}@{posts}", "max_seconds", limit, got))
    if limits.max_rss_mb is not None:
        for (kind, posts), got in sorted(peak_rss_mb.items()):
            if got > limits.max_rss_mb:
                out.append(Breach(f"{kind}@{posts}", "max_rss_mb", limits.max_rss_mb, got))
    if limits.max_growth_exponent is not None:
        for kind, exp in sorted(exponents.items()):
            if exp is not None and exp > limits.max_growth_exponent:
                out.append(Breach(kind, "max_growth_exponent", limits.max_growth_exponent, exp))
    return out
