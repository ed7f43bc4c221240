"""The feeds citywatch knows, in one catalogue, and what the rest of the code looks up in it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from pydantic import BaseModel

from citywatch.feeds.air import AIR
from citywatch.feeds.bus import BUS
from citywatch.feeds.feed import Feed
from citywatch.feeds.mode_share import MODE_SHARE
from citywatch.feeds.waste import WASTE
from citywatch.feeds.water import WATER
from citywatch.indicators.catalogue import CATALOGUE
from citywatch.schemas.feed_record import FeedRecord

T = TypeVar("T")


class UnknownFeedError(KeyError):
    def __init__(self, feed: str, known: Iterator[str] | tuple[str, ...] = ()) -> None:
        super().__init__(f"unknown feed {feed!r}; known feeds: {', '.join(known)}")
        self.feed = feed


class FeedCatalogue(Mapping[str, Feed]):
    """Feed descriptions by name, in the order the feeds are listed to people (errors, the gateway's feed list)."""

    def __init__(self, *feeds: Feed) -> None:
        self._feeds: dict[str, Feed] = {}
        for feed in feeds:
            self._add(feed)

    def _add(self, feed: Feed) -> None:
        if feed.name in self._feeds:
            raise ValueError(f"feed {feed.name!r} is described twice")
        if any(other.sites == feed.sites for other in self._feeds.values()):
            raise ValueError(f"feed {feed.name!r}: the registry list {feed.sites!r} already holds another feed's sites")
        named = [i.id for i in feed.indicators if i.id in CATALOGUE or i.feed != feed.name]
        if named:
            raise ValueError(f"feed {feed.name!r}: indicators {named} are listed already or name another feed")
        self._feeds[feed.name] = feed
        CATALOGUE.update({i.id: i for i in feed.indicators})

    def _remove(self, name: str) -> None:
        for indicator in self._feeds.pop(name).indicators:
            del CATALOGUE[indicator.id]

    def __getitem__(self, name: str) -> Feed:
        try:
            return self._feeds[name]
        except KeyError:
            raise UnknownFeedError(name, tuple(self._feeds)) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._feeds)

    def __len__(self) -> int:
        return len(self._feeds)

    def of_record(self, record: FeedRecord) -> Feed:
        """The feed a validated record belongs to."""
        for feed in self._feeds.values():
            if isinstance(record, feed.record):
                return feed
        raise UnknownFeedError(type(record).__name__, tuple(self._feeds))

    @contextmanager
    def adding(self, feed: Feed) -> Iterator[Feed]:
        """The catalogue with one more feed while the block runs (a deployment's own feed, or a test's)."""
        self._add(feed)
        try:
            yield feed
        finally:
            self._remove(feed.name)


FEEDS = FeedCatalogue(AIR, WATER, BUS, MODE_SHARE, WASTE)
"""Every feed citywatch processes."""

FEED_NAMES: tuple[str, ...] = tuple(FEEDS)
"""The feeds citywatch ships with (the dashboards' feed variable lists these)."""


class FeedFacts(Mapping[str, T]):
    """One fact of every feed, by feed name, read from the catalogue as it is now."""

    def __init__(self, fact: Callable[[Feed], T]) -> None:
        self._fact = fact

    def __getitem__(self, name: str) -> T:
        return self._fact(FEEDS[name])

    def __iter__(self) -> Iterator[str]:
        return iter(FEEDS)

    def __len__(self) -> int:
        return len(FEEDS)


SITE_FIELDS: Mapping[str, str] = FeedFacts(lambda feed: feed.site_field)
"""The field that names each feed's site (the Kafka key)."""
SCHEMA_VERSIONS: Mapping[str, int] = FeedFacts(lambda feed: feed.schema_version)


def backfill_feeds() -> frozenset[str]:
    """Feeds whose history can be backfilled beside live data (the worker keeps a history lane for their sites)."""
    return frozenset(name for name, feed in FEEDS.items() if feed.backfill)


def model_for(feed: str) -> type[BaseModel]:
    """The record model of a feed; UnknownFeedError names the known feeds."""
    return FEEDS[feed].record


def parse_record(feed: str, payload: object) -> FeedRecord:
    """Validate one record (a dict, or JSON text/bytes) of a feed; raises pydantic's ValidationError."""
    return FEEDS[feed].parse(payload)


def feed_of(record: FeedRecord) -> str:
    """The feed a record belongs to."""
    return FEEDS.of_record(record).name


def json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema (draft 2020-12, validation mode) of every feed's record, by feed name."""
    return {name: feed.record.model_json_schema() for name, feed in FEEDS.items()}
