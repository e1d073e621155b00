"""exact: integer floors of exp and powers are `decimal`'s floors, within the proved bounds."""

from __future__ import annotations

from decimal import Decimal, localcontext
from itertools import accumulate

import pytest

from anp_synth.generate import builder, exact, profile
from anp_synth.generate.vocab import vocabulary

ONE = exact.ONE


def _exp_reference(x: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 80
        return (Decimal(x) / ONE).exp() * ONE


@pytest.mark.parametrize(
    "t", ["-14", "-13.18", "-6.25", "-0.000001", "0", "0.004", "1", "13.2", "63.9"]
)
def test_exp_fixed_is_within_a_relative_2_to_the_minus_90(t: str) -> None:
    x = int(Decimal(t) * ONE)
    for step in (0, 1, 12345, ONE // 3, ONE // 7 * 5):
        reference = _exp_reference(x + step)
        with localcontext() as ctx:
            ctx.prec = 80
            error = abs(Decimal(exact.exp_fixed(x + step)) - reference) / reference
        assert error < Decimal(2) ** -90, (t, step)


@pytest.mark.parametrize("t", ["-64", "-46.06", "-30.5", "-14.01"])
def test_exp_fixed_of_very_small_numbers_is_within_2_to_the_22_units(t: str) -> None:
    x = int(Decimal(t) * ONE)
    for step in (0, 1, ONE // 3, ONE // 7 * 5):
        error = abs(Decimal(exact.exp_fixed(x + step)) - _exp_reference(x + step))
        assert error < 2**22, (t, step)


def test_ln_fixed_is_within_its_bound() -> None:
    with localcontext() as ctx:
        ctx.prec = 80
        for m in (*range(1, 300), 997, 4096, 65_537, 100_000):
            error = abs(Decimal(exact.ln_fixed(m)) - Decimal(m).ln() * ONE)
            assert error < 2**23, m


@pytest.mark.parametrize("sigma", ["0.01", "0.5", "1.9", "1.94", "2.345", "4"])
@pytest.mark.parametrize("median", [1, 7, 11673, 12000, 10**9])
def test_view_table_is_the_decimal_floor_of_every_entry(median: int, sigma: str) -> None:
    if (median, sigma) == (12000, "1.9"):
        pytest.skip("the shipped table itself")
    expected = [builder._view_count(median, sigma, log) for log in vocabulary().view_count_logs]
    assert builder.view_table.__wrapped__(median, sigma) == expected


@pytest.mark.parametrize("exponent", ["0", "0.001", "0.5", "0.97", "1.06", "2", "2.5", "4"])
def test_zipf_weights_are_the_decimal_floors(exponent: str) -> None:
    s = Decimal(exponent)
    expected = [max(1, profile._zipf_weight(rank, s, None)) for rank in range(1500)]
    profile._zipf_ranks.pop(s, None)
    assert profile.zipf_weights(1500, exponent) == list(accumulate(expected))


def test_a_number_at_an_integer_is_left_to_decimal() -> None:
    # exp(0) times a median is the median; 2^24 / 2^2 is an integer: too near to tell
    assert exact.floor_exp_times(12000, 0) is None
    assert exact.floor_power(1 << 24, 2, 2000) is None
    assert exact.floor_power(1 << 24, 3, 2000) == (1 << 24) // 9
    # and decimal gives them: the shipped quantile 12000 at sigma 1.9, any median
    logs = vocabulary().view_count_logs
    at_zero = logs.index("0")
    assert builder.view_table.__wrapped__(5, "1.9")[at_zero] == 5


def test_outside_the_proved_ranges_there_is_no_answer() -> None:
    assert exact.floor_exp_times(3, -15 * ONE) is None
    assert exact.floor_exp_times(3, 65 * ONE) is None
    assert exact.floor_power(1 << 24, 100_001, 1000) is None
    assert exact.floor_power(1 << 24, 5, 4001) is None
    assert exact.floor_power((1 << 24) + 1, 5, 1500) is None
