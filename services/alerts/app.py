"""The alert service's HTTP face: health, metrics and the list of firing alerts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from redis.asyncio import Redis

from citywatch.settings import AlertSettings, get_alert_settings
from services.alerts.service import AlertService
from services.alerts.store import AlertStore
from services.metrics_endpoint import add_metrics_route


def create_app(settings: AlertSettings | None = None) -> FastAPI:
    settings = settings or get_alert_settings()
    redis = Redis.from_url(settings.redis_url)
    store = AlertStore(redis, settings.redis_prefix)
    service = AlertService(settings, store)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()
            await redis.aclose()

    app = FastAPI(title="citywatch alert service", version="1", lifespan=lifespan)
    add_metrics_route(app)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/alerts")
    async def firing_alerts() -> list[dict[str, Any]]:
        """Alerts firing now, oldest fingerprint first."""
        return await store.firing()

    return app
