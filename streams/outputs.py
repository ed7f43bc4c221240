"""The worker's output topics (indicators, rule evaluations, contributions, dead letters), written by a plain
aiokafka producer rather than through faust's `Topic.send`.

faust wraps every send in a `FutureMessage`, a `PendingMessage` and its own callbacks and buffer; profiled on the
worker bench, that bookkeeping cost more than computing the indicators. The worker needs none of it: it awaits the
broker's acknowledgement of every output of a batch before it stores the batch's state (see `streams/app.py`), which
a plain producer gives as directly. faust's own producer still writes the tables' changelogs.

The producer is idempotent with `acks=all`, so a retried send after a lost acknowledgement is not written twice,
and batches sends for a few milliseconds (`linger_ms`): a batch's outputs go out in a few requests, not one each.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from citywatch.settings import WorkerSettings
from services.kafka_client import client_kwargs

log = logging.getLogger("citywatch.worker")

LINGER_MS = 5
"""How long the producer waits to fill a request: a batch's sends are queued within microseconds of each other."""


class KeyPartitioner:
    """Kafka's default key partitioning (murmur2, as the Java client and faust's tables use), remembering the hash
    of keys it has seen: aiokafka's murmur2 is pure Python, and evaluations are keyed by fingerprint, a few hundred
    keys sent over and over. Forgets everything past `size` keys (indicator keys carry their bucket: one-offs)."""

    def __init__(self, size: int = 50_000) -> None:
        self._size = size
        self._hashes: dict[bytes, int] = {}

    def __call__(self, key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
        if key is None:
            raise ValueError("every output of the worker has a key")
        hashed = self._hashes.get(key)
        if hashed is None:
            if len(self._hashes) >= self._size:
                self._hashes.clear()
            hashed = self._hashes[key] = murmur2(key) & 0x7FFFFFFF
        return all_partitions[hashed % len(all_partitions)]


class OutputProducer:
    """Started on the first send (inside the worker's event loop), stopped when the worker shuts down."""

    def __init__(self, settings: WorkerSettings) -> None:
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._starting = asyncio.Lock()
        self._closing: set[asyncio.Task[None]] = set()

    async def _started(self) -> AIOKafkaProducer:
        if self._producer is not None:
            return self._producer
        async with self._starting:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    **client_kwargs(self._settings),
                    client_id=f"{self._settings.worker_app_id}-outputs",
                    acks="all",
                    enable_idempotence=True,
                    linger_ms=LINGER_MS,
                    partitioner=KeyPartitioner(),
                    request_timeout_ms=self._settings.kafka_request_timeout_ms,
                )
                await producer.start()
                self._producer = producer
        return self._producer

    async def send(self, topic: str, key: bytes, value: bytes) -> Awaitable[Any]:
        """Queue one record; the returned future resolves when the broker has acknowledged it."""
        producer = await self._started()
        acknowledged: Awaitable[Any] = await producer.send(topic, value=value, key=key)
        return acknowledged

    def renew(self) -> None:
        """Send with a new producer (a new producer id) from now on; the old one is closed in the background.

        A batch that expired unsent while its partition had no leader has used up its sequence numbers, and the broker
        answers the old producer's next sends to that partition with `OutOfOrderSequenceNumber`, for good: an
        idempotent aiokafka producer cannot reset them."""
        old, self._producer = self._producer, None
        if old is not None:
            closing = asyncio.create_task(self._close(old))
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)

    async def _close(self, producer: AIOKafkaProducer) -> None:
        try:
            await asyncio.wait_for(producer.stop(), self._settings.kafka_request_timeout_ms / 1000)
        except Exception as exc:  # what it still held is sent again by the new producer
            log.warning("the replaced output producer did not close cleanly: %r", exc)

    async def stop(self) -> None:
        """Flush what is queued and close: called after the worker's consumer has stopped, so nothing follows."""
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()
        await asyncio.gather(*self._closing)
