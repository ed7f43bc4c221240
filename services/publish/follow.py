"""Following a receipt (`GET /v1/receipts/{receipt}` on the gateway) until the worker has judged every reading sent
under it: what `citywatch replay` and `citywatch publish` show as "processed" and sum up at the end.

A receipt is per department (a replay may use several departments' keys): the totals add every department's view.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from citywatch.schemas.receipt import COUNTED, NOT_REFUSED


@dataclass
class Totals:
    """What became of a receipt's readings, over every department that sent some."""

    accepted: int = 0
    gateway_duplicates: int = 0
    gateway_rejected: int = 0
    worker: dict[str, int] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)

    @property
    def processed(self) -> int:
        return sum(self.worker.values())

    @property
    def counted(self) -> int:
        return sum(n for o, n in self.worker.items() if o in COUNTED)

    @property
    def refused(self) -> int:
        """Readings the worker refused (too late, invalid, conflicts, wrong partition, failed)."""
        return sum(n for o, n in self.worker.items() if o not in NOT_REFUSED)

    @property
    def pending(self) -> int:
        return max(0, self.accepted - self.processed)

    def add(self, view: Mapping[str, Any]) -> None:
        self.accepted += int(view.get("accepted", 0))
        self.gateway_duplicates += int(view.get("gateway_duplicates", 0))
        self.gateway_rejected += int(view.get("gateway_rejected", 0))
        for outcome, n in dict(view.get("worker", {})).items():
            self.worker[outcome] = self.worker.get(outcome, 0) + int(n)
        self.reasons += [str(r) for r in view.get("reasons", [])]


class ReceiptUnreadable(RuntimeError):
    """The gateway does not answer for the receipt (down, a wrong key)."""


@dataclass
class Follower:
    """Asks the gateway about one receipt with each department's key."""

    client: httpx.Client
    keys: Mapping[str, str]  # department -> API key
    receipt: str
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic

    def totals(self) -> Totals:
        totals = Totals()
        for key in self.keys.values():
            try:
                response = self.client.get(f"/v1/receipts/{self.receipt}", headers={"Authorization": f"Bearer {key}"})
            except httpx.HTTPError as exc:
                raise ReceiptUnreadable(f"the gateway did not answer about receipt {self.receipt}: {exc}") from exc
            if response.status_code == 404:
                continue  # nothing under this receipt for that department (yet)
            if response.status_code != 200:
                raise ReceiptUnreadable(
                    f"the gateway answered {response.status_code} about receipt {self.receipt}: {response.text[:200]}"
                )
            totals.add(response.json())
        return totals

    def wait(
        self, expected: int, idle_timeout_s: float, on_progress: Callable[[Totals], None] = lambda t: None
    ) -> Totals:
        """Poll until the worker has judged `expected` readings (or more), or until nothing moved for
        `idle_timeout_s`: the last totals either way (`pending` says what is missing)."""
        last_change = self.monotonic()
        seen = -1
        while True:
            totals = self.totals()
            on_progress(totals)
            if totals.processed >= expected:
                return totals
            if totals.processed != seen:
                seen, last_change = totals.processed, self.monotonic()
            elif self.monotonic() - last_change > idle_timeout_s:
                return totals
            self.sleep(0.5)
