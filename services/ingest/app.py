"""The ingest gateway's FastAPI app: authenticate, validate, scope to the department, publish, keep rejections.

A request is all or nothing: when any record is refused none is published, every refused record goes to the
dead-letter topic with its reason, and the answer names each record's index, field and reason (at most 100 errors
listed, `errors_total` says how many): 422 for invalid records (schema, registry, clocks), 403 when every refusal
is about ownership, 409 when every refusal is a conflicting or stale repeat of an event id. Every record sent
counts against the key's rate limit, refused ones too. Published records carry their receipt (`Citywatch-Receipt`
request header, or one made per request), which `GET /v1/receipts/{receipt}` follows through the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import orjson
from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, ValidationError
from redis.asyncio import Redis

from citywatch.intake import admission
from citywatch.intake.repeats import REFUSED, Published, judge
from citywatch.registry import Registry, load_registry
from citywatch.schemas.dead_letter import MAX_ERRORS_LISTED, DeadLetter, FieldError, field_errors
from citywatch.schemas.feed_batch import encode_batches
from citywatch.schemas.feeds import FEEDS, FeedRecord, content_of, identity_of, json_schemas
from citywatch.schemas.receipt import (
    BACKFILL_FEEDS,
    HISTORY_LANE,
    LANE_HEADER,
    RECEIPT_HEADER,
    RECEIPT_PATTERN,
)
from citywatch.settings import IngestSettings, get_ingest_settings
from citywatch.topics import Topics
from services.auth.dependencies import require_role
from services.auth.keys import ApiKey, KeyStore
from services.ingest.metrics import RECORDS, REQUEST_SECONDS
from services.ingest.outcomes import OutcomeFollower
from services.ingest.published_events import PublishedEvents
from services.ingest.publisher import BrokerUnavailable, Publisher
from services.ingest.rate_limit import RateLimited, RateLimiter
from services.ingest.receipts import Receipts, ReceiptView
from services.ingest.recent_rejections import RecentRejections
from services.kafka_client import client_kwargs
from services.metrics_endpoint import add_metrics_route
from services.redis_errors import add_redis_unavailable_handler

log = logging.getLogger("citywatch.ingest")


class Accepted(BaseModel):
    accepted: int
    duplicates: int
    event_ids: list[str]
    receipt: str


class RecordError(BaseModel):
    index: int
    field: str
    reason: str


class Rejected(BaseModel):
    detail: str
    errors: list[RecordError]
    errors_total: int = 0


def rejected(detail: str, errors: list[RecordError]) -> dict[str, Any]:
    """A refusal's body: at most MAX_ERRORS_LISTED errors listed, and how many there were."""
    return Rejected(detail=detail, errors=errors[:MAX_ERRORS_LISTED], errors_total=len(errors)).model_dump()


RECEIPT = re.compile(RECEIPT_PATTERN)


@dataclass
class RefusedRecord:
    """One record of a request that does not count, and why."""

    index: int
    payload: Any
    errors: list[FieldError]
    outcome: str  # invalid, forbidden, conflict or stale-revision
    record: FeedRecord | None = None


class Problem(BaseModel):
    detail: str


