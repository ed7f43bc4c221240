"""Which pure processor handles each feed (its description builds it) and the district stage's. No I/O."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from citywatch.feeds import FEEDS, FeedProcessor, backfill_feeds
from citywatch.indicators.batch import BatchResult, latest_records
from citywatch.indicators.district import DistrictContext, process_district_batch
from citywatch.indicators.records import Contribution
from citywatch.settings import WorkerSettings
from citywatch.site_registry import Registry


def feed_processors(registry: Registry, settings: WorkerSettings) -> dict[str, FeedProcessor]:
    """Every catalogued feed's processor, built for this registry and these settings."""
    processors = {name: feed.processor(registry, settings) for name, feed in FEEDS.items()}
    with_lanes = {name for name, p in processors.items() if p.lanes is not None}
    assert with_lanes == backfill_feeds(), "a feed is backfilled if and only if its processor keeps lanes"
    return processors


def district_processor(settings: WorkerSettings) -> Callable[[Any, Sequence[Contribution]], BatchResult[Any]]:
    ctx = DistrictContext(zone=settings.zone, rounding=settings.aqi_concentration_rounding)

    def process(state: Any, contributions: Sequence[Contribution]) -> BatchResult[Any]:
        new, outcomes, records = process_district_batch(state, contributions, ctx)
        return BatchResult(new, outcomes, latest_records(records))

    return process
