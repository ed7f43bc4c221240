"""The gateway's work on one request, apart from HTTP routing: validate, admit, judge repeats, publish, refuse.

A request is all or nothing: when any record is refused none is published, every refused record goes to the
dead-letter topic with its reason, and the answer names each record's index, field and reason (at most 100 errors
listed, `errors_total` says how many): 422 for invalid records (schema, registry, clocks), 403 when every refusal
is about ownership, 409 when every refusal is a conflicting or stale repeat of an event id. Every record sent
counts against the key's rate limit, refused ones too. Published records carry their receipt (`Citywatch-Receipt`
request header, or one made per request), which `GET /v1/receipts/{receipt}` follows through the worker.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from redis.asyncio import Redis

from citywatch.feeds import FEEDS
from citywatch.intake import admission
from citywatch.intake.repeats import REFUSED, Published, judge
from citywatch.schemas.dead_letter import MAX_ERRORS_LISTED, DeadLetter, FieldError, field_errors
from citywatch.schemas.feed_batch import encode_batches
from citywatch.schemas.feed_record import FeedRecord, content_of, identity_of
from citywatch.schemas.receipt import LANE_HEADER, RECEIPT_HEADER, RECEIPT_PATTERN
from citywatch.settings import IngestSettings
from citywatch.site_registry import Registry
from citywatch.topics import Topics
from services.auth.keys import ApiKey, KeyStore
from services.ingest.metrics import RECORDS, REQUEST_SECONDS
from services.ingest.published_events import PublishedEvents
from services.ingest.publisher import Publisher
from services.ingest.rate_limit import RateLimiter
from services.ingest.receipts import Receipts
from services.ingest.recent_rejections import RecentRejections
from services.kafka_client import client_kwargs


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
                record = FEEDS[feed].record.model_validate(payload)
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
            dead_letter(feed, department, r.payload, r.errors, r.index, r.outcome, r.record, receipt) for r in refused
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


def dead_letter(
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


async def read_limited(request: Request, limit: int) -> bytes | None:
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


def nesting_exceeds(value: Any, limit: int) -> bool:
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
