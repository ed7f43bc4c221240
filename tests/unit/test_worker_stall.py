import asyncio
import logging
from types import SimpleNamespace

import pytest
from aiokafka.errors import KafkaTimeoutError
from faust.types import TP

from streams.stall import Progress, StallWatch


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
