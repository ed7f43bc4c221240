"""`POST /v1/feeds/{feed}/readings`, `/readings/batch` and `/history`: a department publishes, all or nothing."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from citywatch.feeds import FEEDS, backfill_feeds
from citywatch.schemas.dead_letter import FieldError
from citywatch.schemas.receipt import HISTORY_LANE, RECEIPT_HEADER, RECEIPT_PATTERN
from services.auth.keys import ApiKey
from services.ingest.dependencies import GatewayDep, PublisherKey
from services.ingest.gateway import (
    RECEIPT,
    Accepted,
    Gateway,
    Problem,
    RecordError,
    Rejected,
    dead_letter,
    nesting_exceeds,
    read_limited,
    rejected,
)
from services.ingest.metrics import RECORDS

ANSWERS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem},
    403: {"model": Rejected, "description": "the key's department does not own the feed or a site"},
    408: {"model": Problem, "description": "the body did not arrive in time"},
    409: {"model": Rejected, "description": "an event id repeated with other content, or a stale revision"},
    413: {"model": Problem},
    422: {"model": Rejected},
    429: {"model": Problem, "description": "rate limit; honour Retry-After"},
    503: {"model": Problem, "description": "Kafka or Redis unavailable; honour Retry-After and send again"},
}

router = APIRouter()


@router.post("/v1/feeds/{feed}/readings", status_code=202, response_model=Accepted, responses=ANSWERS)
async def post_reading(feed: str, request: Request, key: PublisherKey, gateway: GatewayDep) -> Response:
    """Publish one reading (a JSON object matching the feed's schema). Name a receipt with the
    `Citywatch-Receipt` header to follow several requests' readings through the worker as one."""
    payload = await read_shaped(
        gateway, request, feed, key, dict, "the body must be one JSON object; use /batch for arrays"
    )
    if isinstance(payload, Response):
        return payload
    return await gateway.ingest(feed, key, [payload], request.state.receipt)


@router.post("/v1/feeds/{feed}/readings/batch", status_code=202, response_model=Accepted, responses=ANSWERS)
async def post_batch(feed: str, request: Request, key: PublisherKey, gateway: GatewayDep) -> Response:
    """Publish a JSON array of readings, all or nothing."""
    return await publish_batch(gateway, feed, request, key)


@router.post("/v1/feeds/{feed}/history", status_code=202, response_model=Accepted, responses=ANSWERS)
async def post_history(feed: str, request: Request, key: PublisherKey, gateway: GatewayDep) -> Response:
    """Backfill past readings (a JSON array, all or nothing) into sites that may be receiving live data.

    History is processed in event time beside the live data, into the same indicators; it is never refused as
    late, and alerts its values would have raised are recorded as historical incidents, never sent to on-call
    (docs/architecture.md, "History backfill"). Send each site's history in time order."""
    if feed in FEEDS and feed not in backfill_feeds():
        reason = f"history backfill is available for the {', '.join(sorted(backfill_feeds()))} feed; not {feed}"
        return JSONResponse(status_code=404, content={"detail": reason})
    return await publish_batch(gateway, feed, request, key, HISTORY_LANE)


async def publish_batch(
    gateway: Gateway, feed: str, request: Request, key: ApiKey, lane: str | None = None
) -> Response:
    payload = await read_shaped(gateway, request, feed, key, list, "the batch body must be a JSON array of readings")
    if isinstance(payload, Response):
        return payload
    limit = gateway.settings.max_batch_records
    if len(payload) > limit:
        reason = f"a batch holds at most {limit} records; got {len(payload)}"
        return await reject_body(gateway, feed, key, orjson.dumps(payload), reason)
    return await gateway.ingest(feed, key, payload, request.state.receipt, lane)


def receipt_of(request: Request) -> str | None:
    """The receipt named in the `Citywatch-Receipt` header, a new one when none is named, None when invalid."""
    named = request.headers.get(RECEIPT_HEADER)
    if named is None:
        return uuid.uuid4().hex[:16]
    return named if RECEIPT.match(named) else None


async def read_shaped(
    gateway: Gateway, request: Request, feed: str, key: ApiKey, shape: type[dict[str, Any] | list[Any]], reason: str
) -> Any | Response:
    """`read_payload`, refused with `reason` unless it is a JSON object (`dict`) or array (`list`) as asked."""
    payload = await read_payload(gateway, request, feed, key)
    if isinstance(payload, (Response, shape)):
        return payload
    return await reject_body(gateway, feed, key, orjson.dumps(payload), reason)


async def read_payload(gateway: Gateway, request: Request, feed: str, key: ApiKey) -> Any | Response:
    """The request's JSON, or the answer refusing it (unknown feed, slow or huge body, a feed the key's department
    does not publish, a bad receipt, not JSON, nested too deep)."""
    settings = gateway.settings
    if feed not in FEEDS:
        return JSONResponse(status_code=404, content={"detail": f"unknown feed {feed!r}; known: {', '.join(FEEDS)}"})
    try:
        async with asyncio.timeout(settings.request_body_timeout_s):
            body = await read_limited(request, settings.max_body_bytes)
    except TimeoutError:
        await gateway.rate.admit(key.key_id, 1)
        reason = f"the body did not arrive within {settings.request_body_timeout_s:g} s; send it at once"
        return JSONResponse(status_code=408, content={"detail": reason}, headers={"Connection": "close"})
    if body is None:
        reason = f"body is over the limit of {settings.max_body_bytes} bytes; send smaller batches"
        return await reject_body(gateway, feed, key, None, reason, status=413)
    if feed not in gateway.registry.feeds_by_department().get(key.department, set()):
        reason = f"department {key.department!r} does not publish the {feed} feed (see the site registry)"
        return await reject_body(gateway, feed, key, body, reason, field="(feed)", status=403)
    receipt = receipt_of(request)
    if receipt is None:
        reason = f"the {RECEIPT_HEADER} header must match {RECEIPT_PATTERN} (letters, digits, _.-, up to 64)"
        return await reject_body(gateway, feed, key, body, reason, field=f"(header {RECEIPT_HEADER})")
    request.state.receipt = receipt
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return await reject_body(gateway, feed, key, body, f"body is not valid JSON: {exc}")
    if nesting_exceeds(payload, settings.max_json_depth):
        return await reject_body(gateway, feed, key, body, f"JSON nested deeper than {settings.max_json_depth} levels")
    return payload


async def reject_body(
    gateway: Gateway,
    feed: str,
    key: ApiKey,
    body: bytes | None,
    reason: str,
    field: str = "(body)",
    status: int = 422,
) -> Response:
    """A request refused whole: its body is kept as received (bounded) on the dead-letter topic. It counts as one
    record against the rate limit."""
    await gateway.rate.admit(key.key_id, 1)
    text = "(body not kept)" if body is None else body.decode("utf-8", errors="replace")
    await gateway.reject(
        key.department, [dead_letter(feed, key.department, text, [FieldError(field=field, reason=reason)])]
    )
    RECORDS.labels(feed=feed, outcome="forbidden" if status == 403 else "rejected").inc()
    if status == 413:
        return JSONResponse(status_code=status, content={"detail": reason})
    return JSONResponse(
        status_code=status, content=rejected(reason, [RecordError(index=0, field=field, reason=reason)])
    )
