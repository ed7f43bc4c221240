"""Mode share: an area's daily share of public transport among motorised trips."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from citywatch.feeds.feed import Feed, FeedProcessor, record_by_record
from citywatch.indicators import bus
from citywatch.indicators.bus import ModeShareContext, process_area
from citywatch.indicators.records import Result
from citywatch.schemas.bus import ModeShareRecord
from citywatch.site_registry.model import Area, Registry

if TYPE_CHECKING:  # settings read the intake's clock bounds, and the intake reads the feeds
    from citywatch.settings import WorkerSettings


def processor(registry: Registry, settings: WorkerSettings) -> FeedProcessor:
    ctx = ModeShareContext(zone=settings.zone, lateness=MODE_SHARE.lateness["day"])

    def process(state: Any, record: ModeShareRecord) -> Result[Any]:
        return process_area(state, record, ctx)

    return FeedProcessor("mode_share", record_by_record(process))


MODE_SHARE = Feed(
    name="mode_share",
    record=ModeShareRecord,
    site=Area,
    sites="areas",
    time_fields=("date",),
    lateness={"day": bus.MODE_SHARE_LATENESS},
    processor=processor,
)
