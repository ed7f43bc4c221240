"""The alert service's loops: consume rule evaluations, drain the outbox, re-send firing alerts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client import Counter, Gauge
from pydantic import ValidationError

from citywatch.rules.evaluation import RuleEvaluation
from citywatch.settings import AlertSettings
from citywatch.topics import Topics
from services.alerts.alertmanager import AlertmanagerClient, to_alertmanager
from services.alerts.store import AlertStore, Transition

log = logging.getLogger("citywatch.alerts")

TRANSITIONS = Counter(
    "citywatch_alert_transitions_total", "Alert transitions published on the alerts topic", ["rule", "status"]
)
EVALUATIONS = Counter("citywatch_alert_evaluations_total", "Rule evaluations consumed, by effect", ["effect"])
DELIVERY_ERRORS = Counter("citywatch_alert_delivery_errors_total", "Failed deliveries, by target", ["target"])
ALERT_STATE = Gauge(
    "citywatch_alert_state",
    "1 for each alert firing now (like Prometheus's ALERTS)",
    ["alertname", "site", "severity", "department", "alertstate"],
)


class AlertService:
    def __init__(self, settings: AlertSettings, store: AlertStore) -> None:
        DELIVERY_ERRORS.labels(target="alertmanager")  # exported as 0 from the start, so a rate has a series
        self.settings = settings
        self.topics = Topics(settings.topic_prefix)
        self.store = store
        self.alertmanager = AlertmanagerClient(settings.alertmanager_url) if settings.alertmanager_url else None
        self._wake = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def _ends_in(self) -> timedelta:
        return timedelta(seconds=3 * self.settings.resend_interval_s)

    async def start(self) -> None:
        for alert in await self.store.firing():
            self._set_gauge(alert, firing=True)
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap, acks="all", enable_idempotence=True
        )
        await self._producer.start()
        self._tasks = [
            asyncio.create_task(self._consume(), name="consume-evaluations"),
            asyncio.create_task(self._drain_outbox(), name="drain-outbox"),
            asyncio.create_task(self._resend_firing(), name="resend-firing"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._producer is not None:
            await self._producer.stop()
        if self.alertmanager is not None:
            await self.alertmanager.close()

    async def _consume(self) -> None:
        consumer = AIOKafkaConsumer(
            self.topics.rule_evaluations,
            bootstrap_servers=self.settings.kafka_bootstrap,
            group_id=self.settings.alerts_group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=500)
                for messages in batches.values():
                    for message in messages:
                        await self._apply(message.value)
                if batches:
                    # Offsets are committed only after Redis holds the outcome: a crash replays, never skips.
                    await consumer.commit()
                    self._wake.set()
        finally:
            await consumer.stop()

    async def _apply(self, raw: bytes) -> None:
        try:
            evaluation = RuleEvaluation.model_validate_json(raw)
        except ValidationError as exc:
            log.error("skipping a malformed rule evaluation: %s", exc)
            EVALUATIONS.labels(effect="malformed").inc()
            return
        data = evaluation.model_dump(mode="json", include=_ALERT_FIELDS)
        effect = await self.store.apply(
            evaluation.fingerprint, evaluation.outcome, evaluation.observed_at.timestamp(), data
        )
        EVALUATIONS.labels(effect=effect if effect in ("stale", "unchanged") else "transition").inc()

    async def _drain_outbox(self) -> None:
        assert self._producer is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=1.0)
            self._wake.clear()
            while transitions := await self.store.pending_transitions():
                for t in transitions:
                    record = _transition_record(t)
                    await self._producer.send_and_wait(
                        self.topics.alerts,
                        key=t.fingerprint.encode(),
                        value=json.dumps(record, ensure_ascii=False).encode(),
                    )
                    TRANSITIONS.labels(rule=t.data["rule_id"], status=t.status).inc()
                    self._set_gauge(t.data, firing=t.status == "firing")
                await self._deliver([to_alertmanager(_with_fp(t), t.status, t.at, self._ends_in) for t in transitions])
                await self.store.mark_delivered(transitions)

    async def _resend_firing(self) -> None:
        while True:
            await asyncio.sleep(self.settings.resend_interval_s)
            firing = await self.store.firing()
            await self._deliver([to_alertmanager(a, "firing", a["since"], self._ends_in) for a in firing])

    async def _deliver(self, alerts: list[dict[str, Any]]) -> None:
        if self.alertmanager is None or not alerts:
            return
        try:
            await self.alertmanager.post(alerts)
        except httpx.HTTPError as exc:
            # Firing alerts are re-sent every resend interval, so a missed delivery heals itself.
            DELIVERY_ERRORS.labels(target="alertmanager").inc()
            log.warning("Alertmanager at %s unreachable (%s); will re-send", self.settings.alertmanager_url, exc)

    def _set_gauge(self, alert: dict[str, Any], firing: bool) -> None:
        labels = {
            "alertname": alert["rule_id"],
            "site": alert["site"],
            "severity": alert["severity"],
            "department": alert["department"],
            "alertstate": "firing",
        }
        if firing:
            ALERT_STATE.labels(**labels).set(1)
        else:
            ALERT_STATE.remove(*labels.values())


_ALERT_FIELDS = {
    "rule_id",
    "fingerprint",
    "site",
    "indicator",
    "value",
    "unit",
    "threshold",
    "threshold_source",
    "unverified",
    "observed_at",
    "revision",
    "severity",
    "department",
    "source",
    "labels",
    "annotations",
}


def _with_fp(t: Transition) -> dict[str, Any]:
    return {**t.data, "fingerprint": t.fingerprint}


def _transition_record(t: Transition) -> dict[str, Any]:
    """The alerts topic's record: one per transition, with an id consumers can dedup on."""
    return {"transition_id": t.transition_id, "status": t.status, "seq": t.seq, "event_time": t.at, **t.data}
