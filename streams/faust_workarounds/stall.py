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
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka.errors import KafkaError

from streams.metrics import last_read_offset
from streams.restart import exit_for_restart

log = logging.getLogger("citywatch.worker.stall")


# Fetch rounds a partition must miss, on top of the time, to be stalled: while faust is still delivering one
# large fetch (a backlog), partitions with new records wait for the next round without anything being wrong.
ROUNDS_MISSED = 2


@dataclass
class Progress:
    """Which partitions have records waiting but have not been read from for too long. Pure: fed with offsets, a
    clock and, where the consumer counts them, its fetch rounds. Per partition: one stuck partition among busy ones
    is a stall too."""

    after_s: float
    # partition -> (read offset, unchanged since, fetch round then)
    _since: dict[Any, tuple[int, float, int | None]] = field(default_factory=dict)
    _moved_at: float | None = None  # when any partition's read offset last moved

    def update(
        self, lag: dict[Any, int], read: dict[Any, int], now: float, rounds: int | None = None
    ) -> dict[Any, float]:
        """The stalled partitions and for how long (seconds); partitions without lag or that moved are not, nor,
        when `rounds` (fetches started so far) is given, those that did not miss ROUNDS_MISSED fetches while other
        partitions moved (a fetch loop that stopped altogether moves nothing and starts no round)."""
        stalled: dict[Any, float] = {}
        waiting: list[tuple[Any, tuple[int, float, int | None]]] = []
        if self._moved_at is None:
            self._moved_at = now
        for tp, position in read.items():
            if lag.get(tp, 0) <= 0:
                self._since.pop(tp, None)
                continue
            seen = self._since.get(tp)
            if seen is None or seen[0] != position:
                if seen is not None:
                    self._moved_at = now
                self._since[tp] = (position, now, rounds)
                continue
            waiting.append((tp, seen))
        all_still = now - self._moved_at >= self.after_s
        for tp, (_, since, rounds_then) in waiting:
            missed = rounds is None or rounds_then is None or rounds - rounds_then >= ROUNDS_MISSED or all_still
            if now - since >= self.after_s and missed:
                stalled[tp] = now - since
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
        self.backpressure: tuple[int, float] | None = None  # (sum of committed offsets, unchanged since)

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
                exit_for_restart(
                    "worker has been rebalancing or recovering for %.0f s (rebalancing=%s, in_recovery=%s)",
                    now - self.transition_since,
                    app.rebalancing,
                    app.in_recovery,
                )
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
        if self._under_backpressure(consumer, tps, now):
            return
        lag: dict[Any, int] = {}
        read: dict[Any, int] = {}
        for tp in tps:
            last = last_read_offset(consumer, tp)
            read[tp] = -1 if last is None else last
            end = ends.get(tp)
            if end is not None:
                lag[tp] = max(0, end - (read[tp] + 1))
        stalled = self.progress.update(lag, read, now, getattr(consumer, "fetch_rounds", None))
        if any(lag.values()) and now - self.reported >= self.after_s:
            self.reported = now
            log.info("consumer lag %s", {_name(tp): n for tp, n in lag.items() if n})
        if not stalled:
            self.remedies = 0
            return
        longest = max(stalled.values())
        state = {
            "stalled_s": {_name(tp): round(t, 1) for tp, t in stalled.items()},
            "lag": {_name(tp): lag[tp] for tp in stalled},
            "flow_active": getattr(consumer, "flow_active", None),
            "paused": _names(getattr(consumer, "_paused_partitions", ())),
            "app_flow_control_active": app.flow_control.is_active(),
            "held_until_restored": _names(_held(consumer)),
        }
        if longest >= self.exit_after_s:
            exit_for_restart("worker still stalled after resuming and rejoining %s", state)
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

    def _under_backpressure(self, consumer: Any, tps: list[Any], now: float) -> bool:
        """Whether a stream's buffer is full, so faust holds its partition back (and, while it waits to deliver to
        that stream, every partition): records wait unread because an agent is busy, not because fetching stopped.
        Re-seeking or rejoining then only adds work (and once cost readings); what counts is whether commits still
        move. Measured: the district stage behind a 100k-reading backlog held its partition back for 10–25 s."""
        buffered = set(getattr(consumer, "_buffered_partitions", ()))
        if not buffered:
            self.backpressure = None
            return False
        self.progress = Progress(self.after_s)
        self.remedies = 0
        commits = sum(consumer._committed_offset.get(tp) or 0 for tp in tps)
        if self.backpressure is None or self.backpressure[0] != commits:
            self.backpressure = (commits, now)
            return True
        waited = now - self.backpressure[1]
        if waited >= self.exit_after_s:
            exit_for_restart(
                "streams have been full for %.0f s and no commit moved %s\n%s", waited, _names(buffered), _task_stacks()
            )
        if waited >= self.after_s and now - self.reported >= self.after_s:
            self.reported = now
            log.warning(
                "streams full (backpressure) and no commit moved for %.0f s: %s",
                waited,
                _names(buffered),
            )
        return True

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
                "%s: committed offset stuck at %s for %.0f s although offset %d was read (acknowledged from %s); "
                "faust cannot commit past unacknowledged records (faust-streaming #596): re-reading from %s",
                _name(tp),
                committed,
                now - seen[1],
                read,
                min(acked) if acked else "none",
                committed if committed is not None else 0,
            )
            await reread_from_committed(app, [tp])
            self.commits.pop(tp, None)


def _name(tp: Any) -> str:
    return f"{tp.topic}[{tp.partition}]"


def _names(tps: Iterable[Any]) -> list[str]:
    return sorted(_name(tp) for tp in tps)


def _held(consumer: Any) -> set[Any]:
    gate = getattr(
        consumer, "gate", None
    )  # the worker's consumer (streams/faust_workarounds/commits.py); absent in plain faust
    return set(gate.held) if gate is not None else set()


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


async def reread_from_committed(app: Any, tps: list[Any]) -> None:
    """Read `tps` again from their committed offsets, unless a rebalance began (faust then seeks to the committed
    offsets itself). The worker's consumer makes the seek safe against records fetched before it
    (streams/faust_workarounds/delivery.py)."""
    consumer = app.consumer
    if app.rebalancing:
        return
    for tp in tps:
        committed = consumer._committed_offset.get(tp)
        await consumer.seek(tp, committed if committed is not None else 0)


async def _rejoin(consumer: Any) -> None:
    """Ask aiokafka's group coordinator, in faust's consumer thread, for a new assignment."""
    thread = consumer._thread

    async def request() -> None:
        thread._ensure_consumer()._coordinator.request_rejoin()

    await thread.call_thread(request)
