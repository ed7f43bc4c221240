import asyncio
import logging
from types import SimpleNamespace

import pytest
from aiokafka.errors import KafkaTimeoutError
from faust.types import TP

from streams.faust_workarounds.stall import Progress, StallWatch


def test_a_partition_not_read_while_records_wait_is_stalled_after_the_limit() -> None:
    progress = Progress(after_s=30)
    assert progress.update({"p0": 5}, {"p0": 10}, now=0) == {}
    assert progress.update({"p0": 5}, {"p0": 10}, now=10) == {}  # not yet 30 s
    assert progress.update({"p0": 5}, {"p0": 10}, now=40) == {"p0": 40}


def test_reading_or_having_nothing_to_read_is_not_a_stall() -> None:
    progress = Progress(after_s=30)
    progress.update({"p0": 5}, {"p0": 10}, now=0)
    assert progress.update({"p0": 4}, {"p0": 11}, now=100) == {}  # it moved
    assert progress.update({"p0": 0}, {"p0": 11}, now=200) == {}  # idle, nothing waiting
    assert progress.update({"p0": 0}, {"p0": 11}, now=300) == {}
    assert progress.update({"p0": 3}, {"p0": 11}, now=301) == {}  # records arrive: the clock starts now
    assert progress.update({"p0": 3}, {"p0": 11}, now=331) == {"p0": 30}


def test_one_stuck_partition_among_busy_ones_is_a_stall() -> None:
    progress = Progress(after_s=10)
    progress.update({"p0": 5, "p1": 900}, {"p0": 10, "p1": -1}, now=0)
    assert progress.update({"p0": 5, "p1": 900}, {"p0": 20, "p1": -1}, now=11) == {"p1": 11}


def test_a_revoked_partition_is_forgotten() -> None:
    progress = Progress(after_s=1)
    progress.update({"p0": 5}, {"p0": 10}, now=0)
    progress.update({}, {}, now=5)
    assert progress.update({"p0": 5}, {"p0": 10}, now=6) == {}


class _SlowBroker:
    """A consumer whose broker does not answer the end-offsets request in time (seen under load on 2 cores)."""

    def __init__(self) -> None:
        self._read_offset: dict[TP, int] = {}
        self._committed_offset: dict[TP, int] = {}

    def assignment(self) -> set[TP]:
        return {TP("feed", 0)}

    async def highwaters(self, *tps: TP) -> dict[TP, int]:
        raise KafkaTimeoutError("Failed to get offsets by times in 10000 ms")


def test_a_broker_slow_to_answer_skips_one_check_instead_of_crashing_the_worker(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = SimpleNamespace(rebalancing=False, in_recovery=False, consumer=_SlowBroker())
    watch = StallWatch(app, {"feed"}, after_s=10, exit_after_s=60)
    with caplog.at_level(logging.WARNING, logger="citywatch.worker.stall"):
        asyncio.run(watch.check(now=0.0))  # raised KafkaTimeoutError before, which crashes a faust app
    assert "stall check skipped" in caplog.text


class _BusyStream:
    """A consumer whose district stream is full: faust holds its partition back (`_buffered_partitions`), so records
    wait unread while the agent works through its buffer and commits move."""

    def __init__(self) -> None:
        self.tp = TP("contributions", 0)
        self._read_offset: dict[TP, int] = {self.tp: 100}
        self._committed_offset: dict[TP, int] = {self.tp: 10}
        self._buffered_partitions = {self.tp}
        self._acked: dict[TP, list[int]] = {}
        self.resumed: list[TP] = []
        self.sought: list[tuple[TP, int]] = []

    def assignment(self) -> set[TP]:
        return {self.tp}

    async def highwaters(self, *tps: TP) -> dict[TP, int]:
        return {self.tp: 900}

    def resume_partitions(self, tps: list[TP]) -> None:  # a remedy: must not be reached under backpressure
        self.resumed += tps

    async def seek(self, tp: TP, offset: int) -> None:  # the commit-gap heal's re-read
        self.sought.append((tp, offset))


def _busy_app(consumer: _BusyStream) -> SimpleNamespace:
    return SimpleNamespace(rebalancing=False, in_recovery=False, consumer=consumer)


def test_a_partition_held_back_by_a_full_stream_is_not_a_stall_while_commits_move(
    caplog: pytest.LogCaptureFixture,
) -> None:
    consumer = _BusyStream()
    watch = StallWatch(_busy_app(consumer), {"contributions"}, after_s=10, exit_after_s=60)
    with caplog.at_level(logging.WARNING, logger="citywatch.worker.stall"):
        for second in range(0, 120, 5):
            consumer._committed_offset[consumer.tp] += 1  # the agent acknowledges, faust commits
            asyncio.run(watch.check(now=float(second)))
    assert consumer.resumed == []
    assert consumer.sought == []
    assert "stalled" not in caplog.text


def test_a_full_stream_whose_commits_stop_ends_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    consumer = _BusyStream()
    watch = StallWatch(_busy_app(consumer), {"contributions"}, after_s=10, exit_after_s=60)

    def exit_(code: int) -> None:
        raise SystemExit(code)

    monkeypatch.setattr("streams.restart.os._exit", exit_)
    asyncio.run(watch.check(now=0.0))
    asyncio.run(watch.check(now=30.0))
    with pytest.raises(SystemExit) as ended:
        asyncio.run(watch.check(now=61.0))
    assert ended.value.code == 70
    assert consumer.resumed == []


def test_a_partition_waiting_while_faust_still_delivers_one_large_fetch_is_not_stalled() -> None:
    progress = Progress(after_s=10)
    progress.update({"p0": 700, "p1": 9000}, {"p0": -1, "p1": 100}, now=0, rounds=5)
    # one round in 25 s, p1 being read: a backlog's fetch still being delivered
    assert progress.update({"p0": 900, "p1": 8000}, {"p0": -1, "p1": 1100}, now=25, rounds=6) == {}
    # fetched twice since and still nothing of p0
    assert progress.update({"p0": 990, "p1": 7000}, {"p0": -1, "p1": 2100}, now=30, rounds=7) == {"p0": 30}


def test_a_fetch_loop_that_stopped_altogether_is_a_stall_without_new_rounds() -> None:
    progress = Progress(after_s=10)
    progress.update({"p0": 7, "p1": 9}, {"p0": 3, "p1": 4}, now=0, rounds=5)
    assert progress.update({"p0": 7, "p1": 9}, {"p0": 3, "p1": 4}, now=12, rounds=5) == {"p0": 12, "p1": 12}
