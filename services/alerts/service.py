"""The alert service's loops: consume rule evaluations, drain the outbox, re-send firing alerts."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import stamina
from aiokafka import AIOKafkaProducer
from pydantic import ValidationError

from citywatch.rule_engine.evaluation import RuleEvaluation
from citywatch.settings import AlertSettings
from citywatch.topics import Topics
from services.alerts.alertmanager import AlertmanagerClient, alert_labels, to_alertmanager
from services.alerts.metrics import (
    ALERT_STATE,
    DELIVERY_ERRORS,
    EVALUATIONS,
    LOOP_RESTARTS,
    REDIS_ERRORS,
    TRANSITIONS,
    WEBHOOK_CALLS,
)
from services.alerts.notifiers import GrafanaAnnotations, Receiver, WebhookError, Webhooks
from services.alerts.store import AlertStore, Transition
from services.kafka_client import apply_committed, client_kwargs
from services.redis_errors import MAX_BACKOFF_S, until_redis_answers

log = logging.getLogger("citywatch.alerts")
T = TypeVar("T")


class AlertService:
    def __init__(self, settings: AlertSettings, store: AlertStore) -> None:
        for target in ("alertmanager", "webhook", "grafana"):
            DELIVERY_ERRORS.labels(target=target)  # exported as 0 from the start, so a rate has a series
        for loop in ("consume", "outbox", "webhooks", "resend"):
            REDIS_ERRORS.labels(loop=loop)
        self.settings = settings
        self.topics = Topics(settings.topic_prefix)
        self.store = store
        self.alertmanager = (
            AlertmanagerClient(settings.alertmanager_url, extra_labels=settings.alertmanager_label_map)
            if settings.alertmanager_url
            else None
        )
        receivers = [
            Receiver(url, secret)
            for url, secret in zip(settings.webhook_url_list, settings.webhook_secret_list, strict=True)
        ]
        self.webhooks = Webhooks(receivers) if receivers else None
        # Without a Grafana URL there is nobody to annotate: skipped, not an error.
        self.grafana = (
            GrafanaAnnotations(settings.grafana_url, settings.grafana_token) if settings.grafana_url else None
        )
        self._wake = asyncio.Event()
        self._webhook_wake = {r.id: asyncio.Event() for r in receivers}
        self._producer: AIOKafkaProducer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        # Outbox and webhook-queue entries already sent whose removal from Redis failed (Redis went down in
        # between): a retry skips sending them again, so a Redis outage duplicates no transition or call.
        self._published: set[str] = set()
        self._webhook_sent: dict[str, set[str]] = {r.id: set() for r in receivers}

    @property
    def _ends_in(self) -> timedelta:
        return timedelta(seconds=3 * self.settings.resend_interval_s)

    async def start(self) -> None:
        for alert in await self.store.active():
            self._set_gauge(alert, alert["status"])
        self._producer = AIOKafkaProducer(**client_kwargs(self.settings), acks="all", enable_idempotence=True)
        await self._producer.start()
        loops: dict[str, Callable[[], Coroutine[Any, Any, None]]] = {
            "consume-evaluations": self._consume,
            "drain-outbox": self._drain_outbox,
            "resend-firing": self._resend_firing,
        }
        if self.webhooks is not None:
            ids = [r.id for r in self.webhooks.receivers]
            moved = await self._until_redis_answers("webhooks", lambda: self.store.split_webhook_queue(ids))
            if moved:
                log.info("moved %d queued webhook deliveries into each receiver's own queue", moved)
            for receiver in self.webhooks.receivers:
                loops[f"deliver-webhooks-{receiver.id}"] = functools.partial(self._deliver_webhooks, receiver)
        self._tasks = [asyncio.create_task(self._supervised(name, loop), name=name) for name, loop in loops.items()]

    async def _supervised(self, name: str, loop: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run a loop forever: an unexpected error restarts it (with backoff) instead of silently ending the task.
        The consume loop restarts from the committed offsets, and applying an evaluation twice changes nothing."""
        backoff = 1.0
        while True:
            try:
                await loop()
            except asyncio.CancelledError:
                raise
            except Exception:
                LOOP_RESTARTS.labels(loop=name).inc()
                log.exception("alert service loop %s failed; restarting it in %.0f s", name, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    async def _until_redis_answers(self, loop: str, call: Callable[[], Awaitable[T]]) -> T:
        """`call()`, retried with backoff for as long as Redis is unreachable."""

        def down(exc: Exception, backoff: float) -> None:
            REDIS_ERRORS.labels(loop=loop).inc()
            log.error(
                "Redis at %s is unavailable (%s): %s waits, retrying in %.1f s; nothing is skipped",
                self.settings.redis_url,
                exc,
                loop,
                backoff,
            )

        return await until_redis_answers(call, down)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._producer is not None:
            await self._producer.stop()
        if self.alertmanager is not None:
            await self.alertmanager.close()
        if self.webhooks is not None:
            await self.webhooks.close()
        if self.grafana is not None:
            await self.grafana.close()

    async def _consume(self) -> None:
        async def apply(message: Any) -> None:
            # While Redis is down the same evaluation is retried and no offset is committed: offsets are committed
            # only after Redis holds the outcome, so a crash replays, never skips.
            await self._until_redis_answers("consume", functools.partial(self._apply, message.value))

        await apply_committed(
            self.settings, [self.topics.rule_evaluations], self.settings.alerts_group_id, apply, self._wake.set
        )

    async def _apply(self, raw: bytes) -> None:
        try:
            evaluation = RuleEvaluation.model_validate_json(raw)
        except ValidationError as exc:
            log.error("skipping a malformed rule evaluation: %s", exc)
            EVALUATIONS.labels(effect="malformed").inc()
            return
        applied = await self.store.apply(linked(evaluation, self.settings.runbook_base_url))
        EVALUATIONS.labels(effect=applied.effect).inc()

    async def _drain_outbox(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=1.0)
            self._wake.clear()
            await self._until_redis_answers("outbox", self._drain_once)

    async def _drain_once(self) -> None:
        assert self._producer is not None
        while transitions := await self.store.pending_transitions():
            notifying = [t for t in transitions if t.notifies]
            await self._deliver([to_alertmanager(_with_fp(t), t.status, t.at, self._ends_in) for t in notifying])
            transitions = [await self._with_holds(t) if t.notifies else t for t in transitions]
            for t in transitions:
                if t.outbox_id in self._published:
                    continue  # sent before Redis failed to drop it from the outbox
                await self._producer.send_and_wait(
                    self.topics.alerts,
                    key=t.fingerprint.encode(),
                    value=json.dumps(t.record(), ensure_ascii=False).encode(),
                )
                self._published.add(t.outbox_id)
                TRANSITIONS.labels(rule=t.data["rule_id"], status=t.status).inc()
                log.info(
                    "alert %s at %s: %s -> %s on the value %s %s (threshold %s) observed at %s [%s]",
                    t.data.get("rule_id"),
                    t.data.get("site"),
                    t.previous or "-",
                    t.status,
                    t.data.get("value"),
                    t.data.get("unit", ""),
                    t.data.get("threshold"),
                    t.data.get("observed_at"),
                    t.transition_id,
                )
                if t.amendment is None and not t.historical:
                    self._set_gauge(t.data, t.status)
            notifying = [t for t in transitions if t.notifies]
            for t in notifying:
                await self._follow_up(t)
            webhook = [t for t in notifying if not HELD_BACK & set(t.suppressed)] if self.webhooks else []
            await self.store.mark_delivered(
                transitions, webhook, [r.id for r in self.webhooks.receivers] if self.webhooks else []
            )
            self._published.difference_update(t.outbox_id for t in transitions)
            if webhook:
                for wake in self._webhook_wake.values():
                    wake.set()

    async def _with_holds(self, t: Transition) -> Transition:
        """The transition with every reason its webhook notification is held back: the site's maintenance, a
        silence someone set in Alertmanager on the alert, or (for a resolve) a firing that was itself held back —
        nobody is told an alert ended that they were never told began."""
        reasons = list(t.suppressed)
        if t.status == "firing":
            if self.alertmanager is not None and not HELD_BACK & set(reasons):
                try:
                    if await self.alertmanager.silenced(alert_labels(t.data)):
                        reasons.append("silenced")
                except httpx.HTTPError as exc:
                    log.warning("could not ask Alertmanager whether %s is silenced: %s", t.transition_id, exc)
            if HELD_BACK & set(reasons):
                await self.store.set_field(t.fingerprint, "held", "1")
        elif t.status == "resolved" and await self.store.get_field(t.fingerprint, "held"):
            reasons.append("held")  # cleared with the outbox entry (mark_delivered), so a retry decides the same
        return replace(t, suppressed=reasons)

    async def _follow_up(self, t: Transition) -> None:
        """What a notifying transition changes besides the alert itself: an acknowledgement's silence ends with the
        alert; the Grafana annotation opens and closes with it."""
        if t.status == "resolved" and t.ack and t.ack.get("silence_id") and self.alertmanager is not None:
            try:
                await self.alertmanager.expire_silence(t.ack["silence_id"])
            except httpx.HTTPError as exc:
                log.warning("could not expire silence %s of a resolved alert: %s", t.ack["silence_id"], exc)
        if self.grafana is None:
            return
        try:
            if t.status == "firing":
                annotation_id = await self.grafana.opened(t.data, t.at)
                await self.store.set_field(t.fingerprint, "annotation", json.dumps([annotation_id, t.at]))
            else:
                alert = await self.store.get(t.fingerprint)
                if alert is not None and alert.get("annotation"):
                    annotation_id, opened_at = alert["annotation"]
                    await self.grafana.closed(annotation_id, t.data, opened_at, t.at)
        except Exception as exc:  # an annotation is a convenience: never stop the outbox for it
            DELIVERY_ERRORS.labels(target="grafana").inc()
            log.warning("Grafana annotation for %s failed: %s", t.transition_id, exc)

    async def _deliver_webhooks(self, receiver: Receiver) -> None:
        """Drain one receiver's queue in order. A receiver that is down is retried with growing, jittered waits
        and never skipped; it holds back nobody else, since every receiver has its own queue and loop."""
        wake = self._webhook_wake[receiver.id]
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=1.0)
            wake.clear()
            await self._until_redis_answers("webhooks", functools.partial(self._deliver_webhook_queue, receiver))

    async def _deliver_webhook_queue(self, receiver: Receiver) -> None:
        sent = self._webhook_sent[receiver.id]
        for entry_id, record in await self.store.webhook_queue(receiver.id):
            if entry_id not in sent:  # else delivered before Redis failed to drop it from the queue
                try:
                    await self._send_webhook(receiver, record)
                except WebhookError as exc:
                    # A refusal (4xx) will not change on a retry; the transition stays on the alerts topic.
                    log.error("%s; transition %s is not re-sent to this receiver", exc, record["transition_id"])
                else:
                    WEBHOOK_CALLS.inc()
                sent.add(entry_id)
            await self.store.webhook_done(receiver.id, entry_id)
            sent.discard(entry_id)

    @stamina.retry(
        on=lambda exc: isinstance(exc, WebhookError) and exc.retry,
        attempts=None,
        timeout=None,
        wait_initial=0.5,
        wait_max=30.0,
        wait_jitter=1.0,
    )
    async def _send_webhook(self, receiver: Receiver, record: dict[str, Any]) -> None:
        """One delivery, retried while the receiver is unreachable or answers 5xx, 408 or 429 (stamina: exponential
        waits from 0.5 s to 30 s with jitter, so receivers coming back are not hit in lockstep)."""
        assert self.webhooks is not None
        try:
            await self.webhooks.send(receiver, record)
        except WebhookError as exc:
            DELIVERY_ERRORS.labels(target="webhook").inc()
            if exc.retry:
                log.warning("%s; retrying with backoff", exc)
            raise

    async def _resend_firing(self) -> None:
        while True:
            await asyncio.sleep(self.settings.resend_interval_s)
            if self.alertmanager is None:
                continue
            firing = await self._until_redis_answers("resend", self.store.firing)
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

    def _set_gauge(self, alert: dict[str, Any], status: str) -> None:
        labels = {
            "alertname": alert["rule_id"],
            "site": alert["site"],
            "severity": alert["severity"],
            "department": alert["department"],
        }
        for state in ("pending", "firing"):
            if state == status:
                ALERT_STATE.labels(**labels, alertstate=state).set(1)
            else:
                with contextlib.suppress(KeyError):
                    ALERT_STATE.remove(*labels.values(), state)


HELD_BACK = frozenset({"maintenance", "silenced", "held"})
"""Reasons a transition is not sent to the webhook receivers (it is still published on the alerts topic)."""


def linked(evaluation: RuleEvaluation, base: str) -> RuleEvaluation:
    """The evaluation with its runbook as a link people can open: a rule names a file of the repository
    (docs/rules.md#runbook-air-limit), and on-call gets it under the configured base URL."""
    runbook = evaluation.annotations.get("runbook_url", "")
    if not runbook or urlsplit(runbook).scheme or not base:
        return evaluation
    url = f"{base.rstrip('/')}/{runbook.removeprefix('docs/')}"
    return evaluation.model_copy(update={"annotations": {**evaluation.annotations, "runbook_url": url}})


def _with_fp(t: Transition) -> dict[str, Any]:
    return {**t.data, "fingerprint": t.fingerprint}
