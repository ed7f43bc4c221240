"""HJ 633 properties: IAQI is monotonic in concentration, continuous at breakpoints, and the ceiling of the exact
interpolation (never bumped past it)."""

from __future__ import annotations

import datetime as dt
import itertools
import math
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from citywatch.standards import sub_index as _sub_index
from citywatch.standards.exact import Number
from citywatch.standards.hj633 import SubIndex, breakpoint_table
from citywatch.standards.tables.hj633 import INPUT_COLUMNS, ConcentrationRounding

# These tests check HJ 633's arithmetic on the concentrations as given, so they look them up unrounded; the
# rounding rule has its own tests (test_concentration_rounding.py).


def sub_index(name: str, concentration: Number, on: dt.date) -> SubIndex:
    return _sub_index(name, concentration, on, ConcentrationRounding.EXACT)


DATES = st.sampled_from([dt.date(2025, 6, 1), dt.date(2026, 5, 1)])
NAMES = st.sampled_from(sorted(INPUT_COLUMNS))
# concentrations with up to 3 decimals, as instruments report them
CONC = st.integers(min_value=0, max_value=4_000_000).map(lambda n: Fraction(n, 1000))


def _top(name: str, on: dt.date) -> Fraction:
    return Fraction(breakpoint_table(on).columns[INPUT_COLUMNS[name]].top.concentration)


@given(NAMES, DATES, CONC, CONC)
def test_monotonic_in_concentration(name: str, on: dt.date, a: Fraction, b: Fraction) -> None:
    top = _top(name, on)
    low, high = sorted((min(a, top), min(b, top)))
    low_iaqi, high_iaqi = sub_index(name, low, on).value, sub_index(name, high, on).value
    assert low_iaqi is not None and high_iaqi is not None and low_iaqi <= high_iaqi


@given(NAMES, DATES, st.integers(min_value=1, max_value=1000))
def test_continuous_at_every_breakpoint(name: str, on: dt.date, k: int) -> None:
    """Just below a breakpoint the IAQI is at most its level; just above it, at most one more."""
    eps = Fraction(1, 1000 * k)
    points = breakpoint_table(on).columns[INPUT_COLUMNS[name]].breakpoints
    for bp in points[1:-1]:
        c = Fraction(bp.concentration)
        below, at, above = (sub_index(name, x, on).value for x in (c - eps, c, c + eps))
        assert below is not None and at is not None and above is not None
        assert bp.iaqi - 1 <= below <= at == bp.iaqi < above <= bp.iaqi + 1


@given(NAMES, DATES, CONC)
def test_iaqi_is_the_ceiling_of_the_exact_interpolation(name: str, on: dt.date, c: Fraction) -> None:
    c = min(c, _top(name, on))
    points = breakpoint_table(on).columns[INPUT_COLUMNS[name]].breakpoints
    for lo, hi in itertools.pairwise(points):
        c_lo, c_hi = Fraction(lo.concentration), Fraction(hi.concentration)
        if c_lo <= c <= c_hi:
            exact = lo.iaqi + Fraction(hi.iaqi - lo.iaqi) / (c_hi - c_lo) * (c - c_lo)
            assert sub_index(name, c, on).value == math.ceil(exact)
            return
    raise AssertionError("concentration not on the table")


@given(st.sampled_from(["pm25_24h", "pm10_24h"]), CONC)
def test_2026_is_never_more_lenient_than_2012_for_pm(name: str, c: Fraction) -> None:
    c = min(c, _top(name, dt.date(2025, 1, 1)))
    old = sub_index(name, c, dt.date(2026, 2, 28)).value
    new = sub_index(name, c, dt.date(2026, 3, 1)).value
    assert old is not None and new is not None and new >= old
