"""Floors of exp(x) and of powers in integer arithmetic, equal to the `decimal` ones they speed up.

A profile's view-count table and its Zipf weights are floors of real numbers:
⌊median·exp(t)⌋ and ⌊2^24·m^-s⌋. `decimal` computes them the same on every machine,
but its exp and power cost ~10 µs each, ~200M instructions at start for a fitted
profile. Here the same real number is computed in fixed point (`BITS` fraction bits,
integers only) with an error far below `decimal`'s, and its floor is returned only
when the number is far enough from an integer that neither error can cross it:

- `decimal`'s result is within a relative 10^-25 of the real number (prec 28: four
  roundings of half an ulp, the exponent at most ~14; prec 34 for powers, less);
- ours is within a relative 2^-90 (~8·10^-28) for view counts and 2^-78 absolute for
  Zipf weights (`exp_fixed` and `ln_fixed` say why);
- so an estimate farther than `_floor`'s margin (a relative 2^-72, ~2·10^-22, plus 2^-64) from
  every integer has the same floor as `decimal`'s. Otherwise the caller asks `decimal`:
  that happens where the number is an integer or next to one (exp(0), m^2, ...), a few
  entries in 10^15 otherwise.
"""

from __future__ import annotations

BITS = 128  # fraction bits of the fixed-point numbers
ONE = 1 << BITS
_SERIES_BELOW = BITS - 8  # the series runs on arguments below 2^-8: ~13 terms
_G_MASK = (1 << (BITS - 24)) - 1  # the bits of a fraction below its first three bytes
_ln_steps: list[int] = [0, 0]  # ln(m)·2^BITS for m = 0 (unused), 1, 2, ...
_EXP_LOW, _EXP_HIGH = -14 * ONE, 64 * ONE  # where floor_exp_times's bound is proved
_ABSOLUTE = 1 << (BITS - 64)  # 2^-64: see _floor
_whole: dict[int, int] = {}  # exp(k)·2^BITS of the integers k asked for so far
_tables: list[list[int]] = []  # see _make_tables


def floor_exp_times(factor: int, x: int) -> int | None:
    """⌊factor·exp(x / 2^BITS)⌋ (factor ≥ 1), or None when it is too near an integer to tell
    (or x is outside -14..64, where `exp_fixed`'s relative bound is not proved)."""
    if not _EXP_LOW <= x <= _EXP_HIGH:
        return None
    return _floor(factor * exp_fixed(x))


def floor_power(scale: int, m: int, s_thousandths: int) -> int | None:
    """⌊scale·m^-(s/1000)⌋ for 1 ≤ m ≤ 100,000, 0 ≤ s ≤ 4 and scale ≤ 2^24, or None when
    too near an integer to tell (or outside those ranges, where the bounds are not proved)."""
    if not (1 <= m <= 100_000 and 0 <= s_thousandths <= 4000 and scale <= 1 << 24):
        return None
    return _floor(scale * exp_fixed(-(s_thousandths * ln_fixed(m)) // 1000))


def exp_fixed(x: int) -> int:
    """exp(x / 2^BITS)·2^BITS: within a relative 2^-90 for x ≥ -14·2^BITS, and within
    2^22 units for any x ≤ 0 (down to -64·2^BITS).

    x = k + f with k an integer and 0 ≤ f < 1, and exp(x) = exp(k)·T1·T2·T3·exp(g):
    exp(k) by `_exp_series` (kept per k), three tables of exp of the next three bytes
    of f (256 entries each, made by multiplying one step), and for the rest g < 2^-24
    four terms of the series (the fifth is below 2^-127). The fraction's product, in
    [1, e), is off by a relative < 2^-118 (each table entry by < 256 units, four
    products by < 1 unit each); exp(k) by 2^16 units, a relative 2^-91.8 at k = -14,
    ≤ 2^-109 from k = 0 on, and by < 2^19 units for any k ≤ 0.
    """
    k = x >> BITS
    whole = _whole.get(k)
    if whole is None:
        whole = _whole[k] = _exp_series(k << BITS)
    g = x & _G_MASK
    s = ONE + (g >> 2)  # 1 + g(1 + g/2(1 + g/3(1 + g/4))), Horner
    s = ONE + ((g * s >> BITS) // 3)
    s = ONE + ((g * s >> BITS) >> 1)
    s = ONE + (g * s >> BITS)
    tables = _tables or _make_tables()
    s = s * tables[2][(x >> (BITS - 24)) & 255] >> BITS
    s = s * tables[1][(x >> (BITS - 16)) & 255] >> BITS
    s = s * tables[0][(x >> (BITS - 8)) & 255] >> BITS
    return s * whole >> BITS


def _exp_series(x: int) -> int:
    """exp(x / 2^BITS)·2^BITS: off by < 2^(j+4) units for x ≤ 0, a relative 2^(j+4-BITS) above.

    x is halved j times until below 2^-8 (j ≤ 15 for |x| < 128·2^BITS), the Taylor
    series of floored terms (~13, each off by < 1 unit) gives exp of that, and j
    squarings undo the halving. Squaring a number ≤ 1 at most doubles its error in units
    and adds one; squaring a larger one doubles its relative error and adds 2^-BITS.
    """
    j = max(0, abs(x).bit_length() - _SERIES_BELOW)
    r = x >> j if x >= 0 else -(-x >> j)
    total = term = ONE
    i = 1
    while term:
        term = (term * r >> BITS) // i  # = ⌊term·r/(2^BITS·i)⌋
        total += term
        i += 1
    for _ in range(j):
        total = total * total >> BITS
    return total


def _make_tables() -> list[list[int]]:
    """exp(i·2^-8), exp(i·2^-16), exp(i·2^-24) for i in 0..255: each entry is the one
    before times the step (< 1 unit a product, so < 256 units at the end)."""
    for step_bits in (8, 16, 24):
        step = _exp_series(1 << (BITS - step_bits))
        table = [ONE]
        for _ in range(255):
            table.append(table[-1] * step >> BITS)
        _tables.append(table)
    return _tables


def ln_fixed(m: int) -> int:
    """ln(m)·2^BITS for an integer m ≥ 1, each step within a few units.

    ln(k+1) = ln(k) + 2·atanh(1/(2k+1)), summed from ln(1) = 0 and kept, so the first
    100,000 logarithms cost a few divisions each on average. A step's powers are exact
    floors (⌊⌊a/b⌋/c⌋ = ⌊a/(bc)⌋) and each term is off by < 1 unit, so a step by < 2 units
    per term (~40 terms at m = 1, fewer after), and ln(m) by < 2^-(BITS-23) for m ≤ 100,000.
    """
    steps = _ln_steps
    while len(steps) <= m:
        k = len(steps) - 1
        d = 2 * k + 1
        d2 = d * d
        power = ONE // d
        total = 0
        n = 1
        while power:
            total += power // n
            power //= d2
            n += 2
        steps.append(steps[-1] + 2 * total)
    return steps[m]


def _floor(value: int) -> int | None:
    """⌊value / 2^BITS⌋ if value is farther than a relative 2^-72 plus 2^-64 from every
    multiple of 2^BITS (from every integer, in fixed point), else None."""
    whole, fraction = divmod(value, ONE)
    margin = (value >> 72) + _ABSOLUTE
    if margin < fraction < ONE - margin:
        return whole
    return None
