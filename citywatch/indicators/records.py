"""What processors return: the new state, the outcome, indicator records and second-stage contributions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from citywatch.indicators.catalogue import Indicator
from citywatch.indicators.eventtime import Outcome
from citywatch.schemas.indicator import IndicatorRecord

S = TypeVar("S")

ContributionValue = str | int | None


class Contribution(BaseModel):
    """One site's current figures for one bucket, sent to the district stage (a topic keyed by `district`).

    `values` holds exact numbers as strings of fractions ("123/4"), counts as ints, None for "no valid value".
    The district stage keeps the highest `revision` per (site, bucket): a replayed contribution is a duplicate.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    stage: str = Field(description="Which district processor takes it: air.city, water.district, bus.fleet, waste")
    district: str = Field(description="The district id (the second stage's key)")
    site: str
    bucket: str = Field(description="The event-time bucket: a local day YYYY-MM-DD, a month YYYY-MM, a quarter YYYYQn")
    values: dict[str, ContributionValue]
    revision: int = Field(ge=0)
    historical: bool = Field(
        False, description="From a site's history lane (a backfill): the district's records it changes page nobody"
    )


@dataclass(frozen=True, slots=True)
class Result(Generic[S]):
    """A processor's answer: publish `records` (indicators topic) and `contributions` (district stage), then store
    `state`. When `outcome.dead_letter`, send the input to the dead-letter topic with `outcome.reason`."""

    state: S
    outcome: Outcome
    records: tuple[IndicatorRecord, ...] = ()
    contributions: tuple[Contribution, ...] = ()


def record(
    indicator: Indicator,
    *,
    site: str,
    value: float,
    observed_at: dt.datetime,
    local_date: dt.date,
    samples: int,
    revision: int,
    period: str | None,
    status: str | None = None,
    standard: str | None = None,
    labels: dict[str, str] | None = None,
    unverified: bool = False,
) -> IndicatorRecord:
    """An indicator record with the unit and window of its catalogue entry."""
    return IndicatorRecord(
        period_start=period_start(indicator.window, period, observed_at),
        period_end=observed_at,
        indicator=indicator.id,
        site=site,
        value=value,
        unit=indicator.unit,
        window=indicator.window,
        observed_at=observed_at,
        local_date=local_date,
        samples=samples,
        revision=revision,
        period=period,
        status=status,
        standard=standard,
        labels=labels or {},
        unverified=unverified,
    )


WINDOW_SPANS: dict[str, dt.timedelta] = {
    "1h": dt.timedelta(hours=1),
    "8h": dt.timedelta(hours=8),
    "24h": dt.timedelta(hours=24),
    "sample": dt.timedelta(0),
    "fleet": dt.timedelta(0),
}
"""Windows of a fixed length ending at observed_at (a sample and the fleet are instants)."""


def period_start(window: str, period: str | None, observed_at: dt.datetime) -> dt.datetime:
    """The first instant a value covers, from its window and its bucket (`period`), in observed_at's zone. Every
    catalogue window has a rule here (tested): a calendar bucket starts at its local midnight, a bus interval at
    the start its bucket names."""
    if window in WINDOW_SPANS:
        return observed_at - WINDOW_SPANS[window]
    zone = observed_at.tzinfo
    if window == "interval" and period is not None:
        return dt.datetime.fromisoformat(period).astimezone(zone)
    if period is None:
        raise ValueError(f"a {window} value needs its period to tell where it starts")
    if window == "day":
        first = dt.date.fromisoformat(period)
    elif window == "month":
        first = dt.date(int(period[:4]), int(period[5:7]), 1)
    elif window == "quarter":
        first = dt.date(int(period[:4]), 3 * int(period[5]) - 2, 1)
    elif window in ("ytd", "year"):
        first = dt.date(int(period[:4]), 1, 1)
    else:
        raise ValueError(f"no rule for where a {window} window starts; add one to period_start")
    return dt.datetime.combine(first, dt.time(0), zone)


def day_end(day: dt.date, zone: dt.tzinfo) -> dt.datetime:
    """Local midnight ending `day` (the event time of a daily value)."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), zone)


def day_start_epoch(day: dt.date, zone: dt.tzinfo) -> float:
    return dt.datetime.combine(day, dt.time(0), zone).timestamp()


def last_outputs(records: list[IndicatorRecord] | tuple[IndicatorRecord, ...]) -> dict[str, IndicatorRecord]:
    """The current value of every bucket: the last record per `bucket_key` (what a compacted topic would keep)."""
    out: dict[str, IndicatorRecord] = {}
    for r in records:
        out[r.bucket_key] = r
    return out
