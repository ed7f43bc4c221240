"""Which (event id, revision) pairs the gateway already had acknowledged by Kafka.

Marked only after Kafka's acknowledgement, so a crash between the two re-publishes (the worker drops the
duplicate) instead of losing a reading. A replayed batch is therefore not counted twice.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis


class SeenEvents:
    def __init__(self, redis: Redis, prefix: str, ttl_s: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_s = ttl_s

    def _key(self, feed: str, event_id: str, revision: int) -> str:
        return f"{self.prefix}:seen:{feed}:{event_id}:{revision}"

    async def unseen(self, feed: str, events: list[tuple[str, int]]) -> list[bool]:
        """For each (event id, revision): True when the gateway has not published it before."""
        if not events:
            return []
        found: Any = await self.redis.mget([self._key(feed, e, r) for e, r in events])
        return [value is None for value in found]

    async def mark(self, feed: str, events: list[tuple[str, int]]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for event_id, revision in events:
                pipe.set(self._key(feed, event_id, revision), b"1", ex=self.ttl_s)
            await pipe.execute()
