"""Bounded clocks: an observation may not be later than its receipt + the skew, nor earlier than the horizon."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from citywatch.feeds import parse_record
from citywatch.intake import ClockBounds
from tests.feed_examples import VALID

ZONE = ZoneInfo("Asia/Shanghai")
BOUNDS = ClockBounds(dt.timedelta(minutes=5), dt.date(2013, 1, 1), ZONE)
NOW = dt.datetime(2026, 12, 5, 6, 0, tzinfo=dt.UTC)  # 14:00 in Shanghai
OFFSETS = st.integers(-14 * 60, 14 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))


def air(observed_at: str) -> object:
    return parse_record("air", {**VALID["air"], "observed_at": observed_at})


def fields(record: object, now: dt.datetime = NOW) -> dict[str, str]:
    return {e.field: e.reason for e in BOUNDS.problems(record, now)}  # type: ignore[arg-type]


def test_a_reading_within_the_skew_is_taken_and_one_beyond_it_is_refused_naming_the_field() -> None:
    assert fields(air("2026-12-05T14:04:59+08:00")) == {}
    problems = fields(air("2027-06-05T00:00:00+08:00"))
    assert "181 days after the record was received" in problems["observed_at"]
    assert "check the sender's clock" in problems["observed_at"]


def test_the_horizon_refuses_the_distant_past() -> None:
    assert fields(air("2013-01-01T01:00:00+08:00")) == {}
    assert "before 2013-01-01" in fields(air("2012-12-31T23:00:00+08:00"))["observed_at"]


def test_a_days_record_may_come_once_its_local_day_has_begun() -> None:
    today = {**VALID["mode_share"], "date": "2026-12-05"}
    tomorrow = {**VALID["mode_share"], "date": "2026-12-06"}
    assert fields(parse_record("mode_share", today)) == {}
    assert "has not begun yet" in fields(parse_record("mode_share", tomorrow))["date"]
    # 23:58 local on the 5th, the 6th begins within the skew: a clock running two minutes fast is no error
    assert fields(parse_record("mode_share", tomorrow), dt.datetime(2026, 12, 5, 15, 58, tzinfo=dt.UTC)) == {}


def test_a_bus_count_must_have_ended() -> None:
    count = {
        **VALID["bus"],
        "interval_start": "2026-12-05T13:45:00+08:00",
        "interval_end": "2026-12-05T14:30:00+08:00",
    }
    assert list(fields(parse_record("bus", count))) == ["interval_end"]


@settings(max_examples=300, deadline=None)
@given(
    moment=st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59), timezones=OFFSETS),
    skew_s=st.sampled_from([1.0, 300.0, 86400.0, 1e13]),
)
def test_any_time_at_all_is_judged_without_raising(moment: dt.datetime, skew_s: float) -> None:
    # Built past the schema (which takes only years 1000–9998): the clock must judge any time without raising.
    record = parse_record("air", VALID["air"]).model_copy(update={"observed_at": moment})
    bounds = ClockBounds(dt.timedelta(seconds=skew_s), dt.date(2013, 1, 1), ZONE)
    problems = bounds.problems(record, NOW)  # type: ignore[arg-type]
    try:
        latest = NOW + dt.timedelta(seconds=skew_s)
    except OverflowError:  # a skew past year 9999 bounds nothing
        latest = dt.datetime.max.replace(tzinfo=dt.UTC)
    earliest = dt.datetime(2013, 1, 1, tzinfo=ZONE)
    if earliest <= moment <= latest:
        assert problems == []
    else:
        assert [p.field for p in problems] == ["observed_at"]
