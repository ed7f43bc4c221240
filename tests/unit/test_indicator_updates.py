"""Indicator updates: the indicators topic's messages, one per site and batch, read beside older single records."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from pydantic import ValidationError

from citywatch.schemas.envelope import MESSAGE_BYTES
from citywatch.schemas.indicator import (
    RECORDS_PER_UPDATE,
    IndicatorRecord,
    IndicatorUpdate,
    encode_updates,
    record_dicts_in,
    records_in,
)

T0 = dt.datetime(2026, 12, 1, 9, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def hourly(n: int, site: str = "wj-songling") -> list[IndicatorRecord]:
    return [
        IndicatorRecord(
            indicator="air.pm25.1h",
            site=site,
            value=10.0 + i,
            unit="µg/m³",
            window="1h",
            observed_at=T0 + dt.timedelta(hours=i),
            local_date=(T0 + dt.timedelta(hours=i)).date(),
            samples=1,
            period=(T0 + dt.timedelta(hours=i - 1)).strftime("%Y-%m-%dT%H"),
            labels={"category": "优"},
        )
        for i in range(n)
    ]


def test_an_update_carries_the_records_in_order_and_reads_back_equal() -> None:
    records = hourly(3)
    (message,) = encode_updates("wj-songling", records)
    data = json.loads(message)
    assert (data["kind"], data["version"], data["site"]) == ("indicator-update", 1, "wj-songling")
    assert IndicatorUpdate.model_validate_json(message).records == records
    assert records_in(message) == records
    assert [r["value"] for r in record_dicts_in(message)] == [10.0, 11.0, 12.0]


def test_a_big_batch_is_split_into_updates_under_the_message_limit() -> None:
    records = hourly(2 * RECORDS_PER_UPDATE + 1)
    messages = encode_updates("wj-songling", records)
    assert [len(records_in(m)) for m in messages] == [RECORDS_PER_UPDATE, RECORDS_PER_UPDATE, 1]
    assert [r for m in messages for r in records_in(m)] == records
    assert max(len(m) for m in messages) < 1_000_000  # Kafka's default message.max.bytes is 1 MB


def test_a_message_written_before_updates_is_read_as_its_single_record() -> None:
    (record,) = hourly(1)
    older = record.model_dump_json().encode()
    assert records_in(older) == [record]
    assert record_dicts_in(older) == [json.loads(older)]


def test_what_is_no_indicator_message_is_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="JSON object"):
        record_dicts_in(b"[1, 2]")
    with pytest.raises(ValueError, match="list"):
        record_dicts_in(b'{"kind": "indicator-update", "version": 1, "site": "x", "records": 5}')
    with pytest.raises(ValidationError):
        records_in(b'{"kind": "indicator-update", "version": 1, "site": "x", "records": [{"indicator": 1}]}')


def test_records_with_large_labels_are_split_by_size_too() -> None:
    wordy = [r.model_copy(update={"labels": {"note": "x" * 3000}}) for r in hourly(RECORDS_PER_UPDATE)]
    messages = encode_updates("wj-songling", wordy)
    assert len(messages) > 1 and max(len(m) for m in messages) <= MESSAGE_BYTES
    assert [r for m in messages for r in records_in(m)] == wordy
