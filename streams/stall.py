"""A worker that has records waiting in its partitions but reads none of them is stalled.

faust-streaming has open reports of consumers that stop fetching after a rebalance or a recovery while looking healthy
(faust-streaming/faust #175, #523, #640); citywatch saw it as well (issue 5's notes). The watch notices it from the
consumer's own offsets, logs what faust's flow control looked like, resumes fetching, and, when that does not help,
exits so that the supervisor (Kubernetes, systemd) starts a fresh consumer: at-least-once delivery and idempotent
outputs make a restart safe, whereas a silent stall stops the city's monitoring.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
from dataclasses import dataclass, field
from typing import Any

from aiokafka.errors import KafkaError

from streams.metrics import last_read_offset

log = logging.getLogger("citywatch.worker.stall")


@dataclass
class Progress:
    """Which partitions have records waiting but have not been read from for too long. Pure: fed with offsets and
    a clock. Per partition: one stuck partition among busy ones is a stall too."""

    after_s: float
    _since: dict[Any, tuple[int, float]] = field(default_factory=dict)  # partition -> (read offset, unchanged since)

    def update(self, lag: dict[Any, int], read: dict[Any, int], now: float) -> dict[Any, float]:
        """The stalled partitions and for how long (seconds); partitions without lag or that moved are not."""
        stalled: dict[Any, float] = {}
        for tp, position in read.items():
            if lag.get(tp, 0) <= 0:
                self._since.pop(tp, None)
                continue
            seen = self._since.get(tp)
            if seen is None or seen[0] != position:
                self._since[tp] = (position, now)
                continue
            if now - seen[1] >= self.after_s:
                stalled[tp] = now - seen[1]
        for tp in set(self._since) - set(read):
            del self._since[tp]
        return stalled


class StallWatch:
    """Checks faust's consumer every few seconds (from an `app.timer`).

    The end offsets come from the broker, not from the consumer's fetch responses: a consumer that never fetched
    from a partition knows no high watermark for it, and that is exactly the stall seen after rebalances. Remedies,
    each after `after_s` more of no progress: resume fetching (partitions and flow), then rejoin the group (a fresh
    assignment), then exit at `exit_after_s`.
    """

    def __init__(self, app: Any, source_topics: set[str], after_s: float, exit_after_s: float) -> None:
        self.app = app
        self.source_topics = source_topics
        self.progress = Progress(after_s)
        self.after_s = after_s
        self.exit_after_s = exit_after_s
        self.remedies = 0
        self.transition_since: float | None = None
        self.reported = 0.0
        self.commits: dict[Any, tuple[int | None, float]] = {}  # partition -> (committed offset, seen since)

    async def check(self, now: float) -> None:
        app = self.app
        if app.rebalancing or app.in_recovery:
            # Restoring tables pauses the sources on purpose; a rebalance that never ends is a stall of its own.
            self.progress = Progress(self.after_s)
            self.remedies = 0
            if self.transition_since is None:
                self.transition_since = now
            elif app.rebalancing and not app.in_recovery and now - self.transition_since >= self.exit_after_s:
                # (a long table restore is legitimate and only logged)
                log.error(
                    "worker has been rebalancing or recovering for %.0f s; exiting so that its supervisor "
                    "restarts it (rebalancing=%s, in_recovery=%s)",
                    now - self.transition_since,
                    app.rebalancing,
                    app.in_recovery,
                )
                logging.shutdown()
                os._exit(70)
            elif now - self.transition_since >= self.after_s:
                log.warning(
                    "worker rebalancing or recovering for %.0f s (rebalancing=%s, in_recovery=%s)",
                    now - self.transition_since,
                    app.rebalancing,
                    app.in_recovery,
                )
            return
        self.transition_since = None
        consumer = app.consumer
        tps = [tp for tp in consumer.assignment() if tp.topic in self.source_topics]
        if not tps:
            log.debug("stall check: no source partitions assigned")
            return
        try:
            await self._heal_commit_gaps(app, tps, now)
            ends = await consumer.highwaters(*tps)
        except (KafkaError, TimeoutError) as exc:
            # An exception in a faust timer crashes the whole app: a broker slow to answer under load must cost one
            # check, not the worker.
            log.warning("stall check skipped: the broker did not answer in time (%r); the next check retries", exc)
            return
        lag: dict[Any, int] = {}
        read: dict[Any, int] = {}
        for tp in tps:
            last = last_read_offset(consumer, tp)
            read[tp] = -1 if last is None else last
            end = ends.get(tp)
            if end is not None:
                lag[tp] = max(0, end - (read[tp] + 1))
        stalled = self.progress.update(lag, read, now)
        if any(lag.values()) and now - self.reported >= self.after_s:
            self.reported = now
            log.info("consumer lag %s", {f"{tp.topic}[{tp.partition}]": n for tp, n in lag.items() if n})
        if not stalled:
            self.remedies = 0
            return
        longest = max(stalled.values())
        state = {
            "stalled_s": {f"{tp.topic}[{tp.partition}]": round(t, 1) for tp, t in stalled.items()},
            "lag": {f"{tp.topic}[{tp.partition}]": lag[tp] for tp in stalled},
            "flow_active": getattr(consumer, "flow_active", None),
            "paused": sorted(f"{tp.topic}[{tp.partition}]" for tp in getattr(consumer, "_paused_partitions", ())),
            "app_flow_control_active": app.flow_control.is_active(),
        }
        if longest >= self.exit_after_s:
            log.error(
                "worker still stalled after resuming and rejoining; exiting so that its supervisor restarts it "
                "(it resumes from the committed offsets) %s",
                state,
            )
            logging.shutdown()
            os._exit(70)
        if self.remedies == 0:
            log.warning("partitions stalled: records are waiting but none was read; resuming and re-seeking %s", state)
            log.warning("where the worker's tasks wait:\n%s", _task_stacks())
            consumer.resume_partitions(list(stalled))
            consumer.resume_flow()
            app.flow_control.resume()
            await reread_from_committed(app, list(stalled))
            self.remedies = 1
        elif self.remedies == 1 and longest >= 2 * self.after_s:
            log.warning("partitions still stalled after resuming; rejoining the consumer group %s", state)
            await _rejoin(consumer)
            self.remedies = 2

    async def _heal_commit_gaps(self, app: Any, tps: list[Any], now: float) -> None:
        """Re-read a partition whose committed offset stopped moving although records past it were read.

        faust commits a partition only up to the first gap in its acknowledged offsets, and a recovery that clears
        the stream queues after records were fetched leaves records read but never delivered (faust-streaming
        #596): processing may go on, commits stop for good, and a restart would replay everything since. Seeking
        back to the committed offset delivers those records again; the worker drops the ones it already applied
        as duplicates.
        """
        consumer = app.consumer
        for tp in tps:
            read = consumer._read_offset.get(tp)
            committed = consumer._committed_offset.get(tp)
            # faust's read offset is the last record handed to a stream, or right after a seek the position itself
            # (= the committed offset): only a read offset beyond the committed one proves records were read.
            # A partition the group never committed has no committed offset: re-read from its start.
            if read is None or (committed is not None and read <= committed):
                self.commits.pop(tp, None)
                continue
            seen = self.commits.get(tp)
            if seen is None or seen[0] != committed:
                self.commits[tp] = (committed, now)
                continue
            if now - seen[1] < self.after_s:
                continue
            acked = consumer._acked.get(tp) or []
            log.warning(
                "%s[%d]: committed offset stuck at %s for %.0f s although offset %d was read (acknowledged from %s); "
                "faust cannot commit past unacknowledged records (faust-streaming #596): re-reading from %s",
                tp.topic,
                tp.partition,
                committed,
                now - seen[1],
                read,
                min(acked) if acked else "none",
                committed if committed is not None else 0,
            )
            await reread_from_committed(app, [tp])
            self.commits.pop(tp, None)


def _task_stacks(limit: int = 40) -> str:
    """The innermost frames of every asyncio task of the loop (what a stalled agent is waiting on)."""
    out = io.StringIO()
    for task in list(asyncio.all_tasks())[:limit]:
        frames = task.get_stack(limit=3)
        where = " <- ".join(
            f"{f.f_code.co_filename.rsplit('/', 2)[-1]}:{f.f_lineno} {f.f_code.co_name}" for f in frames
        )
        out.write(f"{task.get_name()}: {where or 'not started'}\n")
    return out.getvalue()


# Long enough for faust's fetch loop to hand over the record it was delivering when the flow stopped (it then
# marks it read) and park; a seek before that would be overtaken by that record's read offset.
FLOW_SETTLE_S = 0.5


async def reread_from_committed(app: Any, tps: list[Any]) -> None:
    """Read `tps` again from their committed offsets.

    faust's own `seek` races with its fetch loop: a record fetched before the seek and handed out after it moves the
    read offset past the re-read records, which faust then drops as already read (and, before streams/commits.py,
    counted as processed). So the flow stops first, the seek happens while nothing is handed out, and the flow
    resumes, unless a rebalance began meanwhile (faust then seeks to the committed offsets itself).
    """
    consumer = app.consumer
    consumer.stop_flow()
    try:
        await asyncio.sleep(FLOW_SETTLE_S)
        if app.rebalancing:
            return
        for tp in tps:
            committed = consumer._committed_offset.get(tp)
            await consumer.seek(tp, committed if committed is not None else 0)
    finally:
        if not app.rebalancing:
            consumer.resume_flow()


async def _rejoin(consumer: Any) -> None:
    """Ask aiokafka's group coordinator, in faust's consumer thread, for a new assignment."""
    thread = consumer._thread

    async def request() -> None:
        thread._ensure_consumer()._coordinator.request_rejoin()

    await thread.call_thread(request)
