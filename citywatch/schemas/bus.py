"""Bus ridership per route (and stop) per interval, and the transport department's daily mode share.

`BusRidership` follows FIWARE Smart Data Models `Transportation/CrowdFlowObserved` where it fits:

| here | CrowdFlowObserved | note |
|---|---|---|
| `route` | `refRoadSegment` / entity id | route id from the registry |
| `stop` | — | stop id, when the count is per stop |
| `interval_start`, `interval_end` | `dateObservedFrom`, `dateObservedTo` | end after start, at most one day |
| `boardings` | `peopleCount` (`peopleCountTowards`) | people who boarded in the interval |
| `alightings` | `peopleCountAway` | people who got off, when known |
| `vehicle`, `energy_type` | — | fleet id and drive (for the plan's 85 % clean-energy buses) |

`ModeShareRecord` carries the two counts the plan's 35 % public-transport trip share is computed from, for
one local day. FIWARE `KeyPerformanceIndicator` would hold the share itself (`kpiValue`,
`calculationPeriod`); the counts are kept so shares can be summed over weeks and years correctly.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar, Literal
from zoneinfo import ZoneInfo

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from citywatch.schemas.air import Day, Instant, SiteId, derive_event_id
from citywatch.schemas.feed_record import FeedRecord

SCHEMA_VERSION: Literal[1] = 1
MODE_SHARE_SCHEMA_VERSION: Literal[1] = 1

MAX_INTERVAL = dt.timedelta(days=1)

EnergyType = Literal["electric", "fuel_cell", "plug_in_hybrid", "hybrid", "natural_gas", "diesel"]
CLEAN_ENERGY: frozenset[str] = frozenset({"electric", "fuel_cell", "plug_in_hybrid", "natural_gas"})
"""Drives counted as 新能源和清洁能源 for the plan's 85 % clean-energy bus share (a non-plug-in hybrid is not)."""

ModeShareSource = Literal["travel_survey", "smart_card", "mobile_signalling", "model", "other"]

SHANGHAI = ZoneInfo("Asia/Shanghai")


class BusRidership(FeedRecord):
    """Boardings (and alightings) on one vehicle of one route, at one stop or the whole route, in one interval."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    site_field: ClassVar[str] = "route"
    time_field: ClassVar[str] = "interval_start"

    schema_version: Literal[1] = SCHEMA_VERSION
    route: SiteId = Field(description="Route id from the registry")
    stop: SiteId | None = Field(None, description="Stop id when the count is per stop; absent for the whole route")
    interval_start: Instant = Field(description="Start of the counting interval, ISO 8601 with a UTC offset")
    interval_end: Instant = Field(description="End of the counting interval; after the start, at most 1 day")
    boardings: int = Field(ge=0, le=100_000, description="People who boarded in the interval")
    alightings: int | None = Field(None, ge=0, le=100_000, description="People who got off, when known")
    vehicle: SiteId = Field(description="Vehicle id from the registry's fleet")
    energy_type: EnergyType = Field(description="The vehicle's drive")
    event_id: str = Field("", max_length=128, description="Publisher's id; derived from route, interval, stop, vehicle")
    revision: int = Field(0, ge=0, description="A correction re-sends the same count with a higher revision")

    @field_validator("interval_end")
    @classmethod
    def _after_start(cls, value: dt.datetime, info: ValidationInfo) -> dt.datetime:
        start = info.data.get("interval_start")
        if start is not None:
            if value <= start:
                raise PydanticCustomError(
                    "interval_order", "must be after interval_start ({start})", {"start": start.isoformat()}
                )
            if value - start > MAX_INTERVAL:
                raise PydanticCustomError("interval_length", "an interval is at most one day long", {})
        return value

    @model_validator(mode="after")
    def _derive_event_id(self) -> BusRidership:
        if not self.event_id:
            seconds = int((self.interval_end - self.interval_start).total_seconds())
            quantity = f"boardings|{self.stop or '*'}|{self.vehicle}|{seconds}"
            object.__setattr__(self, "event_id", derive_event_id(self.route, self.interval_start, quantity))
        return self

    def observation_fields(self) -> tuple[tuple[str, dt.datetime | dt.date], ...]:
        """The fields that say when the record was observed (checked against the receipt time): a count is
        complete only once its interval has ended."""
        return (("interval_start", self.interval_start), ("interval_end", self.interval_end))


class ModeShareRecord(FeedRecord):
    """One local day's public-transport trips and all trips in an area, as the transport department counts them."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    site_field: ClassVar[str] = "area"
    time_field: ClassVar[str] = "date"

    schema_version: Literal[1] = MODE_SHARE_SCHEMA_VERSION
    area: SiteId = Field(description="Area id from the registry (e.g. the district)")
    date: Day = Field(description="The local day the trips were made (YYYY-MM-DD)")
    all_trips: int = Field(gt=0, description="All trips made in the area that day, by every mode")
    public_transport_trips: int = Field(ge=0, description="Trips made by public transport; at most all_trips")
    source: ModeShareSource = Field(description="How the counts were obtained, e.g. travel_survey")
    event_id: str = Field("", max_length=128, description="Publisher's id; derived from area, date and source")
    revision: int = Field(0, ge=0, description="A correction re-sends the same day with a higher revision")

    @field_validator("public_transport_trips")
    @classmethod
    def _at_most_all(cls, value: int, info: ValidationInfo) -> int:
        total = info.data.get("all_trips")
        if total is not None and value > total:
            raise PydanticCustomError("share_over_one", "must not exceed all_trips ({total})", {"total": total})
        return value

    @model_validator(mode="after")
    def _derive_event_id(self) -> ModeShareRecord:
        if not self.event_id:
            object.__setattr__(
                self, "event_id", derive_event_id(self.area, day_instant(self.date), f"mode_share.{self.source}")
            )
        return self

    @property
    def share(self) -> float:
        """Public-transport trips ÷ all trips (0–1)."""
        return self.public_transport_trips / self.all_trips

    def event_time(self, zone: dt.tzinfo | None = None) -> dt.datetime:
        """Local midnight starting the day, in `zone` (the deployment's CITYWATCH_TIMEZONE; default Shanghai)."""
        return dt.datetime.combine(self.date, dt.time(0), zone or SHANGHAI)


def day_instant(day: dt.date) -> dt.datetime:
    """The fixed instant a daily record's derived event id uses (00:00 UTC), whatever the deployment's zone."""
    return dt.datetime.combine(day, dt.time(0), dt.UTC)
