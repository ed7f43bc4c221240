"""A batch whose outputs the broker would not take is tried again, in place, before the agent reads on.

During a leader election (a lost Kafka node) every send to the partitions it led waits out the producer's request
timeout and fails. Left to faust, the failed batch crashes its agent; faust's supervisor restarts the agent, which
goes on with the partition's later records while the failed batch, unacknowledged
(streams/faust_workarounds/batches.py), waits for the stall watch to read it again. A site's older readings then
arrive after its newer ones and are judged too late: the cluster fault test lost a day of one station's AQI that way
(issue 20). Trying the same batch again once the new leader is known keeps each partition's order, and is safe: a
batch's states are stored only after every output of it was acknowledged, and its outputs are idempotent.

A batch that still fails after the retry budget, or fails in a way no retry mends, ends the worker
(streams/restart.py): a fresh one resumes from the committed offsets, again in order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiokafka.errors import KafkaError, KafkaTimeoutError, OutOfOrderSequenceNumber, UnknownProducerId

from streams import metrics

log = logging.getLogger("citywatch.worker")

RETRYING = "the broker did not take the outputs of"
"""Begins the warning each retry logs (tests count retries by it)."""

FIRST_PAUSE_S = 0.5
LONGEST_PAUSE_S = 5.0
"""Pauses between attempts double from the first to the longest: a new leader is usually known within seconds."""


class BatchUndelivered(Exception):
    """A batch failed for good: not a passing broker trouble, or still failing after the retry budget."""

    def __init__(self, stage: str, attempts: int, elapsed_s: float) -> None:
        super().__init__(f"the {stage} batch failed after {attempts} attempt(s) in {elapsed_s:.1f} s")
        self.stage = stage
        self.attempts = attempts


def needs_new_producer(exc: BaseException) -> bool:
    """The broker refuses the producer's sequence numbers (`OutputProducer.renew`): an election's aftermath."""
    return isinstance(exc, OutOfOrderSequenceNumber | UnknownProducerId)


def is_passing(exc: BaseException) -> bool:
    """Broker trouble that passes: no leader yet, too few in-sync replicas, a timeout or a lost connection, or
    sequence numbers a new producer mends. aiokafka marks its send timeout (`KafkaTimeoutError`) as not retriable,
    yet that is what an election looks like here."""
    return (
        isinstance(exc, KafkaTimeoutError) or needs_new_producer(exc) or (isinstance(exc, KafkaError) and exc.retriable)
    )


async def until_delivered(
    attempt: Callable[[], Awaitable[None]],
    *,
    stage: str,
    budget_s: float,
    before_retry: Callable[[BaseException], None] = lambda exc: None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Run `attempt` until it succeeds; the number of attempts it took. Raises `BatchUndelivered` (from the last
    error) on an error that is not passing, or when `budget_s` has gone by since the first attempt. `before_retry`
    gets the error before each new attempt: to drop what the failed one left in memory."""
    started = clock()
    attempts = 0
    while True:
        attempts += 1
        try:
            await attempt()
            return attempts
        except Exception as exc:
            elapsed = clock() - started
            if not is_passing(exc) or elapsed >= budget_s:
                raise BatchUndelivered(stage, attempts, elapsed) from exc
            pause = min(LONGEST_PAUSE_S, FIRST_PAUSE_S * 2 ** (attempts - 1))
            metrics.BATCH_RETRIES.labels(stage).inc()
            log.warning(
                "%s a %s batch (%r, attempt %d, %.1f s of %.0f s): trying the same batch again in %.1f s",
                RETRYING,
                stage,
                exc,
                attempts,
                elapsed,
                budget_s,
                pause,
            )
            await sleep(pause)
            before_retry(exc)
