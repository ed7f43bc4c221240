"""`/v1/history`: transitions, amendments and acknowledgements of a site or a rule."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from citywatch.local_time import localized
from citywatch.site_registry.model import Area
from services.alerts.oncall_desk import DeskDep, OncallKey

router = APIRouter()


@router.get("/v1/history")
async def history(
    key: OncallKey,
    desk: DeskDep,
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
    registry = desk.registry
    if site is not None and registry.has_site(site) and not isinstance(registry.site(site), Area):
        desk.may_act_on(key, registry.owner_of(site))  # an area carries several departments' alerts: filtered below
    start = localized(since, desk.settings.zone).timestamp() if since else 0.0
    found = await desk.store.history(site=site, rule=rule, since=start, limit=limit)
    return [r for r in found if desk.sees(key, r.get("department", ""))]
