"""GB 3095 limits by date. Source: standards.md §0b (GB 3095-2026 Table 1, transition 2026-03-01 -> 2030-12-31 and
final from 2031) and §2 (GB 3095-2012 table)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from citywatch.standards import Limit, gb3095_limit
from citywatch.standards.gb3095 import limits_in_force

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


# standards.md §0b: GB 3095-2026 values that differ from 2012, (pollutant, period) -> (Grade I, Grade II)
TRANSITION_CHANGES = {
    ("pm25", "annual"): (15, 30),
    ("pm25", "24h"): (35, 60),
    ("pm10", "annual"): (40, 60),
    ("pm10", "24h"): (50, 120),
}
FULL_CHANGES = {
    ("pm25", "annual"): (10, 25),
    ("pm25", "24h"): (25, 50),
    ("pm10", "annual"): (20, 50),
    ("pm10", "24h"): (50, 100),
    ("so2", "annual"): (20, 20),
    ("so2", "24h"): (50, 50),
    ("so2", "1h"): (150, 150),
    ("no2", "annual"): (30, 30),
    ("no2", "24h"): (50, 50),
    ("no2", "1h"): (200, 200),
}


@pytest.mark.parametrize(
    ("on", "changes", "stage"),
    [
        (D_TRANSITION, TRANSITION_CHANGES, "transition"),
        (dt.date(2030, 12, 31), TRANSITION_CHANGES, "transition"),
        (D_FULL, FULL_CHANGES, "full"),
    ],
)
def test_every_2026_limit_as_in_standards_md_0b(
    on: dt.date, changes: dict[tuple[str, str], tuple[int, int]], stage: str
) -> None:
    for key, old in GB3095_2012.items():
        expected = changes.get(key, old)
        for grade, value in zip(("I", "II"), expected, strict=True):
            lim = gb3095_limit(pollutant=key[0], period=key[1], grade=grade, on=on)
            assert (lim.value, lim.version, lim.stage) == (Decimal(value), "2026", stage), (key, grade)
            assert "GB 3095-2026 Table 1" in lim.clause and "transcri" in lim.clause  # its source line
            assert "transcriptions" in lim.note  # what it rests on
            assert not lim.unverified


def test_the_transition_keeps_pm25_grade_i_at_15_35_and_pm10_grade_ii_at_60_120() -> None:
    # the findings of issue 17: 2012's 70 / 150 were carried forward, and Grade I took the final 10 / 25
    def value(pollutant: str, period: str, grade: str) -> Decimal:
        return gb3095_limit(pollutant=pollutant, period=period, grade=grade, on=D_TRANSITION).value

    assert (value("pm25", "annual", "I"), value("pm25", "24h", "I")) == (15, 35)
    assert (value("pm10", "annual", "II"), value("pm10", "24h", "II")) == (60, 120)


def test_limits_in_force_lists_every_pollutant_and_period_of_the_table() -> None:
    limits = limits_in_force(D_TRANSITION, ("II",))
    assert [(lim.pollutant, lim.period) for lim in limits] == [
        ("pm25", "annual"),
        ("pm25", "24h"),
        ("pm10", "annual"),
        ("pm10", "24h"),
        ("so2", "annual"),
        ("so2", "24h"),
        ("so2", "1h"),
        ("no2", "annual"),
        ("no2", "24h"),
        ("no2", "1h"),
        ("co", "24h"),
        ("co", "1h"),
        ("o3", "8h"),
        ("o3", "1h"),
    ]
    assert len(limits_in_force(D_TRANSITION)) == 28


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
