"""The worker's verdict on every feed record of a batch, gathered per receipt (`citywatch.schemas.receipt`).

A record carries its receipt in a Kafka header (the gateway sets it; a direct publisher may); a record without one
is judged all the same but reported to nobody.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from citywatch.schemas.receipt import REASONS_PER_UPDATE, RECEIPT_HEADER, ReceiptUpdate, WorkerOutcome

OUTCOMES_PER_UPDATE = 5000
"""At most this many verdicts per receipt update: ~70 bytes of JSON each, so about 350 KB."""


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

    def take(self) -> list[ReceiptUpdate]:
        """`updates`, and forget them: the verdicts noted since are the next step's."""
        updates = self.updates()
        self._entries.clear()
        return updates

    def updates(self) -> list[ReceiptUpdate]:
        """One update per receipt, or several of at most `OUTCOMES_PER_UPDATE` outcomes (a batch of feed batches
        can hold a million readings of one receipt; Kafka's default message limit is 1 MB). The reasons go with the
        first; the gateway folds updates by source, so their number does not matter."""
        return [
            ReceiptUpdate(
                receipt=receipt,
                department=department,
                feed=feed,
                outcomes=outcomes[start : start + OUTCOMES_PER_UPDATE],
                reasons=reasons if start == 0 else [],
            )
            for (department, receipt, feed), (outcomes, reasons) in self._entries.items()
            for start in range(0, len(outcomes), OUTCOMES_PER_UPDATE)
        ]
