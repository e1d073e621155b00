"""The power-law fit, the thresholds file and the baseline comparison of a build test."""

from __future__ import annotations

import pytest

from anp_synth.buildtest.fit import Spread, fit_power_law
from anp_synth.buildtest.verdict import breaches, compare, parse
from anp_synth.errors import InputError
from anp_synth.loadtest.thresholds import BaselinePolicy


def test_the_fit_recovers_a_power_law() -> None:
    posts = [1000, 5000, 20000]
    fit = fit_power_law(posts, [0.002 * n**1.25 for n in posts])
    assert fit is not None
    assert fit.exponent == pytest.approx(1.25) and fit.a == pytest.approx(0.002)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.per_1000(20000) == pytest.approx(0.002 * 20000**1.25 / 20)
    linear = fit_power_law([10, 100], [1.0, 10.0])
    assert linear is not None and linear.exponent == pytest.approx(1.0)
    assert fit_power_law([1000], [3.0]) is None


def test_spread() -> None:
    assert Spread.of([3.0, 1.0, 2.0]) == Spread(1.0, 2.0, 3.0)


def test_thresholds_parse_and_breach() -> None:
    limits = parse(
        "max_rss_mb = 100\nmax_growth_exponent = 1.1\n"
        "[max_seconds.cold]\n1000 = 2.0\n5000 = 9\n[baseline]\nalpha = 0.05\n"
    )
    assert limits.max_seconds == {"cold": {1000: 2.0, 5000: 9.0}}
    assert limits.baseline.alpha == 0.05 and limits.baseline.min_effect == 0.20
    found = breaches(
        limits,
        {("cold", 1000): 2.5, ("cold", 5000): 8.0},
        {("cold", 1000): 90.0, ("warm", 5000): 120.0},
        {"cold": 1.3, "warm": 0.9, "incremental": None},
    )
    assert [(b.route, b.metric, b.actual) for b in found] == [
        ("cold@1000", "max_seconds", 2.5),
        ("warm@5000", "max_rss_mb", 120.0),
        ("cold", "max_growth_exponent", 1.3),
    ]


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("max_rss_mb = 'a lot'", "max_rss_mb"),
        ("[max_seconds.lukewarm]\n1000 = 1", "max_seconds.lukewarm"),
        ("[max_seconds.cold]\nmany = 1", "max_seconds.cold.many"),
        ("[baseline]\nbeta = 1", "baseline.beta"),
        ("max_posts = 3", "max_posts"),
    ],
)
def test_a_bad_thresholds_file_names_the_field(text: str, field: str) -> None:
    with pytest.raises(InputError, match=f"^t.toml: field '{field}':"):
        parse(text, "t.toml")


def test_the_baseline_comparison_needs_significance_and_an_effect() -> None:
    policy = BaselinePolicy(alpha=0.05, min_effect=0.20, min_effect_ms=100)
    old = {"cold@1000": [1000.0, 1010.0, 990.0], "warm@1000": [500.0, 505.0, 495.0]}
    new = {"cold@1000": [1500.0, 1490.0, 1510.0], "warm@1000": [510.0, 515.0, 520.0]}
    got = {c.key: c.verdict for c in compare(old, new, policy)}
    assert got == {"cold@1000": "regression", "warm@1000": "unchanged"}  # +3% is under the floor
    faster = {"cold@1000": [600.0, 610.0, 590.0]}
    assert [c.verdict for c in compare(old, faster, policy)] == ["improvement"]
    assert [c.verdict for c in compare(old, {"cold@1000": [1500.0]}, policy)] == ["too few builds"]
