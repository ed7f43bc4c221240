"""Feed batches: many records of one site in one Kafka message (the gateway sends one per site and request).

A feed topic's message is either one record of the feed (a JSON object with the feed's fields, as before) or a
**feed batch** (version 1):

```json
{"kind": "feed-batch", "version": 1, "records": [{"station": "wj-songling", "observed_at": …, "pm25": 35}, …]}
```

keyed by the site id, every record of the same site. The worker judges each record of a batch on its own: one that
fails is dead-lettered with its index (`#i` after the message's place) and the others count. A batch costs the
worker's consumer one message instead of one per record. Batches hold at most `RECORDS_PER_BATCH` records and stay
within Kafka's 1 MB default message limit; the gateway splits larger requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import orjson
from pydantic import TypeAdapter

from citywatch.schemas.envelope import head_of, in_parts
from citywatch.schemas.feed_record import FeedRecord

BATCH_KIND: Literal["feed-batch"] = "feed-batch"
BATCH_VERSION: Literal[1] = 1
RECORDS_PER_BATCH = 1000
"""At most this many records per batch: air readings are ~250 bytes of JSON, so about 250 KB."""

_HINT = b'"feed-batch"'
_HINT_WITHIN = 256  # the kind is the first field the gateway writes; a hand-made batch may put it a little later


class BatchError(ValueError):
    """A message that says it is a feed batch but is not a valid one: the whole message is refused."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class FeedPayload:
    """One record as a message carries it: the whole message (`index` None, `raw` its bytes) or a batch's element
    (`index` its position, `raw` the parsed JSON value)."""

    index: int | None
    raw: Any

    def text(self) -> str:
        """The record as text, for a dead letter."""
        if self.index is None:
            value = self.raw
            return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value or "")
        return orjson.dumps(self.raw).decode()


def payloads_of(message: bytes | None) -> list[FeedPayload]:
    """The records a feed topic's message carries; BatchError for a broken batch envelope."""
    if message is None or _HINT not in message[:_HINT_WITHIN]:
        return [FeedPayload(None, message)]
    try:
        data = orjson.loads(message)
    except orjson.JSONDecodeError:
        return [FeedPayload(None, message)]  # not JSON at all: the record's own validation says so
    if not isinstance(data, dict) or data.get("kind") != BATCH_KIND:
        return [FeedPayload(None, message)]
    if data.get("version") != BATCH_VERSION:
        raise BatchError(f"unknown feed batch version {data.get('version')!r}; this worker reads version 1")
    records = data.get("records")
    if not isinstance(records, list) or not records:
        raise BatchError("a feed batch carries its records as a non-empty list in `records`")
    if len(records) > RECORDS_PER_BATCH:
        raise BatchError(f"a feed batch holds at most {RECORDS_PER_BATCH} records, this one {len(records)}")
    return [FeedPayload(i, record) for i, record in enumerate(records)]


BATCH_HEAD = head_of({"kind": BATCH_KIND, "version": BATCH_VERSION})
"""Every feed batch starts with these bytes; its list of records follows."""


def encode_batches(records: Sequence[FeedRecord]) -> list[bytes]:
    """Feed batches carrying `records` (all of one site), in order, each of at most `RECORDS_PER_BATCH` records and
    within Kafka's message limit (`citywatch.schemas.envelope`)."""
    if not records:
        return []
    return in_parts(BATCH_HEAD, _list_of(type(records[0])), records, RECORDS_PER_BATCH)


@cache
def _list_of(model: type[FeedRecord]) -> TypeAdapter[list[Any]]:
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def record_dicts_of(message: bytes) -> list[Any]:
    """The records a feed topic's message carries as plain JSON (a batch's elements, or the one record); for tools
    and tests that read the topic. Raises ValueError on a message that is no JSON."""
    return [orjson.loads(p.raw) if p.index is None else p.raw for p in payloads_of(message)]
