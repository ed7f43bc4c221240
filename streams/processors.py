"""Which pure processor handles each feed, with its context built from the site registry and settings.

The worker calls `FeedProcessor.process_batch(state, records)` once per site and batch; everything here is
plain wiring, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from citywatch.indicators.air_station import AirContext, process_station_batch, reading_day, station_since
from citywatch.indicators.batch import BatchResult, latest_records, run_batch
from citywatch.indicators.bus import BusContext, ModeShareContext, process_area, process_route_batch
from citywatch.indicators.district import DistrictContext, process_district_batch
from citywatch.indicators.lanes import LaneProcessor
from citywatch.indicators.records import Contribution, Result
from citywatch.indicators.waste import WasteContext, process_plant_batch
from citywatch.indicators.water import WaterContext, process_section
from citywatch.registry import Registry
from citywatch.registry.model import WastePlant, WaterSection
from citywatch.schemas.air import AirReading
from citywatch.schemas.bus import BusRidership, ModeShareRecord
from citywatch.schemas.feeds import FeedRecord
from citywatch.schemas.receipt import BACKFILL_FEEDS
from citywatch.schemas.waste import WasteRecord
from citywatch.schemas.water import WaterSample
from citywatch.settings import WorkerSettings

ProcessBatch = Callable[[Any, Sequence[FeedRecord]], BatchResult[Any]]


@dataclass(frozen=True)
class FeedProcessor:
    feed: str
    process_batch: ProcessBatch
    lanes: LaneProcessor[Any, Any] | None = None  # feeds whose history can be backfilled beside live data


def feed_processors(registry: Registry, settings: WorkerSettings) -> dict[str, FeedProcessor]:
    zone = settings.zone
    district = settings.district
    air = AirContext(zone=zone, district=district, rounding=settings.aqi_concentration_rounding)
    bus = BusContext(zone=zone, day_type=registry.day_type, district=district)
    mode_share = ModeShareContext(zone=zone)

    def air_lane(state: Any, records: Sequence[FeedRecord], peer: Any) -> BatchResult[Any]:
        readings = [r for r in records if isinstance(r, AirReading)]
        assert len(readings) == len(records)
        peer_days = None if peer is None else peer["days"]
        new, outcomes, out, contributions = process_station_batch(state, readings, air, peer_days)
        return BatchResult(new, outcomes, latest_records(out), contributions)

    def air_batch(state: Any, records: Sequence[FeedRecord]) -> BatchResult[Any]:
        return air_lane(state, records, None)

    air_lanes = LaneProcessor[Any, Any](
        process=air_lane,
        day_of=lambda r: reading_day(r, zone),
        since_of=lambda state: station_since(state, zone),
    )

    def one_by_one(process: Callable[[Any, Any], Result[Any]]) -> ProcessBatch:
        def batch(state: Any, records: Sequence[FeedRecord]) -> BatchResult[Any]:
            return run_batch(process, state, records)

        return batch

    def water(state: Any, sample: WaterSample) -> Result[Any]:
        section = registry.site(sample.site_id)
        assert isinstance(section, WaterSection)
        ctx = WaterContext(zone=zone, kind=section.kind, target_class=section.target_class, district=district)
        return process_section(state, sample, ctx)

    def bus_routes(state: Any, records: Sequence[FeedRecord]) -> BatchResult[Any]:
        counts = [r for r in records if isinstance(r, BusRidership)]
        assert len(counts) == len(records)
        return process_route_batch(state, counts, bus)

    def area(state: Any, rec: ModeShareRecord) -> Result[Any]:
        return process_area(state, rec, mode_share)

    def waste(state: Any, records: Sequence[FeedRecord]) -> BatchResult[Any]:
        recs = [r for r in records if isinstance(r, WasteRecord)]
        assert len(recs) == len(records)
        plant = registry.site(recs[0].site_id)
        assert isinstance(plant, WastePlant)
        ctx = WasteContext(zone=zone, capacity_t_per_day=plant.capacity_t_per_day, district=district)
        return process_plant_batch(state, recs, ctx)

    batches: dict[str, ProcessBatch] = {
        "air": air_batch,
        "water": one_by_one(water),
        "bus": bus_routes,
        "mode_share": one_by_one(area),
        "waste": waste,
    }
    lanes = {"air": air_lanes}
    assert lanes.keys() == BACKFILL_FEEDS, "every feed the gateway backfills needs its lanes here"
    return {feed: FeedProcessor(feed, fn, lanes.get(feed)) for feed, fn in batches.items()}


def district_processor(settings: WorkerSettings) -> Callable[[Any, Sequence[Contribution]], BatchResult[Any]]:
    ctx = DistrictContext(zone=settings.zone, rounding=settings.aqi_concentration_rounding)

    def process(state: Any, contributions: Sequence[Contribution]) -> BatchResult[Any]:
        new, outcomes, records = process_district_batch(state, contributions, ctx)
        return BatchResult(new, outcomes, latest_records(records))

    return process
