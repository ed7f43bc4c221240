"""GB 3095 ambient air limits (2012; 2026 transition 2026-03-01 -> 2030-12-31; 2026 full from 2031-01-01) and the
data-validity rules of GB 3095-2012 Table 4.

Source: standards.md §0 and §2. Units µg/m³, CO mg/m³. Periods: "annual", "24h", "1h", "8h" (O3 daily max 8 h).
Where standards.md gives no GB 3095-2026 value (every pollutant but PM2.5), the 2012 value is carried forward and
marked unverified: the lookup never fails for a date, and the output says the number is not confirmed.
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

_PM25_2026 = "GB 3095-2026 PM2.5 limits (standards.md §0; table number not recorded)"
_CARRIED = (
    "GB 3095-2026 value not in standards.md (PM10, SO2 and NO2 are tightened from 2031, values not found); "
    "GB 3095-2012 value carried forward"
)


def _carried_forward(given: dict[LimitKey, LimitValue]) -> dict[LimitKey, LimitValue]:
    """The 2026 limits: the values standards.md gives, and every other 2012 value carried forward as unverified."""
    carried = {
        key: LimitValue(old.value, f"{old.clause} (carried forward)", unverified=True, note=_CARRIED)
        for key, old in _LIMITS_2012.items()
    }
    return carried | given


GB3095_2012 = LimitTable(
    Source("GB 3095", "2012", NO_LOWER_BOUND, GB3095_2026_FROM, _T1_2012), "", MappingProxyType(_LIMITS_2012)
)

GB3095_2026_TRANSITION = LimitTable(
    Source("GB 3095", "2026", GB3095_2026_FROM, GB3095_2026_FULL_FROM, _PM25_2026 + ", transition stage"),
    "transition",
    MappingProxyType(
        _carried_forward(
            {
                ("pm25", "annual", "II"): LimitValue(Decimal("30"), _PM25_2026 + ", transition stage"),
                ("pm25", "24h", "II"): LimitValue(Decimal("60"), _PM25_2026 + ", transition stage"),
                # standards.md states a transition value only for Grade II; Grade I's final value is used.
                ("pm25", "annual", "I"): LimitValue(
                    Decimal("10"), _PM25_2026, True, "Grade I transition value not stated; final value used"
                ),
                ("pm25", "24h", "I"): LimitValue(
                    Decimal("25"), _PM25_2026, True, "Grade I transition value not stated; final value used"
                ),
            }
        )
    ),
)

GB3095_2026_FULL = LimitTable(
    Source("GB 3095", "2026", GB3095_2026_FULL_FROM, None, _PM25_2026),
    "full",
    MappingProxyType(
        _carried_forward(
            {
                ("pm25", "annual", "I"): LimitValue(Decimal("10"), _PM25_2026),
                ("pm25", "24h", "I"): LimitValue(Decimal("25"), _PM25_2026),
                ("pm25", "annual", "II"): LimitValue(Decimal("25"), _PM25_2026),
                ("pm25", "24h", "II"): LimitValue(Decimal("50"), _PM25_2026),
            }
        )
    ),
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


_T4_2012 = "GB 3095-2012 Table 4; O3 daily max 8 h windows: HJ 663-2013 (standards.md §2)"
_VERIFY_14 = "O3 daily max 8 h needs >= 14 valid 8 h values (standards.md §2: 'I recall the 14 ... verify')"

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
    unverified=MappingProxyType({"min_8h_windows_daily": _VERIFY_14}),
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
        }
    ),
)

VALIDITY_TABLES = (VALIDITY_2012, VALIDITY_2026)
