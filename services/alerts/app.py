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
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, HTTPException, Query, status
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field
from redis.asyncio import Redis

from citywatch.local_time import localized
from citywatch.registry import Registry, load_registry
from citywatch.registry.model import Area
from citywatch.settings import AlertSettings, env_name, get_alert_settings
from services.alerts.alertmanager import alert_labels
from services.alerts.service import AlertService
from services.alerts.store import Ack, AlertStore, Maintenance, new_id
from services.auth.dependencies import require_role
from services.auth.keys import ApiKey, KeyStore
from services.metrics_endpoint import add_metrics_route
from services.redis_errors import add_redis_unavailable_handler

log = logging.getLogger("citywatch.alerts")
RUNBOOKS = Path(__file__).resolve().parents[2] / "docs"
PAGE = Path(__file__).resolve().parent / "page"


class AckRequest(BaseModel):
    comment: str = Field(..., min_length=1, max_length=2000, description="Why, and what is being done")


class MaintenanceRequest(BaseModel):
    site: str = Field(..., description="Site id from the registry")
    starts_at: datetime = Field(..., description="ISO 8601; without an offset, the deployment's local time")
    ends_at: datetime = Field(..., description="ISO 8601; without an offset, the deployment's local time")
    comment: str = Field(..., min_length=1, max_length=2000)


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

    app = FastAPIOffline(
        title="citywatch alert service",
        version="1",
        lifespan=lifespan,
        description="Alerts pending or firing, acknowledgements, maintenance windows and history. "
        "Send an on-call or admin key as `Authorization: Bearer <key>`. The on-call page is at `/`.",
        redoc_url=None,
        static_url="/docs-assets",  # Swagger UI shipped with the package: /docs works without internet
    )
    add_metrics_route(app)
    add_redis_unavailable_handler(app, "alert state, API keys")
    app.mount("/page", StaticFiles(directory=PAGE), name="page")

    @app.get("/", include_in_schema=False)
    async def oncall_page() -> HTMLResponse:
        """The on-call page (services/alerts/page/): it logs in with an on-call key and uses this API."""
        html = (PAGE / "index.html").read_text(encoding="utf-8")
        return HTMLResponse(html.replace("{{ZONE}}", settings.timezone))

    if RUNBOOKS.is_dir():  # the runbooks alerts link to (CITYWATCH_RUNBOOK_BASE_URL), as the repository has them
        app.mount("/runbooks", StaticFiles(directory=RUNBOOKS), name="runbooks")

    def sees(key: ApiKey, department: str) -> bool:
        return key.role == "admin" or key.department == department

    def may_act_on(key: ApiKey, department: str) -> None:
        if not sees(key, department):
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
        """Alerts pending or firing now (optionally only one state), by fingerprint: an on-call key sees its own
        department's, an admin key every department's."""
        return [
            a
            for a in await store.active()
            if (state is None or a["status"] == state) and sees(key, a.get("department", ""))
        ]

    @app.get("/v1/alerts/{fingerprint}")
    async def one_alert(fingerprint: str, key: ApiKey = oncall_key) -> dict[str, Any]:
        alert = await alert_or_404(fingerprint)
        may_act_on(key, alert["department"])
        return alert

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

    def window_times(body: MaintenanceRequest) -> tuple[datetime, datetime]:
        """The window's start and end, aware (naive times are the deployment's local time) and within bounds."""
        starts, ends = localized(body.starts_at, settings.zone), localized(body.ends_at, settings.zone)
        now = time.time()
        longest = timedelta(days=settings.maintenance_max_days)
        problem = None
        if ends <= starts:
            problem = "ends_at: the window must end after it starts"
        elif ends.timestamp() <= now:
            problem = "ends_at: the window is already over"
        elif ends - starts > longest:
            problem = (
                f"ends_at: a maintenance window lasts at most {settings.maintenance_max_days:g} days "
                f"({env_name('maintenance_max_days')}), this one {(ends - starts) / timedelta(days=1):.1f}; a site out "
                "of service longer belongs in the registry"
            )
        elif starts.timestamp() > now + settings.maintenance_max_lead_days * 86400:
            problem = (
                f"starts_at: a window may start at most {settings.maintenance_max_lead_days:g} days ahead "
                f"({env_name('maintenance_max_lead_days')})"
            )
        if problem is not None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, problem)
        return starts, ends

    @app.get("/v1/maintenance")
    async def maintenance_windows(key: ApiKey = oncall_key) -> list[dict[str, Any]]:
        """Maintenance windows not yet over (an on-call key: its own department's sites)."""
        return [asdict(m) for m in await store.maintenance() if sees(key, registry.owner_of(m.site))]

    @app.post("/v1/maintenance", status_code=status.HTTP_201_CREATED)
    async def add_maintenance(body: MaintenanceRequest, key: ApiKey = oncall_key) -> dict[str, Any]:
        """Put a site in maintenance: its alerts are still recorded, but nobody is notified during the window."""
        if not registry.has_site(body.site):
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_ENTITY,
                f"site: unknown site {body.site!r}; it is not in the site registry",
            )
        may_act_on(key, registry.owner_of(body.site))
        starts, ends = window_times(body)
        by = f"{key.department}/{key.key_id}"
        silence_id = await silence({"site": body.site}, starts, ends, by, f"maintenance: {body.comment}")
        window = Maintenance(
            id=new_id(),
            site=body.site,
            starts_at=starts.timestamp(),
            ends_at=ends.timestamp(),
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
        since: Annotated[
            datetime | None, Query(description="ISO 8601; without an offset, the deployment's local time")
        ] = None,
        limit: int = Query(100, ge=1, le=10_000),
    ) -> list[dict[str, Any]]:
        """Transitions, amendments and acknowledgements of a site or a rule, newest first (an on-call key: its own
        department's)."""
        if site is None and rule is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "site, rule: name a site or a rule (or both)")
        if site is not None and registry.has_site(site) and not isinstance(registry.site(site), Area):
            may_act_on(key, registry.owner_of(site))  # an area carries several departments' alerts: filtered below
        start = localized(since, settings.zone).timestamp() if since else 0.0
        found = await store.history(site=site, rule=rule, since=start, limit=limit)
        return [r for r in found if sees(key, r.get("department", ""))]

    return app
