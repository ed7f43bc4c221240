"""GB 3095 limits by date: `gb3095_limit(pollutant=, period=, grade=, on=)` -> `Limit`.

The table is picked by the local date `on`: GB 3095-2012 before 2026-03-01, the GB 3095-2026 transition stage until
2030-12-31, the full GB 3095-2026 limits from 2031-01-01.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from citywatch.standards.tables.gb3095 import GB3095_TABLES, GRADES, UNITS, LimitTable
from citywatch.standards.versions import select_version

PERIODS = ("annual", "24h", "8h", "1h")


@dataclass(frozen=True, slots=True)
class Limit:
    """One concentration limit as it applies on a date; a concentration complies when it is <= `value`."""

    pollutant: str
    period: str
    grade: str
    value: Decimal
    unit: str
    standard: str  # "GB 3095"
    version: str  # "2012" or "2026"
    stage: str  # "" (2012), "transition" (2026-03-01 .. 2030-12-31) or "full" (from 2031)
    effective_from: dt.date
    effective_to: dt.date | None  # exclusive; None while no successor is known
    clause: str
    unverified: bool
    note: str

    @property
    def label(self) -> str:
        """E.g. "GB 3095-2012", "GB 3095-2026 (transition 2026–2030)"."""
        return _label(self.standard, self.version, self.stage)

    def to_json(self) -> dict[str, object]:
        """One entry of `citywatch limits`."""
        return {
            "pollutant": self.pollutant,
            "period": self.period,
            "grade": self.grade,
            "value": int(self.value) if self.value == self.value.to_integral_value() else float(self.value),
            "unit": self.unit,
            "standard": f"{self.standard}-{self.version}",
            "stage": self.stage or None,
            "effective_from": None if self.effective_from == dt.date.min else self.effective_from.isoformat(),
            "effective_to": None if self.effective_to is None else self.effective_to.isoformat(),  # exclusive
            "last_day": None if self.effective_to is None else (self.effective_to - dt.timedelta(days=1)).isoformat(),
            "source": self.clause,
            "note": self.note or None,
            "unverified": self.unverified,
        }


def _label(standard: str, version: str, stage: str) -> str:
    if stage == "transition":
        return f"{standard}-{version} (transition 2026–2030)"
    if stage == "full":
        return f"{standard}-{version} (full limits from 2031)"
    return f"{standard}-{version}"


def table_label(table: LimitTable) -> str:
    """How a limit table is cited, as `Limit.label` cites its limits."""
    return _label(table.source.standard, table.source.version, table.stage)


def limit_table(on: dt.date) -> LimitTable:
    """The GB 3095 limit table that applies on the local date `on`."""
    return select_version(GB3095_TABLES, on, what="GB 3095 limits")


def limits_in_force(on: dt.date, grades: tuple[str, ...] = GRADES) -> list[Limit]:
    """Every GB 3095 limit in force on the local date `on` for `grades`: pollutants in `UNITS` order, then periods
    in `PERIODS` order, then grade."""
    table = limit_table(on)
    return [
        gb3095_limit(pollutant=pollutant, period=period, grade=grade, on=on)
        for pollutant in UNITS
        for period in PERIODS
        for grade in grades
        if (pollutant, period, grade) in table.limits
    ]


def gb3095_limit(*, pollutant: str, period: str, grade: str = "II", on: dt.date) -> Limit:
    """The GB 3095 limit for `pollutant` ("pm25", "pm10", "so2", "no2", "co", "o3"), `period` ("annual", "24h",
    "1h", "8h" = O3 daily max 8 h) and `grade` ("I" or "II") on the local date `on`.

    Raises `KeyError` naming the unknown pollutant, period, grade or combination.
    """
    if pollutant not in UNITS:
        raise KeyError(f"unknown pollutant {pollutant!r}; expected one of {', '.join(UNITS)}")
    if period not in PERIODS:
        raise KeyError(f"unknown period {period!r}; expected one of {', '.join(PERIODS)}")
    if grade not in GRADES:
        raise KeyError(f"unknown grade {grade!r}; expected 'I' or 'II'")
    table = limit_table(on)
    entry = table.limits.get((pollutant, period, grade))
    if entry is None:
        periods = sorted({p for (pol, p, _) in table.limits if pol == pollutant})
        raise KeyError(f"GB 3095 sets no {period} limit for {pollutant}; its periods are {', '.join(periods)}")
    return Limit(
        pollutant=pollutant,
        period=period,
        grade=grade,
        value=entry.value,
        unit=UNITS[pollutant],
        standard=table.source.standard,
        version=table.source.version,
        stage=table.stage,
        effective_from=table.source.effective_from,
        effective_to=table.source.effective_to,
        clause=entry.clause,
        unverified=entry.unverified,
        note=entry.note,
    )
