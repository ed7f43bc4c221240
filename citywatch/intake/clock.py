"""Bounded clocks: when a record may say it was observed, judged against when it was received. Pure.

A publisher's clock can be wrong (a time zone slip, a dead RTC battery, a typo in a year), and an observation time
decides which buckets a record lands in and how far a site's event time moves: one record dated 2099 would make
every real reading after it "too late". So an observation may be at most `max_skew` later than its receipt (for a
date-only record: its local day may have begun, at most `max_skew` ahead of the receipt's local day) and no earlier
than the `earliest` local date (the history horizon). Both bounds come from settings (`CITYWATCH_MAX_CLOCK_SKEW_S`,
`CITYWATCH_EARLIEST_OBSERVATION`); the gateway answers 422 and the worker dead-letters with the reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from citywatch.schemas.dead_letter import FieldError


class Observed(Protocol):
    """A feed record: it names the fields that say when it was observed."""

    def observation_fields(self) -> tuple[tuple[str, dt.datetime | dt.date], ...]: ...


@dataclass(frozen=True)
class ClockBounds:
    max_skew: dt.timedelta
    earliest: dt.date
    zone: dt.tzinfo

    def problems(self, record: Observed, received_at: dt.datetime) -> list[FieldError]:
        """Every observation field of `record` outside the bounds, named with the reason and what to check."""
        try:
            latest = received_at + self.max_skew
            latest_day = latest.astimezone(self.zone).date()
        except OverflowError:  # a skew reaching past year 9999 bounds nothing
            latest, latest_day = dt.datetime.max.replace(tzinfo=dt.UTC), dt.date.max
        out: list[FieldError] = []
        for name, value in record.observation_fields():
            reason = (
                self._instant_problem(value, received_at, latest)
                if isinstance(value, dt.datetime)
                else self._day_problem(value, latest_day)
            )
            if reason is not None:
                out.append(FieldError(field=name, reason=reason))
        return out

    def _instant_problem(self, value: dt.datetime, received_at: dt.datetime, latest: dt.datetime) -> str | None:
        # Aware datetimes compare without conversion, so extreme years cannot overflow here.
        if value > latest:
            ahead = _span(value, received_at)
            return (
                f"{value.isoformat()} is {ahead} after the record was received ({received_at.isoformat()}); an "
                f"observation may be at most {_duration(self.max_skew)} ahead (clock skew): check the sender's clock, "
                "time zone and UTC offset"
            )
        try:
            day = value.astimezone(self.zone).date()
        except OverflowError:
            return f"{value.isoformat()} is outside the range of dates citywatch can represent"
        return self._day_problem(day, None, shown=value.isoformat())

    def _day_problem(self, day: dt.date, latest_day: dt.date | None, shown: str | None = None) -> str | None:
        if latest_day is not None and day > latest_day:
            return (
                f"{day.isoformat()} has not begun yet (today is {latest_day.isoformat()} in {self.zone}); a day's "
                "record is sent once its day has begun"
            )
        if day < self.earliest:
            return (
                f"{shown or day.isoformat()} is before {self.earliest.isoformat()}, the earliest observation this "
                "deployment takes (CITYWATCH_EARLIEST_OBSERVATION): check the year"
            )
        return None


def _span(later: dt.datetime, earlier: dt.datetime) -> str:
    try:
        return _duration(later - earlier)
    except OverflowError:
        return "thousands of years"


def _duration(span: dt.timedelta) -> str:
    """A span as people read it: "181 days", "4 h 12 min", "5 min", "30 s"."""
    seconds = int(span.total_seconds())
    if seconds >= 2 * 86400:
        return f"{seconds // 86400} days"
    if seconds >= 3600:
        hours, rest = divmod(seconds, 3600)
        return f"{hours} h {rest // 60} min" if rest >= 60 else f"{hours} h"
    if seconds >= 60:
        return f"{seconds // 60} min"
    return f"{seconds} s"
