"""A batch the broker would not take is tried again in place, in order (`streams/batch_retry.py`), and the retry
gives what an undisturbed run gives (`streams/pipeline.py` on plain lists and dicts)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka.errors import (
    KafkaTimeoutError,
    NotEnoughReplicasError,
    OutOfOrderSequenceNumber,
    RecordTooLargeError,
)

from citywatch.schemas.indicator import records_in
from streams.batch_retry import BatchUndelivered, is_passing, until_delivered
from streams.pipeline import acknowledged
from tests.unit.test_worker_pipeline import TOPICS, Outputs, Table, batch_of, event, pipeline, reading


class Clock:
    """Fake monotonic time that only the fake sleep moves."""

    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def failing(errors: list[BaseException]) -> tuple[list[int], Any]:
    """An attempt that raises the given errors in turn, then succeeds; and the list of its calls."""
    calls: list[int] = []

    async def attempt() -> None:
        calls.append(len(calls))
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]

    return calls, attempt


def test_an_election_is_waited_out_with_doubling_pauses() -> None:
    clock = Clock()
    calls, attempt = failing([KafkaTimeoutError(), NotEnoughReplicasError(), KafkaTimeoutError()])
    attempts = asyncio.run(until_delivered(attempt, stage="feed", budget_s=60, sleep=clock.sleep, clock=clock))
    assert attempts == 4 and len(calls) == 4
    assert clock.pauses == [0.5, 1.0, 2.0]


def test_an_error_no_retry_mends_ends_the_batch_at_once() -> None:
    clock = Clock()
    calls, attempt = failing([OutOfOrderSequenceNumber()])
    with pytest.raises(BatchUndelivered, match="feed batch failed after 1 attempt") as failed:
        asyncio.run(until_delivered(attempt, stage="feed", budget_s=60, sleep=clock.sleep, clock=clock))
    assert isinstance(failed.value.__cause__, OutOfOrderSequenceNumber)
    assert len(calls) == 1 and clock.pauses == []


def test_a_broker_away_longer_than_the_budget_ends_the_batch() -> None:
    clock = Clock()
    calls, attempt = failing([KafkaTimeoutError()] * 100)
    with pytest.raises(BatchUndelivered) as failed:
        asyncio.run(until_delivered(attempt, stage="district", budget_s=20, sleep=clock.sleep, clock=clock))
    assert failed.value.attempts == len(calls)
    assert clock.now >= 20 and clock.now - clock.pauses[-1] < 20  # the last pause began within the budget
    assert max(clock.pauses) == 5.0  # pauses stop doubling at the longest


def test_passing_troubles_are_those_of_a_broker_not_of_the_data() -> None:
    assert is_passing(KafkaTimeoutError()) and is_passing(NotEnoughReplicasError())
    assert not is_passing(RecordTooLargeError()) and not is_passing(ValueError("a bug"))


@dataclass
class ElectionOutputs(Outputs):
    """Outputs whose first `failing` acknowledgements time out, as sends to a partition without a leader do."""

    failing: int = 0

    async def send(self, topic: str, key: bytes, value: bytes) -> Awaitable[Any]:
        self.sent.append((topic, key, value))
        acknowledged: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.failing > 0:
            self.failing -= 1
            acknowledged.set_exception(KafkaTimeoutError())
        else:
            acknowledged.set_result(None)
        return acknowledged


def indicators(outputs: Outputs) -> dict[str, Any]:
    """The latest value of every indicator bucket on the outputs."""
    return {
        r.bucket_key: (r.value, r.samples, r.status)
        for _, value in outputs.on(TOPICS.indicators)
        for r in records_in(value)
    }


def without_arrivals(state: dict[str, Any]) -> dict[str, Any]:
    """The table without the rule state's `last_seen`: when each indicator last arrived, by the wall clock."""
    rules = state["rules:wj-songling"]
    return {**state, "rules:wj-songling": {k: v for k, v in rules.items() if k != "last_seen"}}


def test_a_batch_tried_again_after_an_election_gives_what_an_undisturbed_run_gives() -> None:
    first = [event("wj-songling", batch_of(*[reading("wj-songling", h, 20 + h) for h in range(0, 24)]), 0)]
    then = [event("wj-songling", batch_of(*[reading("wj-songling", h, 40 + h) for h in range(24, 48)]), 1)]

    undisturbed_table, undisturbed = Table(), Outputs()
    calm = pipeline(undisturbed_table, undisturbed)
    for batch in (first, then):
        asyncio.run(calm.feed_batch(batch))

    table, outputs = Table(), ElectionOutputs(failing=3)
    stormy = pipeline(table, outputs)
    clock = Clock()
    for batch in (first, then):
        asyncio.run(
            until_delivered(
                lambda batch=batch: stormy.feed_batch(batch),
                stage="feed",
                budget_s=60,
                sleep=clock.sleep,
                clock=clock,
            )
        )

    assert clock.pauses == [0.5]  # the first batch was tried twice
    assert indicators(outputs) == indicators(undisturbed) and indicators(outputs)
    assert without_arrivals(table.values) == without_arrivals(undisturbed_table.values)
    verdicts = [json.loads(v)["outcomes"] for _, v in outputs.on(TOPICS.receipts)]
    assert [o for _, o in verdicts[0]] == ["new"] * 24  # no receipt left the failed attempt
    assert [o for _, o in verdicts[1]] == ["new"] * 24


def test_every_send_has_an_outcome_before_the_first_failure_is_raised() -> None:
    async def run() -> list[asyncio.Future[None]]:
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[None]] = [loop.create_future() for _ in range(3)]
        futures[0].set_exception(KafkaTimeoutError())
        loop.call_later(0.01, futures[1].set_result, None)
        loop.call_later(0.02, futures[2].set_exception, NotEnoughReplicasError())
        with pytest.raises(KafkaTimeoutError):
            await acknowledged(list(futures))
        return futures

    futures = asyncio.run(run())
    assert all(f.done() for f in futures)
