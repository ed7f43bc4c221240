"""Air-quality processing for one station: readings in, indicator records out. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import tzinfo

from citywatch.indicators.catalogue import PM25_1H, PM25_MEAN_24H
from citywatch.indicators.rolling_mean import RollingState, Update, apply_reading, new_state
from citywatch.schemas.air import AirReading
from citywatch.schemas.indicator import IndicatorRecord, local_date_of

WINDOW_24H_S = 24 * 3600.0


@dataclass(frozen=True)
class AirResult:
    state: RollingState
    update: Update
    indicators: list[IndicatorRecord] = field(default_factory=list)


def process_air_reading(state: RollingState | None, reading: AirReading, zone: tzinfo) -> AirResult:
    """Fold one reading into its station's state; emit the hourly value and the 24-hour mean."""
    new, update = apply_reading(
        state or new_state(),
        reading.event_id,
        reading.observed_at.timestamp(),
        reading.pm25,
        reading.revision,
        WINDOW_24H_S,
    )
    if not update.accepted or update.mean is None:
        return AirResult(state or new_state(), update)
    day = local_date_of(reading.observed_at, zone)
    hourly = IndicatorRecord(
        indicator=PM25_1H.id,
        value=reading.pm25,
        unit=PM25_1H.unit,
        window=PM25_1H.window,
        samples=1,
        revision=reading.revision,
        site=reading.station,
        observed_at=reading.observed_at,
        local_date=day,
    )
    mean = IndicatorRecord(
        indicator=PM25_MEAN_24H.id,
        value=update.mean,
        unit=PM25_MEAN_24H.unit,
        window=PM25_MEAN_24H.window,
        samples=update.samples,
        revision=reading.revision,
        site=reading.station,
        observed_at=reading.observed_at,
        local_date=day,
    )
    return AirResult(new, update, [hourly, mean])
