"""Surface-water samples at assessment sections: automatic stations every 4 h, manual samples monthly. Pure.

- Automatic stations (here: the national sections, 国考) report the 9 basic indicators (水温, pH, 溶解氧, 电导率,
  浊度, 高锰酸盐指数, 氨氮, 总磷, 总氮) at local 00, 04, … 20 h.
- Every section is sampled by hand once a month (a working morning between the 3rd and the 12th), analysed in a
  laboratory and reported 3–8 days later: the records arrive days after their `sampled_at`.

Values are drawn relative to the GB 3838-2002 limits of the section's target class, so a section meets its target
unless an incident degrades it (`degrade` classes worse: NH3-N and TP above, DO below the target's limits).
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Any

from citywatch.schemas.water import STANDARD_NAMES
from citywatch.standards.tables.gb3838 import INDICATORS
from services.simulator.air import rng

CLASSES = ("I", "II", "III", "IV", "V")


AUTOMATIC_INDICATORS = ("temperature", "pH", "O2", "conductivity", "turbidity", "CODMn", "NH3N", "TP", "TN")
"""The 9 basic indicators of an automatic station."""

ORGANIC = ("CODMn", "COD", "BOD5", "NH3N", "TP")
"""Classed indicators that load with the section's pollution (drawn against the target class's limit)."""

TRACE: tuple[str, ...] = (
    *("Cu", "Zn", "fluoride", "Se", "As", "Hg", "Cd", "Cr6", "Pb"),
    *("cyanide", "volatile_phenol", "petroleum", "LAS", "sulfide"),
)
"""Classed indicators found at a small fraction of the class I limit."""

AUTOMATIC_HOURS = (0, 4, 8, 12, 16, 20)

UNITS: dict[str, tuple[str, str]] = {
    "temperature": ("temperature_unit", "°C"),
    "conductivity": ("conductivity_unit", "µS/cm"),
    "turbidity": ("turbidity_unit", "NTU"),
    "fecal_coliform": ("fecal_coliform_unit", "count/L"),
    "Chla": ("Chla_unit", "µg/L"),
    "transparency": ("transparency_unit", "m"),
}


@dataclass(frozen=True)
class Section:
    """What the generator needs of a registry section."""

    id: str
    kind: str  # river | lake
    target_class: str  # I … V
    automatic: bool


def limit(field: str, water_class: int, kind: str) -> float:
    """The GB 3838 limit of an indicator for a class (1–5); for DO the minimum, for pH the (shared) maximum."""
    spec = INDICATORS[STANDARD_NAMES[field]]
    limits = spec.limits_for(kind)
    return float(limits[min(water_class, len(limits)) - 1])


def is_automatic_time(at: datetime, zone: tzinfo) -> bool:
    local = at.astimezone(zone)
    return local.hour in AUTOMATIC_HOURS and local.minute == 0 and local.second == 0 and local.microsecond == 0


def _season(day: date) -> float:
    """-1 in mid-January … +1 in mid-July."""
    return -math.cos(2 * math.pi * (day.timetuple().tm_yday - 15) / 365.25)


def _between(low: float, high: float, position: float) -> float:
    return low + (high - low) * position


def sample(
    seed: int,
    section: Section,
    sampled_at: datetime,
    zone: tzinfo,
    method: str,
    degrade: int = 0,
) -> dict[str, Any]:
    """One sample (JSON-ready): the 9 basic indicators (automatic) or the full Table 1 set (manual)."""
    local = sampled_at.astimezone(zone)
    target = CLASSES.index(section.target_class) + 1
    kind = section.kind
    season = _season(local.date())
    typical = rng(seed, section.id, "typical")  # the section's own level, stable over time
    r = rng(seed, section.id, int(sampled_at.timestamp()), method)
    values: dict[str, float] = {}

    temperature = 17.5 + 11.5 * season + 1.5 * math.sin(2 * math.pi * (local.hour - 9) / 24) + r.gauss(0, 0.6)
    values["temperature"] = round(min(35.0, max(1.0, temperature)), 1)
    values["pH"] = round(min(8.6, max(6.6, typical.uniform(7.2, 8.0) + r.gauss(0, 0.12))), 2)
    saturation = 14.6 - 0.39 * temperature + 0.007 * temperature**2
    do_min = limit("O2", target, kind) * 1.05
    values["O2"] = round(max(do_min, saturation * typical.uniform(0.72, 0.9) * r.lognormvariate(0, 0.04)), 2)
    for name in ORGANIC:
        level = typical.uniform(0.45, 0.78)
        # nutrients run higher in summer (runoff, algae) and ammonia in winter (slow nitrification)
        swing = {"NH3N": -0.18, "TP": 0.15}.get(name, 0.06) * season
        cap = limit(name, target, kind) * 0.95
        values[name] = min(cap, limit(name, target, kind) * level * (1 + swing) * r.lognormvariate(0, 0.1))
    values["TN"] = (1.2 if kind == "lake" else 2.0) * typical.uniform(0.8, 1.3) * r.lognormvariate(0, 0.1)
    values["conductivity"] = round(typical.uniform(420, 680) * r.lognormvariate(0, 0.05), 0)
    values["turbidity"] = round(
        (35 if kind == "lake" else 22) * typical.uniform(0.6, 1.4) * r.lognormvariate(0, 0.2), 1
    )

    if degrade:
        worse = target + degrade
        for name in ("NH3N", "TP"):  # into the band of the worse class: above the limit of the class before it
            if worse > 5:  # 劣V
                values[name] = limit(name, 5, kind) * r.uniform(1.2, 1.6)
            else:
                low, high = limit(name, worse - 1, kind), limit(name, worse, kind)
                values[name] = _between(low, high, r.uniform(0.3, 0.9))
        if worse > 5:
            values["O2"] = limit("O2", 5, kind) * r.uniform(0.5, 0.8)
        else:
            values["O2"] = _between(limit("O2", worse, kind), limit("O2", worse - 1, kind), r.uniform(0.2, 0.7))

    fields: tuple[str, ...] = AUTOMATIC_INDICATORS
    if method == "manual":
        for name in TRACE:
            values[name] = limit(name, 1, kind) * typical.uniform(0.08, 0.45) * r.lognormvariate(0, 0.15)
        values["fecal_coliform"] = round(typical.uniform(800, 4000) * r.lognormvariate(0, 0.4), 0)
        extra: tuple[str, ...] = ("COD", "BOD5", *TRACE, "fecal_coliform")
        if kind == "lake":
            values["Chla"] = round(typical.uniform(6, 22) * (1.3 + 0.7 * season) * r.lognormvariate(0, 0.2), 1)
            values["transparency"] = round(typical.uniform(0.35, 0.8) * r.lognormvariate(0, 0.1), 2)
            extra = (*extra, "Chla", "transparency")
        fields = (*AUTOMATIC_INDICATORS, *extra)

    record: dict[str, Any] = {
        "section": section.id,
        "sampled_at": local.isoformat(),
        "kind": kind,
        "method": method,
    }
    for name in fields:
        value = values[name]
        record[name] = value if name in UNITS or name == "pH" else _mgl(value)
        if name in UNITS:
            unit_field, unit = UNITS[name]
            record[unit_field] = unit
    record["unit"] = "mg/L"
    return record


def _mgl(value: float) -> float:
    """Round to 3 significant digits, as a laboratory reports (trace metals keep their small values)."""
    if value <= 0:
        return 0.0
    digits = 2 - math.floor(math.log10(value))
    return round(value, max(digits, 0))


@lru_cache(maxsize=1024)
def manual_sample(seed: int, section: Section, year: int, month: int, zone: tzinfo) -> tuple[datetime, datetime]:
    """When the month's manual sample is taken and when its laboratory result is reported (3–8 days later)."""
    r = rng(seed, section.id, "manual", year, month)
    last = calendar.monthrange(year, month)[1]
    day = date(year, month, min(last, r.randint(3, 12)))
    while day.weekday() >= 5:
        day += timedelta(days=1)
    taken = datetime.combine(day, time(r.randint(9, 11), r.choice((0, 15, 30, 45))), zone)
    reported = datetime.combine(day + timedelta(days=r.randint(3, 8)), time(r.randint(9, 16), 0), zone)
    return taken, reported


def months_before(day: date, count: int) -> list[tuple[int, int]]:
    """(year, month) of the month of `day` and the `count` months before it, oldest first."""
    out = []
    year, month = day.year, day.month
    for _ in range(count + 1):
        out.append((year, month))
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return out[::-1]


def section_class_values(record: dict[str, Any]) -> dict[str, float]:
    """A sample's indicators under the names `classify_section` takes (for checks and tests)."""
    out: dict[str, float] = {}
    for name, table_id in STANDARD_NAMES.items():
        value = record.get(name)
        if isinstance(value, int | float):
            out[table_id] = float(value)
    return out
