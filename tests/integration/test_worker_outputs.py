"""The worker's output producer against the test stack's broker (`streams/outputs.py`)."""

from __future__ import annotations

import asyncio

from citywatch.settings import WorkerSettings
from streams.outputs import OutputProducer
from tests.conftest import Isolation
from tests.integration.worker_runs import read_all


def test_a_renewed_output_producer_writes_on_with_a_new_producer_id(isolation: Isolation) -> None:
    """After an election the broker can refuse a producer's sequence numbers for good; the worker then renews its
    producer. The new one (a new producer id) writes after what the old one wrote, and the old one is closed."""
    topics = isolation.ensure_topics(1)
    settings = WorkerSettings(
        kafka_bootstrap=isolation.stack.kafka_bootstrap,
        worker_app_id=f"{isolation.id}-worker",
        kafka_request_timeout_ms=10_000,
    )

    async def scenario() -> tuple[int, int, bool]:
        outputs = OutputProducer(settings)
        await (await outputs.send(topics.dead_letter, b"k", b"before"))
        old = outputs._producer
        assert old is not None
        outputs.renew()
        await (await outputs.send(topics.dead_letter, b"k", b"after"))
        new = outputs._producer
        assert new is not None and new is not old
        ids = (old._txn_manager.producer_id, new._txn_manager.producer_id)
        await outputs.stop()  # waits for the old one's close too
        return ids[0], ids[1], bool(old._closed)

    old_id, new_id, old_closed = asyncio.run(scenario())
    assert old_id != new_id and old_id >= 0 and new_id >= 0
    assert old_closed
    assert [value for _, value in read_all(isolation.stack.kafka_bootstrap, topics.dead_letter)] == [
        b"before",
        b"after",
    ]
