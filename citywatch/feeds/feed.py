"""A feed, described once: its record, the registry's sites it names, its clocks, its lateness, how the worker folds
it into indicators and, optionally, how the simulator makes it up.

A new feed is one module that builds a `Feed`, added to the catalogue (`citywatch/feeds/catalogue.py`), plus the
registry rows of its sites. Everything else reads the description: the gateway's routes and JSON Schemas, admission,
the registry loader, the worker's processors, the simulator and the replay.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any, TypeVar

from citywatch.indicators.batch import BatchResult, run_batch
from citywatch.indicators.catalogue import Indicator
from citywatch.indicators.eventtime import Lateness
from citywatch.indicators.lanes import LaneProcessor
from citywatch.indicators.records import Result
from citywatch.schemas.dead_letter import FieldError
from citywatch.schemas.feed_record import FeedRecord
from citywatch.site_registry.model import Registry, Site

if TYPE_CHECKING:  # settings read the intake's clock bounds, and the intake reads the feeds
    from citywatch.settings import WorkerSettings

R = TypeVar("R")

ProcessBatch = Callable[[Any, Sequence[FeedRecord]], BatchResult[Any]]
"""One site's state and a batch of its records in, the site's new state, outcomes and records out."""


@dataclass(frozen=True)
class FeedProcessor:
    """What the worker calls once per site and batch (`process_batch(state, records)`)."""

    feed: str
    process_batch: ProcessBatch
    lanes: LaneProcessor[Any, Any] | None = None  # feeds whose history can be backfilled beside live data


RegistryCheck = Callable[[Registry, Any], list[FieldError]]
"""What the registry contradicts in a record of the feed whose site it knows (its own record type in, problems out)."""

BuildProcessor = Callable[[Registry, "WorkerSettings"], FeedProcessor]
"""A feed's processor, built from the registry and the worker's settings (zone, district, rounding)."""


@dataclass(frozen=True)
class SimulatedHour:
    """What a feed's simulation is asked for: its sites' records observed in (begin, end]."""

    seed: int
    sites: Sequence[Site]
    begin: datetime
    end: datetime
    zone: tzinfo


Simulate = Callable[[SimulatedHour], list[tuple[str, dict[str, Any]]]]
"""(site id, record as a publisher would post it) for every record of the hour; the same seed gives the same."""


@dataclass(frozen=True)
class Feed:
    """Everything citywatch knows of one feed."""

    name: str
    record: type[FeedRecord]  # validates one record, and names its site and time fields
    site: type[Site]  # the registry's model of the sites this feed's records name
    sites: str  # the registry's list of those sites, e.g. "stations"
    time_fields: tuple[str, ...]  # every field that holds a time (the replay reads them in the deployment's zone)
    lateness: Mapping[str, Lateness]  # allowed lateness, by kind of record where kinds differ; the processor uses it
    processor: BuildProcessor
    backfill: bool = False  # history can be loaded beside live data (the processor keeps lanes)
    simulate: Simulate | None = None  # None: the simulator's own scenario makes this feed's records up
    registry_problems: RegistryCheck | None = None  # besides the site: what else of a record the registry knows
    indicators: tuple[Indicator, ...] = ()  # what its processor computes, where the shipped catalogue lacks it

    @property
    def site_field(self) -> str:
        """The record field that names the site (the Kafka key)."""
        return self.record.site_field

    @property
    def time_field(self) -> str:
        """The record field a lateness refusal names."""
        return self.record.time_field

    @property
    def schema_version(self) -> int:
        """The version a record has when the publisher leaves it out."""
        version = self.record.model_fields["schema_version"].default
        assert isinstance(version, int), f"{self.record.__name__}.schema_version needs a default"
        return version

    def parse(self, payload: object) -> FeedRecord:
        """Validate one record (a dict, or JSON text/bytes); raises pydantic's ValidationError."""
        model = self.record
        return model.model_validate_json(payload) if isinstance(payload, str | bytes) else model.model_validate(payload)


def records_of(kind: type[R], records: Sequence[FeedRecord]) -> list[R]:
    """A processor's records as its own record type (the worker only hands a feed's processor that feed's records)."""
    typed: list[R] = [r for r in records if isinstance(r, kind)]
    assert len(typed) == len(records), f"a {kind.__name__} processor was handed another feed's records"
    return typed


def record_by_record(process: Callable[[Any, Any], Result[Any]]) -> ProcessBatch:
    """A batch processor from one that folds one record at a time."""

    def batch(state: Any, records: Sequence[FeedRecord]) -> BatchResult[Any]:
        return run_batch(process, state, records)

    return batch
