"""HJ 633 golden vectors. Sources: standards.md §1 (table, notes, categories) and "Golden values for AQI tests";
hand calculations are written next to their case as IAQI = IAQI_lo + (IAQI_hi − IAQI_lo)/(BP_hi − BP_lo)·(C − BP_lo)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction

import pytest

from citywatch.standards import aqi as _aqi
from citywatch.standards import category_for
from citywatch.standards import sub_index as _sub_index
from citywatch.standards.exact import Number
from citywatch.standards.hj633 import AqiResult, SubIndex, breakpoint_table
from citywatch.standards.tables.hj633 import ConcentrationRounding

# These tests check HJ 633's arithmetic on the concentrations as given, so they look them up unrounded; the
# rounding rule has its own tests (test_concentration_rounding.py).


def sub_index(name: str, concentration: Number, on: dt.date) -> SubIndex:
    return _sub_index(name, concentration, on, ConcentrationRounding.EXACT)


def aqi(concentrations: Mapping[str, Number], on: dt.date) -> AqiResult:
    return _aqi(concentrations, on, ConcentrationRounding.EXACT)


D2012 = dt.date(2025, 6, 1)  # HJ 633-2012 applies
D2026 = dt.date(2026, 5, 1)  # HJ 633-2026 applies (from 2026-03-01)

# standards.md §1 table, re-typed here as the golden source (None = the table stops)
LEVELS = (0, 50, 100, 150, 200, 300, 400, 500)
TABLE_2012: dict[str, tuple[int | None, ...]] = {
    "so2_24h": (0, 50, 150, 475, 800, 1600, 2100, 2620),
    "so2_1h": (0, 150, 500, 650, 800, None, None, None),
    "no2_24h": (0, 40, 80, 180, 280, 565, 750, 940),
    "no2_1h": (0, 100, 200, 700, 1200, 2340, 3090, 3840),
    "pm10_24h": (0, 50, 150, 250, 350, 420, 500, 600),
    "co_24h": (0, 2, 4, 14, 24, 36, 48, 60),
    "co_1h": (0, 5, 10, 35, 60, 90, 120, 150),
    "o3_1h": (0, 160, 200, 300, 400, 800, 1000, 1200),
    "o3_8h": (0, 100, 160, 215, 265, 800, None, None),
    "pm25_24h": (0, 35, 75, 115, 150, 250, 350, 500),
}
TABLE_2026 = {
    **TABLE_2012,
    "pm25_24h": (0, 35, 60, 115, 150, 250, 350, 500),
    "pm10_24h": (0, 50, 120, 250, 350, 420, 500, 600),
}


def _cases(table: Mapping[str, tuple[int | None, ...]], on: dt.date) -> list[tuple[str, int, int, dt.date]]:
    return [
        (col, c, lvl, on) for col, row in table.items() for lvl, c in zip(LEVELS, row, strict=True) if c is not None
    ]


@pytest.mark.parametrize(("version", "table"), [(D2012, TABLE_2012), (D2026, TABLE_2026)])
def test_table_module_holds_exactly_the_standards_md_breakpoints(
    version: dt.date, table: Mapping[str, tuple[int | None, ...]]
) -> None:
    columns = breakpoint_table(version).columns
    assert set(columns) == set(table)
    for name, row in table.items():
        expected = [(lvl, Decimal(c)) for lvl, c in zip(LEVELS, row, strict=True) if c is not None]
        assert [(bp.iaqi, bp.concentration) for bp in columns[name].breakpoints] == expected


@pytest.mark.parametrize(
    ("column", "concentration", "level", "on"), _cases(TABLE_2012, D2012) + _cases(TABLE_2026, D2026)
)
def test_every_breakpoint_gives_its_exact_iaqi(column: str, concentration: int, level: int, on: dt.date) -> None:
    assert sub_index(column, concentration, on).value == level
    assert sub_index(column, Decimal(concentration), on).value == level
    assert sub_index(column, float(concentration), on).value == level


# standards.md "Golden values for AQI tests": PM2.5 24 h unless named; (value, HJ 633-2012, HJ 633-2026)
@pytest.mark.parametrize(
    ("name", "concentration", "iaqi_2012", "iaqi_2026"),
    [
        ("pm25_24h", "35", 50, 50),
        ("pm25_24h", "75", 100, 114),
        ("pm25_24h", "60", 82, 100),
        ("pm10_24h", "150", 100, 112),
        ("so2_24h", "475", 150, 150),
    ],
)
def test_golden_values_both_versions(name: str, concentration: str, iaqi_2012: int, iaqi_2026: int) -> None:
    assert aqi({name: Decimal(concentration)}, D2012).aqi == iaqi_2012
    assert aqi({name: Decimal(concentration)}, D2026).aqi == iaqi_2026


@pytest.mark.parametrize(
    ("concentration", "expected"), [("12", 18), ("35.5", 51), ("55", 75), ("75.9", 102), ("80", 107)]
)
def test_golden_values_2012_ceiling(concentration: str, expected: int) -> None:
    """standards.md: "PM2.5 12 -> 18; 35.5 -> 51; 55 -> 75; 75.9 -> 102; 80 -> 107 (2012 table, ceiling rounding)"."""
    assert aqi({"pm25_24h": Decimal(concentration)}, D2012).aqi == expected
    assert aqi({"pm25_24h": float(concentration)}, D2012).aqi == expected


@pytest.mark.parametrize(
    ("name", "concentration", "on", "expected"),
    [
        ("so2_24h", "100", D2012, 75),  # 50 + 50/100·50 = 75
        ("so2_1h", "300", D2012, 72),  # 50 + 50/350·150 = 71.43 -> 72
        ("no2_24h", "60", D2012, 75),  # 50 + 50/40·20 = 75
        ("no2_1h", "450", D2012, 125),  # 100 + 50/500·250 = 125
        ("pm10_24h", "200", D2012, 125),  # 100 + 50/100·50 = 125
        ("pm10_24h", "200", D2026, 131),  # 100 + 50/130·80 = 130.77 -> 131
        ("pm10_1h", "200", D2026, 131),  # hourly PM uses the 24 h column
        ("co_24h", "3", D2012, 75),  # 50 + 50/2·1 = 75
        ("co_1h", "7.5", D2012, 75),  # 50 + 50/5·2.5 = 75
        ("o3_1h", "180", D2012, 75),  # 50 + 50/40·20 = 75
        ("o3_8h", "130", D2012, 75),  # 50 + 50/60·30 = 75
        ("pm25_24h", "47.5", D2026, 75),  # 50 + 50/25·12.5 = 75
        ("pm25_1h", "47.5", D2026, 75),  # hourly PM uses the 24 h column
        ("pm25_24h", "0.1", D2012, 1),  # 50/35·0.1 = 0.14 -> 1
        ("pm25_24h", "0", D2012, 0),
        ("co_24h", "0.3", D2026, 8),  # 50/2·0.3 = 7.5 -> 8 (0.3 is not exact in binary)
        ("so2_24h", "2620", D2026, 500),  # top breakpoint
    ],
)
def test_hand_calculated_values(name: str, concentration: str, on: dt.date, expected: int) -> None:
    assert sub_index(name, Decimal(concentration), on).value == expected
    assert sub_index(name, float(concentration), on).value == expected


def test_version_switches_on_the_local_date_2026_03_01() -> None:
    assert aqi({"pm25_24h": 75}, dt.date(2026, 2, 28)).standard == "HJ 633-2012"
    assert aqi({"pm25_24h": 75}, dt.date(2026, 2, 28)).aqi == 100
    assert aqi({"pm25_24h": 75}, dt.date(2026, 3, 1)).standard == "HJ 633-2026"
    assert aqi({"pm25_24h": 75}, dt.date(2026, 3, 1)).aqi == 114


def test_a_datetime_is_refused_so_the_caller_picks_the_local_date() -> None:
    with pytest.raises(TypeError, match="local date"):
        aqi({"pm25_24h": 75}, dt.datetime(2026, 3, 1, 0, 30))


# standards.md: each AQI band, its lowest and highest value, with its level, category and colour.
CATEGORY_BANDS = (
    (0, 50, "一级", "优", "#00E400"),
    (51, 100, "二级", "良", "#FFFF00"),
    (101, 150, "三级", "轻度污染", "#FF7E00"),
    (151, 200, "四级", "中度污染", "#FF0000"),
    (201, 300, "五级", "重度污染", "#99004C"),
    (301, 500, "六级", "严重污染", "#7E0023"),
)


@pytest.mark.parametrize(
    ("value", "level", "category", "colour"),
    [(value, *band) for low, high, *band in CATEGORY_BANDS for value in (low, high)],
)
def test_categories_standards_md(value: int, level: str, category: str, colour: str) -> None:
    band = category_for(value)
    assert (band.level, band.category, band.colour) == (level, category, colour)


def test_aqi_is_the_max_and_primary_pollutant_is_named_above_50() -> None:
    # PM2.5 75 -> 100, O3 8 h 130 -> 75, NO2 24 h 40 -> 50 (2012)
    result = aqi({"pm25_24h": 75, "o3_8h": 130, "no2_24h": 40}, D2012)
    assert result.aqi == 100
    assert result.iaqi == {"pm25_24h": 100, "o3_8h": 75, "no2_24h": 50}
    assert result.primary_pollutants == ("pm25",)
    assert result.exceeding == ()
    assert result.standard == "HJ 633-2012"
    assert (result.level, result.category, result.colour) == ("二级", "良", "#FFFF00")


def test_no_primary_pollutant_at_aqi_50() -> None:
    assert aqi({"pm25_24h": 35, "pm10_24h": 50}, D2012).primary_pollutants == ()
    assert aqi({"pm25_24h": Decimal("35.1")}, D2012).primary_pollutants == ("pm25",)  # 50.0625 -> 51


def test_ties_list_every_primary_pollutant() -> None:
    # PM2.5 55 -> 75 and O3 8 h 130 -> 75 and CO 3 -> 75 (2012)
    result = aqi({"pm25_24h": 55, "o3_8h": 130, "co_24h": 3, "so2_24h": 10}, D2012)
    assert result.aqi == 75
    assert result.primary_pollutants == ("pm25", "o3", "co")


def test_pollutants_over_iaqi_100_exceed_the_standard() -> None:
    # 2026: PM2.5 75 -> 114; PM10 120 -> 100 (not over); O3 1 h 250 -> 125
    result = aqi({"pm25_24h": 75, "pm10_24h": 120, "o3_1h": 250}, D2026)
    assert result.exceeding == ("pm25", "o3")
    assert result.primary_pollutants == ("o3",)


def test_same_pollutant_in_two_periods_counts_once() -> None:
    result = aqi({"o3_1h": 250, "o3_8h": 250}, D2012)  # 1 h: 125; 8 h: 150 + 50/50·35 = 185
    assert result.iaqi == {"o3_1h": 125, "o3_8h": 185}
    assert result.primary_pollutants == ("o3",)
    assert result.exceeding == ("o3",)


def test_so2_1h_above_800_2012_uses_the_24h_iaqi() -> None:
    """HJ 633-2012 Table 1 note 2 (standards.md §1 note ²)."""
    result = aqi({"so2_1h": 801, "so2_24h": 100}, D2012)
    assert result.iaqi == {"so2_24h": 75}
    assert "so2_1h" in result.not_computed
    assert result.unverified == ()
    assert sub_index("so2_1h", 800, D2012).value == 200  # still on the table at exactly 800


def test_so2_1h_above_800_2012_without_24h_has_no_iaqi() -> None:
    result = aqi({"so2_1h": 900, "pm25_24h": 10}, D2012)
    assert result.iaqi == {"pm25_24h": 15}  # 50/35·10 = 14.29 -> 15
    assert "so2_24h was not given" in result.not_computed["so2_1h"]
    with pytest.raises(ValueError, match="no IAQI could be computed"):
        aqi({"so2_1h": 900}, D2012)


def test_o3_8h_above_800_2012_uses_the_1h_iaqi() -> None:
    """HJ 633-2012 Table 1 note 3: O3 8 h above 800 -> the O3 1 h IAQI is used."""
    result = aqi({"o3_8h": 850, "o3_1h": 900}, D2012)  # 1 h: 300 + 100/200·100 = 350
    assert result.iaqi == {"o3_1h": 350}
    assert result.aqi == 350
    assert result.primary_pollutants == ("o3",)


def test_2026_overflows_are_fixed_values_marked_unverified() -> None:
    """standards.md §1: third-party HJ 633-2026 readings give 200 (SO2) and 300 (O3); "Verify against the PDF"."""
    so2 = aqi({"so2_1h": 900}, D2026)
    assert so2.aqi == 200
    assert so2.unverified and "200" in so2.unverified[0]
    o3 = aqi({"o3_8h": 801}, D2026)
    assert o3.aqi == 300
    assert o3.unverified


def test_above_the_top_breakpoint_is_capped_at_500_and_marked_unverified() -> None:
    result = aqi({"pm25_24h": 600}, D2012)
    assert result.aqi == 500
    assert result.unverified and "IAQI 500" in result.unverified[0]
    assert result.category == "严重污染"


def test_exact_fraction_input_is_used_as_is() -> None:
    assert sub_index("pm25_24h", Fraction(71, 2), D2012).value == 51  # 35.5


@pytest.mark.parametrize("bad", [-1, Decimal("-0.1"), float("nan"), float("inf"), "abc", True])
def test_bad_values_are_refused_naming_the_input(bad: object) -> None:
    with pytest.raises(ValueError, match="pm25_24h"):
        aqi({"pm25_24h": bad}, D2012)  # type: ignore[dict-item]


def test_unknown_input_is_refused_naming_it() -> None:
    with pytest.raises(KeyError, match="pm25_8h"):
        aqi({"pm25_8h": 1}, D2012)
    with pytest.raises(ValueError, match="no concentrations"):
        aqi({}, D2012)


def test_to_json_has_the_cli_contract_fields() -> None:
    out = aqi({"pm25_24h": 75}, D2026).to_json()
    assert out["aqi"] == 114
    assert out["iaqi"] == {"pm25_24h": 114}
    assert out["level"] == "三级"
    assert out["category"] == "轻度污染"
    assert out["primary_pollutants"] == ["pm25"]
    assert out["standard"] == "HJ 633-2026"
    assert out["unverified"] == []
