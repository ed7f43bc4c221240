"""Feed batches: many records of one site in one Kafka message, each judged on its own."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from citywatch.feeds import parse_record
from citywatch.schemas.air import AirReading
from citywatch.schemas.feed_batch import RECORDS_PER_BATCH, BatchError, encode_batches, payloads_of

T0 = datetime(2026, 12, 1, 1, tzinfo=UTC)


def readings(n: int) -> list[AirReading]:
    return [
        AirReading.model_validate({"station": "wj-songling", "observed_at": T0 + timedelta(hours=i), "pm25": 30 + i})
        for i in range(n)
    ]


def test_a_batch_carries_its_records_in_order_and_each_parses_back_equal() -> None:
    sent = readings(3)
    (message,) = encode_batches(sent)
    assert json.loads(message)["kind"] == "feed-batch"
    payloads = payloads_of(message)
    assert [p.index for p in payloads] == [0, 1, 2]
    assert [parse_record("air", p.raw) for p in payloads] == sent
    assert json.loads(payloads[1].text())["pm25"] == 31  # what a dead letter of element 1 would carry


def test_a_large_request_becomes_several_batches_of_at_most_the_limit() -> None:
    sent = readings(RECORDS_PER_BATCH + 2)
    messages = encode_batches(sent)
    assert [len(payloads_of(m)) for m in messages] == [RECORDS_PER_BATCH, 2]
    assert [parse_record("air", p.raw) for m in messages for p in payloads_of(m)] == sent
    assert encode_batches([]) == []


def test_a_single_record_message_stays_one_record_whatever_its_bytes() -> None:
    (one,) = readings(1)
    for message in (one.model_dump_json().encode(), b"not json", b"", None, b'{"note": "feed-batch"}'):
        (payload,) = payloads_of(message)
        assert (payload.index, payload.raw) == (None, message)


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (b'{"kind": "feed-batch", "version": 2, "records": [{}]}', "unknown feed batch version 2"),
        (b'{"kind": "feed-batch", "version": 1, "records": {}}', "non-empty list"),
        (b'{"kind": "feed-batch", "version": 1, "records": []}', "non-empty list"),
        (
            b'{"kind": "feed-batch", "version": 1, "records": [' + b",".join([b"{}"] * (RECORDS_PER_BATCH + 1)) + b"]}",
            f"at most {RECORDS_PER_BATCH} records",
        ),
    ],
)
def test_a_broken_batch_is_refused_whole_with_the_reason(message: bytes, reason: str) -> None:
    with pytest.raises(BatchError, match=reason):
        payloads_of(message)
