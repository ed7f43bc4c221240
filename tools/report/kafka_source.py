"""Read a whole topic, from the beginning to the end offsets it had when reading started (kafka-python)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from pydantic import ValidationError

from citywatch.schemas.indicator import IndicatorRecord, record_dicts_in
from services.kafka_client import Connection, connection_kwargs
from tools.report.figures import REPORTED_INDICATORS, Period, in_scope

log = logging.getLogger("citywatch.report")

Progress = Callable[[int, int], None]
"""Called as records are read: (records read, records to read)."""


class TopicNotFoundError(RuntimeError):
    pass


def topic_values(
    client: Connection, topic: str, *, timeout_s: float = 120.0, progress: Progress | None = None
) -> Iterator[bytes]:
    """Every record value of `topic` up to its end offsets at the start; records written meanwhile are left out,
    so the read ends even while the worker keeps publishing. `progress` hears how far the read is."""
    consumer = KafkaConsumer(**connection_kwargs(client), group_id=None, enable_auto_commit=False)
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise TopicNotFoundError(
                f"topic {topic!r} does not exist on {connection_kwargs(client)['bootstrap_servers']}"
            )
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        end: dict[TopicPartition, int] = consumer.end_offsets(assigned)
        begin = {tp: consumer.position(tp) for tp in assigned}
        total = sum(end[tp] - begin[tp] for tp in assigned)
        remaining = {tp for tp in assigned if begin[tp] < end[tp]}
        deadline = time.monotonic() + timeout_s
        if progress:
            progress(0, total)
        while remaining:
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {topic} took longer than {timeout_s:.0f} s")
            for tp, messages in consumer.poll(timeout_ms=1000).items():
                for message in messages:
                    if message.offset < end[tp] and message.value is not None:
                        yield message.value
            remaining = {tp for tp in remaining if consumer.position(tp) < end[tp]}
            if progress:
                progress(sum(min(consumer.position(tp), end[tp]) - begin[tp] for tp in assigned), total)
    finally:
        consumer.close()


def read_indicators(
    client: Connection, topic: str, period: Period, progress: Progress | None = None
) -> list[IndicatorRecord]:
    """The records of the period's scope (`figures.in_scope`) of the indicators the report shows, every revision
    (`figures.current_values` picks the current ones)."""
    records: list[IndicatorRecord] = []
    invalid = 0
    for value in topic_values(client, topic, progress=progress):
        try:
            found = record_dicts_in(value)  # an update's records, or an older message's single one
        except ValueError:
            invalid += 1
            continue
        for data in found:
            # Validating only the indicators the report shows: most of the topic is hourly values it does not.
            if not isinstance(data, dict) or data.get("indicator") not in REPORTED_INDICATORS:
                continue
            try:
                record = IndicatorRecord.model_validate(data)
            except ValidationError:
                invalid += 1
                continue
            if in_scope(record, period):
                records.append(record)
    if invalid:
        log.warning("%d records of %s are not indicator records; left out", invalid, topic)
    return records


def read_alerts(client: Connection, topic: str, progress: Progress | None = None) -> list[dict[str, Any]]:
    """The alert transitions of the alerts topic (`figures.alert_transitions` picks those of the period)."""
    out: list[dict[str, Any]] = []
    for value in topic_values(client, topic, progress=progress):
        try:
            record = json.loads(value)
        except ValueError:
            continue
        if isinstance(record, dict) and "event_time" in record:
            out.append(record)
    return out
