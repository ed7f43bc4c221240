"""The ingest gateway's FastAPI app. Routes validate, publish, and keep every rejected record."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import Counter, Histogram
from pydantic import BaseModel, ValidationError

from citywatch.schemas.air import AirReading
from citywatch.schemas.dead_letter import DeadLetter, FieldError, field_errors
from citywatch.settings import IngestSettings, get_ingest_settings
from citywatch.topics import Topics
from services.ingest.publisher import BrokerUnavailable, Publisher
from services.metrics_endpoint import add_metrics_route

log = logging.getLogger("citywatch.ingest")

RECORDS = Counter("citywatch_ingest_records_total", "Records received by the gateway", ["feed", "outcome"])
REQUEST_SECONDS = Histogram(
    "citywatch_ingest_request_duration_seconds",
    "Time to validate and have Kafka acknowledge a request",
    ["feed"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


class Accepted(BaseModel):
    accepted: int
    event_ids: list[str]


class RecordError(BaseModel):
    index: int
    field: str
    reason: str


class Rejected(BaseModel):
    detail: str
    errors: list[RecordError]


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    settings = settings or get_ingest_settings()
    topics = Topics(settings.topic_prefix)
    publisher = Publisher(settings.kafka_bootstrap, settings.kafka_request_timeout_ms)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await publisher.close()

    app = FastAPI(
        title="citywatch ingest gateway",
        version="1",
        description="Departments publish feed readings here. Every reading is validated; rejected records are kept "
        "on the dead-letter topic with the reason.",
        lifespan=lifespan,
    )
    add_metrics_route(app)

    @app.exception_handler(BrokerUnavailable)
    async def _broker_down(_: Request, exc: BrokerUnavailable) -> JSONResponse:
        return JSONResponse(
            status_code=503,
            content={"detail": f"{exc}; nothing from this request was accepted, retry after {exc.retry_after} s"},
            headers={"Retry-After": str(exc.retry_after)},
        )

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    async def ingest_air(payloads: list[Any]) -> Response:
        started = time.perf_counter()
        readings: list[AirReading] = []
        errors: list[RecordError] = []
        letters: list[DeadLetter] = []
        now = datetime.now(UTC)
        for index, payload in enumerate(payloads):
            try:
                readings.append(AirReading.model_validate(payload))
            except ValidationError as exc:
                found = field_errors(exc)
                errors.extend(RecordError(index=index, field=e.field, reason=e.reason) for e in found)
                letters.append(_letter("air", payload, found, now, index))
        if letters:
            # All or nothing: a batch with a bad record is not half-published; the publisher fixes and resends.
            await publisher.publish(topics.dead_letter, [(b"air", d.model_dump_json().encode()) for d in letters])
            RECORDS.labels(feed="air", outcome="rejected").inc(len(letters))
            body = Rejected(detail=f"{len(letters)} of {len(payloads)} records rejected; none published", errors=errors)
            return JSONResponse(status_code=422, content=body.model_dump())
        await publisher.publish(
            topics.air_readings, [(r.station.encode(), r.model_dump_json().encode()) for r in readings]
        )
        RECORDS.labels(feed="air", outcome="accepted").inc(len(readings))
        REQUEST_SECONDS.labels(feed="air").observe(time.perf_counter() - started)
        body_ok = Accepted(accepted=len(readings), event_ids=[r.event_id for r in readings])
        return JSONResponse(status_code=202, content=body_ok.model_dump())

    @app.post(
        "/v1/air/readings",
        status_code=202,
        response_model=Accepted,
        responses={422: {"model": Rejected}, 503: {"description": "Kafka unavailable; honour Retry-After"}},
        openapi_extra={"requestBody": {"content": {"application/json": {"schema": AirReading.model_json_schema()}}}},
    )
    async def post_air_reading(request: Request) -> Response:
        """Publish one air-quality reading."""
        body = await request.body()
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return await reject_body("air", body, f"body is not valid JSON: {exc}")
        return await ingest_air([payload])

    @app.post(
        "/v1/air/readings/batch",
        status_code=202,
        response_model=Accepted,
        responses={422: {"model": Rejected}, 503: {"description": "Kafka unavailable; honour Retry-After"}},
    )
    async def post_air_batch(request: Request) -> Response:
        """Publish a JSON array of air-quality readings, all or nothing."""
        body = await request.body()
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return await reject_body("air", body, f"body is not valid JSON: {exc}")
        if not isinstance(payload, list):
            return await reject_body("air", body, "the batch body must be a JSON array of readings")
        if len(payload) > settings.max_batch_records:
            reason = f"a batch holds at most {settings.max_batch_records} records; got {len(payload)}"
            return await reject_body("air", body, reason)
        return await ingest_air(payload)

    async def reject_body(feed: str, body: bytes, reason: str) -> Response:
        """A request whose body is not a list of records: kept on the dead-letter topic like any record."""
        letter = DeadLetter(
            feed=feed,
            stage="ingest",
            errors=[FieldError(field="(body)", reason=reason)],
            payload=body.decode("utf-8", errors="replace"),
            received_at=datetime.now(UTC),
        )
        await publisher.publish(topics.dead_letter, [(feed.encode(), letter.model_dump_json().encode())])
        RECORDS.labels(feed=feed, outcome="rejected").inc()
        rejected = Rejected(detail=reason, errors=[RecordError(index=0, field="(body)", reason=reason)])
        return JSONResponse(status_code=422, content=rejected.model_dump())

    return app


def _letter(feed: str, payload: Any, errors: list[FieldError], now: datetime, index: int) -> DeadLetter:
    return DeadLetter(
        feed=feed,
        stage="ingest",
        errors=errors,
        payload=orjson.dumps(payload).decode(),
        received_at=now,
        index=index,
    )
