"""What the alert service's HTTP API acts through: the alert store, the keys' departments, Alertmanager's silences
and the bounds of a maintenance window. The routers (`alerts_api`, `maintenance_api`, `history_api`, `page_api`) find
it on `app.state.desk`."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

import httpx
from fastapi import Depends, HTTPException, Request, status

from citywatch.local_time import localized
from citywatch.settings import AlertSettings, env_name
from citywatch.site_registry import Registry
from services.alerts.service import AlertService
from services.alerts.store import AlertStore
from services.auth.dependencies import require_role
from services.auth.keys import ApiKey, KeyStore

log = logging.getLogger("citywatch.alerts")


@dataclass
class OncallDesk:
    settings: AlertSettings
    registry: Registry
    store: AlertStore
    keys: KeyStore
    service: AlertService

    @staticmethod
    def sees(key: ApiKey, department: str) -> bool:
        return key.role == "admin" or key.department == department

    def may_act_on(self, key: ApiKey, department: str) -> None:
        if not self.sees(key, department):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"an on-call key of {key.department!r} may not act for department {department!r}; "
                "use that department's key or an admin key",
            )

    async def alert_or_404(self, fingerprint: str) -> dict[str, Any]:
        alert = await self.store.get(fingerprint)
        if alert is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert with fingerprint {fingerprint!r}")
        return alert

    async def silence(self, matchers: dict[str, str], starts: datetime, ends: datetime, by: str, comment: str) -> str:
        if self.service.alertmanager is None:
            return ""
        try:
            return await self.service.alertmanager.silence(matchers, starts, ends, by, comment)
        except httpx.HTTPError as exc:
            raise HTTPException(
                status.HTTP_502_BAD_GATEWAY,
                f"Alertmanager at {self.settings.alertmanager_url} did not take the silence ({exc}); nothing was "
                "changed, try again once it is reachable",
            ) from exc

    async def expire(self, silence_id: str) -> None:
        if self.service.alertmanager is not None and silence_id:
            try:
                await self.service.alertmanager.expire_silence(silence_id)
            except httpx.HTTPError as exc:
                log.warning("could not expire Alertmanager silence %s: %s", silence_id, exc)

    def window_times(self, starts_at: datetime, ends_at: datetime) -> tuple[datetime, datetime]:
        """A maintenance window's start and end, aware (naive times are the deployment's local time) and within
        bounds."""
        settings = self.settings
        starts, ends = localized(starts_at, settings.zone), localized(ends_at, settings.zone)
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


def desk_of(request: Request) -> OncallDesk:
    desk: OncallDesk = request.app.state.desk
    return desk


DeskDep = Annotated[OncallDesk, Depends(desk_of)]
OncallKey = Annotated[ApiKey, Depends(require_role(lambda request: desk_of(request).keys, "oncall", "admin"))]
"""An on-call (or admin) key: 401 without a valid one, 403 for another role."""
