import math
import random

import pytest

from anp_synth.errors import InputError
from anp_synth.loadtest.stats import (
    AGGREGATE,
    Sample,
    parse_line,
    percentile,
    read_samples,
    summarize,
)


def test_percentile_interpolates_like_numpy_linear() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 95) == pytest.approx(95.05)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 95) == 7.0
    assert math.isnan(percentile([], 50))


def test_percentiles_are_exact_not_two_digit_buckets() -> None:
    # Locust would report these 253 ms and 258 ms samples in one 10 ms bucket
    values = sorted([253.0] * 50 + [258.0] * 50)
    assert percentile(values, 25) == 253.0
    assert percentile(values, 75) == 258.0


def test_summarize_per_route_and_aggregate() -> None:
    rng = random.Random(1)
    samples = [
        Sample("/a", 1000.0 + i * 0.01, rng.uniform(1, 10), None, i % 10 != 0, "HIT", False)
        for i in range(100)
    ] + [Sample("/b", 1000.5, 50.0, 80.0, True, "BYPASS", True)]
    rows = summarize(samples, duration_s=2.0)
    by = {r.route: r for r in rows}
    assert rows[-1].route == AGGREGATE
    assert by["/a"].requests == 100 and by["/a"].failures == 10
    assert by["/a"].rps == pytest.approx(50.0)
    assert by["/a"].failure_ratio == pytest.approx(0.1)
    # the corrected latency (from the intended send time) is the one judged
    assert by["/b"].p50 == 80.0 and by["/b"].late == 1
    assert by[AGGREGATE].requests == 101 and by[AGGREGATE].max == 80.0
    assert by["/a"].cache == {"HIT": 100}


def test_parse_line_and_bad_line_names_file_and_line(tmp_path) -> None:
    s = parse_line("/posts/[slug]\t1700000000.5\t12.345\t\t1\tM\t0\n", "f", 1)
    assert s.route == "/posts/[slug]" and s.ms == 12.345 and s.corrected_ms is None
    assert s.ok and s.cache == "MISS" and not s.late
    (tmp_path / "samples-1.tsv").write_text("/a\t1\t2\t\t1\tH\t0\n/a\tx\t2\t\t1\tH\t0\n")
    with pytest.raises(InputError, match=r"samples-1.tsv:2"):
        read_samples(tmp_path)


def test_read_samples_merges_every_process_file(tmp_path) -> None:
    (tmp_path / "samples-1.tsv").write_text("/a\t1\t2\t\t1\tH\t0\n")
    (tmp_path / "samples-2.tsv").write_text("/b\t1\t3\t4\t0\tB\t1\n")
    assert sorted(s.route for s in read_samples(tmp_path)) == ["/a", "/b"]
