"""`GET /v1/feeds` and `GET /v1/feeds/{feed}/schema`: what a department may publish, and in what shape."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from citywatch.feeds import FEEDS, json_schemas
from services.ingest.dependencies import GatewayDep

router = APIRouter()


@router.get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/v1/feeds")
async def list_feeds(gateway: GatewayDep) -> dict[str, list[str]]:
    """The feeds and the departments whose sites publish them."""
    publishes = gateway.registry.feeds_by_department()
    return {feed: sorted(d for d, feeds in publishes.items() if feed in feeds) for feed in FEEDS}


@router.get("/v1/feeds/{feed}/schema")
async def feed_schema(feed: str) -> Response:
    """The JSON Schema of one feed's readings."""
    schemas = json_schemas()
    if feed not in schemas:
        return JSONResponse(status_code=404, content={"detail": f"unknown feed {feed!r}; known: {', '.join(FEEDS)}"})
    return JSONResponse(content=schemas[feed])
