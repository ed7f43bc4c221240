"""HJ 633 IAQI breakpoints and AQI categories, versions 2012 and 2026.

Source: standards.md §1 (HJ 633-2012 Table 1, restated; HJ 633-2026 changes only the IAQI=100 breakpoints of PM2.5,
75 -> 60, and PM10, 150 -> 120, per several independent implementations). Units: µg/m³, CO mg/m³.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from types import MappingProxyType

from citywatch.standards.versions import NO_LOWER_BOUND, Source

HJ633_2026_FROM = dt.date(2026, 3, 1)


@dataclass(frozen=True, slots=True)
class Breakpoint:
    iaqi: int
    concentration: Decimal


@dataclass(frozen=True, slots=True)
class Column:
    """One concentration column of the IAQI table: the breakpoints in ascending order."""

    name: str  # "pm25_24h", "so2_1h", ...
    pollutant: str  # "pm25", "so2", ...
    unit: str
    breakpoints: tuple[Breakpoint, ...]

    @property
    def top(self) -> Breakpoint:
        return self.breakpoints[-1]


@dataclass(frozen=True, slots=True)
class Overflow:
    """What the standard says for a concentration above a column's last breakpoint, when it says something.

    Exactly one of `use_column` (report that column's IAQI instead) and `fixed_iaqi` is set.
    """

    column: str
    use_column: str | None
    fixed_iaqi: int | None
    clause: str
    unverified: bool


@dataclass(frozen=True, slots=True)
class BreakpointTable:
    source: Source
    columns: Mapping[str, Column]
    overflows: Mapping[str, Overflow]


_IAQI = (0, 50, 100, 150, 200, 300, 400, 500)
_UG = "µg/m³"
_MG = "mg/m³"

# column: (pollutant, unit, concentrations at IAQI 0, 50, 100, 150, 200, 300, 400, 500; shorter where the table stops)
_HJ633_2012_ROWS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "so2_24h": ("so2", _UG, ("0", "50", "150", "475", "800", "1600", "2100", "2620")),
    "so2_1h": ("so2", _UG, ("0", "150", "500", "650", "800")),  # note 2: no 1 h IAQI above 800
    "no2_24h": ("no2", _UG, ("0", "40", "80", "180", "280", "565", "750", "940")),
    "no2_1h": ("no2", _UG, ("0", "100", "200", "700", "1200", "2340", "3090", "3840")),
    "pm10_24h": ("pm10", _UG, ("0", "50", "150", "250", "350", "420", "500", "600")),
    "co_24h": ("co", _MG, ("0", "2", "4", "14", "24", "36", "48", "60")),
    "co_1h": ("co", _MG, ("0", "5", "10", "35", "60", "90", "120", "150")),
    "o3_1h": ("o3", _UG, ("0", "160", "200", "300", "400", "800", "1000", "1200")),
    "o3_8h": ("o3", _UG, ("0", "100", "160", "215", "265", "800")),  # note 3: above 800 use the 1 h IAQI
    "pm25_24h": ("pm25", _UG, ("0", "35", "75", "115", "150", "250", "350", "500")),
}

# HJ 633-2026: the only changed breakpoints (standards.md §0 and §1), column -> {IAQI: concentration}
_HJ633_2026_CHANGES: dict[str, dict[int, str]] = {
    "pm25_24h": {100: "60"},
    "pm10_24h": {100: "120"},
}


def _column(name: str, pollutant: str, unit: str, values: tuple[str, ...]) -> Column:
    points = tuple(Breakpoint(iaqi, Decimal(value)) for iaqi, value in zip(_IAQI, values, strict=False))
    return Column(name, pollutant, unit, points)


def _changed(column: Column, changes: dict[int, str]) -> Column:
    points = tuple(
        replace(bp, concentration=Decimal(changes.get(bp.iaqi, bp.concentration))) for bp in column.breakpoints
    )
    return replace(column, breakpoints=points)


_COLUMNS_2012 = {name: _column(name, *row) for name, row in _HJ633_2012_ROWS.items()}

HJ633_2012 = BreakpointTable(
    source=Source("HJ 633", "2012", NO_LOWER_BOUND, HJ633_2026_FROM, "HJ 633-2012 Table 1 (standards.md §1)"),
    columns=MappingProxyType(_COLUMNS_2012),
    overflows=MappingProxyType(
        {
            "so2_1h": Overflow("so2_1h", "so2_24h", None, "HJ 633-2012 Table 1 note 2", unverified=False),
            "o3_8h": Overflow("o3_8h", "o3_1h", None, "HJ 633-2012 Table 1 note 3", unverified=False),
        }
    ),
)

HJ633_2026 = BreakpointTable(
    source=Source(
        "HJ 633",
        "2026",
        HJ633_2026_FROM,
        None,
        "HJ 633-2026 IAQI table: 2012 table with PM2.5 and PM10 IAQI=100 breakpoints changed (standards.md §0-§1)",
    ),
    columns=MappingProxyType(
        {
            name: _changed(column, _HJ633_2026_CHANGES[name]) if name in _HJ633_2026_CHANGES else column
            for name, column in _COLUMNS_2012.items()
        }
    ),
    overflows=MappingProxyType(
        {
            # standards.md §1: "Per third-party HJ 633-2026 implementations ... fixed values: 200 (SO2) and 300 (O3).
            # Verify against the PDF."
            "so2_1h": Overflow(
                "so2_1h", None, 200, "HJ 633-2026 (third-party reading, standards.md §1)", unverified=True
            ),
            "o3_8h": Overflow(
                "o3_8h", None, 300, "HJ 633-2026 (third-party reading, standards.md §1)", unverified=True
            ),
        }
    ),
)

HJ633_TABLES = (HJ633_2012, HJ633_2026)

ABOVE_TABLE_NOTE = (
    "concentration above the column's IAQI 500 breakpoint: reported as IAQI 500 "
    "(the rule above the table is not recorded in standards.md)"
)


@dataclass(frozen=True, slots=True)
class Category:
    """One AQI band (standards.md §1 "Categories"), the same in HJ 633-2012 and HJ 633-2026."""

    max_aqi: int | None  # inclusive upper end; None for the open top band
    level: str
    category: str
    colour_name: str
    colour: str


CATEGORIES = (
    Category(50, "一级", "优", "green", "#00E400"),
    Category(100, "二级", "良", "yellow", "#FFFF00"),
    Category(150, "三级", "轻度污染", "orange", "#FF7E00"),
    Category(200, "四级", "中度污染", "red", "#FF0000"),
    Category(300, "五级", "重度污染", "purple", "#99004C"),
    Category(None, "六级", "严重污染", "maroon", "#7E0023"),
)


class ConcentrationRounding(enum.StrEnum):
    """Whether a concentration is rounded before the IAQI lookup (HJ 633 leaves it open; standards.md §0b)."""

    REPORTED = "reported"
    EXACT = "exact"


CONCENTRATION_ROUNDING_RULES: Mapping[ConcentrationRounding, str] = MappingProxyType(
    {
        ConcentrationRounding.REPORTED: (
            "concentrations rounded to their reporting precision (whole µg/m³, CO 0.1 mg/m³; GB/T 8170 round half "
            "to even) before the IAQI lookup; IAQI rounded up (HJ 633-2026 §4.2.6)"
        ),
        ConcentrationRounding.EXACT: (
            "concentrations looked up as measured, unrounded; IAQI rounded up (HJ 633-2026 §4.2.6)"
        ),
    }
)
DEFAULT_CONCENTRATION_ROUNDING = ConcentrationRounding.REPORTED
"""Default: round first. Concentrations are published at their reporting precision (HJ 663 / the national real-time
platform), so the AQI must be the one a reader gets from the published figure (PM2.5 "60" -> 100, 良, not 101); three
of the five sources in standards.md §0b round first. `CITYWATCH_AQI_CONCENTRATION_ROUNDING=exact` is the other rule."""

PRIMARY_POLLUTANT_ABOVE = 50  # primary pollutant named only when AQI > 50
EXCEEDING_ABOVE = 100  # a pollutant with IAQI > 100 exceeds the standard (超标)

# Report inputs -> the column they are computed on. PM has no 1 h column: hourly PM uses the 24 h column (§1).
INPUT_COLUMNS: Mapping[str, str] = MappingProxyType(
    {
        "pm25_24h": "pm25_24h",
        "pm25_1h": "pm25_24h",
        "pm10_24h": "pm10_24h",
        "pm10_1h": "pm10_24h",
        "so2_24h": "so2_24h",
        "so2_1h": "so2_1h",
        "no2_24h": "no2_24h",
        "no2_1h": "no2_1h",
        "co_24h": "co_24h",
        "co_1h": "co_1h",
        "o3_1h": "o3_1h",
        "o3_8h": "o3_8h",
    }
)
