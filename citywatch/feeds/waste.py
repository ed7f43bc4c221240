"""Waste treatment: weighbridge deliveries and daily tonnage totals of treatment plants."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from citywatch.feeds.feed import Feed, FeedProcessor, records_of
from citywatch.indicators import waste
from citywatch.indicators.batch import BatchResult
from citywatch.indicators.waste import WasteContext, process_plant_batch
from citywatch.schemas.dead_letter import FieldError
from citywatch.schemas.feed_record import FeedRecord
from citywatch.schemas.waste import WasteRecord
from citywatch.site_registry.model import Registry, WastePlant

if TYPE_CHECKING:  # settings read the intake's clock bounds, and the intake reads the feeds
    from citywatch.settings import WorkerSettings


def processor(registry: Registry, settings: WorkerSettings) -> FeedProcessor:
    def batch(state: Any, records: Sequence[FeedRecord]) -> BatchResult[Any]:
        deliveries = records_of(WasteRecord, records)
        plant = registry.site(deliveries[0].site_id)
        assert isinstance(plant, WastePlant)
        ctx = WasteContext(
            zone=settings.zone,
            capacity_t_per_day=plant.capacity_t_per_day,
            district=settings.district,
            lateness=WASTE.lateness["record"],
        )
        return process_plant_batch(state, deliveries, ctx)

    return FeedProcessor("waste", batch)


def waste_kind_problems(registry: Registry, record: WasteRecord) -> list[FieldError]:
    """The plant takes the record's kind of waste."""
    plant = registry.site(record.plant)
    if isinstance(plant, WastePlant) and record.waste_kind not in plant.accepts:
        accepted = ", ".join(plant.accepts)
        reason = f"plant {plant.id!r} does not take {record.waste_kind} waste (the registry says it accepts {accepted})"
        return [FieldError(field="waste_kind", reason=reason)]
    return []


WASTE = Feed(
    name="waste",
    record=WasteRecord,
    site=WastePlant,
    sites="plants",
    time_fields=("delivered_at", "date"),
    lateness={"record": waste.LATENESS},
    processor=processor,
    registry_problems=waste_kind_problems,
)
