"""streams/faust_workarounds/batches.py: a batch is acknowledged only once the agent asked for the next one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from streams.faust_workarounds.batches import batches


class TakeEventsLikeFaust:
    """faust 0.15's `Stream.take_events` contract, reduced to its acknowledgements: each batch is acknowledged in a
    `finally` after the `yield`, whether the agent finished it or not."""

    def __init__(self, *events: list[str]) -> None:
        self.batches = events
        self.acked: list[str] = []

    async def ack(self, event: str) -> bool:
        self.acked.append(event)
        return True

    async def take_events(self, size: int, within: float) -> AsyncIterator[list[str]]:
        for batch in self.batches:
            try:
                yield batch
            finally:
                for event in batch:
                    await self.ack(event)


def _run(stream: TakeEventsLikeFaust, fail_on: str | None = None) -> None:
    async def agent() -> None:
        async for batch in batches(stream, 10, within=0.1):  # type: ignore[arg-type]
            if fail_on in batch:
                raise RuntimeError("a batch failed half-way")

    async def main() -> None:
        try:
            await agent()
        finally:
            await asyncio.sleep(0)

    asyncio.run(main())  # closing the loop finalises the abandoned generators: faust's `finally` runs


def test_processed_batches_are_acknowledged() -> None:
    stream = TakeEventsLikeFaust(["a", "b"], ["c"])
    _run(stream)
    assert stream.acked == ["a", "b", "c"]


def test_a_batch_the_agent_did_not_finish_is_not_acknowledged() -> None:
    stream = TakeEventsLikeFaust(["a", "b"], ["c", "d"], ["e"])
    with pytest.raises(RuntimeError):
        _run(stream, fail_on="c")
    assert stream.acked == ["a", "b"]


def test_a_cancelled_agent_leaves_its_batch_unacknowledged() -> None:
    stream = TakeEventsLikeFaust(["a"], ["b"])
    seen: list[Any] = []

    async def main() -> None:
        async def agent() -> None:
            async for batch in batches(stream, 10, within=0.1):  # type: ignore[arg-type]
                seen.append(batch)
                if batch == ["b"]:
                    await asyncio.sleep(10)  # a graceful stop arrives while this batch is processed

        task = asyncio.create_task(agent())
        while seen != [["a"], ["b"]]:
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert stream.acked == ["a"]
