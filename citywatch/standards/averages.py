"""GB 3095 averages with their validity: daily (24 h) mean, 8 h mean, O3 daily maximum 8 h mean, annual mean.

An invalid statistic has `value` None; `partial` keeps the mean of whatever data there was (e.g. year to date).
The validity rules are picked by the local date (GB 3095-2012 Table 4; carried forward, unverified, from 2026-03-01).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from citywatch.standards.exact import Number, mean, to_concentration
from citywatch.standards.gb3095 import gb3095_limit
from citywatch.standards.reporting import at_precision
from citywatch.standards.tables.gb3095 import VALIDITY_TABLES, ValidityRules
from citywatch.standards.tables.hj633 import DEFAULT_CONCENTRATION_ROUNDING, ConcentrationRounding
from citywatch.standards.versions import select_version


@lru_cache(maxsize=4096)
def validity_rules(on: dt.date) -> ValidityRules:
    """The GB 3095 data-validity rules that apply on the local date `on`."""
    return select_version(VALIDITY_TABLES, on, what="GB 3095 data-validity rules")


@dataclass(frozen=True, slots=True)
class Average:
    value: Fraction | None  # None unless valid
    partial: Fraction | None  # mean of the values present, valid or not; None when there were none
    count: int  # values present
    required: int  # values needed
    clause: str
    unverified: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return self.value is not None


O3_EXCEEDANCE_CLAUSE = "HJ 663 §6.1.2: with fewer than 14 valid 8 h values a maximum above the limit still stands"


def _unverified(rules: ValidityRules, *fields: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(rules.unverified[f] for f in fields if f in rules.unverified))


def _present(values: Sequence[Number | None], name: str) -> list[Fraction]:
    present = []
    for i, v in enumerate(values):
        if v is None:
            continue
        # Fractions come in already checked (the hot path: every moving window); anything else is read and checked.
        present.append(v if type(v) is Fraction and v.numerator >= 0 else to_concentration(v, name=f"{name}[{i}]"))
    return present


def _average(present: list[Fraction], required: int, clause: str, unverified: tuple[str, ...]) -> Average:
    partial = mean(present) if present else None
    value = partial if len(present) >= required else None
    return Average(value, partial, len(present), required, clause, unverified)


@dataclass(frozen=True, slots=True)
class FixedSum:
    """A sum of `count` values as an integer over a common `scale`: the values are `total / scale` together. Sums
    of consecutive hours come from prefix sums in O(1) (`citywatch.indicators.window_sums`), exactly."""

    total: int
    scale: int
    count: int

    @property
    def mean(self) -> Fraction | None:
        return Fraction(self.total, self.scale * self.count) if self.count else None


def daily_mean_of_sum(hours: FixedSum, on: dt.date) -> Average:
    """`daily_mean` of hourly values given by their sum: the same Average, without reading the values again."""
    rules = validity_rules(on)
    return _average_of_sum(hours, rules.min_hours_daily, rules.source.clause, _unverified(rules, "min_hours_daily"))


def eight_hour_mean_of_sum(hours: FixedSum, on: dt.date) -> Average:
    """`eight_hour_mean` of 8 hourly values given by their sum."""
    rules = validity_rules(on)
    return _average_of_sum(hours, rules.min_hours_8h, rules.source.clause, _unverified(rules, "min_hours_8h"))


def _average_of_sum(hours: FixedSum, required: int, clause: str, unverified: tuple[str, ...]) -> Average:
    if hours.total < 0:
        raise ValueError(f"hourly: a sum of concentrations cannot be negative, got {hours.total}/{hours.scale}")
    partial = hours.mean
    value = partial if hours.count >= required else None
    return Average(value, partial, hours.count, required, clause, unverified)


def hourly_value_valid(sampling_minutes: int, on: dt.date) -> bool:
    """A 1 h value is valid with >= 45 minutes of sampling (GB 3095 Table 4)."""
    if sampling_minutes < 0 or sampling_minutes > 60:
        raise ValueError(f"sampling_minutes: expected 0 … 60, got {sampling_minutes}")
    return sampling_minutes >= validity_rules(on).min_minutes_hourly


def daily_mean(hourly: Sequence[Number | None], on: dt.date) -> Average:
    """24 h mean of up to 24 hourly values (None = missing); valid with >= 20 valid hours (GB 3095 Table 4)."""
    if len(hourly) > 24:
        raise ValueError(f"hourly: a day has at most 24 hourly values, got {len(hourly)}")
    rules = validity_rules(on)
    return _average(
        _present(hourly, "hourly"),
        rules.min_hours_daily,
        rules.source.clause,
        _unverified(rules, "min_hours_daily"),
    )


def eight_hour_mean(hourly: Sequence[Number | None], on: dt.date) -> Average:
    """O3 8 h (moving) mean of 8 hourly values (None = missing); valid with >= 6 valid hours."""
    if len(hourly) != 8:
        raise ValueError(f"hourly: an 8 h mean takes exactly 8 hourly values, got {len(hourly)}")
    rules = validity_rules(on)
    return _average(
        _present(hourly, "hourly"), rules.min_hours_8h, rules.source.clause, _unverified(rules, "min_hours_8h")
    )


@dataclass(frozen=True, slots=True)
class DailyMax8h:
    """O3 daily maximum 8 h mean: the highest valid 8 h mean of the windows ending 08:00 … 24:00."""

    value: Fraction | None  # None unless enough windows were valid, or fewer were and the highest exceeds the limit
    partial: Fraction | None  # highest valid window mean, however many windows were valid
    windows: Mapping[int, Average]  # window end hour (8 … 24) -> its 8 h mean
    valid_windows: int
    required: int
    clause: str
    unverified: tuple[str, ...]
    exceedance_despite_gaps: bool = False  # valid only because it exceeds the limit (HJ 663 §6.1.2)

    @property
    def valid(self) -> bool:
        return self.value is not None


def o3_daily_max_8h_unverified(on: dt.date) -> tuple[str, ...]:
    """Why the O3 daily max 8 h rules in force on `on` are not all confirmed (empty when they are)."""
    return _unverified(validity_rules(on), "min_hours_8h", "o3_window_end_hours", "min_8h_windows_daily")


def o3_daily_max_8h(
    hourly: Sequence[Number | None],
    on: dt.date,
    grade: str = "II",
    rounding: ConcentrationRounding = DEFAULT_CONCENTRATION_ROUNDING,
) -> DailyMax8h:
    """O3 daily max 8 h mean from the day's 24 hourly values; `hourly[i]` is the hour i:00–(i+1):00, None = missing.

    The window ending at hour e covers hourly[e − 8 : e]; it is valid with >= 6 values; the daily maximum needs >= 14
    valid windows, except that with fewer it still stands when it exceeds the `grade` O3 8 h limit in force on `on`
    (compared by the `rounding` rule): missing data never hides an exceedance (HJ 663 §6.1.2, standards.md §0b).
    """
    if len(hourly) != 24:
        raise ValueError(f"hourly: give all 24 hourly values of the day (None where missing), got {len(hourly)}")
    ends = validity_rules(on).o3_window_end_hours
    return _daily_max_of_windows({end: eight_hour_mean(hourly[end - 8 : end], on) for end in ends}, on, grade, rounding)


def o3_daily_max_8h_of_sums(
    window: Callable[[int], FixedSum],
    on: dt.date,
    grade: str = "II",
    rounding: ConcentrationRounding = DEFAULT_CONCENTRATION_ROUNDING,
) -> DailyMax8h:
    """`o3_daily_max_8h` with `window(e)` the sum of the 8 hourly values of the window ending at hour e (a station's
    prefix sums: each window in O(1) instead of averaging its values again)."""
    ends = validity_rules(on).o3_window_end_hours
    return _daily_max_of_windows({end: eight_hour_mean_of_sum(window(end), on) for end in ends}, on, grade, rounding)


def _daily_max_of_windows(
    windows: Mapping[int, Average], on: dt.date, grade: str, rounding: ConcentrationRounding
) -> DailyMax8h:
    rules = validity_rules(on)
    valid = [w.value for w in windows.values() if w.value is not None]
    partial = max(valid) if valid else None
    enough = len(valid) >= rules.min_8h_windows_daily
    limit = gb3095_limit(pollutant="o3", period="8h", grade=grade, on=on)
    exceeds = partial is not None and at_precision(partial, limit.unit, rounding) > Fraction(limit.value)
    return DailyMax8h(
        value=partial if enough or exceeds else None,
        partial=partial,
        windows=windows,
        valid_windows=len(valid),
        required=rules.min_8h_windows_daily,
        clause=rules.source.clause if enough or not exceeds else f"{rules.source.clause}; {O3_EXCEEDANCE_CLAUSE}",
        unverified=o3_daily_max_8h_unverified(on),
        exceedance_despite_gaps=exceeds and not enough,
    )


@dataclass(frozen=True, slots=True)
class AnnualMean:
    value: Fraction | None  # None unless valid
    partial: Fraction | None  # mean of the daily values present (year to date)
    count: int
    required: int
    days_per_month: Mapping[int, int]  # month -> valid daily values
    short_months: tuple[int, ...]  # months below their minimum
    clause: str
    unverified: tuple[str, ...]

    @property
    def valid(self) -> bool:
        return self.value is not None


def annual_mean(daily: Mapping[dt.date, Number | None], year: int, on: dt.date | None = None) -> AnnualMean:
    """Annual mean of a year's daily values (None = invalid day); valid with >= 324 values and >= 27 in every month
    (25 in February). The rules are those in force on `on`, by default the year's last day."""
    rules = validity_rules(on or dt.date(year, 12, 31))
    per_month = dict.fromkeys(range(1, 13), 0)
    present: list[Fraction] = []
    for day, value in sorted(daily.items()):
        if day.year != year:
            raise ValueError(f"daily: {day.isoformat()} is not in {year}")
        if value is not None:
            present.append(to_concentration(value, name=f"daily[{day.isoformat()}]"))
            per_month[day.month] += 1
    short = tuple(
        month
        for month, count in per_month.items()
        if count < (rules.min_days_february if month == 2 else rules.min_days_month)
    )
    partial = mean(present) if present else None
    enough = len(present) >= rules.min_days_annual and not short
    return AnnualMean(
        value=partial if enough else None,
        partial=partial,
        count=len(present),
        required=rules.min_days_annual,
        days_per_month=per_month,
        short_months=short,
        clause=rules.source.clause,
        unverified=_unverified(rules, "min_days_annual", "min_days_month", "min_days_february"),
    )
