"""GB 3095 ambient air limits (2012; 2026 transition 2026-03-01 -> 2030-12-31; 2026 full from 2031-01-01) and the
data-validity rules of GB 3095-2012 Table 4.

Sources: standards.md §2 (2012) and §0b (2026: GB 3095-2026 Table 1 as three transcriptions agree; the official PDF
was not readable here, so every 2026 value's note says so). Units µg/m³, CO mg/m³. Periods: "annual", "24h", "1h",
"8h" (O3 daily max 8 h). `citywatch limits --at DATE` prints the table in force.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from types import MappingProxyType

from citywatch.standards.versions import NO_LOWER_BOUND, Source

GB3095_2026_FROM = dt.date(2026, 3, 1)
GB3095_2026_FULL_FROM = dt.date(2031, 1, 1)

UG = "µg/m³"
MG = "mg/m³"
UNITS: Mapping[str, str] = MappingProxyType({"pm25": UG, "pm10": UG, "so2": UG, "no2": UG, "co": MG, "o3": UG})
GRADES = ("I", "II")

LimitKey = tuple[str, str, str]  # (pollutant, period, grade)


@dataclass(frozen=True, slots=True)
class LimitValue:
    value: Decimal
    clause: str
    unverified: bool = False
    note: str = ""


@dataclass(frozen=True, slots=True)
class LimitTable:
    source: Source
    stage: str  # "", "transition" or "full"
    limits: Mapping[LimitKey, LimitValue]


_T1_2012 = "GB 3095-2012 Table 1"
# (pollutant, period): (Grade I, Grade II) -- standards.md §2
_GB3095_2012_ROWS: dict[tuple[str, str], tuple[str, str]] = {
    ("pm25", "annual"): ("15", "35"),
    ("pm25", "24h"): ("35", "75"),
    ("pm10", "annual"): ("40", "70"),
    ("pm10", "24h"): ("50", "150"),
    ("o3", "8h"): ("100", "160"),
    ("o3", "1h"): ("160", "200"),
    ("so2", "annual"): ("20", "60"),
    ("so2", "24h"): ("50", "150"),
    ("so2", "1h"): ("150", "500"),
    ("no2", "annual"): ("40", "40"),
    ("no2", "24h"): ("80", "80"),
    ("no2", "1h"): ("200", "200"),
    ("co", "24h"): ("4", "4"),
    ("co", "1h"): ("10", "10"),
}

_LIMITS_2012: dict[LimitKey, LimitValue] = {
    (pollutant, period, grade): LimitValue(Decimal(value), _T1_2012)
    for (pollutant, period), values in _GB3095_2012_ROWS.items()
    for grade, value in zip(GRADES, values, strict=True)
}

_TRANSCRIBED = (
    "GB 3095-2026 Table 1, as transcribed (standards.md §0b: three transcriptions agree; the official PDF was not "
    "read here)"
)
_STAGE_CLAUSE = {
    "transition": _TRANSCRIBED + ", column 过渡阶段浓度限值 (2026-03-01 → 2030-12-31)",
    "full": _TRANSCRIBED + ", column 浓度限值 (from 2031-01-01)",
}
_UNCHANGED = "unchanged from GB 3095-2012"
_ON_TRANSCRIPTIONS = "verified against transcriptions, not against the official PDF"

# (pollutant, period): (Grade I, Grade II) where GB 3095-2026 differs from 2012 -- standards.md §0b. Every other
# value is GB 3095-2012's (the 2026 table repeats it); both are stamped with the 2026 clause.
_GB3095_2026_CHANGES: dict[str, dict[tuple[str, str], tuple[str, str]]] = {
    "transition": {
        ("pm25", "annual"): ("15", "30"),
        ("pm25", "24h"): ("35", "60"),
        ("pm10", "annual"): ("40", "60"),
        ("pm10", "24h"): ("50", "120"),
    },
    "full": {
        ("pm25", "annual"): ("10", "25"),
        ("pm25", "24h"): ("25", "50"),
        ("pm10", "annual"): ("20", "50"),
        ("pm10", "24h"): ("50", "100"),
        ("so2", "annual"): ("20", "20"),
        ("so2", "24h"): ("50", "50"),
        ("so2", "1h"): ("150", "150"),
        ("no2", "annual"): ("30", "30"),
        ("no2", "24h"): ("50", "50"),
        ("no2", "1h"): ("200", "200"),
    },
}


def _gb3095_2026(stage: str) -> dict[LimitKey, LimitValue]:
    changes = _GB3095_2026_CHANGES[stage]
    clause = _STAGE_CLAUSE[stage]
    limits: dict[LimitKey, LimitValue] = {}
    for (pollutant, period), values in _GB3095_2012_ROWS.items():
        new_values = changes.get((pollutant, period))
        for index, grade in enumerate(GRADES):
            value = values[index] if new_values is None else new_values[index]
            note = _ON_TRANSCRIPTIONS if value != values[index] else f"{_UNCHANGED}; {_ON_TRANSCRIPTIONS}"
            limits[(pollutant, period, grade)] = LimitValue(Decimal(value), clause, unverified=False, note=note)
    return limits


GB3095_2012 = LimitTable(
    Source("GB 3095", "2012", NO_LOWER_BOUND, GB3095_2026_FROM, _T1_2012), "", MappingProxyType(_LIMITS_2012)
)

GB3095_2026_TRANSITION = LimitTable(
    Source("GB 3095", "2026", GB3095_2026_FROM, GB3095_2026_FULL_FROM, _STAGE_CLAUSE["transition"]),
    "transition",
    MappingProxyType(_gb3095_2026("transition")),
)

GB3095_2026_FULL = LimitTable(
    Source("GB 3095", "2026", GB3095_2026_FULL_FROM, None, _STAGE_CLAUSE["full"]),
    "full",
    MappingProxyType(_gb3095_2026("full")),
)

GB3095_TABLES = (GB3095_2012, GB3095_2026_TRANSITION, GB3095_2026_FULL)


@dataclass(frozen=True, slots=True)
class ValidityRules:
    """Minimum data for a statistic to be valid (GB 3095-2012 Table 4, standards.md §2)."""

    source: Source
    min_hours_daily: int  # 24 h mean: valid hourly values per day
    min_days_annual: int  # annual mean: daily values per year
    min_days_month: int  # ... and per month
    min_days_february: int  # ... and in February
    min_hours_8h: int  # O3 8 h mean: valid hours of the 8
    min_minutes_hourly: int  # 1 h value: minutes of sampling
    o3_window_end_hours: tuple[int, ...]  # O3 daily max 8 h: windows ending at these local hours (8 -> 08:00)
    min_8h_windows_daily: int  # O3 daily max 8 h: valid 8 h values needed
    unverified: Mapping[str, str]  # field name -> why that rule is not confirmed


_T4_2012 = "GB 3095-2012 Table 4; O3 daily max 8 h: HJ 663-2013 §6.1.2, >= 14 valid 8 h values (standards.md §0b)"

VALIDITY_2012 = ValidityRules(
    source=Source("GB 3095", "2012", NO_LOWER_BOUND, GB3095_2026_FROM, _T4_2012),
    min_hours_daily=20,
    min_days_annual=324,
    min_days_month=27,
    min_days_february=25,
    min_hours_8h=6,
    min_minutes_hourly=45,
    o3_window_end_hours=tuple(range(8, 25)),
    min_8h_windows_daily=14,
    unverified=MappingProxyType({}),
)

_CARRIED_T4 = "GB 3095-2026 data-validity rules are not in standards.md: GB 3095-2012 Table 4 applied"

VALIDITY_2026 = replace(
    VALIDITY_2012,
    source=Source(
        "GB 3095", "2026", GB3095_2026_FROM, None, "GB 3095-2012 Table 4 carried forward (2026 rules not recorded)"
    ),
    unverified=MappingProxyType(
        {
            name: "; ".join(filter(None, (VALIDITY_2012.unverified.get(name), _CARRIED_T4)))
            for name in VALIDITY_2012.__dataclass_fields__
            if name.startswith(("min_", "o3_"))
            and name != "min_8h_windows_daily"  # HJ 663-2026 §6.1.2 keeps the 14 (standards.md §0b)
        }
    ),
)

VALIDITY_TABLES = (VALIDITY_2012, VALIDITY_2026)
