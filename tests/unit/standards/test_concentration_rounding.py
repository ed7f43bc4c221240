"""The one rounding setting of the AQI: concentrations rounded to their reporting precision before the IAQI lookup
(default) or looked up as measured (standards.md §0b; citywatch/standards/tables/hj633.py says why)."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest

from citywatch.standards import aqi, exceedance_days, o3_daily_max_8h, sub_index
from citywatch.standards.air_assessment import city_daily_aqi
from citywatch.standards.reporting import as_reported
from citywatch.standards.tables.hj633 import DEFAULT_CONCENTRATION_ROUNDING, ConcentrationRounding

ON = dt.date(2026, 6, 1)


def test_the_default_rounds_to_the_reporting_precision_first() -> None:
    assert DEFAULT_CONCENTRATION_ROUNDING is ConcentrationRounding.REPORTED
    result = aqi({"pm25_24h": Fraction("60.4")}, ON)
    assert (result.aqi, result.category, result.rounding) == (100, "良", ConcentrationRounding.REPORTED)
    assert result.sub_indices[0].concentration == 60
    exact = aqi({"pm25_24h": Fraction("60.4")}, ON, ConcentrationRounding.EXACT)
    assert (exact.aqi, exact.category) == (101, "轻度污染")


@pytest.mark.parametrize(
    ("name", "given", "looked_up"),
    [
        ("pm25_24h", "35.5", "36"),  # a bare 5: to the even digit (GB/T 8170 §3.2.4)
        ("pm25_24h", "36.5", "36"),
        ("pm25_24h", "35.51", "36"),
        ("co_24h", "1.25", "1.2"),  # CO to 0.1 mg/m³
        ("co_24h", "1.251", "1.3"),
        ("o3_8h", "103.5", "104"),
    ],
)
def test_each_input_is_looked_up_at_its_units_precision(name: str, given: str, looked_up: str) -> None:
    assert sub_index(name, Fraction(given), ON).concentration == Fraction(looked_up)
    assert sub_index(name, Fraction(given), ON, ConcentrationRounding.EXACT).concentration == Fraction(given)


def test_as_reported_is_exact_for_fractions_that_do_not_terminate() -> None:
    assert as_reported(Fraction(181, 3), "µg/m³") == 60  # 60.333…
    assert as_reported(Fraction(121, 2), "µg/m³") == 60  # 60.5 -> even
    with pytest.raises(KeyError, match="precision"):
        as_reported(Fraction(1), "mg/L")


def test_the_city_aqi_rounds_the_station_mean_by_the_same_rule() -> None:
    stations = [{"pm25_24h": 60}, {"pm25_24h": Fraction("60.8")}]  # mean 60.4
    assert city_daily_aqi(stations, ON).result.aqi == 100
    assert city_daily_aqi(stations, ON, ConcentrationRounding.EXACT).result.aqi == 101


def test_exceedances_are_judged_by_the_same_rule_as_the_aqi() -> None:
    # 60.4 on 2026-06-01: AQI 100 (良, nothing exceeding) by default -- so not an exceedance day either
    days = {ON: Fraction("60.4"), dt.date(2026, 6, 2): Fraction("60.6")}
    assert exceedance_days("pm25", "24h", days).days == (dt.date(2026, 6, 2),)
    assert aqi({"pm25_24h": Fraction("60.4")}, ON).exceeding == ()
    exact = exceedance_days("pm25", "24h", days, rounding=ConcentrationRounding.EXACT)
    assert exact.days == (ON, dt.date(2026, 6, 2))
    # O3 with too few 8 h values stands only when above the limit as reported: 160.4 is 160
    hourly: list[Fraction | None] = [None] * 7 + [Fraction("160.4")] * 17
    assert o3_daily_max_8h(hourly, ON).value is None
    assert o3_daily_max_8h(hourly, ON, rounding=ConcentrationRounding.EXACT).value == Fraction("160.4")


def test_the_golden_value_of_35_5_holds_for_exact_lookups_only() -> None:
    # standards.md §1 lists PM2.5 35.5 -> 51 (2012 table, unrounded); reported first it is 36 -> 52
    day = dt.date(2025, 6, 1)
    assert sub_index("pm25_24h", Fraction("35.5"), day, ConcentrationRounding.EXACT).value == 51
    assert sub_index("pm25_24h", Fraction("35.5"), day).value == 52
