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
