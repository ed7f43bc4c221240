"""GB 3095 limits by date. Source: standards.md §0 (2026 PM2.5 values, transition 2026-03-01 -> 2030-12-31) and §2
(GB 3095-2012 table)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from citywatch.standards import Limit, gb3095_limit

D2012 = dt.date(2025, 6, 1)
D_TRANSITION = dt.date(2026, 5, 1)
D_FULL = dt.date(2031, 1, 1)

# standards.md §2 table: (pollutant, period) -> (Grade I, Grade II)
GB3095_2012 = {
    ("pm25", "annual"): (15, 35),
    ("pm25", "24h"): (35, 75),
    ("pm10", "annual"): (40, 70),
    ("pm10", "24h"): (50, 150),
    ("o3", "8h"): (100, 160),
    ("o3", "1h"): (160, 200),
    ("so2", "annual"): (20, 60),
    ("so2", "24h"): (50, 150),
    ("so2", "1h"): (150, 500),
    ("no2", "annual"): (40, 40),
    ("no2", "24h"): (80, 80),
    ("no2", "1h"): (200, 200),
    ("co", "24h"): (4, 4),
    ("co", "1h"): (10, 10),
}


def test_the_interface_the_stream_processors_use() -> None:
    lim: Limit = gb3095_limit(pollutant="pm25", period="24h", grade="II", on=dt.date(2026, 5, 1))
    assert lim.value == Decimal("60")
    assert lim.unit == "µg/m³"
    assert lim.standard == "GB 3095"
    assert lim.version == "2026"
    assert lim.label == "GB 3095-2026 (transition 2026–2030)"
    assert lim.effective_from == dt.date(2026, 3, 1)
    assert lim.effective_to == dt.date(2031, 1, 1)
    assert "GB 3095-2026" in lim.clause
    assert lim.unverified is False
    old = gb3095_limit(pollutant="pm25", period="24h", grade="II", on=dt.date(2026, 2, 28))
    assert (old.value, old.version, old.label, old.clause) == (
        Decimal("75"),
        "2012",
        "GB 3095-2012",
        "GB 3095-2012 Table 1",
    )


@pytest.mark.parametrize(("key", "values"), GB3095_2012.items())
def test_every_2012_limit(key: tuple[str, str], values: tuple[int, int]) -> None:
    pollutant, period = key
    for grade, value in zip(("I", "II"), values, strict=True):
        lim = gb3095_limit(pollutant=pollutant, period=period, grade=grade, on=D2012)
        assert lim.value == value
        assert lim.unit == ("mg/m³" if pollutant == "co" else "µg/m³")
        assert not lim.unverified


@pytest.mark.parametrize(
    ("period", "grade", "on", "value", "unverified"),
    [
        ("annual", "II", D_TRANSITION, 30, False),  # transition Grade II 30 / 60
        ("24h", "II", D_TRANSITION, 60, False),
        ("annual", "II", dt.date(2030, 12, 31), 30, False),
        ("annual", "II", D_FULL, 25, False),  # full Grade II 25 / 50 from 2031
        ("24h", "II", D_FULL, 50, False),
        ("annual", "I", D_FULL, 10, False),  # Grade I 10 / 25
        ("24h", "I", D_FULL, 25, False),
        ("annual", "I", D_TRANSITION, 10, True),  # no Grade I transition value in standards.md
        ("24h", "I", D_TRANSITION, 25, True),
    ],
)
def test_pm25_2026_values(period: str, grade: str, on: dt.date, value: int, unverified: bool) -> None:
    lim = gb3095_limit(pollutant="pm25", period=period, grade=grade, on=on)
    assert (lim.value, lim.unverified, lim.version) == (Decimal(value), unverified, "2026")


@pytest.mark.parametrize(("key", "values"), [(k, v) for k, v in GB3095_2012.items() if k[0] != "pm25"])
@pytest.mark.parametrize("on", [D_TRANSITION, D_FULL])
def test_other_2026_limits_fall_back_to_2012_marked_unverified(
    key: tuple[str, str], values: tuple[int, int], on: dt.date
) -> None:
    pollutant, period = key
    lim = gb3095_limit(pollutant=pollutant, period=period, grade="II", on=on)
    assert lim.value == values[1]
    assert lim.unverified
    assert "carried forward" in lim.clause and lim.note


def test_full_stage_label() -> None:
    assert gb3095_limit(pollutant="pm25", period="annual", on=D_FULL).label == "GB 3095-2026 (full limits from 2031)"


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"pollutant": "pm1", "period": "24h", "grade": "II"}, "pm1"),
        ({"pollutant": "pm25", "period": "week", "grade": "II"}, "week"),
        ({"pollutant": "pm25", "period": "24h", "grade": "III"}, "III"),
        ({"pollutant": "pm25", "period": "1h", "grade": "II"}, "1h"),
        ({"pollutant": "co", "period": "annual", "grade": "II"}, "annual"),
        ({"pollutant": "o3", "period": "24h", "grade": "I"}, "24h"),
    ],
)
def test_unknown_combinations_raise_naming_the_problem(kwargs: dict[str, str], named: str) -> None:
    with pytest.raises(KeyError, match=named):
        gb3095_limit(**kwargs, on=D2012)
