"""Waste-plant tonnage: per delivery (weighbridge) or per day, by waste kind.

FIWARE `WasteManagement/WasteContainer` describes containers, not plants: only `storedWasteKind` carries over
(as `waste_kind`); `cargoWeight` is in kg per container. Plant aggregates are FIWARE
`KeyPerformanceIndicator` territory downstream (utilisation, treatment rate). So the names here are ours:

| here | nearest FIWARE | note |
|---|---|---|
| `plant` | `refWasteDisposalSite` / entity id | plant id from the registry |
| `period`, `delivered_at`, `date` | `dateObserved` / `calculationPeriod` | one delivery, or one local day |
| `waste_kind` | `storedWasteKind` | household, hazardous, or a sorted fraction (GB/T 19095-2019) |
| `received_tonnes`, `incinerated_tonnes` | `cargoWeight` (kg there) | tonnes; the unit is in the name |
| `sorted_collected_tonnes`, `sorted_treated_tonnes` | `kpiValue` inputs | the plan's > 99 % centralised-treatment rate |

Tonnes are the unit; a weighbridge's kilograms sent as tonnes exceed the plausibility bound (100 t for one
delivery, 20,000 t for a plant-day) and are refused with the field named.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar, Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from citywatch.schemas.air import Day, Instant, SiteId, derive_event_id
from citywatch.schemas.bus import SHANGHAI, day_instant
from citywatch.schemas.feed_record import FeedRecord

SCHEMA_VERSION: Literal[1] = 1

WasteKind = Literal["household", "hazardous", "food", "recyclable", "household_hazardous", "residual"]
"""household = mixed household waste (生活垃圾); hazardous = industrial hazardous waste (危险废物);
sorted fractions (GB/T 19095-2019): food (厨余垃圾), recyclable (可回收物), household_hazardous (有害垃圾),
residual (其他垃圾)."""

SORTED_FRACTIONS: frozenset[str] = frozenset({"food", "recyclable", "household_hazardous", "residual"})

MAX_TONNES: dict[str, float] = {"delivery": 100.0, "day": 20_000.0}
"""Plausibility bound per record by period: a truck carries under 100 t; no plant takes 20,000 t a day."""

TONNAGES: tuple[str, ...] = (
    "received_tonnes",
    "incinerated_tonnes",
    "sorted_collected_tonnes",
    "sorted_treated_tonnes",
)


def _tonnes(description: str) -> float | None:
    return Field(None, ge=0, allow_inf_nan=False, description=f"{description}, tonnes")


class WasteRecord(FeedRecord):
    """Tonnes of one waste kind at one plant, for one delivery or one local day."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    site_field: ClassVar[str] = "plant"
    time_field: ClassVar[str] = "delivered_at | date"  # either, as `event_time` says

    schema_version: Literal[1] = SCHEMA_VERSION
    plant: SiteId = Field(description="Plant id from the registry")
    period: Literal["delivery", "day"] = Field(description="One weighbridge delivery, or a plant's daily total")
    delivered_at: Instant | None = Field(
        None, validate_default=True, description="Weighbridge time (period=delivery only), with a UTC offset"
    )
    date: Day | None = Field(None, validate_default=True, description="The local day (period=day only)")
    ticket: SiteId | None = Field(None, description="Weighbridge ticket id, when the delivery has one")
    waste_kind: WasteKind = Field(description="household, hazardous, or a sorted fraction")
    received_tonnes: float | None = _tonnes("Waste received (weighed in)")
    incinerated_tonnes: float | None = _tonnes("Waste incinerated")
    sorted_collected_tonnes: float | None = _tonnes("Sorted waste collected")
    sorted_treated_tonnes: float | None = _tonnes("Sorted waste centrally treated")
    event_id: str = Field(
        "", max_length=128, description="Publisher's id; derived from plant, time, period, kind, ticket"
    )
    revision: int = Field(0, ge=0, description="A correction re-sends the same record with a higher revision")

    @field_validator("delivered_at", "date")
    @classmethod
    def _matches_period(cls, value: object, info: ValidationInfo) -> object:
        period = info.data.get("period")
        wanted = {"delivery": "delivered_at", "day": "date"}.get(str(period))
        if wanted is None:
            return value  # period itself is invalid and reported
        if info.field_name == wanted and value is None:
            raise PydanticCustomError("missing", "required when period is {period}", {"period": period})
        if info.field_name != wanted and value is not None:
            raise PydanticCustomError("period_mismatch", "not allowed when period is {period}", {"period": period})
        return value

    @field_validator(*TONNAGES)
    @classmethod
    def _plausible(cls, value: float | None, info: ValidationInfo) -> float | None:
        bound = MAX_TONNES.get(str(info.data.get("period")))
        if value is not None and bound is not None and value > bound:
            raise PydanticCustomError(
                "implausible_tonnage",
                "more than {bound} t for one {period}: is it in kg? send tonnes",
                {"bound": bound, "period": info.data.get("period")},
            )
        return value

    @model_validator(mode="after")
    def _complete(self) -> WasteRecord:
        if all(getattr(self, name) is None for name in TONNAGES):
            raise ValueError(f"no tonnage given; send at least one of {', '.join(TONNAGES)}")
        if not self.event_id:
            quantity = f"waste.{self.period}.{self.waste_kind}|{self.ticket or ''}"
            object.__setattr__(self, "event_id", derive_event_id(self.plant, self._id_instant(), quantity))
        return self

    def _id_instant(self) -> dt.datetime:
        if self.delivered_at is not None:
            return self.delivered_at
        assert self.date is not None  # one of the two is set (validated)
        return day_instant(self.date)

    def event_time(self, zone: dt.tzinfo | None = None) -> dt.datetime:
        """The delivery's instant, or local midnight starting the day in `zone` (default Shanghai)."""
        if self.delivered_at is not None:
            return self.delivered_at
        assert self.date is not None
        return dt.datetime.combine(self.date, dt.time(0), zone or SHANGHAI)

    def observation_fields(self) -> tuple[tuple[str, dt.datetime | dt.date], ...]:
        """The fields that say when the record was observed (checked against the receipt time)."""
        if self.delivered_at is not None:
            return (("delivered_at", self.delivered_at),)
        assert self.date is not None
        return (("date", self.date),)
