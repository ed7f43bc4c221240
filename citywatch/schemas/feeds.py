"""The feed registry: each feed's name, record model, schema version and JSON Schema.

Every record has a site id, an event time, an `event_id` (given, or derived deterministically from site,
observation time and quantity) and a `revision` (a correction re-sends the same site and time with a higher
revision; the highest wins downstream).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, tzinfo
from typing import Any, Literal, get_args

from pydantic import BaseModel

from citywatch.schemas import air, bus, waste, water
from citywatch.schemas.air import AirReading
from citywatch.schemas.bus import BusRidership, ModeShareRecord
from citywatch.schemas.waste import WasteRecord
from citywatch.schemas.water import WaterSample

FeedName = Literal["air", "water", "bus", "mode_share", "waste"]
FEED_NAMES: tuple[FeedName, ...] = get_args(FeedName)

FeedRecord = AirReading | WaterSample | BusRidership | ModeShareRecord | WasteRecord

FEEDS: dict[str, type[BaseModel]] = {
    "air": AirReading,
    "water": WaterSample,
    "bus": BusRidership,
    "mode_share": ModeShareRecord,
    "waste": WasteRecord,
}

SCHEMA_VERSIONS: dict[str, int] = {
    "air": air.SCHEMA_VERSION,
    "water": water.SCHEMA_VERSION,
    "bus": bus.SCHEMA_VERSION,
    "mode_share": bus.MODE_SHARE_SCHEMA_VERSION,
    "waste": waste.SCHEMA_VERSION,
}

SITE_FIELDS: dict[str, str] = {
    "air": "station",
    "water": "section",
    "bus": "route",
    "mode_share": "area",
    "waste": "plant",
}
"""The field that names each feed's site (the Kafka key)."""

TIME_FIELDS: dict[str, str] = {
    "air": "observed_at",
    "water": "sampled_at",
    "bus": "interval_start",
    "mode_share": "date",
    "waste": "delivered_at | date",
}
"""The field that carries each feed's event time (named in errors about lateness)."""


class UnknownFeedError(KeyError):
    def __init__(self, feed: str) -> None:
        super().__init__(f"unknown feed {feed!r}; known feeds: {', '.join(FEEDS)}")
        self.feed = feed


def model_for(feed: str) -> type[BaseModel]:
    """The record model of a feed; UnknownFeedError names the known feeds."""
    try:
        return FEEDS[feed]
    except KeyError:
        raise UnknownFeedError(feed) from None


def parse_record(feed: str, payload: object) -> FeedRecord:
    """Validate one record (a dict, or JSON text/bytes) of a feed; raises pydantic's ValidationError."""
    model = model_for(feed)
    record = model.model_validate_json(payload) if isinstance(payload, str | bytes) else model.model_validate(payload)
    assert isinstance(record, FeedRecord)
    return record


def feed_of(record: FeedRecord) -> str:
    """The feed a record belongs to."""
    for name, model in FEEDS.items():
        if type(record) is model:
            return name
    raise UnknownFeedError(type(record).__name__)


def site_and_time(record: FeedRecord, zone: tzinfo | None = None) -> tuple[str, datetime]:
    """A record's site id and event time.

    Daily records (mode share, a waste day) start at local midnight in `zone` — pass the deployment's
    CITYWATCH_TIMEZONE; the default is Asia/Shanghai. Other records carry their own UTC offset.
    """
    return record.site_id, record.event_time(zone)


CONTENT_EXCLUDED = frozenset({"event_id", "revision", "schema_version"})
"""Fields that name or version a record rather than say what was observed."""


def content_of(record: FeedRecord) -> dict[str, Any]:
    """What a record says (JSON-ready), without its id, revision and schema version: two records with the same id
    and revision must say the same thing, or one of them is a conflict."""
    return record.model_dump(mode="json", exclude=set(CONTENT_EXCLUDED))


def content_digest(record: FeedRecord) -> str:
    """A short digest of `content_of`: what the worker's dedup ledger keeps to tell a repeat from a conflict. (The
    model's JSON lists its fields in declaration order, so equal content gives equal text.)"""
    text = record.model_dump_json(exclude=set(CONTENT_EXCLUDED))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def identity_of(record: FeedRecord | None) -> dict[str, Any]:
    """A record's site, event id and revision (the fields a dead letter names it by); none for no record."""
    if record is None:
        return {}
    return {"site": record.site_id, "event_id": record.event_id, "revision": record.revision}


def json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema (draft 2020-12, validation mode) of every feed's record, by feed name."""
    return {name: model.model_json_schema() for name, model in FEEDS.items()}
