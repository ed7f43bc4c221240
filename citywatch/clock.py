"""The worker's processing clock: real time, or an accelerated clock for demos and tests.

Staleness rules are judged on processing time ("no record arrived for 4 hours"). When the simulator replays days in
minutes (`services/simulator/clock.py`), the worker's clock must run at the same pace or no site ever looks silent:
with a start and a speed, now = start + elapsed real time × speed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ProcessingClock:
    """`now()` on the processing clock. Without `start` and at speed 1 it is the wall clock."""

    def __init__(
        self,
        start: datetime | None = None,
        speed: float = 1.0,
        *,
        wall: Callable[[], datetime] = _utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"clock speed must be positive, got {speed}")
        if start is not None and start.tzinfo is None:
            raise ValueError("the clock start needs a time zone (e.g. 2026-03-01T00:00:00+08:00)")
        self.speed = speed
        self._wall = wall
        self._monotonic = monotonic
        self._real_start = monotonic()
        self.start = start if start is not None else wall()
        self.accelerated = start is not None or speed != 1.0

    def now(self) -> datetime:
        if not self.accelerated:
            return self._wall()
        elapsed = self._monotonic() - self._real_start
        return self.start + timedelta(seconds=elapsed * self.speed)

    def __repr__(self) -> str:
        if not self.accelerated:
            return "ProcessingClock(wall clock)"
        return f"ProcessingClock(start={self.start.isoformat()}, speed={self.speed:g})"
