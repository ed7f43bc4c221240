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
otherwise the partition's commit waits, and the stall watch's re-read (streams/faust_workarounds/stall.py) fills the hole. Records read
twice are harmless: the worker drops duplicates and its outputs are idempotent.

The same consumer keeps such holes from arising: its `DeliveryGate` (streams/faust_workarounds/delivery.py) holds newly assigned inputs
back until faust restored the tables and sought the inputs, and refuses records fetched before a seek.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar, cast

import faust
from faust.tables import TableManager
from faust.tables.recovery import Recovery
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message

from streams.faust_workarounds.delivery import DeliveryGate

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


# How long a fetch waits when every assigned input is held back (faust itself waits 1 s with nothing assigned).
HELD_FETCH_WAIT_S = 0.1


class StrictCommitConsumer(faust_aiokafka.Consumer):
    """faust's aiokafka consumer with `next_commit` and `deleted_range` in place of its own gap bookkeeping, and a
    `DeliveryGate` (streams/faust_workarounds/delivery.py) between its fetches, its seeks and the streams."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate: DeliveryGate[TP] = DeliveryGate()
        # Fetches and seeks take turns: a seek never lands while a fetch is under way, so every fetch is either
        # wholly before a seek (its records of that partition are refused) or wholly after it.
        self._fetch_or_seek = asyncio.Lock()
        self._fetched_at: Mapping[TP, int] = {}
        self._sought_to: dict[TP, int | None] = {}
        self._refused_while_held: dict[TP, int] = {}  # partition -> first offset refused
        self._release_generation: int | None = None
        self.fetch_rounds = 0  # fetches started: the stall watch tells a stopped fetcher from a busy one

    async def on_partitions_assigned(self, assigned: set[TP], generation_id: int = 0) -> None:
        self.gate.hold(tp for tp in assigned if not self._is_changelog_tp(tp))
        self._release_generation = None
        await super().on_partitions_assigned(assigned, generation_id)

    def release_after_seek(self, generation_id: int) -> None:
        """The tables of `generation_id` are restored: the seek to the committed offsets that follows releases the
        held inputs (if no newer rebalance began)."""
        self._release_generation = generation_id

    async def _getmany(self, active_partitions: set[TP] | None, timeout: float) -> Any:
        self.fetch_rounds += 1
        partitions = None if active_partitions is None else self.gate.fetchable(active_partitions)
        if partitions is not None and not partitions:
            # aiokafka reads an empty set as "every partition"
            await asyncio.sleep(HELD_FETCH_WAIT_S)
            return {}
        async with self._fetch_or_seek:
            self._fetched_at = self.gate.fetch_started()
            return await super()._getmany(partitions, timeout)

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        gate = self.gate
        async for tp, message in super().getmany(timeout):
            fetched_at = self._fetched_at
            if not gate.deliverable(tp, fetched_at):
                # Held back (the seek that releases it reads it again) or fetched before a seek (read again by it).
                if tp in gate.held:
                    first = self._refused_while_held.get(tp)
                    self._refused_while_held[tp] = message.offset if first is None else min(first, message.offset)
                continue
            yield tp, message
            if gate.sought_since(tp, fetched_at):
                # Sought while this record was being processed: faust has just moved the read offset to it, which
                # would drop the records the seek re-reads as already read.
                self._read_offset[tp] = self._sought_to.get(tp)

    async def seek(self, partition: TP, offset: int) -> None:
        async with self._fetch_or_seek:
            await super().seek(partition, offset)
            self.gate.sought([partition])
            self._sought_to[partition] = self._read_offset.get(partition)

    async def perform_seek(self) -> None:
        async with self._fetch_or_seek:
            await super().perform_seek()
            inputs = [tp for tp in self.assignment() if not self._is_changelog_tp(tp)]
            # aiokafka seeks only partitions committed past 0; the others stay where fetching left them, which is
            # right unless records of theirs were refused while held: then reading goes back to the first of those.
            sought = [tp for tp in inputs if self._read_offset.get(tp)]
            for tp in inputs:
                refused = self._refused_while_held.pop(tp, None)
                if refused is not None and tp not in sought:
                    await self._seek(tp, refused)
                    self._read_offset[tp] = None
                    sought.append(tp)
            self.gate.sought(sought)
            self._sought_to.update({tp: self._read_offset.get(tp) for tp in sought})
            if self._release_generation is not None and self._release_generation == self.app.consumer_generation_id:
                self.gate.release()
                self._release_generation = None

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


class WorkerRecovery(Recovery):
    """faust's table recovery, telling the consumer when its inputs may flow again (after the seek that ends it)."""

    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        cast(StrictCommitConsumer, self.app.consumer).release_after_seek(generation_id)
        await super().on_recovery_completed(generation_id)

    async def _resume_streams(self, generation_id: int = 0) -> None:
        cast(StrictCommitConsumer, self.app.consumer).release_after_seek(generation_id)
        await super()._resume_streams(generation_id)


class WorkerTableManager(TableManager):
    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = WorkerRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery


class WorkerApp(faust.App):
    """The worker's faust app: its consumer commits only what was processed (StrictCommitConsumer) and delivers
    nothing fetched before a seek or before the tables are restored (DeliveryGate)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("TableManager", WorkerTableManager)
        super().__init__(*args, **kwargs)

    def _new_transport(self) -> Any:
        return StrictCommitTransport(self.conf.broker_consumer, self)
