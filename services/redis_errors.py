"""What the HTTP services and the alert service do while Redis is unreachable: answer 503, retry, never skip."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# Redis is down or not answering: worth retrying. Other Redis errors (a wrong command) are bugs and propagate.
REDIS_DOWN: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError)
RETRY_AFTER_S = 5
MAX_BACKOFF_S = 5.0  # the longest wait between retries of a loop that waits for Redis or Kafka
T = TypeVar("T")


async def until_redis_answers(call: Callable[[], Awaitable[T]], on_down: Callable[[Exception, float], None]) -> T:
    """`call()`, retried with a growing backoff (at most MAX_BACKOFF_S) for as long as Redis is unreachable;
    `on_down(error, backoff)` says so each time (log, count). Nothing is skipped: the caller waits."""
    backoff = 0.5
    while True:
        try:
            return await call()
        except REDIS_DOWN as exc:
            on_down(exc, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)


def add_redis_unavailable_handler(app: FastAPI, what: str) -> None:
    """Answer 503 with Retry-After, not a bare 500, while Redis is unreachable."""

    async def redis_down(_: Request, exc: Exception) -> JSONResponse:
        detail = f"Redis ({what}) is unavailable ({exc}); retry after {RETRY_AFTER_S} s"
        return JSONResponse(status_code=503, content={"detail": detail}, headers={"Retry-After": str(RETRY_AFTER_S)})

    for exc_type in REDIS_DOWN:
        app.add_exception_handler(exc_type, redis_down)
