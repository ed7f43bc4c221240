"""Air quality: hourly (or daily) readings of PM2.5 and the other HJ 633 pollutants from air stations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from citywatch.feeds.feed import Feed, FeedProcessor, records_of
from citywatch.indicators import air_station
from citywatch.indicators.air_station import AirContext, process_station_batch, reading_day, station_since
from citywatch.indicators.batch import BatchResult, latest_records
from citywatch.indicators.lanes import LaneProcessor
from citywatch.schemas.air import AirReading
from citywatch.schemas.feed_record import FeedRecord
from citywatch.site_registry.model import AirStation, Registry

if TYPE_CHECKING:  # settings read the intake's clock bounds, and the intake reads the feeds
    from citywatch.settings import WorkerSettings


def processor(registry: Registry, settings: WorkerSettings) -> FeedProcessor:
    zone = settings.zone
    ctx = AirContext(
        zone=zone,
        district=settings.district,
        rounding=settings.aqi_concentration_rounding,
        lateness=AIR.lateness["reading"],
    )

    def lane(state: Any, records: Sequence[FeedRecord], peer: Any) -> BatchResult[Any]:
        peer_days = None if peer is None else peer["days"]
        new, outcomes, out, contributions = process_station_batch(
            state, records_of(AirReading, records), ctx, peer_days
        )
        return BatchResult(new, outcomes, latest_records(out), contributions)

    def batch(state: Any, records: Sequence[FeedRecord]) -> BatchResult[Any]:
        return lane(state, records, None)

    lanes = LaneProcessor[Any, Any](
        process=lane,
        day_of=lambda r: reading_day(r, zone),
        since_of=lambda state: station_since(state, zone),
    )
    return FeedProcessor("air", batch, lanes)


AIR = Feed(
    name="air",
    record=AirReading,
    site=AirStation,
    sites="stations",
    time_fields=("observed_at", "observed_to", "observed_from"),
    lateness={"reading": air_station.LATENESS},
    processor=processor,
    backfill=True,
)
