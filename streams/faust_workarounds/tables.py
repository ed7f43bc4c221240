"""Table reads and writes in the partition of a named event, not of faust's current one.

faust routes a table read or write to the store partition (and changelog partition) of the *current* event; inside a
batch that is the batch's last event, whatever site is being updated. Each site's state must live in its own
partition, or another worker would restore it after a rebalance. The pipeline names the event whose partition holds
each key (a site's own last event), and `FaustTable` makes that event current for the read or write.
Relies on faust's private contextvar `faust.streams._current_event` (faust-streaming 0.15).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from faust.streams import _current_event
from faust.types import EventT

from streams.pipeline import Event as PipelineEvent

Event = EventT[bytes]


@contextmanager
def current_event(event: Event) -> Iterator[None]:
    """Make `event` the one faust's tables see as current (see the module doc)."""
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


class FaustTable:
    """The state table as the pipeline reads it: each read or write in the partition of the event it names (the
    pipeline's events are faust's)."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def get(self, key: str, at: PipelineEvent) -> Any:
        with current_event(cast(Event, at)):
            return self.table.get(key)

    def set(self, key: str, value: Any, at: PipelineEvent) -> None:
        with current_event(cast(Event, at)):
            self.table[key] = value

    def delete(self, key: str, at: PipelineEvent) -> None:
        with current_event(cast(Event, at)):
            del self.table[key]
