"""What the gateway published under each event id: the latest revision and what it said.

Keyed by department, feed, site and event id (`<prefix>:event:<department>:<feed>:<site>:<event id>`), so one
department's records can never make another's a "duplicate". Written only after Kafka's acknowledgement, so a crash
in between re-publishes (the worker drops the repeat) instead of losing a reading. The verdicts are
`citywatch.intake.repeats`; each entry lives `CITYWATCH_DEDUP_TTL_S` (30 days by default).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from redis.asyncio import Redis

from citywatch.intake.repeats import Published


class PublishedEvents:
    def __init__(self, redis: Redis, prefix: str, ttl_s: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_s = ttl_s

    def _key(self, department: str, feed: str, site: str, event_id: str) -> str:
        return f"{self.prefix}:event:{department}:{feed}:{site}:{event_id}"

    async def previous(self, department: str, feed: str, events: Sequence[tuple[str, str]]) -> list[Published | None]:
        """For each (site, event id): what was published under it, or None."""
        if not events:
            return []
        found: Any = await self.redis.mget([self._key(department, feed, site, e) for site, e in events])
        out: list[Published | None] = []
        for value in found:
            if value is None:
                out.append(None)
            else:
                entry = orjson.loads(value)
                out.append(Published(int(entry["r"]), entry["c"]))
        return out

    async def record(self, department: str, feed: str, published: Sequence[tuple[str, str, Published]]) -> None:
        """Remember (site, event id, what was published) once Kafka acknowledged it."""
        if not published:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for site, event_id, entry in published:
                value = orjson.dumps({"r": entry.revision, "c": entry.content})
                pipe.set(self._key(department, feed, site, event_id), value, ex=self.ttl_s)
            await pipe.execute()
