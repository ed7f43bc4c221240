"""Indicator records on the indicators topic: the JSON schema of `<prefix>.indicators`.

One record is one computed value of one catalogued indicator (`citywatch.indicators.catalogue`) for one site (a
station, section, route, plant, area, or a district for second-stage indicators) and one event-time bucket.

| field | type | meaning |
|---|---|---|
| `indicator` | str | catalogue id, e.g. "air.pm25.daily_mean" |
| `site` | str | registry site id, or the district id for district indicators |
| `value` | float | the value, in `unit` (a class is 1–6 = I … 劣V; a ratio is 0–1; AQI an integer) |
| `unit` | str | "µg/m³", "mg/m³", "AQI", "class", "ratio", "count", "t", "t/day" … (from the catalogue) |
| `window` | str | "1h", "8h", "24h", "day", "month", "quarter", "ytd", "interval" … |
| `observed_at` | ISO 8601 with offset | the event time the value refers to: end of its window or period |
| `local_date` | YYYY-MM-DD | hourly values: the local day of `observed_at`; period values: the period's last day with data — standards pick their table by it |
| `samples` | int | how many inputs the value is built from (hours, days, samples, records) |
| `revision` | int | grows whenever the value of this bucket is revised (late data, corrections); the highest wins |
| `period` | str or null | the bucket: "2025-03-14T08" (hour starting), "2025-03-14", "2025-03", "2025Q1", "2025" |
| `status` | str or null | "valid" / "insufficient-data" (GB 3095 validity), "provisional" (year to date), "on-track" / "at-risk" / "off-track" (attainment), "met" / "not-met" (target compliance) |
| `standard` | str or null | the standard version in force for the bucket, e.g. "GB 3095-2012", "HJ 633-2026", "GB 3838-2002", or a plan target id |
| `labels` | object of str | extra facts: category, primary pollutants, main pollutants, class label, target, baseline … |
| `unverified` | bool | the value rests on a table entry the standards core marks unverified |
| `period_start`, `period_end` | ISO 8601 with offset | the time the value covers, [start, end): an hourly value stamped 09:00 covers 08:00–09:00, whichever convention its readings came in |

A bucket is identified by `bucket_key`. Fields after `revision` were added for issue 5 (and
`period_start`/`period_end` for issue 15); older records (without them) still validate.

## Messages on the topic

Since 2026-12-06 each message is an **indicator update** (`IndicatorUpdate`, version 1): every bucket one processed
batch changed at one site, `{"kind": "indicator-update", "version": 1, "site": …, "records": [record, …]}`, keyed by
the site id. A batch that changed more than `RECORDS_PER_UPDATE` buckets is split over several updates, in order
(Kafka's default message limit is 1 MB). Earlier messages are single records keyed `indicator|site`; the topic is
kept forever, so readers take both: `records_in` (validated) and `record_dicts_in` (plain JSON) do.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, tzinfo
from typing import Any, Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from citywatch.schemas.envelope import head_of, in_parts

INSUFFICIENT_DATA = "insufficient-data"
"""The `status` of a statistic with fewer valid inputs than its standard requires (GB 3095 Table 4, GB 3838 time
aggregation). Its value is the mean of the inputs present, shown on dashboards, but no rule judges it."""


class IndicatorRecord(BaseModel):
    """One computed value of one indicator for one site at one event time."""

    model_config = ConfigDict(frozen=True)

    indicator: str  # id from the indicator catalogue, e.g. "air.pm25.mean_24h"
    site: str
    value: float
    unit: str
    window: str  # "1h", "24h", ...
    observed_at: AwareDatetime  # event time the value refers to (end of window)
    local_date: date  # the deployment-local day the value is for: standards pick their table by it
    samples: int
    revision: int = 0
    period: str | None = Field(None, description="The event-time bucket: hour, day, month, quarter or year")
    status: str | None = Field(None, description="valid, insufficient-data, provisional, on-track, met, ...")
    standard: str | None = Field(None, description="Standard version (or plan target id) the value is judged by")
    labels: dict[str, str] = Field(default_factory=dict, description="Extra facts about the value")
    unverified: bool = Field(False, description="Rests on a value the standards core marks unverified")
    period_start: AwareDatetime | None = Field(
        None, description="Start of the time the value covers (a window's, a day's, a year's first instant)"
    )
    period_end: AwareDatetime | None = Field(
        None, description="End of the time the value covers: observed_at (for a year to date, its last day's end)"
    )

    @property
    def bucket_key(self) -> str:
        """Identifies the bucket: the latest revision of each bucket key is the indicator's current value."""
        return f"{self.indicator}|{self.site}|{self.period or self.observed_at.isoformat()}"


def local_date_of(instant: datetime, zone: tzinfo) -> date:
    """The deployment-local calendar day of an instant (a standards 'day' is a local day)."""
    return instant.astimezone(zone).date()


UPDATE_KIND: Literal["indicator-update"] = "indicator-update"
UPDATE_VERSION: Literal[1] = 1
RECORDS_PER_UPDATE = 500
"""At most this many records per update: about 250 KB of JSON, well within Kafka's 1 MB default message limit."""


class IndicatorUpdate(BaseModel):
    """One message of the indicators topic: the buckets one processed batch changed at one site, in order."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["indicator-update"] = UPDATE_KIND
    version: Literal[1] = UPDATE_VERSION
    site: str
    records: list[IndicatorRecord]


_RECORDS = TypeAdapter(list[IndicatorRecord])


def encode_updates(site: str, records: Sequence[IndicatorRecord]) -> list[bytes]:
    """The messages carrying `records` of `site`: one update, or several, in order, each of at most
    `RECORDS_PER_UPDATE` records and within Kafka's message limit (`citywatch.schemas.envelope`)."""
    head = head_of({"kind": UPDATE_KIND, "version": UPDATE_VERSION, "site": site})
    return in_parts(head, _RECORDS, records, RECORDS_PER_UPDATE)


def record_dicts_in(value: bytes | str) -> list[dict[str, Any]]:
    """The indicator records in one message of the topic as plain JSON: an update's, or the single record of an
    older message. Raises ValueError on text that is no JSON object."""
    data = orjson.loads(value)
    if not isinstance(data, dict):
        raise ValueError(f"an indicators message is a JSON object, not {type(data).__name__}")
    if data.get("kind") == UPDATE_KIND:
        records = data.get("records")
        if not isinstance(records, list):
            raise ValueError("an indicator update carries its records in a list")
        return records
    return [data]


def records_in(value: bytes | str) -> list[IndicatorRecord]:
    """The validated indicator records in one message of the topic (see `record_dicts_in`); raises pydantic's
    ValidationError for a record that is not one."""
    data = orjson.loads(value)
    if isinstance(data, dict) and data.get("kind") == UPDATE_KIND:
        return IndicatorUpdate.model_validate(data).records
    return [IndicatorRecord.model_validate(data)]
