"""Envelopes of many records (feed batches, indicator updates) stay within Kafka's message limit."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from citywatch.schemas.envelope import MESSAGE_BYTES, head_of, in_parts

LIST = TypeAdapter(list[dict[str, Any]])
HEAD = head_of({"kind": "test", "version": 1})


def test_the_head_opens_the_object_and_the_records_close_it() -> None:
    (message,) = in_parts(HEAD, LIST, [{"a": 1}], most=10)
    assert orjson.loads(message) == {"kind": "test", "version": 1, "records": [{"a": 1}]}


@given(
    st.lists(st.integers(min_value=0, max_value=300_000), min_size=1, max_size=40),
    st.integers(min_value=1, max_value=50),
)
def test_every_record_once_in_order_within_both_limits(sizes: list[int], most: int) -> None:
    records = [{"i": i, "text": "x" * size} for i, size in enumerate(sizes)]
    messages = in_parts(HEAD, LIST, records, most)
    parts = [orjson.loads(m)["records"] for m in messages]
    assert [r for part in parts for r in part] == records
    assert all(len(part) <= most for part in parts)
    # Only a message of a single record may exceed the byte limit (Kafka then refuses that record alone).
    assert all(len(m) <= MESSAGE_BYTES or len(p) == 1 for m, p in zip(messages, parts, strict=True))
