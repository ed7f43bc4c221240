"""China's holiday calendar: the official schedule from chinesecalendar, the registry's days over it, and how far it
reaches."""

from __future__ import annotations

import datetime as dt

import chinese_calendar
import pytest
import yaml

from citywatch.holiday_calendar import (
    CalendarGapError,
    DayKind,
    HolidayCalendar,
    SpecialDay,
    official_calendar,
    year_ranges,
)
from citywatch.site_registry import registry_from_data
from tools.devstack.config import REPO_ROOT

SAMPLE = REPO_ROOT / "registry" / "wujiang-sample.yaml"


def days_of(year: int) -> list[dt.date]:
    first = dt.date(year, 1, 1)
    return [first + dt.timedelta(days=n) for n in range((dt.date(year + 1, 1, 1) - first).days)]


def package_knows(year: int) -> bool:
    try:
        chinese_calendar.is_workday(dt.date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


@pytest.mark.parametrize("year", [2026, 2027])
def test_every_day_of_2026_and_2027_agrees_with_chinesecalendar(year: int) -> None:
    """Day by day through the package's own functions; a year the package lacks is not known to us either (no
    weekday guess). Through the shipped registry too: it is what the worker's bus indicators ask."""
    calendar = official_calendar()
    # the sample registry without its own calendar entries: adding the State Council's 2027 notice to the shipped
    # file (the runbook's step) must not break this comparison with the package
    raw = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    registry = registry_from_data({**raw, "calendar": []})
    if not package_knows(year):
        assert not calendar.knows(year) and not registry.covers(dt.date(year, 1, 1))
        for day in days_of(year):
            with pytest.raises(CalendarGapError, match=f"no year {year}"):
                calendar.day(day)
            with pytest.raises(CalendarGapError):
                registry.day_type(day)
        return
    for day in days_of(year):
        ours = calendar.day(day)
        on_holiday, name = chinese_calendar.get_holiday_detail(day)
        assert ours.kind.is_workday is chinese_calendar.is_workday(day), day
        assert (ours.kind is DayKind.HOLIDAY) is (name is not None and on_holiday), day
        assert (ours.kind is DayKind.MAKEUP_WORKDAY) is (name is not None and not on_holiday), day
        assert (ours.special.name_en if ours.special else None) == name, day
        expected = {DayKind.HOLIDAY: "holiday", DayKind.WEEKEND: "weekend"}.get(ours.kind, "workday")
        assert registry.day_type(day) == expected, day


@pytest.mark.parametrize(
    ("day", "kind", "name"),
    [
        (dt.date(2026, 1, 3), DayKind.HOLIDAY, "New Year's Day"),  # a Saturday inside the holiday
        (dt.date(2026, 1, 4), DayKind.MAKEUP_WORKDAY, "New Year's Day"),  # a Sunday worked (调休上班)
        (dt.date(2026, 2, 14), DayKind.MAKEUP_WORKDAY, "Spring Festival"),
        (dt.date(2026, 2, 17), DayKind.HOLIDAY, "Spring Festival"),
        (dt.date(2026, 2, 28), DayKind.MAKEUP_WORKDAY, "Spring Festival"),
        (dt.date(2026, 10, 10), DayKind.MAKEUP_WORKDAY, "National Day"),
        (dt.date(2026, 10, 11), DayKind.WEEKEND, None),
        (dt.date(2026, 10, 12), DayKind.WORKDAY, None),
    ],
)
def test_2026_holidays_and_make_up_workdays(day: dt.date, kind: DayKind, name: str | None) -> None:
    found = official_calendar().day(day)
    assert found.kind is kind
    assert (found.special.name_en if found.special else None) == name
    assert found.holiday_name == (name if kind is DayKind.HOLIDAY else None)
    if found.special is not None:
        assert found.special.source.startswith("chinesecalendar ")


def test_the_2026_spring_festival_has_its_chinese_name() -> None:
    special = official_calendar().day(dt.date(2026, 2, 17)).special
    assert special is not None and special.name_zh == "春节"


LOCAL = "吴江区人民政府 (sample)"
NOTICE_2027 = "State Council notice for 2027 (sample dates for the test, not the real schedule)"
FAR = 2031  # a year no chinesecalendar release will have for a while (tests about a year the package lacks)


def holiday(name: str, source: str) -> SpecialDay:
    return SpecialDay(DayKind.HOLIDAY, name, name, source)


def workday(source: str) -> SpecialDay:
    return SpecialDay(DayKind.MAKEUP_WORKDAY, "make-up workday", "调休上班", source)


# A calendar of its own for the logic, so these tests hold whatever years a chinesecalendar release has.
BASE = HolidayCalendar({dt.date(2026, 1, 1): holiday("New Year's Day", "base")}, years=[2025, 2026])


def test_a_complete_year_from_the_registry_makes_2027_known() -> None:
    sample_2027 = {
        dt.date(2027, 1, 1): holiday("New Year's Day", NOTICE_2027),
        dt.date(2027, 2, 6): holiday("Spring Festival", NOTICE_2027),  # a Saturday
        dt.date(2027, 2, 20): workday(NOTICE_2027),  # a Saturday worked
    }
    assert not BASE.knows(2027)
    for base in (BASE, official_calendar()):
        calendar = base.added(sample_2027, complete_years=[2027])
        assert calendar.knows(2027)
        assert calendar.kind(dt.date(2027, 1, 1)) is DayKind.HOLIDAY
        assert calendar.kind(dt.date(2027, 2, 6)) is DayKind.HOLIDAY
        assert calendar.kind(dt.date(2027, 2, 20)) is DayKind.MAKEUP_WORKDAY
        assert calendar.day(dt.date(2027, 1, 1)).special == sample_2027[dt.date(2027, 1, 1)]
    calendar = BASE.added(sample_2027, complete_years=[2027])
    assert calendar.kind(dt.date(2027, 2, 21)) is DayKind.WEEKEND
    assert calendar.kind(dt.date(2027, 3, 1)) is DayKind.WORKDAY
    assert not BASE.knows(2027), "adding makes a new calendar"


def test_local_days_win_over_the_package_and_never_make_a_year_known() -> None:
    calendar = official_calendar().added(
        {
            dt.date(2026, 3, 9): holiday("District day", LOCAL),  # a Monday
            dt.date(2026, 2, 14): holiday("District day off", LOCAL),  # the package's make-up workday
            dt.date(2026, 3, 14): workday(LOCAL),  # a Saturday
            dt.date(FAR, 3, 10): holiday("District day", LOCAL),
        }
    )
    assert calendar.kind(dt.date(2026, 3, 9)) is DayKind.HOLIDAY
    assert calendar.day(dt.date(2026, 3, 9)).special == holiday("District day", LOCAL)
    assert calendar.kind(dt.date(2026, 2, 14)) is DayKind.HOLIDAY
    assert calendar.kind(dt.date(2026, 3, 14)) is DayKind.MAKEUP_WORKDAY
    assert calendar.kind(dt.date(2026, 2, 17)) is DayKind.HOLIDAY  # the package's days stay
    assert not calendar.knows(FAR)
    with pytest.raises(CalendarGapError, match=f"no year {FAR}"):
        calendar.day(dt.date(FAR, 3, 10))


def test_how_far_the_calendar_reaches() -> None:
    assert BASE.known_until(dt.date(2026, 12, 5)) == dt.date(2026, 12, 31)
    assert BASE.known_until(dt.date(2025, 3, 1)) == dt.date(2026, 12, 31)
    assert BASE.known_until(dt.date(2027, 1, 5)) == dt.date(2026, 12, 31), "already past: 2027 unknown"
    with_2027 = BASE.added({dt.date(2027, 1, 1): holiday("New Year's Day", NOTICE_2027)}, [2027])
    assert with_2027.known_until(dt.date(2026, 12, 5)) == dt.date(2027, 12, 31)
    only_2028 = BASE.added({dt.date(2028, 1, 1): holiday("New Year's Day", "x")}, [2028])
    assert only_2028.known_until(dt.date(2026, 12, 5)) == dt.date(2026, 12, 31), "2027 is still a gap"
    assert only_2028.years == (2025, 2026, 2028)


def test_the_package_alone_reaches_to_the_end_of_its_last_year() -> None:
    last = max(chinese_calendar.holidays).year  # 2026 in chinesecalendar 1.11.0
    assert official_calendar().years == tuple(range(2004, last + 1))
    assert official_calendar().known_until(dt.date(last, 12, 5)) == dt.date(last, 12, 31)


def test_the_gap_error_says_what_is_known_and_what_to_do() -> None:
    with pytest.raises(CalendarGapError) as info:
        official_calendar().day(dt.date(FAR, 1, 1))
    message = str(info.value)
    assert f"no year {FAR} (knows 2004–{max(chinese_calendar.holidays).year})" in message
    assert "registry" in message and "upgrade chinesecalendar" in message
    assert isinstance(info.value, LookupError)
    assert year_ranges([2028, 2004, 2005, 2006, 2030, 2029]) == "2004–2006, 2028–2030"
    assert year_ranges([]) == ""


def test_a_special_day_is_a_holiday_or_a_make_up_workday() -> None:
    with pytest.raises(ValueError, match="not weekend"):
        SpecialDay(DayKind.WEEKEND, "x", "x", "x")
