"""What the HTTP services and the alert service do while Redis is unreachable: answer 503, retry, never skip."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# Redis is down or not answering: worth retrying. Other Redis errors (a wrong command) are bugs and propagate.
REDIS_DOWN: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError)
RETRY_AFTER_S = 5


def add_redis_unavailable_handler(app: FastAPI, what: str) -> None:
    """Answer 503 with Retry-After, not a bare 500, while Redis is unreachable."""

    async def redis_down(_: Request, exc: Exception) -> JSONResponse:
        detail = f"Redis ({what}) is unavailable ({exc}); retry after {RETRY_AFTER_S} s"
        return JSONResponse(status_code=503, content={"detail": detail}, headers={"Retry-After": str(RETRY_AFTER_S)})

    for exc_type in REDIS_DOWN:
        app.add_exception_handler(exc_type, redis_down)
