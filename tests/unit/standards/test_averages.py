"""GB 3095 averages and validity. Source: standards.md §2 "Validity rules (Table 4)" and "Annual assessment"."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest

from citywatch.standards import annual_mean, daily_mean, eight_hour_mean, hourly_value_valid, o3_daily_max_8h

D2012 = dt.date(2025, 6, 1)
D2026 = dt.date(2026, 5, 1)


def test_daily_mean_needs_20_valid_hours() -> None:
    twenty = [Decimal("10")] * 19 + [Decimal("30")] + [None] * 4  # (19·10 + 30)/20 = 11
    result = daily_mean(twenty, D2012)
    assert result.valid and result.value == 11 and result.count == 20 and result.required == 20
    nineteen = [10] * 19 + [None] * 5
    short = daily_mean(nineteen, D2012)
    assert not short.valid and short.value is None and short.partial == 10


def test_daily_mean_is_exact() -> None:
    assert daily_mean([1] * 20 + [2], D2012).value == Fraction(22, 21)


def test_daily_mean_refuses_more_than_24_hours_and_negatives() -> None:
    with pytest.raises(ValueError, match="24"):
        daily_mean([1] * 25, D2012)
    with pytest.raises(ValueError, match=r"hourly\[3\]"):
        daily_mean([1, 1, 1, -1], D2012)


def test_validity_rules_from_2026_are_carried_forward_unverified() -> None:
    assert daily_mean([10] * 24, D2012).unverified == ()
    later = daily_mean([10] * 24, D2026)
    assert later.valid and later.unverified and "GB 3095-2026" in later.unverified[0]


def test_eight_hour_mean_needs_6_of_8_hours() -> None:
    assert eight_hour_mean([100] * 6 + [None, None], D2012).value == 100
    assert eight_hour_mean([100] * 5 + [None] * 3, D2012).value is None
    with pytest.raises(ValueError, match="exactly 8"):
        eight_hour_mean([100] * 7, D2012)


def test_hourly_value_needs_45_minutes() -> None:
    assert hourly_value_valid(45, D2012) and not hourly_value_valid(44, D2012)


def test_o3_daily_max_8h_windows_end_08_to_24() -> None:
    # hour i = i:00-(i+1):00. 80 µg/m³ all day except 200 in hours 12..19 (the window ending 20:00).
    hourly: list[int | None] = [80] * 24
    for h in range(12, 20):
        hourly[h] = 200
    result = o3_daily_max_8h(hourly, D2012)
    assert sorted(result.windows) == list(range(8, 25))  # 17 windows
    assert result.windows[20].value == 200
    assert result.windows[8].value == 80  # hours 0..7 of the same day
    assert result.value == 200 and result.valid_windows == 17
    assert not result.unverified  # the >= 14 windows rule: HJ 663 §6.1.2 (standards.md §0b)


def test_o3_daily_max_8h_needs_14_valid_windows() -> None:
    # hours 0..3 missing: windows ending 8..9 have 4 and 5 valid hours -> invalid; 15 valid windows remain.
    hourly: list[int | None] = [None] * 4 + [100] * 20
    assert o3_daily_max_8h(hourly, D2012).valid_windows == 15
    assert o3_daily_max_8h(hourly, D2012).valid
    # hours 0..5 missing: windows ending 8..11 invalid (2, 3, 4, 5 hours): 13 valid -> no daily value
    hourly = [None] * 6 + [100] * 18
    result = o3_daily_max_8h(hourly, D2012)
    assert result.valid_windows == 13 and result.value is None and result.partial == 100


@pytest.mark.parametrize("on", [D2012, dt.date(2026, 6, 1)])
def test_o3_daily_max_8h_with_too_few_windows_still_stands_when_it_exceeds_the_limit(on: dt.date) -> None:
    # HJ 663 §6.1.2: hours 0..6 missing, 250 µg/m³ in every other hour -> windows ending 13..24 valid (12 < 14),
    # but 250 is above the Grade II limit of 160: the exceedance is not hidden.
    hourly: list[int | None] = [None] * 7 + [250] * 17
    result = o3_daily_max_8h(hourly, on)
    assert result.valid_windows == 12
    assert result.value == 250 and result.exceedance_despite_gaps
    assert "6.1.2" in result.clause
    # At the limit or below, too few windows still give no value; Grade I's limit (100) is lower.
    at_limit: list[int | None] = [None] * 7 + [160] * 17
    assert o3_daily_max_8h(at_limit, on).value is None
    assert o3_daily_max_8h(at_limit, on, grade="I").value == 160


def test_o3_daily_max_8h_needs_all_24_slots() -> None:
    with pytest.raises(ValueError, match="24"):
        o3_daily_max_8h([100] * 23, D2012)


def _year(year: int, skip: set[dt.date] | None = None, value: int = 30) -> dict[dt.date, int | None]:
    days: dict[dt.date, int | None] = {}
    day = dt.date(year, 1, 1)
    while day.year == year:
        days[day] = None if skip and day in skip else value
        day += dt.timedelta(days=1)
    return days


def test_annual_mean_full_year_is_valid() -> None:
    result = annual_mean(_year(2025), 2025)
    assert result.valid and result.value == 30 and result.count == 365 and result.unverified == ()


def test_annual_mean_needs_324_days() -> None:
    # drop 3 days in each month: 365 - 36 = 329 >= 324, every month >= 27 (Feb 25)
    skip = {dt.date(2025, m, d) for m in range(1, 13) for d in (1, 2, 3)}
    assert annual_mean(_year(2025, skip), 2025).valid
    # drop 4 days in each month: 317 < 324
    skip = {dt.date(2025, m, d) for m in range(1, 13) for d in (1, 2, 3, 4)}
    short = annual_mean(_year(2025, skip), 2025)
    assert short.count == 317 and not short.valid and short.partial == 30


def test_annual_mean_needs_27_per_month_and_25_in_february() -> None:
    feb_25 = {dt.date(2025, 2, d) for d in (1, 2, 3)}  # February keeps 25
    assert annual_mean(_year(2025, feb_25), 2025).valid
    feb_24 = {dt.date(2025, 2, d) for d in (1, 2, 3, 4)}
    result = annual_mean(_year(2025, feb_24), 2025)
    assert not result.valid and result.short_months == (2,)
    april_26 = {dt.date(2025, 4, d) for d in (1, 2, 3, 4)}  # April keeps 26
    assert annual_mean(_year(2025, april_26), 2025).short_months == (4,)


def test_annual_mean_refuses_days_of_another_year() -> None:
    with pytest.raises(ValueError, match="2024-12-31"):
        annual_mean({dt.date(2024, 12, 31): 1}, 2025)
