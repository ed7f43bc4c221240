"""The gateway's Kafka producer: acks=all, idempotent, and honest about what Kafka acknowledged."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

log = logging.getLogger("citywatch.ingest")


class BrokerUnavailable(RuntimeError):
    """Kafka did not acknowledge; the client should retry after `retry_after` seconds."""

    def __init__(self, reason: str, retry_after: int = 5) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class Publisher:
    def __init__(self, kafka: dict[str, Any], request_timeout_ms: int, ack_timeout_s: float) -> None:
        self._kafka = kafka  # services.kafka_client.client_kwargs: bootstrap servers and security
        self._bootstrap = kafka["bootstrap_servers"]
        self._timeout_ms = request_timeout_ms
        self._ack_timeout_s = ack_timeout_s
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self._stopping: set[asyncio.Task[None]] = set()

    async def _ensure(self) -> AIOKafkaProducer:
        if self._producer is not None:
            return self._producer
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    **self._kafka,
                    acks="all",
                    enable_idempotence=True,
                    request_timeout_ms=self._timeout_ms,
                    linger_ms=2,
                )
                try:
                    await producer.start()
                except (KafkaError, OSError) as exc:
                    await producer.stop()
                    raise BrokerUnavailable(f"Kafka at {self._bootstrap} is unreachable: {exc}") from exc
                self._producer = producer
            return self._producer

    async def publish(
        self, topic: str, records: list[tuple[bytes, bytes]], headers: list[tuple[str, bytes]] | None = None
    ) -> None:
        """Send all records (each with `headers`) and return only once Kafka acknowledged every one of them.

        aiokafka keeps unsent batches while the broker is away, so the wait is bounded here: past it the caller
        is told nothing was accepted. A batch may still reach Kafka later; the retry that follows is then a
        duplicate that the worker drops by event id and revision (at-least-once, never lost).
        """
        producer = await self._ensure()
        try:
            async with asyncio.timeout(self._ack_timeout_s):
                futures = [await producer.send(topic, key=key, value=value, headers=headers) for key, value in records]
                await asyncio.gather(*futures)
        except TimeoutError as exc:
            self._discard(producer)
            raise BrokerUnavailable(f"Kafka did not acknowledge within {self._ack_timeout_s:g} s") from exc
        except (KafkaError, OSError) as exc:
            self._discard(producer)
            raise BrokerUnavailable(f"Kafka did not acknowledge: {exc}") from exc

    def _discard(self, producer: AIOKafkaProducer) -> None:
        """Replace a producer that failed: after a broker restart with sends in flight, an idempotent producer can
        be left in a fatal state (OutOfOrderSequenceNumber on every send) and would refuse every later request.
        The next request starts a fresh one (a new producer id); the old one is stopped in the background."""
        if self._producer is not producer:
            return
        self._producer = None
        log.warning("discarding the Kafka producer after a failed publish; the next request starts a new one")
        task = asyncio.get_running_loop().create_task(self._stop_quietly(producer))
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def _stop_quietly(self, producer: AIOKafkaProducer) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self._timeout_ms / 1000):
                await producer.stop()

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
