"""One feed end to end on the real servers: HTTP → Kafka → faust worker → rule → alert service →
alerts topic and Alertmanager; the PM2.5 gauge through Prometheus; direct publishing with kafka-python."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from kafka import KafkaProducer

from tests.conftest import Isolation
from tests.integration.kafka_reads import prometheus_value, read_indicators_until, read_until

SHANGHAI = ZoneInfo("Asia/Shanghai")


def hourly(station: str, first: datetime, values: list[float]) -> list[dict[str, object]]:
    return [
        {"station": station, "observed_at": (first + timedelta(hours=i)).isoformat(), "pm25": v}
        for i, v in enumerate(values)
    ]


RULE = "air-pm25-24h-grade2"


def firing_sites(records: list[dict[str, object]]) -> set[object]:
    return {r["site"] for r in records if r["status"] == "firing" and r["rule_id"] == RULE}


def test_posted_readings_raise_an_alert_and_export_the_gauge(isolation: Isolation) -> None:
    stack = isolation.stack
    topics = isolation.ensure_topics()
    worker = isolation.start("worker", "CITYWATCH_WORKER_WEB_PORT")
    ingest = isolation.start("ingest", "CITYWATCH_INGEST_PORT", health_path="/healthz")
    isolation.start("alerts", "CITYWATCH_ALERTS_PORT", health_path="/healthz")
    gateway = f"http://127.0.0.1:{ingest.metrics_port}"
    auth = {"Authorization": f"Bearer {isolation.api_key('environment')}"}

    # Under GB 3095-2012 (2025) the Grade II 24 h limit is 75; under the 2026 transition values it is 60.
    polluted_2025 = hourly("wj-songling", datetime(2025, 6, 1, 1, tzinfo=SHANGHAI), [100.0] * 24)
    mid_2025 = hourly("wj-shengze", datetime(2025, 6, 1, 1, tzinfo=SHANGHAI), [65.0] * 24)
    mid_2026 = hourly("wj-lili", datetime(2026, 6, 1, 1, tzinfo=SHANGHAI), [65.0] * 24)
    for batch in (polluted_2025, mid_2025, mid_2026):
        response = httpx.post(f"{gateway}/v1/feeds/air/readings/batch", json=batch, headers=auth, timeout=30)
        assert response.status_code == 202, response.text
        assert response.json()["accepted"] == 24

    alerts = read_until(stack.kafka_bootstrap, topics.alerts, lambda rs: {"wj-songling", "wj-lili"} <= firing_sites(rs))
    by_site = {r["site"]: r for r in alerts if r["status"] == "firing" and r["rule_id"] == RULE}
    assert "wj-shengze" not in by_site, "65 µg/m³ is within the 2012 limit of 75"
    assert by_site["wj-songling"]["threshold"] == 75
    assert by_site["wj-lili"]["threshold"] == 60
    assert "GB 3095" in by_site["wj-songling"]["source"]
    assert [r["transition_id"] for r in alerts].count(by_site["wj-songling"]["transition_id"]) == 1

    # The alert reached Alertmanager's API with its site and severity labels.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        am = httpx.get(
            f"{stack.alertmanager_url}/api/v2/alerts",
            params=[("filter", "site=wj-songling"), ("filter", f"alertname={RULE}")],
        ).json()
        if am:
            break
        time.sleep(0.5)
    assert am and am[0]["labels"]["alertname"] == "air-pm25-24h-grade2"
    assert am[0]["labels"]["severity"] == "warning"

    # The gauge, read through the real Prometheus after it scraped the worker.
    query = f'citywatch_air_pm25_ugm3{{site="wj-songling",window="24h",test="{isolation.id}"}}'
    assert prometheus_value(stack.prometheus_url, query) == 100.0
    assert worker.metrics_port is not None


def test_kafka_python_producer_reaches_the_worker_and_bad_records_are_dead_lettered(isolation: Isolation) -> None:
    stack = isolation.stack
    topics = isolation.ensure_topics()
    isolation.start("worker", "CITYWATCH_WORKER_WEB_PORT")

    producer = KafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all")
    air = topics.feed("air", "environment")
    good = {"station": "wj-tongli", "observed_at": "2025-03-01T08:00:00+08:00", "pm25": 42.5}
    bad = {"station": "wj-tongli", "observed_at": "2025-03-01T09:00:00", "pm25": -3}
    # The worker still checks the site against the registry: a water section is no air station of anyone's.
    foreign = {"station": "wj-ws-yuandang", "observed_at": "2025-03-01T10:00:00+08:00", "pm25": 10}
    producer.send(air, key=b"wj-tongli", value=json.dumps(good).encode())
    producer.send(air, key=b"wj-tongli", value=json.dumps(bad).encode())
    producer.send(air, key=b"wj-ws-yuandang", value=json.dumps(foreign).encode())
    producer.flush(timeout=30)
    producer.close()

    indicators = read_indicators_until(
        stack.kafka_bootstrap, topics.indicators, lambda rs: any(r["indicator"] == "air.pm25.mean_24h" for r in rs)
    )
    mean = next(r for r in indicators if r["indicator"] == "air.pm25.mean_24h")
    assert (mean["site"], mean["value"], mean["samples"]) == ("wj-tongli", 42.5, 1)

    letters = read_until(stack.kafka_bootstrap, topics.dead_letter, lambda rs: len(rs) >= 2)
    by_field = {e["field"]: e["reason"] for letter in letters for e in letter["errors"]}
    assert {"observed_at", "pm25", "station"} <= set(by_field), letters
    # The same reason the gateway gives (one admission for both), and the letter names who sent it.
    assert "unknown air site 'wj-ws-yuandang'; it is not in the site registry" in by_field["station"]
    assert all(letter["stage"] == "worker" and letter["department"] == "environment" for letter in letters)
