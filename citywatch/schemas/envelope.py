"""Messages that carry many records (feed batches, indicator updates): a JSON object whose last field is the list
of records, split so that every message stays within Kafka's message limit.

Both limits hold: at most `most` records in a message, and at most `MESSAGE_BYTES` bytes unless a single record is
larger (Kafka then refuses that one record, which is the same as before records travelled together).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from pydantic import TypeAdapter

MESSAGE_BYTES = 800_000
"""A message larger than this is split further, whatever its records hold (Kafka's default limit is 1 MB)."""


def head_of(fields: Mapping[str, Any]) -> bytes:
    """The start of an envelope, up to its list of records: `{"kind": …, …, "records":`."""
    return orjson.dumps(dict(fields))[:-1] + b',"records":'


def in_parts(head: bytes, adapter: TypeAdapter[list[Any]], records: Sequence[Any], most: int) -> list[bytes]:
    """`records` in envelopes starting with `head`, in order, each within both limits (see the module doc)."""
    out: list[bytes] = []
    for start in range(0, len(records), most):
        out += _within_bytes(head, adapter, list(records[start : start + most]))
    return out


def _within_bytes(head: bytes, adapter: TypeAdapter[list[Any]], records: list[Any]) -> list[bytes]:
    message = head + adapter.dump_json(records) + b"}"
    if len(message) <= MESSAGE_BYTES or len(records) == 1:
        return [message]
    half = len(records) // 2
    return _within_bytes(head, adapter, records[:half]) + _within_bytes(head, adapter, records[half:])
