"""`GET /v1/rejections` and `GET /v1/receipts/{receipt}`: what became of what a department sent."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse

from citywatch.schemas.dead_letter import DeadLetter
from citywatch.schemas.receipt import RECEIPT_PATTERN
from services.ingest.dependencies import GatewayDep, PublisherKey
from services.ingest.gateway import Problem
from services.ingest.receipts import ReceiptView

router = APIRouter()


@router.get("/v1/rejections", response_model=list[DeadLetter], responses={401: {"model": Problem}})
async def my_rejections(
    key: PublisherKey, gateway: GatewayDep, limit: int = Query(50, ge=1, le=1000)
) -> list[DeadLetter]:
    """Your department's most recent rejected records, newest first, with the reasons: the gateway's and the
    worker's (too late, conflicts, records sent straight to Kafka that did not count)."""
    return await gateway.rejections.latest(key.department, limit)


@router.get(
    "/v1/receipts/{receipt}",
    response_model=ReceiptView,
    responses={401: {"model": Problem}, 404: {"model": Problem}},
)
async def my_receipt(
    key: PublisherKey, gateway: GatewayDep, receipt: str = PathParam(pattern=RECEIPT_PATTERN)
) -> ReceiptView | JSONResponse:
    """What became of the readings sent under a receipt: accepted by the gateway, then judged by the worker
    (counted, duplicates, too late, refused, with the latest reasons) and how many are still pending."""
    view = await gateway.receipts.view(key.department, receipt)
    if view is None:
        detail = f"no receipt {receipt!r} of department {key.department!r} (receipts are kept for a week)"
        return JSONResponse(status_code=404, content={"detail": detail})
    return view
