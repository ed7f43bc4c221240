"""The ingest gateway's FastAPI app: authenticate, validate, scope to the department, publish, keep rejections.

A request is all or nothing: when any record is rejected none is published, every rejected record goes to
the dead-letter topic with its reason, and the answer names each record's index, field and reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import orjson
from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import Counter, Histogram
from pydantic import BaseModel, ValidationError
from redis.asyncio import Redis

from citywatch.registry import Registry, load_registry
from citywatch.schemas.dead_letter import DeadLetter, FieldError, field_errors
from citywatch.schemas.feeds import FEEDS, SITE_FIELDS, FeedRecord, json_schemas
from citywatch.settings import IngestSettings, get_ingest_settings
from citywatch.topics import Topics
from services.auth.dependencies import require_role
from services.auth.keys import ApiKey, KeyStore
from services.ingest.publisher import BrokerUnavailable, Publisher
from services.ingest.rate_limit import RateLimited, RateLimiter
from services.ingest.recent_rejections import RecentRejections
from services.ingest.seen_events import SeenEvents
from services.kafka_client import client_kwargs
from services.metrics_endpoint import add_metrics_route
from services.redis_errors import add_redis_unavailable_handler
from services.topics import grants

log = logging.getLogger("citywatch.ingest")

RECORDS = Counter(
    "citywatch_ingest_records_total",
    "Records received by the gateway, by feed and outcome (accepted, duplicate, rejected, forbidden)",
    ["feed", "outcome"],
)
REQUEST_SECONDS = Histogram(
    "citywatch_ingest_request_duration_seconds",
    "Time to validate and have Kafka acknowledge an accepted request",
    ["feed"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


class Accepted(BaseModel):
    accepted: int
    duplicates: int
    event_ids: list[str]


class RecordError(BaseModel):
    index: int
    field: str
    reason: str


class Rejected(BaseModel):
    detail: str
    errors: list[RecordError]


class Problem(BaseModel):
    detail: str


class Gateway:
    """What one request needs: the registry, the key's department, the stores and the publisher."""

    def __init__(self, settings: IngestSettings, registry: Registry, redis: Redis) -> None:
        self.settings = settings
        self.registry = registry
        self.topics = Topics(settings.topic_prefix)
        self.publisher = Publisher(
            client_kwargs(settings), settings.kafka_request_timeout_ms, settings.kafka_ack_timeout_s
        )
        self.keys = KeyStore(redis, settings.redis_prefix)
        self.rate = RateLimiter(redis, settings.redis_prefix, settings.rate_limit_records, settings.rate_limit_window_s)
        self.seen = SeenEvents(redis, settings.redis_prefix, settings.dedup_ttl_s)
        self.rejections = RecentRejections(redis, settings.redis_prefix, settings.rejections_kept)

    async def reject(self, department: str, letters: list[DeadLetter]) -> None:
        await self.publisher.publish(
            self.topics.dead_letter, [(letter.feed.encode(), letter.model_dump_json().encode()) for letter in letters]
        )
        await self.rejections.add(department, letters)

    async def ingest(self, feed: str, key: ApiKey, payloads: list[Any]) -> Response:
        started = time.perf_counter()
        records: list[FeedRecord] = []
        errors: list[RecordError] = []
        letters: list[DeadLetter] = []
        forbidden = 0
        for index, payload in enumerate(payloads):
            try:
                record = cast(FeedRecord, FEEDS[feed].model_validate(payload))
            except ValidationError as exc:
                problems = field_errors(exc)
            else:
                problems, is_forbidden = self.scope_problems(feed, key.department, record)
                forbidden += is_forbidden
                if not problems:
                    records.append(record)
                    continue
            errors.extend(RecordError(index=index, field=p.field, reason=p.reason) for p in problems)
            letters.append(_letter(feed, key.department, payload, problems, index))
        if letters:
            await self.reject(key.department, letters)
            RECORDS.labels(feed=feed, outcome="forbidden" if forbidden == len(letters) else "rejected").inc(
                len(letters)
            )
            detail = f"{len(letters)} of {len(payloads)} records rejected; none published"
            status = 403 if forbidden == len(letters) else 422
            return JSONResponse(status_code=status, content=Rejected(detail=detail, errors=errors).model_dump())

        await self.rate.admit(key.key_id, len(records))
        ids = [(r.event_id, r.revision) for r in records]
        unseen = await self.seen.unseen(feed, ids)
        fresh: dict[tuple[str, int], FeedRecord] = {}
        for record, event, new in zip(records, ids, unseen, strict=True):
            if new and event not in fresh:  # also drops a repeat inside the same batch
                fresh[event] = record
        topic = self.topics.feed(feed, key.department)
        await self.publisher.publish(
            topic, [(r.site_id.encode(), r.model_dump_json().encode()) for r in fresh.values()]
        )
        await self.seen.mark(feed, list(fresh))
        duplicates = len(records) - len(fresh)
        RECORDS.labels(feed=feed, outcome="accepted").inc(len(fresh))
        RECORDS.labels(feed=feed, outcome="duplicate").inc(duplicates)
        REQUEST_SECONDS.labels(feed=feed).observe(time.perf_counter() - started)
        body = Accepted(accepted=len(fresh), duplicates=duplicates, event_ids=[e for e, _ in ids])
        return JSONResponse(status_code=202, content=body.model_dump())

    def scope_problems(self, feed: str, department: str, record: FeedRecord) -> tuple[list[FieldError], bool]:
        """Problems with where a valid record comes from; the flag says they are about ownership (403)."""
        site = record.site_id
        field = SITE_FIELDS[feed]
        if not self.registry.has_site(site) or self.registry.site(site).feed != feed:
            return [
                FieldError(field=field, reason=f"unknown {feed} site {site!r}; it is not in the site registry")
            ], False
        owner = self.registry.owner_of(site)
        if owner != department:
            reason = f"site {site!r} belongs to department {owner!r}; a {department!r} key may not publish it"
            return [FieldError(field=field, reason=reason)], True
        return [], False


