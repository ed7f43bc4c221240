"""Kafka side of the benchmarks: topics, the fast pre-load producer and the bare consume-and-decode loop."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from citywatch.site_registry import load_registry
from citywatch.topics import Topics
from services.kafka_client import Connection, connection_kwargs
from services.topic_admin import ensure_topics
from tools.bench.results import ConsumerRate

Progress = Callable[[int], None]
"""Called with the number of records done so far."""


def create_topics(
    bootstrap: Connection, prefix: str, partitions: int, registry_file: Path, worker_app_id: str
) -> list[str]:
    """Every topic of the prefix (feeds of each registry department, indicators, changelog ...), like a deployment."""
    registry = load_registry(registry_file)
    return ensure_topics(bootstrap, Topics(prefix), partitions, registry.feeds_by_department(), worker_app_id)


def wait_for_leaders(bootstrap: Connection, topics: Iterable[str], timeout_s: float = 30.0) -> None:
    """Until every partition of the topics has a leader (sends right after creation fail with NotLeader)."""
    wanted = list(topics)
    admin = KafkaAdminClient(**connection_kwargs(bootstrap), client_id="citywatch-bench")
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            described = admin.describe_topics(wanted)
            if all(
                t.get("partitions")
                and all(p.get("leader_id", -1) >= 0 and p.get("error_code", 0) == 0 for p in t["partitions"])
                for t in described
            ):
                return
            time.sleep(0.2)
        raise RuntimeError(f"no leader for some partitions of {wanted} after {timeout_s:.0f} s")
    finally:
        admin.close()


def delete_prefix(bootstrap: Connection, prefix: str, groups: Iterable[str]) -> list[str]:
    """Delete the run's topics (every name starting with `prefix`) and consumer groups; returns the topics."""
    admin = KafkaAdminClient(**connection_kwargs(bootstrap), client_id="citywatch-bench")
    try:
        doomed = sorted(t for t in admin.list_topics() if t.startswith(prefix))
        if doomed:
            with contextlib.suppress(KafkaError):
                admin.delete_topics(doomed)
        with contextlib.suppress(KafkaError):
            admin.delete_groups(list(groups))
        return doomed
    finally:
        admin.close()


async def preload(
    bootstrap: Connection,
    topic: str,
    records: Iterable[tuple[bytes, bytes]],
    total: int,
    progress: Progress,
    idempotent: bool = False,
) -> ConsumerRate:
    """Publish the records as fast as aiokafka can (acks=1, large batches, linger); time from first send to last ack.

    `idempotent`: acks=all and the idempotent producer, so that a retried batch (NotLeaderForPartition on a fresh
    broker) is not written twice — for benchmarks that count records (memory per site, one vs two workers).
    """
    producer = AIOKafkaProducer(
        **connection_kwargs(bootstrap),
        acks="all" if idempotent else 1,
        linger_ms=20,
        max_batch_size=512 * 1024,
        max_request_size=4 * 1024 * 1024,
        enable_idempotence=idempotent,
    )
    await producer.start()
    await producer.partitions_for(topic)  # metadata before the clock starts
    sent = 0
    try:
        started = time.perf_counter()
        pending: list[asyncio.Future[object]] = []
        for key, value in records:
            pending.append(await producer.send(topic, value=value, key=key))
            sent += 1
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
                progress(sent)
        await producer.flush()
        await asyncio.gather(*pending)
        progress(sent)
        seconds = time.perf_counter() - started
    finally:
        await producer.stop()
    return ConsumerRate(
        "preload",
        "aiokafka producer (acks=1, batched)",
        "first send to last acknowledgement",
        sent,
        seconds,
        sent == total,
    )


async def bare_consume(
    bootstrap: str, topic: str, expected: int, progress: Progress, timeout_s: float = 600.0
) -> ConsumerRate:
    """The limit: aiokafka `getmany` and `orjson.loads` of every value, from offset 0 until `expected` records.

    Timed from the first batch returned to the `expected`-th record decoded (connection and metadata excluded).
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    count = 0
    first: float | None = None
    last = time.perf_counter()
    try:
        # No group: aiokafka assigns every partition of the topic; with no committed offset it starts at 0.
        consumer.subscribe([topic])
        deadline = time.monotonic() + timeout_s
        loads = orjson.loads
        while count < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            if not batches:
                continue
            if first is None:
                first = time.perf_counter()
            for messages in batches.values():
                for message in messages:
                    loads(message.value)
                count += len(messages)
            last = time.perf_counter()
            progress(count)
    finally:
        await consumer.stop()
    seconds = last - first if first is not None else 0.0
    return ConsumerRate(
        "bare",
        "bare aiokafka getmany + orjson.loads",
        "in-process clock, first batch to last record",
        count,
        seconds,
        count >= expected,
    )
