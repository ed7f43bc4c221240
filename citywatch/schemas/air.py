"""Air-quality readings as departments publish them."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION: Literal[1] = 1


class AirReading(BaseModel):
    """One PM2.5 observation from one station (FIWARE AirQualityObserved names where they fit)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    station: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", description="Station id")
    observed_at: AwareDatetime = Field(description="End of the observation hour, ISO 8601 with a UTC offset")
    pm25: float = Field(ge=0, le=5000, allow_inf_nan=False, description="PM2.5 concentration")
    pm25_unit: Literal["µg/m³"] = Field("µg/m³", description="Unit of pm25; only µg/m³ is accepted")
    event_id: str = Field("", max_length=128, description="Publisher's id; derived from station and time if empty")
    revision: int = Field(0, ge=0, description="A correction re-sends the same reading with a higher revision")

    @model_validator(mode="after")
    def _derive_event_id(self) -> AirReading:
        if not self.event_id:
            object.__setattr__(self, "event_id", derive_event_id(self.station, self.observed_at, "pm25"))
        return self


def derive_event_id(site: str, observed_at: datetime, quantity: str) -> str:
    """A deterministic id: the same site, instant and quantity always give the same id."""
    instant = observed_at.timestamp()
    digest = hashlib.sha256(f"{site}|{instant:.3f}|{quantity}".encode()).hexdigest()
    return digest[:32]
