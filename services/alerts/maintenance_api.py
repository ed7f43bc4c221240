"""`/v1/maintenance`: windows in which a site's alerts are recorded but nobody is notified."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field

from services.alerts.oncall_desk import DeskDep, OncallKey
from services.alerts.store import Maintenance, new_id

router = APIRouter()


class MaintenanceRequest(BaseModel):
    site: str = Field(..., description="Site id from the registry")
    starts_at: datetime = Field(..., description="ISO 8601; without an offset, the deployment's local time")
    ends_at: datetime = Field(..., description="ISO 8601; without an offset, the deployment's local time")
    comment: str = Field(..., min_length=1, max_length=2000)


@router.get("/v1/maintenance")
async def maintenance_windows(key: OncallKey, desk: DeskDep) -> list[dict[str, Any]]:
    """Maintenance windows not yet over (an on-call key: its own department's sites)."""
    return [asdict(m) for m in await desk.store.maintenance() if desk.sees(key, desk.registry.owner_of(m.site))]


@router.post("/v1/maintenance", status_code=status.HTTP_201_CREATED)
async def add_maintenance(body: MaintenanceRequest, key: OncallKey, desk: DeskDep) -> dict[str, Any]:
    """Put a site in maintenance: its alerts are still recorded, but nobody is notified during the window."""
    if not desk.registry.has_site(body.site):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_ENTITY,
            f"site: unknown site {body.site!r}; it is not in the site registry",
        )
    desk.may_act_on(key, desk.registry.owner_of(body.site))
    starts, ends = desk.window_times(body.starts_at, body.ends_at)
    by = f"{key.department}/{key.key_id}"
    silence_id = await desk.silence({"site": body.site}, starts, ends, by, f"maintenance: {body.comment}")
    window = Maintenance(
        id=new_id(),
        site=body.site,
        starts_at=starts.timestamp(),
        ends_at=ends.timestamp(),
        comment=body.comment,
        by=by,
        silence_id=silence_id,
    )
    await desk.store.add_maintenance(window)
    return asdict(window)


@router.delete("/v1/maintenance/{window_id}")
async def end_maintenance(window_id: str, key: OncallKey, desk: DeskDep) -> dict[str, Any]:
    """End a maintenance window now."""
    window = next((m for m in await desk.store.maintenance() if m.id == window_id), None)
    if window is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no current maintenance window {window_id!r}")
    desk.may_act_on(key, desk.registry.owner_of(window.site))
    await desk.store.end_maintenance(window_id)
    await desk.expire(window.silence_id)
    return asdict(window)
