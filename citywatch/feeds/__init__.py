"""The feeds: one description per feed (`feed.py`), one module per feed, and the catalogue of them all."""

from citywatch.feeds.catalogue import (
    FEED_NAMES,
    FEEDS,
    SCHEMA_VERSIONS,
    SITE_FIELDS,
    FeedCatalogue,
    UnknownFeedError,
    backfill_feeds,
    feed_of,
    json_schemas,
    model_for,
    parse_record,
)
from citywatch.feeds.feed import Feed, FeedProcessor, SimulatedHour

__all__ = [
    "FEEDS",
    "FEED_NAMES",
    "SCHEMA_VERSIONS",
    "SITE_FIELDS",
    "Feed",
    "FeedCatalogue",
    "FeedProcessor",
    "SimulatedHour",
    "UnknownFeedError",
    "backfill_feeds",
    "feed_of",
    "json_schemas",
    "model_for",
    "parse_record",
]
