"""Read a whole topic, from the beginning to the end offsets it had when reading started (kafka-python)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from pydantic import ValidationError

from citywatch.report.figures import Period
from citywatch.schemas.indicator import IndicatorRecord

log = logging.getLogger("citywatch.report")


class TopicNotFoundError(RuntimeError):
    pass


def topic_values(bootstrap: str, topic: str, *, timeout_s: float = 120.0) -> Iterator[bytes]:
    """Every record value of `topic` up to its end offsets at the start; records written meanwhile are left out,
    so the read ends even while the worker keeps publishing."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise TopicNotFoundError(f"topic {topic!r} does not exist on {bootstrap}")
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        end: dict[TopicPartition, int] = consumer.end_offsets(assigned)
        remaining = {tp for tp in assigned if consumer.position(tp) < end[tp]}
        deadline = time.monotonic() + timeout_s
        while remaining:
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {topic} took longer than {timeout_s:.0f} s")
            for tp, messages in consumer.poll(timeout_ms=1000).items():
                for message in messages:
                    if message.offset < end[tp] and message.value is not None:
                        yield message.value
            remaining = {tp for tp in remaining if consumer.position(tp) < end[tp]}
    finally:
        consumer.close()


def read_indicators(bootstrap: str, topic: str, period: Period) -> list[IndicatorRecord]:
    """The indicator records of the period (every revision; `figures.current_values` picks the current ones)."""
    records: list[IndicatorRecord] = []
    invalid = 0
    for value in topic_values(bootstrap, topic):
        try:
            record = IndicatorRecord.model_validate_json(value)
        except ValidationError:
            invalid += 1
            continue
        if record.local_date in period:
            records.append(record)
    if invalid:
        log.warning("%d records of %s are not indicator records; left out", invalid, topic)
    return records


def read_alerts(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """The alert transitions of the alerts topic (`figures.alert_transitions` picks those of the period)."""
    out: list[dict[str, Any]] = []
    for value in topic_values(bootstrap, topic):
        try:
            record = json.loads(value)
        except ValueError:
            continue
        if isinstance(record, dict) and "event_time" in record:
            out.append(record)
    return out
