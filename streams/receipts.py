"""The worker's verdict on every feed record of a batch, gathered per receipt (`citywatch.schemas.receipt`).

A record carries its receipt in a Kafka header (the gateway sets it; a direct publisher may); a record without one
is judged all the same but reported to nobody.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from citywatch.schemas.receipt import REASONS_PER_UPDATE, RECEIPT_HEADER, ReceiptUpdate, WorkerOutcome


def source_of(topic: str, partition: int, offset: int) -> str:
    """Where a record was read: unique per record, so a verdict replayed after a crash is recognised."""
    return f"{topic}:{partition}:{offset}"


def receipt_of(headers: Mapping[str, bytes] | None) -> str | None:
    raw = (headers or {}).get(RECEIPT_HEADER)
    if not raw:
        return None
    try:
        return raw.decode("ascii")[:64]
    except UnicodeDecodeError:
        return None


@dataclass
class ReceiptBook:
    """One batch's verdicts, by (department, receipt)."""

    _entries: dict[tuple[str, str, str], tuple[list[tuple[str, WorkerOutcome]], list[str]]] = field(
        default_factory=dict
    )

    def note(
        self,
        receipt: str | None,
        department: str,
        feed: str,
        source: str,
        outcome: WorkerOutcome,
        reason: str | None = None,
    ) -> None:
        if receipt is None:
            return
        outcomes, reasons = self._entries.setdefault((department, receipt, feed), ([], []))
        outcomes.append((source, outcome))
        if reason is not None and len(reasons) < REASONS_PER_UPDATE:
            reasons.append(reason)

    def updates(self) -> list[ReceiptUpdate]:
        return [
            ReceiptUpdate(receipt=receipt, department=department, feed=feed, outcomes=outcomes, reasons=reasons)
            for (department, receipt, feed), (outcomes, reasons) in self._entries.items()
        ]
