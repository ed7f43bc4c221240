"""China's public holidays and make-up workdays (调休上班), day by day. Pure: no I/O.

The official schedule (the State Council's yearly notice) comes from the maintained `chinesecalendar` package
(`official_calendar()`); a registry adds dated days over it (`HolidayCalendar.added`): local holidays, corrections,
or a year's whole schedule the package does not have yet. A day of a year known to neither has no answer
(`CalendarGapError`), never a guess by weekday: a guess would put Spring Festival into ordinary bus baselines. How far
the calendar reaches (`known_until`) is what the worker exports, so the pipeline alerts weeks before it runs out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

import chinese_calendar
from chinese_calendar import constants as package_tables

from citywatch.runs import consecutive_runs


class DayKind(StrEnum):
    WORKDAY = "workday"  # Monday to Friday, not a holiday
    WEEKEND = "weekend"  # Saturday or Sunday, not a holiday and not worked
    HOLIDAY = "holiday"  # a public-holiday day off, weekend days inside the holiday period included
    MAKEUP_WORKDAY = "makeup_workday"  # 调休上班: a weekend day worked in exchange for a holiday

    @property
    def is_workday(self) -> bool:
        return self in (DayKind.WORKDAY, DayKind.MAKEUP_WORKDAY)


@dataclass(frozen=True)
class SpecialDay:
    """A day that is not what its weekday says: a holiday, or a make-up workday (named after its holiday)."""

    kind: DayKind
    name_en: str
    name_zh: str
    source: str  # where the date comes from: the package and its version, or a registry entry's source line

    def __post_init__(self) -> None:
        if self.kind not in (DayKind.HOLIDAY, DayKind.MAKEUP_WORKDAY):
            raise ValueError(f"a special day is a holiday or a make-up workday, not {self.kind}")


@dataclass(frozen=True)
class CalendarDay:
    day: dt.date
    kind: DayKind
    special: SpecialDay | None = None  # the holiday or make-up workday entry, None for an ordinary day

    @property
    def holiday_name(self) -> str | None:
        """The holiday's English name on a holiday day off; None on any other day."""
        return self.special.name_en if self.special is not None and self.kind is DayKind.HOLIDAY else None


class CalendarGapError(LookupError):
    """A day of a year the holiday calendar does not know."""

    def __init__(self, day: dt.date, years: Iterable[int]) -> None:
        known = year_ranges(years) or "none"
        super().__init__(
            f"the holiday calendar has no year {day.year} (knows {known}): add the State Council's {day.year} "
            f"schedule to the registry (calendar, year {day.year}, complete: true) or upgrade chinesecalendar"
        )
        self.day = day


def year_ranges(years: Iterable[int]) -> str:
    """2004–2026, 2028: runs of consecutive years."""
    runs = consecutive_runs(years, lambda year: year + 1)
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in runs)


class HolidayCalendar:
    """Holidays and make-up workdays of the known years; every other day of a known year is what its weekday says."""

    def __init__(self, special: Mapping[dt.date, SpecialDay], years: Iterable[int]) -> None:
        self._special = dict(special)
        self._years = frozenset(years)

    def added(self, special: Mapping[dt.date, SpecialDay], complete_years: Iterable[int] = ()) -> HolidayCalendar:
        """This calendar with `special` days over it (they win on the same date). `complete_years` are years whose
        whole schedule is among them: they become known. Days of other unknown years are kept but answer nothing
        until their year is known, so one local holiday never makes a year look known."""
        return HolidayCalendar({**self._special, **special}, self._years | frozenset(complete_years))

    @property
    def years(self) -> tuple[int, ...]:
        return tuple(sorted(self._years))

    def knows(self, year: int) -> bool:
        return year in self._years

    def day(self, day: dt.date) -> CalendarDay:
        """What the day is; CalendarGapError for a year the calendar does not know."""
        if day.year not in self._years:
            raise CalendarGapError(day, self._years)
        special = self._special.get(day)
        if special is not None:
            return CalendarDay(day, special.kind, special)
        return CalendarDay(day, DayKind.WORKDAY if day.weekday() < 5 else DayKind.WEEKEND)

    def kind(self, day: dt.date) -> DayKind:
        return self.day(day).kind

    def known_until(self, on: dt.date) -> dt.date:
        """The last day of the unbroken run of known years from `on`'s year: 31 December of the year before the
        first unknown year at or after it (so a day already in the past when `on`'s own year is unknown)."""
        year = on.year
        while year in self._years:
            year += 1
        return dt.date(year - 1, 12, 31)


PACKAGE_SOURCE = f"chinesecalendar {chinese_calendar.__version__} (State Council notices)"


@cache
def official_calendar() -> HolidayCalendar:
    """The State Council's schedule as `chinesecalendar` keeps it; it knows the years from its first to its last
    holiday, as the package itself answers."""
    holidays: Mapping[dt.date, str] = package_tables.holidays
    workdays: Mapping[dt.date, str] = package_tables.workdays
    chinese = {h.value: str(h.chinese) for h in package_tables.Holiday}

    def entry(kind: DayKind, name: str) -> SpecialDay:
        return SpecialDay(kind, name, chinese.get(name, name), PACKAGE_SOURCE)

    special = {day: entry(DayKind.HOLIDAY, name) for day, name in holidays.items()}
    # The package lists only weekend days as workdays; a weekday there would be ordinary anyway.
    special |= {day: entry(DayKind.MAKEUP_WORKDAY, name) for day, name in workdays.items() if day.weekday() >= 5}
    first, last = min(holidays).year, max(holidays).year
    return HolidayCalendar(special, range(first, last + 1))
