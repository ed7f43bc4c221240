"""Which fetched input records may reach the worker's streams.

faust-streaming 0.15 fetches in one place and delivers, record by record, later; seeks happen in between. Two faults
follow, both seen losing readings across a worker restart (issue 8):

- a record fetched before a seek and delivered after it moves faust's read offset past the records the seek is
  about to re-read, and faust drops those as already read;
- after an assignment faust lets records through until it pauses the inputs for the table restore, so a batch can
  be folded into a table the restore then overwrites.

The gate holds newly assigned inputs back (they are not fetched at all) until faust has restored the tables and
sought the inputs to their committed offsets, and it refuses records fetched before the latest seek of their
partition. Each refusal is followed by a seek of that partition, so a refused record is read again, never lost.
Pure: the consumer (streams/faust_workarounds/commits.py) calls it around its fetches and seeks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

P = TypeVar("P", bound=Hashable)  # a partition


@dataclass
class DeliveryGate(Generic[P]):
    held: set[P] = field(default_factory=set)
    _seeks: Counter[P] = field(default_factory=Counter)

    def hold(self, partitions: Iterable[P]) -> None:
        """Fetch nothing from `partitions` and deliver nothing of them until `release` (after their seek)."""
        self.held = set(partitions)

    def release(self) -> None:
        self.held.clear()

    def fetchable(self, partitions: Iterable[P]) -> set[P]:
        return {tp for tp in partitions if tp not in self.held}

    def fetch_started(self) -> Mapping[P, int]:
        """The seek count of every partition as a fetch starts; `deliverable` compares against it."""
        return dict(self._seeks)

    def sought(self, partitions: Iterable[P]) -> None:
        """`partitions` were sought: what an earlier fetch returned for them is stale."""
        self._seeks.update(partitions)

    def deliverable(self, partition: P, fetched_at: Mapping[P, int]) -> bool:
        return partition not in self.held and not self.sought_since(partition, fetched_at)

    def sought_since(self, partition: P, fetched_at: Mapping[P, int]) -> bool:
        return self._seeks[partition] != fetched_at.get(partition, 0)
