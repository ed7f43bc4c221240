"""Receipts: what became of every reading a publisher sent, so it can tell when its data counted.

A publisher names a receipt (HTTP header `Citywatch-Receipt`, or the gateway makes one per request); the gateway
puts it on every feed record it publishes as the Kafka header `citywatch-receipt` (direct Kafka publishers may set
it themselves). For each batch the worker publishes one `ReceiptUpdate` per receipt on `<prefix>.receipts`: the
verdict on each of the receipt's records, named by where it was read (`topic:partition:offset`), so an update
replayed after a crash counts nothing twice. The gateway folds the updates into Redis and serves them at
`GET /v1/receipts/{receipt}` to the department that owns the receipt.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

RECEIPT_HEADER = "citywatch-receipt"
"""Kafka header of a feed record: the receipt it was published under."""
LANE_HEADER = "citywatch-lane"
"""Kafka header of a feed record: "history" for a backfill of past data (docs/architecture.md); absent: live."""
HISTORY_LANE = "history"
RECEIPT_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"

WorkerOutcome = Literal[
    "new",
    "correction",
    "duplicate",
    "ignored",
    "too-late",
    "invalid",
    "forbidden",
    "conflict",
    "stale-revision",
    "wrong-partition",
    "processing-error",
]
WORKER_OUTCOMES: tuple[str, ...] = get_args(WorkerOutcome)
COUNTED: frozenset[str] = frozenset({"new", "correction"})
"""Outcomes whose reading counts (folded into the indicators)."""
NOT_REFUSED: frozenset[str] = COUNTED | {"duplicate", "ignored"}
"""Outcomes that are no rejection: counted, or already counted, or not taken by design (a daily mean is kept on
the topic but builds no state)."""
REFUSALS: tuple[str, ...] = tuple(o for o in WORKER_OUTCOMES if o not in NOT_REFUSED)
"""Outcomes that refuse a record: it is dead-lettered with the reason."""
REASONS_PER_UPDATE = 20


class ReceiptUpdate(BaseModel):
    """The worker's verdicts on one receipt's records of one batch."""

    model_config = ConfigDict(frozen=True)

    receipt: str
    department: str
    feed: str
    outcomes: list[tuple[str, WorkerOutcome]] = Field(
        description="(source, outcome) per record: source is topic:partition:offset, unique per record"
    )
    reasons: list[str] = Field(default_factory=list, description="The first reasons of refused records")
