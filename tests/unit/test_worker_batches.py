"""streams/batches.py: a batch is acknowledged only once the agent asked for the next one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import pytest

from streams.batches import batches, steady_epoch, wait_until_steady


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


def test_a_batch_left_unprocessed_is_not_acknowledged_and_the_next_ones_are() -> None:
    stream = TakeEventsLikeFaust(["a"], ["b"], ["c"])

    async def main() -> None:
        async for batch in batches(stream, 10, within=0.1):  # type: ignore[arg-type]
            if batch == ["b"]:
                batch.leave_unprocessed()  # e.g. the tables were being restored

    asyncio.run(main())
    assert stream.acked == ["a", "c"]


def _app(rebalancing: bool = False, in_recovery: bool = False, actives_ready: bool = True, count: int = 3) -> Any:
    return SimpleNamespace(
        rebalancing=rebalancing,
        in_recovery=in_recovery,
        rebalancing_count=count,
        tables=SimpleNamespace(actives_ready=actives_ready),
    )


def test_tables_are_steady_only_between_faust_seeking_back_and_the_next_rebalance() -> None:
    assert steady_epoch(_app()) == 3
    assert steady_epoch(_app(rebalancing=True)) is None
    assert steady_epoch(_app(in_recovery=True)) is None
    assert steady_epoch(_app(actives_ready=False)) is None  # restored, not yet sought back to the committed offsets
    assert steady_epoch(_app(count=4)) != steady_epoch(_app())  # a rebalance came and went during a batch


def test_a_batch_waits_for_the_restore_but_never_for_a_rebalance() -> None:
    async def wait_while(app: Any, then: Callable[[], None]) -> int | None:
        async def later() -> None:
            await asyncio.sleep(0.05)
            then()

        other = asyncio.ensure_future(later())
        epoch = await wait_until_steady(app, poll_s=0.01)
        await other
        return epoch

    restoring = _app(actives_ready=False)
    assert asyncio.run(wait_while(restoring, lambda: setattr(restoring.tables, "actives_ready", True))) == 3
    # a rebalance's revocation waits for this batch's events: never wait on it
    rebalanced = _app(actives_ready=False)
    assert asyncio.run(wait_while(rebalanced, lambda: setattr(rebalanced, "rebalancing", True))) is None
