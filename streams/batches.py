"""An agent's input in batches, each acknowledged only once the agent processed it.

faust's `Stream.take_events` acknowledges a batch in a `finally`: when the agent's body fails or is cancelled in the
middle of a batch (an exception, a graceful stop, a rebalance), the batch counts as processed and its offsets get
committed although its outputs may be half sent and its state was never stored: readings lost. Here a batch is
acknowledged only when the agent asks for the next one without having left it unprocessed; otherwise it holds its
partitions' commits (streams/commits.py) and is read again, after a restart from the committed offsets, after
faust's own seek at the end of a rebalance, or by the stall watch's re-read (streams/stall.py). Records read twice
are dropped as duplicates.

A batch must also not be processed against tables that are not steady: faust resumes fetching while it restores
tables and before it seeks the inputs back to their committed offsets, so records arrive that a half-restored table
would absorb and a restore would then overwrite (seen in the SIGKILL fault test: a bus count lost after the fourth
restart). `steady_epoch` tells the agent whether its tables are steady and lets it notice a rebalance that began
while it processed a batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Any

import faust
from faust.types import EventT

Event = EventT[bytes]


class Batch(list[Event]):
    """Events taken together. `leave_unprocessed()` keeps them unacknowledged (they will be read again)."""

    def __init__(self, events: Iterable[Event]) -> None:
        super().__init__(events)
        self.processed = True

    def leave_unprocessed(self) -> None:
        self.processed = False


async def batches(stream: faust.StreamT[bytes], size: int, within: float) -> AsyncIterator[Batch]:
    """Up to `size` events at a time, or what arrived within `within` seconds."""
    current: Batch | None = None
    stream_: Any = stream  # take_events and ack are missing from faust's type stubs
    faust_ack = stream_.ack

    async def ack(event: Event) -> bool:
        return bool(await faust_ack(event)) if current is not None and current.processed else False

    stream_.ack = ack  # take_events acknowledges through the stream's `ack`
    async for events in stream_.take_events(size, within=within):
        batch = Batch(events)
        current = None  # until the agent is done with it, nothing of it is acknowledged
        yield batch
        current = batch  # reached only when the agent asks for the next batch


def steady_epoch(app: Any) -> int | None:
    """faust's rebalance count while the worker's tables are restored and its inputs sought back to their committed
    offsets (what a batch may be processed against), None during a rebalance or a table restore. A batch whose
    epoch changed while it was processed is left unprocessed."""
    if app.rebalancing or app.in_recovery or not app.tables.actives_ready:
        return None
    return int(app.rebalancing_count)


async def wait_until_steady(app: Any, poll_s: float = 0.05) -> int | None:
    """The steady epoch to process a batch in, once faust has restored the tables and sought the inputs back; None
    as soon as a rebalance is under way: its revocation waits for this batch's events, so waiting on it would
    deadlock (the batch is left unprocessed instead)."""
    while not app.rebalancing:
        epoch = steady_epoch(app)
        if epoch is not None:
            return epoch
        await asyncio.sleep(poll_s)
    return None


def owned(app: Any, batch: Batch) -> bool:
    """Whether every event of the batch is from a partition this worker is assigned (a rebalance may have moved
    some to another worker while the batch waited: that worker processes them)."""
    assigned = app.consumer.assignment()
    return all(event.message.tp in assigned for event in batch)
