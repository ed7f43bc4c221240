"""The simulated clock: accelerated (`speed` simulated seconds per real second, or as fast as possible) until it
catches up with the wall clock, then real time. It never runs ahead of the wall clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SimClock:
    """Wait until a simulated instant may be published. `speed=None` means as fast as possible."""

    def __init__(
        self,
        start: datetime,
        speed: float | None,
        *,
        now: Callable[[], datetime] = _utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if speed is not None and speed <= 0:
            raise ValueError(f"speed must be positive (or None for as fast as possible), got {speed}")
        self.start = start
        self.speed = speed
        self._now = now
        self._monotonic = monotonic
        self._sleep = sleep
        self._real_start = monotonic()

    def delay_until(self, at: datetime) -> float:
        """Seconds to wait before `at` may be published: the accelerated pace, and never before the wall clock."""
        ahead_of_wall = (at - self._now()).total_seconds()
        if self.speed is None:
            return max(0.0, ahead_of_wall)
        due_real = (at - self.start).total_seconds() / self.speed
        return max(0.0, due_real - (self._monotonic() - self._real_start), ahead_of_wall)

    def wait_until(self, at: datetime) -> None:
        wait = self.delay_until(at)
        if wait > 0:
            self._sleep(wait)
