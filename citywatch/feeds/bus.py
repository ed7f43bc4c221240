"""Bus ridership: boardings per route, vehicle and 15-minute interval."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from citywatch.feeds.feed import Feed, FeedProcessor, records_of
from citywatch.indicators import bus
from citywatch.indicators.batch import BatchResult
from citywatch.indicators.bus import BusContext, process_route_batch
from citywatch.schemas.bus import BusRidership
from citywatch.schemas.feed_record import FeedRecord
from citywatch.site_registry.model import BusRoute, Registry

if TYPE_CHECKING:  # settings read the intake's clock bounds, and the intake reads the feeds
    from citywatch.settings import WorkerSettings


def processor(registry: Registry, settings: WorkerSettings) -> FeedProcessor:
    ctx = BusContext(zone=settings.zone, day_type=registry.day_type, district=settings.district)

    def batch(state: Any, records: Sequence[FeedRecord]) -> BatchResult[Any]:
        return process_route_batch(state, records_of(BusRidership, records), ctx)

    return FeedProcessor("bus", batch)


BUS = Feed(
    name="bus",
    record=BusRidership,
    site=BusRoute,
    sites="routes",
    time_fields=("interval_start",),
    lateness={"count": bus.LATENESS},
    processor=processor,
)
