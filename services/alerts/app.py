"""The alert service's HTTP API: active alerts, acknowledgements, maintenance windows and history.

Same keys as the ingest gateway (`citywatch keys create --role oncall|admin`): an on-call key acts on its own
department's alerts and sites, an admin key on every department's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import Depends, FastAPI, HTTPException, Query, status
from pydantic import AwareDatetime, BaseModel, Field, model_validator
from redis.asyncio import Redis

from citywatch.registry import Registry, load_registry
from citywatch.settings import AlertSettings, get_alert_settings
from services.alerts.alertmanager import alert_labels
from services.alerts.service import AlertService
from services.alerts.store import Ack, AlertStore, Maintenance, new_id
from services.auth.dependencies import require_role
from services.auth.keys import ApiKey, KeyStore
from services.metrics_endpoint import add_metrics_route
from services.redis_errors import add_redis_unavailable_handler

log = logging.getLogger("citywatch.alerts")


class AckRequest(BaseModel):
    comment: str = Field(..., min_length=1, max_length=2000, description="Why, and what is being done")


class MaintenanceRequest(BaseModel):
    site: str = Field(..., description="Site id from the registry")
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    comment: str = Field(..., min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _ends_after_start(self) -> MaintenanceRequest:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


def create_app(settings: AlertSettings | None = None, registry: Registry | None = None) -> FastAPI:
    settings = settings or get_alert_settings()
    registry = registry or load_registry(Path(settings.registry_file))
    redis = Redis.from_url(settings.redis_url)
    store = AlertStore(redis, settings.redis_prefix, history_retention_s=settings.history_retention_days * 86400)
    keys = KeyStore(redis, settings.redis_prefix)
    service = AlertService(settings, store)
    oncall_key = Depends(require_role(keys, "oncall", "admin"))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()
            await redis.aclose()

    app = FastAPI(
        title="citywatch alert service",
        version="1",
        lifespan=lifespan,
        description="Alerts pending or firing, acknowledgements, maintenance windows and history. "
        "Send an on-call or admin key as `Authorization: Bearer <key>`.",
    )
    add_metrics_route(app)
    add_redis_unavailable_handler(app, "alert state, API keys")

    def may_act_on(key: ApiKey, department: str) -> None:
        if key.role != "admin" and key.department != department:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"an on-call key of {key.department!r} may not act for department {department!r}; "
                "use that department's key or an admin key",
            )

    async def alert_or_404(fingerprint: str) -> dict[str, Any]:
        alert = await store.get(fingerprint)
        if alert is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert with fingerprint {fingerprint!r}")
        return alert

    async def silence(matchers: dict[str, str], starts: datetime, ends: datetime, by: str, comment: str) -> str:
        if service.alertmanager is None:
            return ""
        try:
            return await service.alertmanager.silence(matchers, starts, ends, by, comment)
        except httpx.HTTPError as exc:
            raise HTTPException(
                status.HTTP_502_BAD_GATEWAY,
                f"Alertmanager at {settings.alertmanager_url} did not take the silence ({exc}); nothing was changed, "
                "try again once it is reachable",
            ) from exc

    async def expire(silence_id: str) -> None:
        if service.alertmanager is not None and silence_id:
            try:
                await service.alertmanager.expire_silence(silence_id)
            except httpx.HTTPError as exc:
                log.warning("could not expire Alertmanager silence %s: %s", silence_id, exc)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/alerts")
    async def active_alerts(
        key: ApiKey = oncall_key, state: str | None = Query(None, pattern="^(pending|firing)$")
    ) -> list[dict[str, Any]]:
        """Alerts pending or firing now (optionally only one state), by fingerprint."""
        return [a for a in await store.active() if state is None or a["status"] == state]

    @app.get("/v1/alerts/{fingerprint}")
    async def one_alert(fingerprint: str, key: ApiKey = oncall_key) -> dict[str, Any]:
        return await alert_or_404(fingerprint)

    @app.post("/v1/alerts/{fingerprint}/ack")
    async def acknowledge(fingerprint: str, body: AckRequest, key: ApiKey = oncall_key) -> dict[str, Any]:
        """Acknowledge a firing alert: Alertmanager stops notifying it (a silence on the alert) until it resolves."""
        alert = await alert_or_404(fingerprint)
        may_act_on(key, alert["department"])
        if alert["status"] != "firing":
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"the alert is {alert['status']}; only a firing alert is acked"
            )
        if alert.get("ack"):
            raise HTTPException(status.HTTP_409_CONFLICT, f"already acknowledged by {alert['ack']['by']}")
        now = datetime.now(UTC)
        by = f"{key.department}/{key.key_id}"
        silence_id = await silence(
            alert_labels(alert),
            now,
            now + timedelta(days=settings.ack_max_days),
            by,
            f"acknowledged in citywatch: {body.comment}",
        )
        ack = Ack(by=by, comment=body.comment, at=now.timestamp(), silence_id=silence_id)
        try:
            acked = await store.acknowledge(fingerprint, ack)
        except KeyError as exc:  # resolved meanwhile
            await expire(silence_id)
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc.args[0])) from exc
        await store.audit(alert, "acknowledged", {"by": by, "comment": body.comment})
        return acked

    @app.delete("/v1/alerts/{fingerprint}/ack")
    async def unacknowledge(fingerprint: str, key: ApiKey = oncall_key) -> dict[str, Any]:
        """Withdraw an acknowledgement: notifications resume."""
        alert = await alert_or_404(fingerprint)
        may_act_on(key, alert["department"])
        ack = await store.unacknowledge(fingerprint)
        if ack is None:
            raise HTTPException(status.HTTP_409_CONFLICT, "the alert is not acknowledged")
        await expire(ack.silence_id)
        await store.audit(alert, "unacknowledged", {"by": f"{key.department}/{key.key_id}"})
        return await alert_or_404(fingerprint)

    @app.get("/v1/maintenance")
    async def maintenance_windows(key: ApiKey = oncall_key) -> list[dict[str, Any]]:
        """Maintenance windows not yet over."""
        return [asdict(m) for m in await store.maintenance()]

    @app.post("/v1/maintenance", status_code=status.HTTP_201_CREATED)
    async def add_maintenance(body: MaintenanceRequest, key: ApiKey = oncall_key) -> dict[str, Any]:
        """Put a site in maintenance: its alerts are still recorded, but nobody is notified during the window."""
        if not registry.has_site(body.site):
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_ENTITY,
                f"site: unknown site {body.site!r}; it is not in the site registry",
            )
        may_act_on(key, registry.owner_of(body.site))
        if body.ends_at.timestamp() <= time.time():
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "ends_at: the window is already over")
        by = f"{key.department}/{key.key_id}"
        silence_id = await silence(
            {"site": body.site}, body.starts_at, body.ends_at, by, f"maintenance: {body.comment}"
        )
        window = Maintenance(
            id=new_id(),
            site=body.site,
            starts_at=body.starts_at.timestamp(),
            ends_at=body.ends_at.timestamp(),
            comment=body.comment,
            by=by,
            silence_id=silence_id,
        )
        await store.add_maintenance(window)
        return asdict(window)

    @app.delete("/v1/maintenance/{window_id}")
    async def end_maintenance(window_id: str, key: ApiKey = oncall_key) -> dict[str, Any]:
        """End a maintenance window now."""
        window = next((m for m in await store.maintenance() if m.id == window_id), None)
        if window is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no current maintenance window {window_id!r}")
        may_act_on(key, registry.owner_of(window.site))
        await store.end_maintenance(window_id)
        await expire(window.silence_id)
        return asdict(window)

    @app.get("/v1/history")
    async def history(
        key: ApiKey = oncall_key,
        site: str | None = None,
        rule: str | None = None,
        since: AwareDatetime | None = None,
        limit: int = Query(100, ge=1, le=10_000),
    ) -> list[dict[str, Any]]:
        """Transitions, amendments and acknowledgements of a site or a rule, newest first."""
        if site is None and rule is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "site, rule: name a site or a rule (or both)")
        return await store.history(site=site, rule=rule, since=since.timestamp() if since else 0.0, limit=limit)

    return app
