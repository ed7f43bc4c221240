"""The alert service's HTTP API: active alerts, acknowledgements, maintenance windows and history.

Same keys as the ingest gateway (`citywatch keys create --role oncall|admin`): an on-call key acts on its own
department's alerts and sites, an admin key on every department's. The routers (`page_api`, `alerts_api`,
`maintenance_api`, `history_api`) act through one `OncallDesk` (services/alerts/oncall_desk.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from redis.asyncio import Redis

from citywatch.settings import AlertSettings, get_alert_settings
from citywatch.site_registry import Registry, load_registry
from services.alerts import alerts_api, history_api, maintenance_api, page_api
from services.alerts.oncall_desk import OncallDesk
from services.alerts.service import AlertService
from services.alerts.store import AlertStore
from services.auth.keys import KeyStore
from services.metrics_endpoint import add_metrics_route
from services.redis_errors import add_redis_unavailable_handler

RUNBOOKS = Path(__file__).resolve().parents[2] / "docs"


def create_app(settings: AlertSettings | None = None, registry: Registry | None = None) -> FastAPI:
    settings = settings or get_alert_settings()
    registry = registry or load_registry(Path(settings.registry_file))
    redis = Redis.from_url(settings.redis_url)
    store = AlertStore(redis, settings.redis_prefix, history_retention_s=settings.history_retention_days * 86400)
    service = AlertService(settings, store)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()
            await redis.aclose()

    app = FastAPIOffline(
        title="citywatch alert service",
        version="1",
        lifespan=lifespan,
        description="Alerts pending or firing, acknowledgements, maintenance windows and history. "
        "Send an on-call or admin key as `Authorization: Bearer <key>`. The on-call page is at `/`.",
        redoc_url=None,
        static_url="/docs-assets",  # Swagger UI shipped with the package: /docs works without internet
    )
    app.state.desk = OncallDesk(settings, registry, store, KeyStore(redis, settings.redis_prefix), service)
    add_metrics_route(app)
    add_redis_unavailable_handler(app, "alert state, API keys")
    app.mount("/page", StaticFiles(directory=page_api.PAGE), name="page")
    if RUNBOOKS.is_dir():  # the runbooks alerts link to (CITYWATCH_RUNBOOK_BASE_URL), as the repository has them
        app.mount("/runbooks", StaticFiles(directory=RUNBOOKS), name="runbooks")
    for router in (page_api.router, alerts_api.router, maintenance_api.router, history_api.router):
        app.include_router(router)
    return app
