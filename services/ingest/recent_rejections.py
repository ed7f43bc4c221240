"""A department's recent rejections, so publishers can see what went wrong without Kafka access.

The dead-letter topic stays the durable record; this is a bounded per-department view of it.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from citywatch.schemas.dead_letter import DeadLetter


class RecentRejections:
    def __init__(self, redis: Redis, prefix: str, keep: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.keep = keep

    def _key(self, department: str) -> str:
        return f"{self.prefix}:rejections:{department}"

    async def add(self, department: str, letters: list[DeadLetter]) -> None:
        if not letters:
            return
        key = self._key(department)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lpush(key, *[letter.model_dump_json() for letter in letters])
            pipe.ltrim(key, 0, self.keep - 1)
            await pipe.execute()

    async def latest(self, department: str, limit: int) -> list[DeadLetter]:
        raw: Any = await self.redis.lrange(self._key(department), 0, max(0, limit - 1))
        return [DeadLetter.model_validate_json(item) for item in raw]
