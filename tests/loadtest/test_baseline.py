import random

import pytest

from anp_synth.errors import InputError
from anp_synth.loadtest import baseline
from anp_synth.loadtest.thresholds import BaselinePolicy


def lognormal(seed: int, n: int, median_ms: float, shift_ms: float = 0.0) -> list[float]:
    rng = random.Random(seed)
    return [rng.lognormvariate(0, 0.5) * median_ms + shift_ms for _ in range(n)]


def test_mann_whitney_matches_known_values() -> None:
    # scipy.stats.mannwhitneyu([1,2,3,4,5], [6,7,8,9,10], alternative="less") → U=0, p≈0.0061
    r = baseline.mann_whitney([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
    assert r.u == 25.0  # U of the second sample: every new value beats every old one
    assert r.effect == 1.0
    assert r.p_greater == pytest.approx(0.0061, abs=0.002)
    assert r.p_less == pytest.approx(1.0, abs=0.01)
    same = baseline.mann_whitney([1.0] * 10, [1.0] * 10)
    assert same.z == 0.0 and same.p_greater == pytest.approx(0.5)


def test_same_distribution_is_unchanged() -> None:
    policy = BaselinePolicy()
    for seed in range(5):
        old = lognormal(seed, 2000, 20)
        new = lognormal(seed + 100, 2000, 20)
        assert baseline.compare_route("/a", old, new, policy).verdict == "unchanged"


def test_slower_run_is_a_regression_and_faster_an_improvement() -> None:
    policy = BaselinePolicy(alpha=0.01, min_effect=0.2, min_effect_ms=10)
    old = lognormal(1, 1000, 20)
    slow = lognormal(2, 1000, 20, shift_ms=40)
    result = baseline.compare_route("/a", old, slow, policy)
    assert result.verdict == "regression" and result.change > 0.2 and result.p_value < 0.01
    assert baseline.compare_route("/a", slow, old, policy).verdict == "improvement"


def test_significant_but_small_change_is_below_the_floor() -> None:
    # +3 ms on a 20 ms route: significant with 5,000 samples, but under the 10 ms floor
    policy = BaselinePolicy(alpha=0.01, min_effect=0.05, min_effect_ms=10)
    old = lognormal(1, 5000, 20)
    new = lognormal(2, 5000, 20, shift_ms=3)
    assert baseline.mann_whitney(old, new).p_greater < 0.01
    assert baseline.compare_route("/a", old, new, policy).verdict == "unchanged"


def test_too_few_samples_are_not_judged() -> None:
    r = baseline.compare_route("/a", [1.0] * 5, [100.0] * 5, BaselinePolicy())
    assert r.verdict == "too few samples"


def test_save_load_roundtrip_subsamples_keeping_the_shape(tmp_path) -> None:
    values = lognormal(3, 20000, 20)
    path = tmp_path / "base.json"
    baseline.save(path, "http://x", {"/a": values, "/b": [1.0, 2.0]})
    loaded = baseline.load(path)
    assert len(loaded["/a"]) == baseline.MAX_SAMPLES and loaded["/b"] == [1.0, 2.0]
    assert min(loaded["/a"]) == pytest.approx(min(values), abs=0.001)
    assert max(loaded["/a"]) == pytest.approx(max(values), abs=0.001)
    assert (
        baseline.compare_route("/a", values, loaded["/a"], BaselinePolicy()).verdict == "unchanged"
    )


def test_bad_baseline_files(tmp_path) -> None:
    p = tmp_path / "b.json"
    p.write_text("{")
    with pytest.raises(InputError, match="not JSON"):
        baseline.load(p)
    p.write_text('{"format": "other"}')
    with pytest.raises(InputError, match="not a baseline"):
        baseline.load(p)
    p.write_text('{"format": "anp-synth-baseline/1", "routes": {"/a": ["x"]}}')
    with pytest.raises(InputError) as exc:
        baseline.load(p)
    assert exc.value.field == "routes./a"


def test_saving_where_nothing_can_be_written_is_a_usage_error(tmp_path) -> None:
    from anp_synth.errors import UsageError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UsageError, match="^save_baseline"):
        baseline.save(blocker / "base.json", "http://x", {"/a": [1.0]})
    baseline.save(tmp_path / "new" / "dir" / "base.json", "http://x", {"/a": [1.0]})
    assert baseline.load(tmp_path / "new" / "dir" / "base.json") == {"/a": [1.0]}


def test_hodges_lehmann_is_the_median_of_pairwise_differences() -> None:
    old, new = [1.0, 2.0, 4.0], [3.0, 7.0, 8.0, 20.0]
    diffs = sorted(y - x for x in old for y in new)  # 12 differences
    shift = baseline.hodges_lehmann(old, new)
    median = (diffs[5] + diffs[6]) / 2
    assert shift.estimate == pytest.approx(median, abs=0.001)
    assert shift.low <= shift.estimate <= shift.high


def test_a_known_shift_is_found_and_its_interval_covers_it() -> None:
    policy = BaselinePolicy(alpha=0.01, min_effect=0.1, min_effect_ms=5)
    old = lognormal(11, 3000, 30)
    new = lognormal(12, 3000, 30, shift_ms=15)
    c = baseline.compare_route("/a", old, new, policy)
    assert c.verdict == "regression" and c.shift is not None
    assert c.shift.low < 15 < c.shift.high
    assert c.shift.estimate == pytest.approx(15, abs=1.5)
    assert c.shift.high - c.shift.low < 4  # an interval that says something


def test_the_shift_interval_covers_the_true_shift_at_its_confidence() -> None:
    # 95 % intervals over 300 seeds: coverage within binomial noise of 0.95 (sd ~1.3 %)
    covered = 0
    trials = 300
    for seed in range(trials):
        shift = baseline.hodges_lehmann(
            lognormal(seed, 60, 20), lognormal(seed + 10_000, 60, 20, shift_ms=4)
        )
        covered += shift.low <= 4 <= shift.high
    assert 0.91 <= covered / trials <= 0.99, covered


def test_holm_adjusts_like_the_textbook() -> None:
    # Holm (1979): p = 0.01, 0.04, 0.03, 0.005 → 0.03, 0.06, 0.06, 0.02
    adjusted = baseline.holm([0.01, 0.04, 0.03, 0.005])
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert baseline.holm([]) == []


def test_identical_distributions_give_no_regression_at_the_stated_rate() -> None:
    # 20 routes with no change, 400 seeds, alpha 0.05 and no effect floor: with Holm the
    # chance of one or more false regressions in a run is <= 5 %; uncorrected it would be
    # about 1 - 0.95**20 = 64 %.
    policy = BaselinePolicy(alpha=0.05, min_effect=0.0, min_effect_ms=0.0)
    trials, routes = 400, 20
    false_runs = uncorrected_runs = 0
    for seed in range(trials):
        old = {f"/r{k}": lognormal(seed * 100 + k, 40, 20) for k in range(routes)}
        new = {f"/r{k}": lognormal(seed * 100 + k + 50_000, 40, 20) for k in range(routes)}
        compared = baseline.compare(old, new, policy)
        false_runs += any(c.verdict == "regression" for c in compared)
        uncorrected_runs += any(
            c.p_value < policy.alpha and c.new_p95 > c.old_p95 for c in compared
        )
    # binomial(400, 0.05): mean 20, sd 4.4; 35 is more than 3 sd above
    assert false_runs <= 35, false_runs
    assert uncorrected_runs > 4 * max(false_runs, 10), (uncorrected_runs, false_runs)
