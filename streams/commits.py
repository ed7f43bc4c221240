"""The worker commits an input offset only once every record before it was processed.

faust-streaming 0.15's consumer can commit past records no stream ever processed, which loses readings for good:

- a jump in the offsets it reads (`_add_gap`) counts every offset in between, and the record that jumped, as
  processed. On compacted or transactional topics such holes are real; citywatch's input topics (feeds,
  contributions) are neither, so a jump means records were skipped: a seek racing with the fetcher hands out a record
  fetched before the seek and drops the re-read ones as "already read". Measured: a seek back to offset 1,733 of a
  bus partition counted 1,734–12,835 as processed; a SIGKILL later those readings were gone.
- its commit check lets exactly one unacknowledged record at the head through (`min(acked) - committed > 1`, where
  the committed offset is already the next one to read).

Here a hole counts only where the broker no longer holds the records (retention deleted them before they were read);
otherwise the partition's commit waits, and the stall watch's re-read (streams/stall.py) fills the hole. Records read
twice are harmless: the worker drops duplicates and its outputs are idempotent.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

log = logging.getLogger("citywatch.worker.commits")


def next_commit(acked: list[int], committed: int | None) -> tuple[int | None, int]:
    """The offset to commit next and how many of the sorted `acked` offsets it covers.

    `committed` is the next offset to read (Kafka's meaning), None when the group never committed the partition (then
    the first run of acknowledged offsets starts where reading started). Nothing is committed while the record at
    `committed` is unacknowledged.
    """
    if not acked or (committed is not None and acked[0] != committed):
        return None, 0
    n = 1
    while n < len(acked) and acked[n] == acked[n - 1] + 1:
        n += 1
    return acked[n - 1] + 1, n


def deleted_range(offset_from: int, offset_to: int, earliest: int | None) -> tuple[int, int] | None:
    """The part of a hole in the offsets read (`offset_from`..`offset_to`, inclusive) that the broker no longer holds,
    or None. Without the partition's earliest offset nothing counts: waiting is safe, skipping is not."""
    if earliest is None or offset_from >= earliest:
        return None
    return offset_from, min(offset_to, earliest - 1)


class StrictCommitConsumer(faust_aiokafka.Consumer):
    """faust's aiokafka consumer with `next_commit` and `deleted_range` in place of its own gap bookkeeping."""

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        try:
            earliest: int | None = (await self.earliest_offsets(tp)).get(tp)
        except Exception as exc:  # a broker slow to answer: keep waiting rather than guess
            log.warning("%s[%d]: could not read the earliest offset (%r)", tp.topic, tp.partition, exc)
            earliest = None
        deleted = deleted_range(offset_from, offset_to, earliest)
        if deleted is not None:
            await super()._add_gap(tp, *deleted)
        if deleted is None or deleted[1] < offset_to:
            log.warning(
                "%s[%d]: read offsets jumped from %d to %d; the records in between are still on the broker, so they "
                "are not counted as processed: the partition's commit waits until they are re-read",
                tp.topic,
                tp.partition,
                offset_from - 1,
                offset_to,
            )

    def _new_offset(self, tp: TP) -> int | None:
        acked: list[int] = self._acked[tp]
        if not acked:
            return None
        gaps = self._gap[tp]
        if gaps:  # offsets the broker deleted before they were read count as processed (faust's own step)
            for entry in sorted(gaps.overlap(0, max(acked) + 1), key=lambda interval: interval.begin):
                acked.extend(range(entry.begin, entry.end))
            gaps.chop(0, max(acked) + 1)
            acked[:] = sorted(set(acked))
        else:
            acked.sort()
        offset, n = next_commit(acked, self._committed_offset[tp])
        if offset is None:
            return None
        self._acked_index[tp].difference_update(acked[:n])
        del acked[:n]
        return offset


class StrictCommitTransport(faust_aiokafka.Transport):
    Consumer: ClassVar[type[Any]] = StrictCommitConsumer


class WorkerApp(faust.App):
    """The worker's faust app: its consumer commits only what was processed (StrictCommitConsumer)."""

    def _new_transport(self) -> Any:
        return StrictCommitTransport(self.conf.broker_consumer, self)