def create_app(settings: IngestSettings | None = None, registry: Registry | None = None) -> FastAPI:
    settings = settings or get_ingest_settings()
    registry = registry or load_registry(Path(settings.registry_file))
    redis = Redis.from_url(settings.redis_url)
    gateway = Gateway(settings, registry, redis)
    publisher_key = Depends(require_role(gateway.keys, "publisher", "admin"))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await gateway.publisher.close()
            await redis.aclose()

    app = FastAPI(
        title="citywatch ingest gateway",
        version="1",
        description="Departments publish feed readings here with their API key (`Authorization: Bearer <key>`). "
        "Every reading is validated and checked against the site registry; a request is all or nothing, and "
        "rejected records are kept on the dead-letter topic with the reason. JSON Schemas: `/v1/feeds/{feed}/schema`.",
        lifespan=lifespan,
    )
    add_metrics_route(app)
    add_redis_unavailable_handler(app, "API keys, rate limits, dedup")
    problem = {"model": Problem}
    responses: dict[int | str, dict[str, Any]] = {
        401: problem,
        403: {"model": Rejected, "description": "the key's department does not own the feed or a site"},
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
        return {feed: sorted(d for d, feeds in grants(registry).items() if feed in feeds) for feed in FEEDS}

    @app.get("/v1/feeds/{feed}/schema")
    async def feed_schema(feed: str) -> Response:
        """The JSON Schema of one feed's readings."""
        schemas = json_schemas()
        if feed not in schemas:
            return JSONResponse(
                status_code=404, content={"detail": f"unknown feed {feed!r}; known: {', '.join(FEEDS)}"}
            )
        return JSONResponse(content=schemas[feed])

    async def read_payload(request: Request, feed: str, key: ApiKey) -> Any | Response:
        if feed not in FEEDS:
            return JSONResponse(
                status_code=404, content={"detail": f"unknown feed {feed!r}; known: {', '.join(FEEDS)}"}
            )
        body = await _read_limited(request, settings.max_body_bytes)
        if body is None:
            reason = f"body is over the limit of {settings.max_body_bytes} bytes; send smaller batches"
            letter = _letter(feed, key.department, "(body not kept)", [FieldError(field="(body)", reason=reason)])
            await gateway.reject(key.department, [letter])
            return JSONResponse(status_code=413, content={"detail": reason})
        if feed not in grants(registry).get(key.department, set()):
            reason = f"department {key.department!r} does not publish the {feed} feed (see the site registry)"
            return await reject_body(feed, key, body, reason, field="(feed)", status=403)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return await reject_body(feed, key, body, f"body is not valid JSON: {exc}")
        if _nesting_exceeds(payload, settings.max_json_depth):
            return await reject_body(feed, key, body, f"JSON nested deeper than {settings.max_json_depth} levels")
        return payload

    async def reject_body(
        feed: str, key: ApiKey, body: bytes, reason: str, field: str = "(body)", status: int = 422
    ) -> Response:
        """A request refused whole: its body is kept as received (bounded) on the dead-letter topic."""
        text = body.decode("utf-8", errors="replace")
        await gateway.reject(
            key.department, [_letter(feed, key.department, text, [FieldError(field=field, reason=reason)])]
        )
        RECORDS.labels(feed=feed, outcome="forbidden" if status == 403 else "rejected").inc()
        rejected = Rejected(detail=reason, errors=[RecordError(index=0, field=field, reason=reason)])
        return JSONResponse(status_code=status, content=rejected.model_dump())

    @app.post("/v1/feeds/{feed}/readings", status_code=202, response_model=Accepted, responses=responses)
    async def post_reading(feed: str, request: Request, key: ApiKey = publisher_key) -> Response:
        """Publish one reading (a JSON object matching the feed's schema)."""
        payload = await read_payload(request, feed, key)
        if isinstance(payload, Response):
            return payload
        if not isinstance(payload, dict):
            return await reject_body(
                feed, key, orjson.dumps(payload), "the body must be one JSON object; use /batch for arrays"
            )
        return await gateway.ingest(feed, key, [payload])

    @app.post("/v1/feeds/{feed}/readings/batch", status_code=202, response_model=Accepted, responses=responses)
    async def post_batch(feed: str, request: Request, key: ApiKey = publisher_key) -> Response:
        """Publish a JSON array of readings, all or nothing."""
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
        return await gateway.ingest(feed, key, payload)

    @app.get("/v1/rejections", response_model=list[DeadLetter], responses={401: problem})
    async def my_rejections(limit: int = Query(50, ge=1, le=1000), key: ApiKey = publisher_key) -> list[DeadLetter]:
        """Your department's most recent rejected records, newest first, with the reasons."""
        return await gateway.rejections.latest(key.department, limit)

    return app


def _letter(feed: str, department: str, payload: Any, errors: list[FieldError], index: int | None = None) -> DeadLetter:
    text = payload if isinstance(payload, str) else orjson.dumps(payload).decode()
    return DeadLetter(
        feed=feed,
        stage="ingest",
        errors=errors,
        payload=text,
        received_at=datetime.now(UTC),
        index=index,
        department=department,
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
