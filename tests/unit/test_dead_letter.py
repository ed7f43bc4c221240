"""A dead letter always fits one Kafka message, however hostile the record: errors capped, payload cut."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from citywatch.feeds import parse_record
from citywatch.schemas.dead_letter import MAX_ERRORS_LISTED, DeadLetter, FieldError, field_errors
from tests.feed_examples import VALID

KAFKA_MAX_MESSAGE_BYTES = 1_048_588  # the broker's default message.max.bytes


def letter(errors: list[FieldError], payload: str) -> DeadLetter:
    return DeadLetter(feed="air", stage="ingest", errors=errors, payload=payload, received_at=dt.datetime.now(dt.UTC))


def test_sixty_thousand_unknown_keys_list_a_hundred_errors_and_the_total() -> None:
    record = {**VALID["air"], **{f"k{i}": i for i in range(60_000)}}
    try:
        parse_record("air", record)
    except ValidationError as exc:
        errors = field_errors(exc)
    kept = letter(errors, str(record))
    assert len(kept.errors) == MAX_ERRORS_LISTED and kept.errors_total == 60_000
    assert len(kept.model_dump_json().encode()) < KAFKA_MAX_MESSAGE_BYTES
    again = DeadLetter.model_validate_json(kept.model_dump_json())  # read back (the rejections API) unchanged
    assert again.errors_total == 60_000 and len(again.errors) == MAX_ERRORS_LISTED


@settings(max_examples=40, deadline=None)
@given(
    field=st.text(min_size=0, max_size=3000),
    reason=st.text(min_size=0, max_size=3000),
    errors=st.integers(0, 5000),
    payload=st.text(alphabet=st.characters(max_codepoint=0x10FFFF), max_size=300_000),
    controls=st.booleans(),
)
def test_whatever_was_sent_the_letter_fits_a_kafka_message(
    field: str, reason: str, errors: int, payload: str, controls: bool
) -> None:
    if controls:  # control characters are escaped as six bytes each in JSON: the worst case
        payload = "\x01" * 200_000 + payload
        field, reason = "\x02" * 3000, "\x03" * 3000
    kept = letter([FieldError(field=field, reason=reason)] * errors, payload)
    assert len(kept.model_dump_json().encode()) < KAFKA_MAX_MESSAGE_BYTES
    assert kept.errors_total == errors
