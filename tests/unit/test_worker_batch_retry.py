"""A batch the broker would not take is tried again in place, in order (`streams/batch_retry.py`), and the retry
gives what an undisturbed run gives (`streams/pipeline.py` on plain lists and dicts)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka.errors import (
    KafkaTimeoutError,
    NotEnoughReplicasError,
    OutOfOrderSequenceNumber,
    RecordTooLargeError,
    UnknownProducerId,
)

from streams.batch_retry import BatchUndelivered, is_passing, needs_new_producer, until_delivered
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
    calls, attempt = failing([RecordTooLargeError()])
    with pytest.raises(BatchUndelivered, match="feed batch failed after 1 attempt") as failed:
        asyncio.run(until_delivered(attempt, stage="feed", budget_s=60, sleep=clock.sleep, clock=clock))
    assert isinstance(failed.value.__cause__, RecordTooLargeError)
    assert len(calls) == 1 and clock.pauses == []


def test_each_retry_is_told_what_failed_so_refused_sequence_numbers_get_a_new_producer() -> None:
    clock = Clock()
    errors: list[BaseException] = [KafkaTimeoutError(), OutOfOrderSequenceNumber()]
    _, attempt = failing(errors)
    told: list[BaseException] = []
    asyncio.run(
        until_delivered(attempt, stage="feed", budget_s=60, before_retry=told.append, sleep=clock.sleep, clock=clock)
    )
    assert told == errors
    assert [needs_new_producer(e) for e in told] == [False, True]


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
    assert is_passing(OutOfOrderSequenceNumber()) and is_passing(UnknownProducerId())
    assert not is_passing(RecordTooLargeError()) and not is_passing(ValueError("a bug"))


@dataclass
class ElectionOutputs(Outputs):
    """Outputs whose acknowledgements time out from the send numbered `first_failing` (0-based) for `failing`
    sends, as sends to a partition without a leader do; `raising` is a send that raises at once (a full buffer)."""

    failing: int = 0
    first_failing: int = 0
    raising: int | None = None
    acks: list[asyncio.Future[None]] = field(default_factory=list)

    async def send(self, topic: str, key: bytes, value: bytes) -> Awaitable[Any]:
        number = len(self.sent)
        if number == self.raising:
            self.raising = None
            raise KafkaTimeoutError()
        self.sent.append((topic, key, value))
        acknowledged: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.first_failing <= number < self.first_failing + self.failing:
            asyncio.get_running_loop().call_later(0.01, acknowledged.set_exception, KafkaTimeoutError())
        else:
            acknowledged.set_result(None)
        self.acks.append(acknowledged)
        return acknowledged


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
    assert outputs.indicators() == undisturbed.indicators() and outputs.indicators()
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


def first_verdicts(outputs: Outputs) -> dict[str, str]:
    """Each reading's verdict as the gateway keeps it: the first one sent for its source."""
    kept: dict[str, str] = {}
    for _, value in outputs.on(TOPICS.receipts):
        for source, outcome in json.loads(value)["outcomes"]:
            kept.setdefault(source, outcome)
    return kept


def test_a_retry_after_a_stored_step_leaves_every_reading_its_first_verdict() -> None:
    """A batch folded in steps stores each step once the broker has its outputs; when a later step fails, the retry
    finds the stored step's readings duplicates. Their verdicts went out with their step, so the gateway, which
    keeps a reading's first verdict, still reports them counted."""
    days = [
        event("wj-songling", batch_of(*[reading("wj-songling", h, 20 + h) for h in range(0, 24)]), 0),
        event("wj-lili", batch_of(*[reading("wj-lili", h, 30 + h) for h in range(0, 24)]), 1),
    ]
    calm = Outputs()
    asyncio.run(pipeline(Table(), calm, step_readings=24).feed_batch(days))
    first_step = next(i for i, (topic, _, _) in enumerate(calm.sent) if topic == TOPICS.receipts)

    table, outputs = Table(), ElectionOutputs(first_failing=first_step + 1, failing=1)
    stormy = pipeline(table, outputs, step_readings=24)
    clock = Clock()
    asyncio.run(
        until_delivered(lambda: stormy.feed_batch(days), stage="feed", budget_s=60, sleep=clock.sleep, clock=clock)
    )

    assert clock.pauses == [0.5]  # the second step failed once
    verdicts = first_verdicts(outputs)
    assert len(verdicts) == 48 and set(verdicts.values()) == {"new"}
    assert outputs.indicators() == calm.indicators()


def test_a_send_that_raises_leaves_nothing_of_its_batch_in_flight() -> None:
    """aiokafka raises from `send` itself when a partition's buffer stays full (no leader): what the batch queued
    before it is waited for, so a retry does not race it."""
    events = [event("wj-songling", batch_of(*[reading("wj-songling", h, 20 + h) for h in range(0, 24)]), 0)]
    outputs = ElectionOutputs(first_failing=0, failing=3, raising=3)
    with pytest.raises(KafkaTimeoutError):
        asyncio.run(pipeline(Table(), outputs).feed_batch(events))
    assert len(outputs.acks) == 3 and all(ack.done() for ack in outputs.acks)


def test_a_clear_lost_with_a_failed_batch_is_sent_by_the_next_staleness_pass_once_memory_is_read_again() -> None:
    """A station silent for longer than `air-station-silent` allows is judged stale; its next reading clears it. If
    that batch's outputs fail, the engine still remembers the clear as sent: the retry forgets that memory (as
    after a rebalance), so the next staleness pass sends the clear."""
    table = Table()
    quiet = pipeline(table, Outputs())
    asyncio.run(quiet.feed_batch([event("wj-songling", json.dumps(reading("wj-songling", 0, 20)).encode(), 0)]))
    engine = quiet.live.engine
    later = datetime.now(UTC) + timedelta(hours=5)
    silent = [e for step in engine.stale_in_steps(later) for e in step if e.site == "wj-songling"]
    assert ("air-station-silent", "breach") in {(e.rule_id, e.outcome) for e in silent}

    def cleared_later(forget: bool) -> set[tuple[str, str]]:
        outputs = ElectionOutputs(first_failing=0, failing=1000)
        quiet.outputs = outputs
        arrival = [event("wj-songling", json.dumps(reading("wj-songling", 1, 21)).encode(), 1)]
        with pytest.raises(KafkaTimeoutError):
            asyncio.run(quiet.feed_batch(arrival))
        if forget:
            engine.forget(datetime.now(UTC))
        now = datetime.now(UTC)
        return {(e.rule_id, e.outcome) for step in engine.stale_in_steps(now) for e in step if e.site == "wj-songling"}

    assert ("air-station-silent", "clear") not in cleared_later(forget=False)  # the failed clear, remembered as sent
    assert any(e.outcome == "breach" for step in engine.stale_in_steps(later) for e in step)  # silent again
    assert ("air-station-silent", "clear") in cleared_later(forget=True)
