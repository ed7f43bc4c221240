"""An agent's input in batches, each acknowledged only once the agent asked for the next one.

faust's `Stream.take_events` acknowledges a batch in a `finally`: when the agent's body fails or is cancelled in the
middle of a batch (an exception, a graceful stop, a rebalance), the batch counts as processed and its offsets get
committed although its outputs may be half sent and its state was never stored: readings lost. Here such a batch stays
unacknowledged; it holds its partitions' commits (streams/faust_workarounds/commits.py) and is read again, after a restart from the
committed offsets or by the stall watch's re-read (streams/faust_workarounds/stall.py). Records read twice are dropped as duplicates.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import faust
from faust.types import EventT

Event = EventT[bytes]


async def batches(stream: faust.StreamT[bytes], size: int, within: float) -> AsyncIterator[list[Event]]:
    """Up to `size` events at a time, or what arrived within `within` seconds."""
    done = False
    stream_: Any = stream  # take_events and ack are missing from faust's type stubs
    faust_ack = stream_.ack

    async def ack(event: Event) -> bool:
        return bool(await faust_ack(event)) if done else False

    stream_.ack = ack  # take_events acknowledges through the stream's `ack`
    async for events in stream_.take_events(size, within=within):
        done = False
        yield list(events)
        done = True  # reached only when the agent asks for the next batch: this one is processed
