"""Per-key rate limit in Redis, shared by every gateway replica: a fixed window of N records."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

# KEYS: window counter. ARGV: records to add, window seconds, limit. Counts only what is admitted.
_ADMIT = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used + tonumber(ARGV[1]) > tonumber(ARGV[3]) then return -1 end
redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return used + tonumber(ARGV[1])
"""


class RateLimited(Exception):
    def __init__(self, limit: int, window_s: int, retry_after: int) -> None:
        super().__init__(f"rate limit of {limit} records per {window_s} s reached; retry after {retry_after} s")
        self.retry_after = retry_after


@dataclass
class RateLimiter:
    redis: Redis
    prefix: str
    limit: int  # records per window per key
    window_s: int

    def __post_init__(self) -> None:
        self._admit = self.redis.register_script(_ADMIT)

    async def admit(self, key_id: str, records: int, now: float | None = None) -> None:
        """Count `records` against the key's window or raise RateLimited with when to retry."""
        now = time.time() if now is None else now
        window = int(now // self.window_s)
        used: Any = await self._admit(
            keys=[f"{self.prefix}:rate:{key_id}:{window}"], args=[records, self.window_s, self.limit]
        )
        if int(used) < 0:
            retry_after = max(1, int((window + 1) * self.window_s - now + 0.999))
            raise RateLimited(self.limit, self.window_s, retry_after)
