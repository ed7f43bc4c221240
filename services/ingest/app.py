"""The ingest gateway's FastAPI app: the routers (`feeds_api`, `readings_api`, `publisher_api`) on one `Gateway`
(services/ingest/gateway.py, which says what a request is answered), the answers while Kafka or Redis is down, and
the loop that follows the worker's outcomes back to the receipts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from redis.asyncio import Redis

from citywatch.settings import IngestSettings, get_ingest_settings
from citywatch.site_registry import Registry, load_registry
from services.ingest import feeds_api, publisher_api, readings_api
from services.ingest.gateway import Gateway
from services.ingest.outcomes import OutcomeFollower
from services.ingest.publisher import BrokerUnavailable
from services.ingest.rate_limit import RateLimited
from services.metrics_endpoint import add_metrics_route
from services.redis_errors import add_redis_unavailable_handler


def create_app(settings: IngestSettings | None = None, registry: Registry | None = None) -> FastAPI:
    settings = settings or get_ingest_settings()
    registry = registry or load_registry(Path(settings.registry_file))
    redis = Redis.from_url(settings.redis_url)
    gateway = Gateway(settings, registry, redis)
    follower = OutcomeFollower(settings, gateway.receipts, gateway.rejections)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        following = asyncio.create_task(follower.run(), name="follow-worker-outcomes")
        try:
            yield
        finally:
            following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await following
            await gateway.publisher.close()
            await redis.aclose()

    app = FastAPIOffline(
        title="citywatch ingest gateway",
        version="1",
        description="Departments publish feed readings here with their API key (`Authorization: Bearer <key>`). "
        "Every reading is validated and checked against the site registry; a request is all or nothing, and "
        "rejected records are kept on the dead-letter topic with the reason. JSON Schemas: `/v1/feeds/{feed}/schema`.",
        lifespan=lifespan,
        redoc_url=None,
        static_url="/docs-assets",  # Swagger UI shipped with the package: /docs works without internet
    )
    app.state.gateway = gateway
    add_metrics_route(app)
    add_redis_unavailable_handler(app, "API keys, rate limits, dedup")
    app.add_exception_handler(BrokerUnavailable, _broker_down)
    app.add_exception_handler(RateLimited, _rate_limited)
    for router in (feeds_api.router, readings_api.router, publisher_api.router):
        app.include_router(router)
    return app


async def _broker_down(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BrokerUnavailable)
    detail = f"{exc}; nothing from this request was accepted, retry after {exc.retry_after} s"
    return JSONResponse(status_code=503, content={"detail": detail}, headers={"Retry-After": str(exc.retry_after)})


async def _rate_limited(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RateLimited)
    return JSONResponse(status_code=429, content={"detail": str(exc)}, headers={"Retry-After": str(exc.retry_after)})
