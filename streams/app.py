"""The faust worker app: topics, tables and agents wired from settings.

Agents are thin loops: decode, call a pure processor from `citywatch.indicators` / `citywatch.rules`,
publish what it returns. Outputs are idempotent (indicator keys, alert fingerprints), so at-least-once
delivery is safe; faust's exactly-once mode is not used (see shared faust notes).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import faust
from faust.sensors.prometheus import setup_prometheus_sensors
from pydantic import ValidationError

from citywatch.indicators.air import process_air_reading
from citywatch.registry import load_registry
from citywatch.rules.evaluation import evaluate
from citywatch.rules.loader import load_rules
from citywatch.schemas.air import AirReading
from citywatch.schemas.dead_letter import DeadLetter, FieldError, field_errors
from citywatch.schemas.indicator import IndicatorRecord
from citywatch.settings import WorkerSettings
from citywatch.topics import AIR_PM25_TABLE, Topics
from services.topics import grants
from streams import metrics

log = logging.getLogger("citywatch.worker")


def create_app(settings: WorkerSettings) -> faust.App:
    topics = Topics(settings.topic_prefix)
    zone = settings.zone
    rules = load_rules(Path(settings.rules_dir))
    registry = load_registry(Path(settings.registry_file))
    log.info("loaded %d rules from %s and the site registry %s", len(rules), settings.rules_dir, settings.registry_file)

    app = faust.App(
        settings.worker_app_id,
        broker=[f"kafka://{h}" for h in settings.kafka_bootstrap.split(",")],
        store=settings.worker_store,
        datadir=settings.worker_data_dir,
        web_host=settings.worker_web_host,
        web_port=settings.worker_web_port,
        web_bind=settings.worker_web_host,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        broker_request_timeout=max(settings.kafka_request_timeout_ms / 1000, settings.worker_session_timeout_s),
        broker_session_timeout=settings.worker_session_timeout_s,
        broker_heartbeat_interval=settings.worker_session_timeout_s / 10,
        producer_acks=-1,
        table_cleanup_interval=3600.0,
    )
    setup_prometheus_sensors(app, name_prefix="citywatch_worker_faust")

    def topic(name: str) -> faust.TopicT:
        return app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")

    # Every department publishes to its own topic per feed; the worker reads those the registry lists.
    # (faust's pattern subscriptions did not subscribe at all in our tests, so the names are explicit.)
    air_topic = app.topic(
        *[topics.feed("air", d) for d, feeds in sorted(grants(registry).items()) if "air" in feeds],
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )
    indicators_topic = topic(topics.indicators)
    evaluations_topic = topic(topics.rule_evaluations)
    dead_letter_topic = topic(topics.dead_letter)

    # Per-station event-time state (JSON dicts), restored from its changelog after a crash.
    air_state = app.Table(AIR_PM25_TABLE, default=None, partitions=settings.topic_partitions)

    async def reject(feed: str, payload: bytes, errors: list[FieldError]) -> None:
        letter = DeadLetter(
            feed=feed,
            stage="worker",
            errors=errors,
            payload=payload.decode("utf-8", errors="replace"),
            received_at=datetime.now(UTC),
        )
        metrics.READINGS.labels(feed=feed, outcome="invalid").inc()
        await dead_letter_topic.send(key=feed.encode(), value=letter.model_dump_json().encode())

    @app.agent(air_topic)
    async def air_readings(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            raw: bytes = event.value
            try:
                reading = AirReading.model_validate_json(raw)
            except ValidationError as exc:
                await reject("air", raw, field_errors(exc))
                continue
            if event.key is not None and event.key != reading.station.encode():
                # The table is partitioned by the message key; a mismatched key would split a station's state.
                await reject("air", raw, [FieldError(field="key", reason="message key must equal the station id")])
                continue
            department = topics.department_of(event.message.topic)
            if not registry.may_publish(department, "air", reading.station):
                reason = (
                    f"station {reading.station!r} is not an air station of department {department!r}, "
                    "whose topic carried it (see the site registry)"
                )
                await reject("air", raw, [FieldError(field="station", reason=reason)])
                continue
            if reading.averaging_period != "1h":
                # The rolling state is built from hourly values; a published daily mean is not one of them.
                metrics.READINGS.labels(feed="air", outcome="not-hourly").inc()
                continue
            result = process_air_reading(air_state.get(reading.station), reading, zone)
            metrics.READINGS.labels(feed="air", outcome=result.update.reason).inc()
            if not result.update.accepted:
                continue
            air_state[reading.station] = result.state
            for record in result.indicators:
                metrics.observe_indicator(record)
                await indicators_topic.send(key=record.key.encode(), value=record.model_dump_json().encode())
            metrics.LATENCY.labels(feed="air").observe(
                max(0.0, datetime.now(UTC).timestamp() - event.message.timestamp / 1000)
            )

    @app.agent(indicators_topic)
    async def rule_evaluation(stream: faust.StreamT[bytes]) -> None:
        async for raw in stream:
            record = IndicatorRecord.model_validate_json(raw)
            for rule in rules:
                result = evaluate(rule, record)
                if result is not None:
                    metrics.EVALUATIONS.labels(rule=rule.id, outcome=result.outcome).inc()
                    await evaluations_topic.send(
                        key=result.fingerprint.encode(), value=result.model_dump_json().encode()
                    )

    return app
