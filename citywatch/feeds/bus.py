"""Bus ridership: boardings per route, vehicle and 15-minute interval."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from citywatch.feeds.feed import Feed, FeedProcessor, records_of
from citywatch.indicators import bus
from citywatch.indicators.batch import BatchResult
from citywatch.indicators.bus import BusContext, process_route_batch
from citywatch.schemas.bus import BusRidership
from citywatch.schemas.dead_letter import FieldError
from citywatch.schemas.feed_record import FeedRecord
from citywatch.site_registry.model import BusRoute, Registry

if TYPE_CHECKING:  # settings read the intake's clock bounds, and the intake reads the feeds
    from citywatch.settings import WorkerSettings


def processor(registry: Registry, settings: WorkerSettings) -> FeedProcessor:
    ctx = BusContext(
        zone=settings.zone, day_type=registry.day_type, district=settings.district, lateness=BUS.lateness["count"]
    )

    def batch(state: Any, records: Sequence[FeedRecord]) -> BatchResult[Any]:
        return process_route_batch(state, records_of(BusRidership, records), ctx)

    return FeedProcessor("bus", batch)


def vehicle_problems(registry: Registry, count: BusRidership) -> list[FieldError]:
    """The count's vehicle is in the fleet, runs this route (a vehicle without a route is a spare: any route) and
    has the drive the count states (the fleet's clean-energy share counts the registry's)."""
    if not registry.has_vehicle(count.vehicle):
        return [FieldError(field="vehicle", reason=f"unknown vehicle {count.vehicle!r}: not in the registry's fleet")]
    vehicle = registry.vehicle(count.vehicle)
    out = []
    if vehicle.route is not None and vehicle.route != count.route:
        reason = f"vehicle {vehicle.id!r} runs route {vehicle.route!r} in the registry's fleet, not {count.route!r}"
        out.append(FieldError(field="vehicle", reason=reason))
    if vehicle.energy_type != count.energy_type:
        reason = (
            f"vehicle {vehicle.id!r} is {vehicle.energy_type} in the registry's fleet, not {count.energy_type}; "
            "the fleet's clean-energy share counts the registry's drive"
        )
        out.append(FieldError(field="energy_type", reason=reason))
    return out


BUS = Feed(
    name="bus",
    record=BusRidership,
    site=BusRoute,
    sites="routes",
    time_fields=("interval_start",),
    lateness={"count": bus.LATENESS},
    processor=processor,
    registry_problems=vehicle_problems,
)
