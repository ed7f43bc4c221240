"""What every feed's record is: a site id, an event time, an `event_id` (given, or derived deterministically from
site, observation time and quantity) and a `revision` (a correction re-sends the same site and time with a higher
revision; the highest wins downstream). Which feeds there are is `citywatch.feeds`.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, tzinfo
from typing import TYPE_CHECKING, Any, ClassVar, cast

from pydantic import BaseModel


class FeedRecord(BaseModel):
    """A validated record of any feed: the base of every feed's record model. It names the field that says its site
    (`site_field`, the Kafka key) and the one that says its event time (`time_field`, named when a record is refused
    as too late). A model whose time is not one instant field (a day, or either of two fields) says how in
    `event_time` and `observation_fields`."""

    site_field: ClassVar[str]
    time_field: ClassVar[str]
    if TYPE_CHECKING:  # every feed's model declares these fields itself, in its own order (the content digest's)
        event_id: str
        revision: int
        schema_version: int

    @property
    def site_id(self) -> str:
        return cast(str, getattr(self, self.site_field))

    def event_time(self, zone: tzinfo | None = None) -> datetime:
        """The instant the record refers to (`zone` is unused: the time carries its offset)."""
        return cast(datetime, getattr(self, self.time_field))

    def observation_fields(self) -> tuple[tuple[str, datetime | date], ...]:
        """The fields that say when the record was observed (checked against the receipt time)."""
        return ((self.time_field, getattr(self, self.time_field)),)


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
