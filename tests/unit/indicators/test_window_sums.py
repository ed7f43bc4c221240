"""Fixed-point prefix sums of hour slots give exactly the means the standards compute from the values."""

import datetime as dt
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citywatch.indicators.window_sums import WindowSums
from citywatch.standards import (
    FixedSum,
    daily_mean,
    daily_mean_of_sum,
    eight_hour_mean,
    eight_hour_mean_of_sum,
)

ON = dt.date(2026, 5, 1)
# Values as instruments give them (whole µg/m³, 0.1 µg/m³, 0.001 mg/m³) and an hour's mean of several events.
VALUE = st.one_of(
    st.none(),
    st.integers(0, 1000).map(Fraction),
    st.integers(0, 10_000).map(lambda v: Fraction(v, 10)),
    st.integers(0, 10_000).map(lambda v: Fraction(v, 1000)),
    st.integers(0, 3000).map(lambda v: Fraction(v, 3)),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(VALUE, min_size=1, max_size=60), st.integers(-5, 5))
def test_every_window_equals_the_mean_of_its_values(values: list[Fraction | None], first: int) -> None:
    sums = WindowSums(first, values)
    for end in range(first - 3, first + len(values) + 3):
        for hours, exact in ((24, daily_mean), (8, eight_hour_mean)):
            window = [
                values[s - first] if 0 <= s - first < len(values) else None for s in range(end - hours + 1, end + 1)
            ]
            of_sum = (daily_mean_of_sum if hours == 24 else eight_hour_mean_of_sum)(sums.window(end, hours), ON)
            assert of_sum == exact(window, ON)


def test_the_scale_is_the_finest_resolution_among_the_values() -> None:
    sums = WindowSums(0, [Fraction(35), Fraction(123, 10), None, Fraction(7, 100)])
    assert sums.scale == 100
    assert sums.window(3, 24) == FixedSum(3500 + 1230 + 7, 100, 3)


def test_integers_sum_as_they_are() -> None:
    assert WindowSums(10, [1, 2, 0, 4]).window(12, 2) == FixedSum(2, 1, 2)


def test_a_negative_sum_is_refused_like_a_negative_value() -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        daily_mean_of_sum(FixedSum(-1, 10, 1), ON)


@settings(max_examples=200, deadline=None)
@given(st.lists(VALUE, min_size=24, max_size=24), st.sampled_from(["I", "II"]))
def test_the_o3_daily_max_from_prefix_sums_is_the_one_from_the_hours(hourly: list[Fraction | None], grade: str) -> None:
    """Every window, the maximum, its validity and the exceedance-despite-gaps rule (HJ 663 §6.1.2) alike."""
    from citywatch.standards import o3_daily_max_8h, o3_daily_max_8h_of_sums

    for on in (ON, dt.date(2025, 7, 1)):  # both versions of the validity rules
        assert o3_daily_max_8h_of_sums(WindowSums(0, hourly).before, on, grade) == o3_daily_max_8h(hourly, on, grade)
