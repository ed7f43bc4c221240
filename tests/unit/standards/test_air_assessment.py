"""HJ 663 assessment over days. Sources: standards.md §1 (优良天数比例, city daily values) and §2 (annual
assessment: PM2.5 annual mean <= 35 and P95 of 24 h means <= 75; O3 P90 of daily max 8 h; CO P95 of 24 h means)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest

from citywatch.standards import annual_assessment, city_daily_aqi, exceedance_days, good_day_share
from citywatch.standards.percentile import PERCENTILE_UNVERIFIED


def _days(year: int, values: list[int]) -> dict[dt.date, int | None]:
    start = dt.date(year, 1, 1)
    return {start + dt.timedelta(days=i): v for i, v in enumerate(values)}


def test_pm25_passes_with_annual_mean_and_p95_within_limits() -> None:
    # 2025: 347 days at 30, 18 days at 80 -> mean = (347·30 + 18·80)/365 = 11850/365 = 32.47 <= 35
    # sorted: X1..X347 = 30, X348..X365 = 80; k = 1 + 364·0.95 = 346.8 -> X346 + 0.8·(X347 − X346) = 30 <= 75
    daily = _days(2025, [30] * 347 + [80] * 18)
    result = annual_assessment("pm25", daily, 2025)
    stats = {s.name: s for s in result.statistics}
    assert stats["annual_mean"].value == Fraction(11850, 365)
    assert stats["annual_mean"].limit.value == 35
    assert stats["p95_24h"].value == 30 and stats["p95_24h"].limit.value == 75
    assert result.passes is True
    assert PERCENTILE_UNVERIFIED in result.unverified
    assert result.standard == "HJ 663-2013 / GB 3095-2012"


def test_pm25_fails_on_p95() -> None:
    # 20 days at 80: k = 346.8 -> X346 = 30, X347 = 80 -> 30 + 0.8·50 = 70 <= 75; 25 days: X341.. = 80 -> 80 > 75
    daily = _days(2025, [20] * 340 + [80] * 25)
    stats = {s.name: s for s in annual_assessment("pm25", daily, 2025).statistics}
    assert stats["annual_mean"].passes is True  # (340·20 + 25·80)/365 = 24.1
    assert stats["p95_24h"].value == 80 and stats["p95_24h"].passes is False


def test_pm25_undecided_when_annual_mean_is_invalid() -> None:
    daily = _days(2025, [20] * 300)  # < 324 days
    result = annual_assessment("pm25", daily, 2025)
    assert result.passes is None


def test_pm25_2026_uses_transition_limits_and_hj663_2026_items() -> None:
    result = annual_assessment("pm25", _days(2026, [31] * 365), 2026)
    stats = {s.name: s for s in result.statistics}
    assert stats["annual_mean"].limit.value == 30 and stats["annual_mean"].passes is False
    assert stats["p95_24h"].limit.value == 60
    assert not any("HJ 663-2026" in u for u in result.unverified)  # its Table 1 is in standards.md §0b now
    assert PERCENTILE_UNVERIFIED in result.unverified


def test_hj663_2026_assesses_pm10_on_p95_and_so2_no2_on_p98() -> None:
    # 2026: PM10 annual 60 / 24 h 120 (transition); SO2 II 60 / 150; NO2 40 / 80
    pm10 = {s.name: s for s in annual_assessment("pm10", _days(2026, [55] * 365), 2026).statistics}
    assert (pm10["annual_mean"].limit.value, pm10["p95_24h"].limit.value) == (60, 120)
    so2 = {s.name: s for s in annual_assessment("so2", _days(2026, [10] * 360 + [200] * 5), 2026).statistics}
    # k = 1 + 364·0.98 = 357.72 -> X357 = X358 = 10: P98 10 <= 150, although 5 days are above the 24 h limit
    assert so2["p98_24h"].value == 10 and so2["p98_24h"].passes is True
    assert "p98_24h" in {s.name for s in annual_assessment("no2", _days(2026, [30] * 365), 2026).statistics}
    with pytest.raises(KeyError, match="pm10"):
        annual_assessment("pm10", _days(2025, [55] * 365), 2025)  # HJ 663-2013 (standards.md §2) assesses no PM10


def test_o3_on_p90_of_daily_max_8h() -> None:
    # 365 days: 330 at 150, 35 at 200; k = 1 + 364·0.9 = 328.6 -> X328 = X329 = 150 -> 150 <= 160
    result = annual_assessment("o3", _days(2025, [150] * 330 + [200] * 35), 2025)
    (stat,) = result.statistics
    assert (stat.name, stat.value, stat.limit.value, stat.passes) == ("p90_8h", Fraction(150), Decimal(160), True)


def test_co_on_p95_of_24h_means() -> None:
    (stat,) = annual_assessment("co", _days(2025, [5] * 365), 2025).statistics
    assert (stat.name, stat.value, stat.limit.unit, stat.passes) == ("p95_24h", Fraction(5), "mg/m³", False)


def test_no_rule_no_assessment() -> None:
    with pytest.raises(KeyError, match="so2"):
        annual_assessment("so2", _days(2025, [5]), 2025)


def test_exceedance_days_use_each_days_limit() -> None:
    daily: dict[dt.date, int | None] = {
        dt.date(2026, 2, 28): 70,  # 2012 limit 75: not over
        dt.date(2026, 3, 1): 70,  # transition limit 60: over
        dt.date(2026, 3, 2): 60,  # == limit: not over
        dt.date(2026, 3, 3): None,  # invalid day
        dt.date(2026, 2, 27): 76,  # over 75
    }
    result = exceedance_days("pm25", "24h", daily)
    assert result.days == (dt.date(2026, 2, 27), dt.date(2026, 3, 1))
    assert result.count == 2 and result.valid_days == 4
    assert result.unverified == ()


def test_pm10_days_between_120_and_150_exceed_from_2026_03_01() -> None:
    # GB 3095-2026 transition: PM10 Grade II 24 h 120 (was 150); the 2012 limit still applies on 2026-02-28.
    days = {dt.date(2026, 2, 28): 130, dt.date(2026, 3, 1): 130, dt.date(2026, 5, 1): 121, dt.date(2026, 5, 2): 120}
    result = exceedance_days("pm10", "24h", days)
    assert result.days == (dt.date(2026, 3, 1), dt.date(2026, 5, 1))
    assert not result.unverified


def test_good_day_share() -> None:
    daily: dict[dt.date, int | None] = {
        dt.date(2025, 1, 1): 50,
        dt.date(2025, 1, 2): 100,  # good: AQI <= 100
        dt.date(2025, 1, 3): 101,
        dt.date(2025, 1, 4): None,  # not a valid day
    }
    share = good_day_share(daily)
    assert (share.numerator, share.denominator) == (2, 3)
    assert share.percent == Fraction(200, 3)


def test_city_daily_aqi_averages_concentrations_not_aqis() -> None:
    # Station A PM2.5 35 (IAQI 50), station B 115 (IAQI 150): mean of AQIs 100, but mean concentration 75 -> 100 in
    # 2012, 114 in 2026. O3 only at A: 130 -> 75.
    stations: list[dict[str, int | None]] = [{"pm25_24h": 35, "o3_8h": 130}, {"pm25_24h": 115, "o3_8h": None}]
    city = city_daily_aqi(stations, dt.date(2026, 5, 1))
    assert city.concentrations == {"pm25_24h": 75, "o3_8h": 130}
    assert city.stations == {"pm25_24h": 2, "o3_8h": 1}
    assert city.result.aqi == 114
    # 2012, three stations: mean concentration 170/3 = 56.67 -> 50 + 50/40·21.67 = 77.08 -> 78, whereas the mean of
    # the station IAQIs (15, 15, 200) would be 76.67
    stations3 = [{"pm25_24h": 10}, {"pm25_24h": 10}, {"pm25_24h": 150}]
    assert city_daily_aqi(stations3, dt.date(2025, 1, 1)).result.aqi == 78
