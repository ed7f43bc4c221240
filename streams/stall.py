"""A worker that has records waiting in its partitions but reads none of them is stalled.

faust-streaming has open reports of consumers that stop fetching after a rebalance or a recovery while looking healthy
(faust-streaming/faust #175, #523, #640); citywatch saw it as well (issue 5's notes). The watch notices it from the
consumer's own offsets, logs what faust's flow control looked like, resumes fetching, and, when that does not help,
exits so that the supervisor (Kubernetes, systemd) starts a fresh consumer: at-least-once delivery and idempotent
outputs make a restart safe, whereas a silent stall stops the city's monitoring.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("citywatch.worker.stall")


@dataclass
class Progress:
    """Whether a worker with unread records has read nothing for too long. Pure: fed with offsets and a clock."""

    after_s: float
    _last_read: dict[Any, int] = field(default_factory=dict)
    _stalled_since: float | None = None

    def update(self, lag: dict[Any, int], read: dict[Any, int], now: float) -> float | None:
        """Seconds the worker has been stalled (lag but no new offset read), or None when it is not stalled."""
        moved = any(read.get(tp, -1) != self._last_read.get(tp, -1) for tp in set(read) | set(self._last_read))
        self._last_read = dict(read)
        if moved or not any(n > 0 for n in lag.values()):
            self._stalled_since = None
            return None
        if self._stalled_since is None:
            self._stalled_since = now
        stalled = now - self._stalled_since
        return stalled if stalled >= self.after_s else None


class StallWatch:
    """Checks faust's consumer every few seconds (from an `app.timer`)."""

    def __init__(self, app: Any, source_topics: set[str], after_s: float, exit_after_s: float) -> None:
        self.app = app
        self.source_topics = source_topics
        self.progress = Progress(after_s)
        self.exit_after_s = exit_after_s
        self.resumed = False

    def check(self, now: float) -> None:
        if self.app.rebalancing or self.app.in_recovery:
            self.progress = Progress(self.progress.after_s)  # restoring tables pauses the sources on purpose
            return
        consumer = self.app.consumer
        lag: dict[Any, int] = {}
        read: dict[Any, int] = {}
        for tp in consumer.assignment():
            if tp.topic not in self.source_topics:
                continue
            highwater = consumer.highwater(tp)
            last = consumer._read_offset.get(tp)
            if last is None:
                last = consumer._committed_offset.get(tp)
            position = -1 if last is None else last
            read[tp] = position
            if highwater is not None:
                lag[tp] = max(0, highwater - (position + 1))
        stalled = self.progress.update(lag, read, now)
        if stalled is None:
            self.resumed = False
            return
        state = {
            "stalled_s": round(stalled, 1),
            "lag": {f"{tp.topic}[{tp.partition}]": n for tp, n in lag.items() if n},
            "flow_active": getattr(consumer, "flow_active", None),
            "paused": sorted(f"{tp.topic}[{tp.partition}]" for tp in getattr(consumer, "_paused_partitions", ())),
            "app_flow_control_active": self.app.flow_control.is_active(),
        }
        if not self.resumed:
            log.warning("worker stalled: records are waiting but none was read; resuming fetching %s", state)
            active = [tp for tp in consumer.assignment() if tp.topic in self.source_topics]
            consumer.resume_partitions(active)
            consumer.resume_flow()
            self.app.flow_control.resume()
            self.resumed = True
            return
        if stalled >= self.exit_after_s:
            log.error(
                "worker still stalled after resuming; exiting so that its supervisor restarts it "
                "(it resumes from the committed offsets) %s",
                state,
            )
            logging.shutdown()
            os._exit(70)
