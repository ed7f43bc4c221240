"""Reading what the system published, from the real servers, with deadlines instead of sleeps."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from kafka import KafkaConsumer

from citywatch.schemas.feed_batch import record_dicts_of
from citywatch.schemas.indicator import record_dicts_in
from services.kafka_client import Connection, connection_kwargs

R = TypeVar("R")


def read_until(
    bootstrap: Connection, topic: str, done: Callable[[list[dict[str, Any]]], bool], timeout_s: float = 60.0
) -> list[dict[str, Any]]:
    """Read a topic from the beginning until `done(records)` holds; fail with what was seen otherwise."""
    return _read_flat(bootstrap, topic, done, timeout_s, lambda value: [json.loads(value)])


def read_feed_until(
    bootstrap: Connection, topic: str, done: Callable[[list[dict[str, Any]]], bool], timeout_s: float = 60.0
) -> list[dict[str, Any]]:
    """`read_until` for a feed topic: the records its messages carry (a feed batch's elements, or the one record)."""
    return _read_flat(bootstrap, topic, done, timeout_s, record_dicts_of)


def read_indicators_until(
    bootstrap: Connection, topic: str, done: Callable[[list[dict[str, Any]]], bool], timeout_s: float = 60.0
) -> list[dict[str, Any]]:
    """`read_until` for the indicators topic: the indicator records its messages (updates) carry, in order."""
    return _read_flat(bootstrap, topic, done, timeout_s, record_dicts_in)


def read_values_until(
    bootstrap: Connection, topic: str, done: Callable[[list[bytes]], bool], timeout_s: float = 60.0
) -> list[bytes]:
    """`read_until` for the messages' values as they are (bytes)."""
    return _read_flat(bootstrap, topic, done, timeout_s, lambda value: [value])


def _read_flat(
    bootstrap: Connection,
    topic: str,
    done: Callable[[list[R]], bool],
    timeout_s: float,
    records_of: Callable[[bytes], list[R]],
) -> list[R]:
    """Read a topic from the beginning, each message as the records `records_of` finds in it, until `done`."""
    consumer = KafkaConsumer(
        topic,
        **connection_kwargs(bootstrap),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=500,
    )
    records: list[R] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            for message in consumer:
                records.extend(records_of(message.value))
            if done(records):
                return records
    finally:
        consumer.close()
    raise AssertionError(f"{topic}: condition not met within {timeout_s} s; saw {len(records)} records: {records[-5:]}")


def prometheus_value(base_url: str, query: str, timeout_s: float = 30.0) -> float:
    """The single value of an instant query, waiting until Prometheus has scraped it."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = httpx.get(f"{base_url}/api/v1/query", params={"query": query}, timeout=5).json()
        result = last["data"]["result"]
        if result:
            assert len(result) == 1, f"{query} matched {len(result)} series: {result}"
            return float(result[0]["value"][1])
        time.sleep(0.5)
    raise AssertionError(f"Prometheus returned nothing for {query} within {timeout_s} s; last answer {last}")
