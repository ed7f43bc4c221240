"""`/`: the on-call page (services/alerts/page/, which logs in with an on-call key and uses the API); `/healthz`."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from services.alerts.oncall_desk import DeskDep

PAGE = Path(__file__).resolve().parent / "page"

router = APIRouter()


@router.get("/", include_in_schema=False)
async def oncall_page(desk: DeskDep) -> HTMLResponse:
    """The on-call page, in the deployment's time zone."""
    html = (PAGE / "index.html").read_text(encoding="utf-8")
    return HTMLResponse(html.replace("{{ZONE}}", desk.settings.timezone))


@router.get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
