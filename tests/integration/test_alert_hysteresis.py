"""Hysteresis through the whole pipeline: a 24-hour mean alternating 74/76 µg/m³ around the 75 limit (clear
level 70) fires once and does not resolve until the mean drops below 70."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from citywatch.rule_engine.evaluation import fingerprint
from tests.conftest import Isolation
from tests.integration.kafka_reads import read_indicators_until, read_until

SHANGHAI = ZoneInfo("Asia/Shanghai")


def alternating_mean_readings() -> list[float]:
    """Hourly values whose rolling 24 h mean goes 75, then 74, 76, 74, 76, …, then falls below 70.

    Hand calculation: after 24 h of 75 the mean is 75. Each new hour replaces one 75 in the window, so a
    value x moves the mean by (x − 75)/24 relative to the previous window that still held that 75:
    x = 51 gives 74; x = 123 then gives 76; x = 27 gives 74 again; and so on.
    """
    values = [75.0] * 24
    mean = 75.0
    for target in [74.0, 76.0] * 5:  # ends at 76
        values.append(75.0 + (target - mean) * 24)
        mean = target
    # Then zeros: each replaces a 75, so the mean falls by 3.125 an hour: 72.875 (still in the hold band),
    # 69.75 (below the clear level 70: resolves), 66.625, 63.5.
    return values + [0.0] * 4


def test_a_mean_alternating_around_the_limit_fires_once(isolation: Isolation) -> None:
    stack = isolation.stack
    topics = isolation.ensure_topics()
    isolation.start("worker", "CITYWATCH_WORKER_WEB_PORT")
    ingest = isolation.start("ingest", "CITYWATCH_INGEST_PORT", health_path="/healthz")
    isolation.start("alerts", "CITYWATCH_ALERTS_PORT", health_path="/healthz")
    auth = {"Authorization": f"Bearer {isolation.api_key('environment')}"}
    first = datetime(2025, 9, 1, 1, tzinfo=SHANGHAI)
    values = alternating_mean_readings()
    assert all(v >= 0 for v in values)
    readings = [
        {"station": "wj-lili", "observed_at": (first + timedelta(hours=i)).isoformat(), "pm25": v}
        for i, v in enumerate(values)
    ]
    response = httpx.post(
        f"http://127.0.0.1:{ingest.metrics_port}/v1/feeds/air/readings/batch", json=readings, headers=auth, timeout=30
    )
    assert response.status_code == 202, response.text

    fp = fingerprint("air-pm25-24h-grade2", "wj-lili")
    means = read_indicators_until(
        stack.kafka_bootstrap,
        topics.indicators,
        lambda rs: sum(r["indicator"] == "air.pm25.mean_24h" for r in rs) >= len(values),
    )
    series = [round(r["value"], 6) for r in means if r["indicator"] == "air.pm25.mean_24h"]
    assert series[23:34] == [75.0, 74.0, 76.0, 74.0, 76.0, 74.0, 76.0, 74.0, 76.0, 74.0, 76.0]
    assert series[34:] == [72.875, 69.75, 66.625, 63.5]

    alerts = read_until(
        stack.kafka_bootstrap,
        topics.alerts,
        lambda rs: any(r["status"] == "resolved" for r in rs if r["fingerprint"] == fp),
    )
    transitions = [(r["status"], r["observed_at"]) for r in alerts if r["fingerprint"] == fp]
    assert [s for s, _ in transitions] == ["firing", "resolved"]
    fired_at = datetime.fromisoformat(transitions[0][1])
    resolved_at = datetime.fromisoformat(transitions[1][1])
    assert fired_at == first + timedelta(hours=25), "fires at the first mean above 75 (76)"
    assert resolved_at == first + timedelta(hours=35), "holds at 72.875, resolves at 69.75 (below the clear level 70)"
