"""HJ 663 percentile: ascending, k = 1 + (n − 1)·p, linear between neighbours (issue 3; standards.md §2)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from citywatch.standards import percentile


def test_hand_calculation() -> None:
    # n = 10, p = 0.95: k = 1 + 9·0.95 = 9.55, s = 9 -> X9 + 0.55·(X10 − X9) = 90 + 0.55·10 = 95.5
    assert percentile([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], Decimal("0.95")) == Fraction(191, 2)
    # order of input does not matter
    assert percentile([100, 10, 90, 20, 80, 30, 70, 40, 60, 50], Decimal("0.95")) == Fraction(191, 2)
    # n = 365, p = 0.90: k = 1 + 364·0.9 = 328.6 -> X328 + 0.6·(X329 − X328) with X_i = i: 328.6
    assert percentile(range(1, 366), Decimal("0.9")) == Fraction(3286, 10)


def test_ends_and_single_value() -> None:
    assert percentile([3, 1, 2], 0) == 1
    assert percentile([3, 1, 2], 1) == 3
    assert percentile([7], Decimal("0.95")) == 7


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], Decimal("0.5"))
    with pytest.raises(ValueError, match="p"):
        percentile([1], 95)


VALUES = st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=60)
SHARES = st.integers(min_value=0, max_value=100).map(lambda n: Fraction(n, 100))


@given(VALUES, SHARES, SHARES)
def test_between_min_and_max_and_monotonic_in_p(values: list[int], p: Fraction, q: Fraction) -> None:
    lo, hi = sorted((p, q))
    assert min(values) <= percentile(values, lo) <= percentile(values, hi) <= max(values)


@given(VALUES, SHARES, st.integers(min_value=0, max_value=100))
def test_never_falls_when_a_value_rises(values: list[int], p: Fraction, bump: int) -> None:
    raised = [values[0] + bump, *values[1:]]
    assert percentile(raised, p) >= percentile(values, p)