class Gateway:
    """What one request needs: the registry, the key's department, the stores and the publisher."""

    def __init__(self, settings: IngestSettings, registry: Registry, redis: Redis) -> None:
        self.settings = settings
        self.registry = registry
        self.topics = Topics(settings.topic_prefix)
        self.bounds = settings.clock_bounds()
        self.publisher = Publisher(
            client_kwargs(settings), settings.kafka_request_timeout_ms, settings.kafka_ack_timeout_s
        )
        self.keys = KeyStore(redis, settings.redis_prefix)
        self.rate = RateLimiter(redis, settings.redis_prefix, settings.rate_limit_records, settings.rate_limit_window_s)
        self.published = PublishedEvents(redis, settings.redis_prefix, settings.dedup_ttl_s)
        self.rejections = RecentRejections(redis, settings.redis_prefix, settings.rejections_kept)
        self.receipts = Receipts(redis, settings.redis_prefix, settings.receipt_ttl_s)

    async def reject(self, department: str, letters: list[DeadLetter]) -> None:
        await self.publisher.publish(
            self.topics.dead_letter, [(letter.feed.encode(), letter.model_dump_json().encode()) for letter in letters]
        )
        await self.rejections.add(department, letters)

    async def ingest(
        self, feed: str, key: ApiKey, payloads: list[Any], receipt: str, lane: str | None = None
    ) -> Response:
        started = time.perf_counter()
        received_at = datetime.now(UTC)
        await self.rate.admit(key.key_id, len(payloads))  # every record sent counts, refused ones too
        refused: list[RefusedRecord] = []
        candidates: list[tuple[int, FeedRecord]] = []
        for index, payload in enumerate(payloads):
            try:
                record = cast(FeedRecord, FEEDS[feed].model_validate(payload))
            except ValidationError as exc:
                refused.append(RefusedRecord(index, payload, field_errors(exc), "invalid"))
                continue
            refusal = admission(self.registry, key.department, feed, record, self.bounds, received_at)
            if refusal is not None:
                outcome = "forbidden" if refusal.forbidden else "invalid"
                refused.append(RefusedRecord(index, payload, list(refusal.errors), outcome, record))
            else:
                candidates.append((index, record))
        fresh, duplicates = await self._new_events(feed, key.department, payloads, candidates, refused)
        if refused:
            return await self._refuse(feed, key.department, len(payloads), refused, receipt)

        headers = [(RECEIPT_HEADER, receipt.encode())]
        if lane is not None:
            headers.append((LANE_HEADER, lane.encode()))
        # One feed batch per site (citywatch/schemas/feed_batch.py): the worker pays its per-message cost once.
        by_site: dict[str, list[FeedRecord]] = {}
        for record, _ in fresh:
            by_site.setdefault(record.site_id, []).append(record)
        await self.publisher.publish(
            self.topics.feed(feed, key.department),
            [(site.encode(), batch) for site, records in by_site.items() for batch in encode_batches(records)],
            headers,
        )
        await self.published.record(key.department, feed, [(r.site_id, r.event_id, p) for r, p in fresh])
        await self.receipts.at_gateway(key.department, receipt, feed, accepted=len(fresh), duplicate=duplicates)
        RECORDS.labels(feed=feed, outcome="accepted").inc(len(fresh))
        RECORDS.labels(feed=feed, outcome="duplicate").inc(duplicates)
        REQUEST_SECONDS.labels(feed=feed).observe(time.perf_counter() - started)
        body = Accepted(
            accepted=len(fresh),
            duplicates=duplicates,
            event_ids=[r.event_id for _, r in candidates],
            receipt=receipt,
        )
        return JSONResponse(status_code=202, content=body.model_dump())

    async def _new_events(
        self,
        feed: str,
        department: str,
        payloads: list[Any],
        candidates: list[tuple[int, FeedRecord]],
        refused: list[RefusedRecord],
    ) -> tuple[list[tuple[FeedRecord, Published]], int]:
        """The candidates that are new data (with what to remember of each), and how many were duplicates; conflicts
        and stale revisions are added to `refused`. A repeat inside the request is judged like one across requests."""
        previous = await self.published.previous(department, feed, [(r.site_id, r.event_id) for _, r in candidates])
        latest: dict[tuple[str, str], Published | None] = {}
        fresh: list[tuple[FeedRecord, Published]] = []
        duplicates = 0
        for (index, record), before in zip(candidates, previous, strict=True):
            ident = (record.site_id, record.event_id)
            content = content_of(record)
            repeat = judge(record.event_id, record.revision, content, latest.get(ident, before))
            if repeat.verdict in REFUSED:
                assert repeat.error is not None
                refused.append(RefusedRecord(index, payloads[index], [repeat.error], repeat.verdict, record))
            elif repeat.verdict == "duplicate":
                duplicates += 1
            else:
                entry = latest[ident] = Published(record.revision, content)
                fresh.append((record, entry))
        return fresh, duplicates

    async def _refuse(
        self, feed: str, department: str, sent: int, refused: list[RefusedRecord], receipt: str
    ) -> JSONResponse:
        refused.sort(key=lambda r: r.index)
        letters = [
            _letter(feed, department, r.payload, r.errors, r.index, r.outcome, r.record, receipt) for r in refused
        ]
        await self.reject(department, letters)
        await self.receipts.at_gateway(department, receipt, feed, rejected=len(refused))
        outcomes = {r.outcome for r in refused}
        if outcomes == {"forbidden"}:
            status, label = 403, "forbidden"
        elif outcomes <= REFUSED:
            status, label = 409, "conflict"
        else:
            status, label = 422, "rejected"
        RECORDS.labels(feed=feed, outcome=label).inc(len(refused))
        detail = f"{len(refused)} of {sent} records refused; none published"
        errors = [RecordError(index=r.index, field=e.field, reason=e.reason) for r in refused for e in r.errors]
        return JSONResponse(status_code=status, content=rejected(detail, errors))


