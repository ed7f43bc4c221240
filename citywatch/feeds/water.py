"""Water quality: samples of national and provincial assessment sections (automatic stations and manual sampling)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from citywatch.feeds.feed import Feed, FeedProcessor, record_by_record
from citywatch.indicators import water
from citywatch.indicators.records import Result
from citywatch.indicators.water import WaterContext, process_section
from citywatch.schemas.water import WaterSample
from citywatch.site_registry.model import Registry, WaterSection

if TYPE_CHECKING:  # settings read the intake's clock bounds, and the intake reads the feeds
    from citywatch.settings import WorkerSettings


def processor(registry: Registry, settings: WorkerSettings) -> FeedProcessor:
    def process(state: Any, sample: WaterSample) -> Result[Any]:
        section = registry.site(sample.site_id)
        assert isinstance(section, WaterSection)
        ctx = WaterContext(
            zone=settings.zone,
            kind=section.kind,
            target_class=section.target_class,
            district=settings.district,
            automatic=WATER.lateness["automatic"],
            manual=WATER.lateness["manual"],
        )
        return process_section(state, sample, ctx)

    return FeedProcessor("water", record_by_record(process))


WATER = Feed(
    name="water",
    record=WaterSample,
    site=WaterSection,
    sites="sections",
    time_fields=("sampled_at",),
    lateness={"automatic": water.AUTOMATIC_LATENESS, "manual": water.MANUAL_LATENESS},
    processor=processor,
)
