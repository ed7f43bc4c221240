"""The worker's processing clock: real time, or an accelerated clock for demos and tests.

Staleness rules are judged on processing time ("no record arrived for 4 hours"). When the simulator replays days in
minutes (`services/simulator/clock.py`), the worker's clock must run at the same pace or no site ever looks silent:
with a start and a speed, now = start + elapsed real time × speed. Or, simpler for a demo whose simulator runs
at its own pace (`make up`), the clock **follows the events**: now = the newest event time the worker has
processed, so a station falls silent exactly when the others' readings move on without it. Production keeps the
wall clock.
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
        follows_events: bool = False,
    ) -> None:
        if follows_events and (start is not None or speed != 1.0):
            raise ValueError("a clock that follows the events takes no start or speed")
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
        self.follows_events = follows_events
        self._newest: datetime | None = None

    def observe(self, event_time: datetime) -> None:
        """An event the worker processed (live data only): a clock that follows the events moves up to it, never
        back and never past the wall clock."""
        if not self.follows_events:
            return
        at = min(event_time, self._wall())
        if self._newest is None or at > self._newest:
            self._newest = at

    @property
    def ready(self) -> bool:
        """Whether `now()` is the processing clock yet: a clock that follows the events is not before the first
        one (its wall-clock stand-in would date staleness outcomes days ahead of the data)."""
        return not self.follows_events or self._newest is not None

    def now(self) -> datetime:
        if self.follows_events:
            # Before the first event: the wall clock, so sites never seen count as silent from the start only once
            # the events have moved past it.
            return self._newest if self._newest is not None else self._wall()
        if not self.accelerated:
            return self._wall()
        elapsed = self._monotonic() - self._real_start
        return self.start + timedelta(seconds=elapsed * self.speed)

    def __repr__(self) -> str:
        if self.follows_events:
            return "ProcessingClock(follows the events)"
        if not self.accelerated:
            return "ProcessingClock(wall clock)"
        return f"ProcessingClock(start={self.start.isoformat()}, speed={self.speed:g})"
