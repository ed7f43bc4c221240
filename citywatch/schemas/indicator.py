"""Indicator records on the indicators topic."""

from __future__ import annotations

from datetime import date, datetime, tzinfo

from pydantic import AwareDatetime, BaseModel, ConfigDict


class IndicatorRecord(BaseModel):
    """One computed value of one indicator for one site at one event time."""

    model_config = ConfigDict(frozen=True)

    indicator: str  # id from the indicator catalogue, e.g. "air.pm25.mean_24h"
    site: str
    value: float
    unit: str
    window: str  # "1h", "24h", ...
    observed_at: AwareDatetime  # event time the value refers to (end of window)
    local_date: date  # the deployment-local day of observed_at: standards pick their table by it
    samples: int
    revision: int = 0

    @property
    def key(self) -> str:
        return f"{self.indicator}|{self.site}"


def local_date_of(instant: datetime, zone: tzinfo) -> date:
    """The deployment-local calendar day of an instant (a standards 'day' is a local day)."""
    return instant.astimezone(zone).date()
