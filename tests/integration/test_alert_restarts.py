"""A crash of the worker and of the alert service while an alert fires pages nobody twice."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from citywatch.rule_engine.evaluation import fingerprint
from tests.conftest import Isolation
from tests.integration.kafka_reads import read_until
from tests.integration.webhook_receiver import WebhookReceiver

SHANGHAI = ZoneInfo("Asia/Shanghai")


def hours(first: datetime, values: list[float]) -> list[dict[str, object]]:
    return [
        {"station": "wj-songling", "observed_at": (first + timedelta(hours=i)).isoformat(), "pm25": v}
        for i, v in enumerate(values)
    ]


def test_restarts_while_firing_cause_no_second_transition(isolation: Isolation, webhook: WebhookReceiver) -> None:
    stack = isolation.stack
    topics = isolation.ensure_topics()
    worker = isolation.start("worker", "CITYWATCH_WORKER_WEB_PORT")
    ingest = isolation.start("ingest", "CITYWATCH_INGEST_PORT", health_path="/healthz")
    alerts = isolation.start(
        "alerts", "CITYWATCH_ALERTS_PORT", health_path="/healthz", CITYWATCH_WEBHOOK_URLS=webhook.url
    )
    url = f"http://127.0.0.1:{ingest.metrics_port}/v1/feeds/air/readings/batch"
    auth = {"Authorization": f"Bearer {isolation.api_key('environment')}"}
    fp = fingerprint("air-pm25-24h-grade2", "wj-songling")

    def post(batch: list[dict[str, object]]) -> None:
        response = httpx.post(url, json=batch, headers=auth, timeout=30)
        assert response.status_code == 202, response.text

    def transitions(records: list[dict[str, object]]) -> list[object]:
        return [r["status"] for r in records if r["fingerprint"] == fp]

    day1 = datetime(2025, 7, 1, 1, tzinfo=SHANGHAI)
    post(hours(day1, [100.0] * 24))
    read_until(stack.kafka_bootstrap, topics.alerts, lambda rs: transitions(rs) == ["firing"])

    # Crash both while firing, then restart them: they resume from committed offsets and Redis state.
    worker.kill()
    alerts.kill()
    worker.start(wait_s=90)
    alerts.start(wait_s=60)

    # Still breaching, through the hysteresis band (70–75 holds), then clearly below the clear level.
    post(hours(day1 + timedelta(days=1), [90.0] * 12))
    post(hours(day1 + timedelta(days=1, hours=12), [74.0, 76.0] * 6))
    post(hours(day1 + timedelta(days=2), [5.0] * 24))
    records = read_until(stack.kafka_bootstrap, topics.alerts, lambda rs: "resolved" in transitions(rs))
    assert transitions(records) == ["firing", "resolved"], records
    ids = [r["transition_id"] for r in records if r["fingerprint"] == fp]
    assert ids == [f"{fp}:1", f"{fp}:2"]

    oncall = {"Authorization": f"Bearer {isolation.api_key('environment', 'oncall')}"}
    firing_now = httpx.get(f"http://127.0.0.1:{alerts.metrics_port}/v1/alerts", headers=oncall).json()
    assert all(a["fingerprint"] != fp for a in firing_now)

    # One webhook call per transition, though both processes crashed while the alert fired.
    deadline = time.monotonic() + 30
    while webhook.statuses(fp) != ["firing", "resolved"] and time.monotonic() < deadline:
        time.sleep(0.3)
    time.sleep(2)
    assert webhook.statuses(fp) == ["firing", "resolved"]
    assert [c["key"] for c in webhook.calls if c["fingerprint"] == fp] == [f"{fp}:1", f"{fp}:2"]
