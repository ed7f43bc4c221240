"""Fault: Redis stops for 30 s during an alert storm. The alert service keeps running, waits for Redis (retrying
the same rule evaluation, committing no Kafka offset) and afterwards has published every transition exactly once
on the alerts topic and called the webhook exactly once per firing/resolved transition.

Rule evaluations for many sites are produced straight onto the test's rule-evaluations topic, paced over about
50 s, so the outage starts and ends while they flow. The test runs its own redis-server (a free port, its own
directory, AOF on) so stopping it disturbs no other test. Redis is stopped with SIGTERM (it flushes its AOF), as an
operator's restart or a failover would; what it had acknowledged survives.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from kafka import KafkaProducer
from redis.asyncio import Redis as AsyncRedis

from citywatch.rule_engine.evaluation import fingerprint
from services.auth.keys import KeyStore
from tests.conftest import Isolation, free_port
from tests.integration.conftest import rule_evaluation
from tests.integration.kafka_reads import read_until
from tests.integration.webhook_receiver import WebhookReceiver
from tools.devstack.config import StackConfig
from tools.devstack.servers import Redis

pytestmark = pytest.mark.faults

RULE = "fault-pm25-hourly"
SITES = 200  # alerts in the storm
ROUNDS = 20  # evaluations per site: breach, breach, clear, clear, ... → ROUNDS / 2 transitions per site
PRODUCE_S = 50.0  # the rounds are spread over this long
OUTAGE_S = 30.0
T0 = datetime(2026, 5, 1, 0, tzinfo=UTC)


@pytest.fixture
def private_redis(stack: StackConfig, tmp_path: Path) -> Iterator[Redis]:
    redis = Redis(replace(stack, name="redis-outage", run_dir=tmp_path / "redis-outage", redis_port=free_port()))
    redis.start()
    yield redis
    redis.stop()


def evaluation(isolation: Isolation, site: str, round_: int) -> bytes:
    outcome = "breach" if (round_ // 2) % 2 == 0 else "clear"
    value = 120.0 if outcome == "breach" else 20.0
    at = T0 + timedelta(hours=round_)
    return json.dumps(
        rule_evaluation(RULE, site, outcome, value, at, test_id=isolation.id, source="fault test")
    ).encode()


class Storm(threading.Thread):
    """Produces round after round of evaluations for every site, paced over PRODUCE_S."""

    def __init__(self, isolation: Isolation, topic: str) -> None:
        super().__init__(daemon=True)
        self.isolation = isolation
        self.topic = topic
        self.sent_at: list[float] = []  # monotonic time each round was flushed
        self.error: BaseException | None = None

    def run(self) -> None:
        producer = KafkaProducer(bootstrap_servers=self.isolation.stack.kafka_bootstrap, acks="all", linger_ms=5)
        start = time.monotonic()
        try:
            for round_ in range(ROUNDS):
                time.sleep(max(0.0, start + round_ * PRODUCE_S / ROUNDS - time.monotonic()))
                for n in range(SITES):
                    site = f"storm-{n:03d}"
                    producer.send(self.topic, key=site.encode(), value=evaluation(self.isolation, site, round_))
                producer.flush(timeout=30)
                self.sent_at.append(time.monotonic())
        except BaseException as exc:
            self.error = exc
        finally:
            producer.close()


def oncall_key(redis_url: str, prefix: str) -> str:
    async def create() -> str:
        redis = AsyncRedis.from_url(redis_url)
        try:
            return (await KeyStore(redis, prefix).create("environment", "oncall"))[0]
        finally:
            await redis.aclose()

    return asyncio.run(create())


def expected_transitions() -> dict[str, str]:
    """transition_id → status: every site fires and resolves in turn, one transition per two rounds."""
    out = {}
    for n in range(SITES):
        fp = fingerprint(RULE, f"storm-{n:03d}")
        for seq in range(1, ROUNDS // 2 + 1):
            out[f"{fp}:{seq}"] = "firing" if seq % 2 else "resolved"
    return out


def test_redis_down_30s_during_an_alert_storm_loses_and_duplicates_no_transition(
    isolation: Isolation, private_redis: Redis, webhook: WebhookReceiver
) -> None:
    topics = isolation.ensure_topics()
    alerts = isolation.start(
        "alerts",
        "CITYWATCH_ALERTS_PORT",
        health_path="/healthz",
        CITYWATCH_REDIS_URL=private_redis.url,
        CITYWATCH_WEBHOOK_URLS=webhook.url,
        CITYWATCH_ALERTMANAGER_URL="",  # the topic and the webhook are what is counted; spare the shared one
    )
    base = f"http://127.0.0.1:{alerts.metrics_port}"
    key = oncall_key(private_redis.url, isolation.id)
    expected = expected_transitions()
    started = time.monotonic()
    storm = Storm(isolation, topics.rule_evaluations)
    storm.start()

    # Stop Redis once the storm is under way: transitions are being delivered, most are still to come.
    deadline = time.monotonic() + 60
    while len(webhook.calls) < SITES and time.monotonic() < deadline:
        time.sleep(0.1)
    assert webhook.calls, "no transition reached the webhook before the outage"
    private_redis.stop()
    stopped = time.monotonic()
    delivered_before = len(webhook.calls)
    assert delivered_before < len(expected) // 2, "the storm was mostly over before Redis stopped"

    # Meanwhile the service stays up; its API says 503 with Retry-After, not a bare 500.
    time.sleep(3)
    answer = httpx.get(f"{base}/v1/alerts", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert answer.status_code == 503 and int(answer.headers["Retry-After"]) >= 1, answer.text
    assert "Redis" in answer.json()["detail"]
    time.sleep(max(0.0, stopped + OUTAGE_S - time.monotonic()))
    assert alerts.process.is_running(), f"the alert service died while Redis was down; read {alerts.log_file}"
    rounds_during_outage = sum(1 for t in storm.sent_at if t > stopped)
    private_redis.start()
    restarted = time.monotonic()

    storm.join(timeout=PRODUCE_S + 60)
    assert storm.error is None, storm.error
    assert len(storm.sent_at) == ROUNDS
    assert rounds_during_outage >= 5, "the evaluations did not keep flowing during the outage"

    records = read_until(
        isolation.stack.kafka_bootstrap, topics.alerts, lambda rs: len(rs) >= len(expected), timeout_s=120
    )
    deadline = time.monotonic() + 60
    while len(webhook.calls) < len(expected) and time.monotonic() < deadline:
        time.sleep(0.2)
    caught_up = time.monotonic()
    time.sleep(3)  # time for a wrong repeat to show up
    records = read_until(isolation.stack.kafka_bootstrap, topics.alerts, lambda rs: len(rs) >= len(expected))

    ids = Counter(r["transition_id"] for r in records)
    assert [i for i, n in ids.items() if n > 1] == [], "transitions published twice"
    assert set(ids) == set(expected), (
        f"missing {sorted(set(expected) - set(ids))[:5]}, extra {sorted(set(ids) - set(expected))[:5]}"
    )
    assert {r["transition_id"]: r["status"] for r in records} == expected
    calls = Counter(c["key"] for c in webhook.calls)
    assert [k for k, n in calls.items() if n > 1] == [], "webhook called twice for a transition"
    assert set(calls) == set(expected)

    log = alerts.log_file.read_text(errors="replace")
    assert "is unavailable" in log and "nothing is skipped" in log, "the outage was not logged"
    metrics = httpx.get(f"{base}/metrics", timeout=10).text
    assert 'citywatch_alert_loop_restarts_total{loop="consume-evaluations"}' not in metrics
    print(
        f"\nredis outage: {SITES * ROUNDS} evaluations, {len(expected)} transitions, {len(webhook.calls)} webhook calls; "
        f"{delivered_before} delivered before the stop at {stopped - started:.1f} s, Redis down {restarted - stopped:.1f} s, "
        f"all delivered {caught_up - restarted:.1f} s after it came back"
    )