def create_app(settings: IngestSettings | None = None, registry: Registry | None = None) -> FastAPI:
    settings = settings or get_ingest_settings()
    registry = registry or load_registry(Path(settings.registry_file))
    redis = Redis.from_url(settings.redis_url)
    gateway = Gateway(settings, registry, redis)
    publisher_key = Depends(require_role(gateway.keys, "publisher", "admin"))

    follower = OutcomeFollower(settings, gateway.receipts, gateway.rejections)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        following = asyncio.create_task(follower.run(), name="follow-worker-outcomes")
        try:
            yield
        finally:
            following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await following
            await gateway.publisher.close()
            await redis.aclose()

    app = FastAPIOffline(
        title="citywatch ingest gateway",
        version="1",
        description="Departments publish feed readings here with their API key (`Authorization: Bearer <key>`). "
        "Every reading is validated and checked against the site registry; a request is all or nothing, and "
        "rejected records are kept on the dead-letter topic with the reason. JSON Schemas: `/v1/feeds/{feed}/schema`.",
        lifespan=lifespan,
        redoc_url=None,
        static_url="/docs-assets",  # Swagger UI shipped with the package: /docs works without internet
    )
    add_metrics_route(app)
    add_redis_unavailable_handler(app, "API keys, rate limits, dedup")
    problem = {"model": Problem}
    responses: dict[int | str, dict[str, Any]] = {
        401: problem,
        403: {"model": Rejected, "description": "the key's department does not own the feed or a site"},
        408: {"model": Problem, "description": "the body did not arrive in time"},
        409: {"model": Rejected, "description": "an event id repeated with other content, or a stale revision"},
        413: problem,
        422: {"model": Rejected},
        429: {"model": Problem, "description": "rate limit; honour Retry-After"},
        503: {"model": Problem, "description": "Kafka or Redis unavailable; honour Retry-After and send again"},
    }

    @app.exception_handler(BrokerUnavailable)
    async def _broker_down(_: Request, exc: BrokerUnavailable) -> JSONResponse:
        detail = f"{exc}; nothing from this request was accepted, retry after {exc.retry_after} s"
        return JSONResponse(status_code=503, content={"detail": detail}, headers={"Retry-After": str(exc.retry_after)})

    @app.exception_handler(RateLimited)
    async def _rate_limited(_: Request, exc: RateLimited) -> JSONResponse:
        return JSONResponse(
            status_code=429, content={"detail": str(exc)}, headers={"Retry-After": str(exc.retry_after)}
        )

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/feeds")
    async def list_feeds() -> dict[str, list[str]]:
        """The feeds and the departments whose sites publish them."""
        return {
            feed: sorted(d for d, feeds in registry.feeds_by_department().items() if feed in feeds) for feed in FEEDS
        }

    @app.get("/v1/feeds/{feed}/schema")
    async def feed_schema(feed: str) -> Response:
        """The JSON Schema of one feed's readings."""
        schemas = json_schemas()
        if feed not in schemas:
            return JSONResponse(
                status_code=404, content={"detail": f"unknown feed {feed!r}; known: {', '.join(FEEDS)}"}
            )
        return JSONResponse(content=schemas[feed])

    def receipt_of(request: Request) -> str | None:
        """The receipt named in the `Citywatch-Receipt` header, a new one when none is named, None when invalid."""
        named = request.headers.get(RECEIPT_HEADER)
        if named is None:
            return uuid.uuid4().hex[:16]
        return named if RECEIPT.match(named) else None

    async def read_payload(request: Request, feed: str, key: ApiKey) -> Any | Response:
        if feed not in FEEDS:
            return JSONResponse(
                status_code=404, content={"detail": f"unknown feed {feed!r}; known: {', '.join(FEEDS)}"}
            )
        try:
            async with asyncio.timeout(settings.request_body_timeout_s):
                body = await _read_limited(request, settings.max_body_bytes)
        except TimeoutError:
            await gateway.rate.admit(key.key_id, 1)
            reason = f"the body did not arrive within {settings.request_body_timeout_s:g} s; send it at once"
            return JSONResponse(status_code=408, content={"detail": reason}, headers={"Connection": "close"})
        if body is None:
            reason = f"body is over the limit of {settings.max_body_bytes} bytes; send smaller batches"
            return await reject_body(feed, key, None, reason, status=413)
        if feed not in registry.feeds_by_department().get(key.department, set()):
            reason = f"department {key.department!r} does not publish the {feed} feed (see the site registry)"
            return await reject_body(feed, key, body, reason, field="(feed)", status=403)
        receipt = receipt_of(request)
        if receipt is None:
            reason = f"the {RECEIPT_HEADER} header must match {RECEIPT_PATTERN} (letters, digits, _.-, up to 64)"
            return await reject_body(feed, key, body, reason, field=f"(header {RECEIPT_HEADER})")
        request.state.receipt = receipt
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return await reject_body(feed, key, body, f"body is not valid JSON: {exc}")
        if _nesting_exceeds(payload, settings.max_json_depth):
            return await reject_body(feed, key, body, f"JSON nested deeper than {settings.max_json_depth} levels")
        return payload

    async def reject_body(
        feed: str, key: ApiKey, body: bytes | None, reason: str, field: str = "(body)", status: int = 422
    ) -> Response:
        """A request refused whole: its body is kept as received (bounded) on the dead-letter topic. It counts as one
        record against the rate limit."""
        await gateway.rate.admit(key.key_id, 1)
        text = "(body not kept)" if body is None else body.decode("utf-8", errors="replace")
        await gateway.reject(
            key.department, [_letter(feed, key.department, text, [FieldError(field=field, reason=reason)])]
        )
        RECORDS.labels(feed=feed, outcome="forbidden" if status == 403 else "rejected").inc()
        if status == 413:
            return JSONResponse(status_code=status, content={"detail": reason})
        return JSONResponse(
            status_code=status, content=rejected(reason, [RecordError(index=0, field=field, reason=reason)])
        )

    async def publish_batch(feed: str, request: Request, key: ApiKey, lane: str | None = None) -> Response:
        payload = await read_payload(request, feed, key)
        if isinstance(payload, Response):
            return payload
        if not isinstance(payload, list):
            return await reject_body(
                feed, key, orjson.dumps(payload), "the batch body must be a JSON array of readings"
            )
        if len(payload) > settings.max_batch_records:
            reason = f"a batch holds at most {settings.max_batch_records} records; got {len(payload)}"
            return await reject_body(feed, key, orjson.dumps(payload), reason)
        return await gateway.ingest(feed, key, payload, request.state.receipt, lane)

    @app.post("/v1/feeds/{feed}/readings", status_code=202, response_model=Accepted, responses=responses)
    async def post_reading(feed: str, request: Request, key: ApiKey = publisher_key) -> Response:
        """Publish one reading (a JSON object matching the feed's schema). Name a receipt with the
        `Citywatch-Receipt` header to follow several requests' readings through the worker as one."""
        payload = await read_payload(request, feed, key)
        if isinstance(payload, Response):
            return payload
        if not isinstance(payload, dict):
            return await reject_body(
                feed, key, orjson.dumps(payload), "the body must be one JSON object; use /batch for arrays"
            )
        return await gateway.ingest(feed, key, [payload], request.state.receipt)

    @app.post("/v1/feeds/{feed}/readings/batch", status_code=202, response_model=Accepted, responses=responses)
    async def post_batch(feed: str, request: Request, key: ApiKey = publisher_key) -> Response:
        """Publish a JSON array of readings, all or nothing."""
        return await publish_batch(feed, request, key)

    @app.post("/v1/feeds/{feed}/history", status_code=202, response_model=Accepted, responses=responses)
    async def post_history(feed: str, request: Request, key: ApiKey = publisher_key) -> Response:
        """Backfill past readings (a JSON array, all or nothing) into sites that may be receiving live data.

        History is processed in event time beside the live data, into the same indicators; it is never refused as
        late, and alerts its values would have raised are recorded as historical incidents, never sent to on-call
        (docs/architecture.md, "History backfill"). Send each site's history in time order."""
        if feed in FEEDS and feed not in BACKFILL_FEEDS:
            reason = f"history backfill is available for the {', '.join(sorted(BACKFILL_FEEDS))} feed; not {feed}"
            return JSONResponse(status_code=404, content={"detail": reason})
        return await publish_batch(feed, request, key, HISTORY_LANE)

    @app.get("/v1/rejections", response_model=list[DeadLetter], responses={401: problem})
    async def my_rejections(limit: int = Query(50, ge=1, le=1000), key: ApiKey = publisher_key) -> list[DeadLetter]:
        """Your department's most recent rejected records, newest first, with the reasons: the gateway's and the
        worker's (too late, conflicts, records sent straight to Kafka that did not count)."""
        return await gateway.rejections.latest(key.department, limit)

    @app.get("/v1/receipts/{receipt}", response_model=ReceiptView, responses={401: problem, 404: problem})
    async def my_receipt(
        receipt: str = PathParam(pattern=RECEIPT_PATTERN), key: ApiKey = publisher_key
    ) -> ReceiptView | JSONResponse:
        """What became of the readings sent under a receipt: accepted by the gateway, then judged by the worker
        (counted, duplicates, too late, refused, with the latest reasons) and how many are still pending."""
        view = await gateway.receipts.view(key.department, receipt)
        if view is None:
            detail = f"no receipt {receipt!r} of department {key.department!r} (receipts are kept for a week)"
            return JSONResponse(status_code=404, content={"detail": detail})
        return view

    return app


def _letter(
    feed: str,
    department: str,
    payload: Any,
    errors: list[FieldError],
    index: int | None = None,
    outcome: str = "invalid",
    record: FeedRecord | None = None,
    receipt: str | None = None,
) -> DeadLetter:
    text = payload if isinstance(payload, str) else orjson.dumps(payload).decode()
    return DeadLetter(
        feed=feed,
        stage="ingest",
        errors=errors,
        payload=text,
        received_at=datetime.now(UTC),
        index=index,
        department=department,
        outcome=outcome,
        **identity_of(record),
        receipt=receipt,
    )


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None once it passes `limit` bytes — also for chunked bodies that send no Content-Length."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _nesting_exceeds(value: Any, limit: int) -> bool:
    """True when JSON containers nest deeper than `limit` (checked without recursion)."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return False
