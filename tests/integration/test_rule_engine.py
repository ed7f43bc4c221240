"""The worker's rule engine against real Kafka and Redis: staleness on an accelerated processing clock, windowed
rules fed from the persisted history, and hot reload of the rule files."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from citywatch.topics import Topics
from tests.conftest import Isolation
from tests.integration.kafka_reads import read_until
from tools.devstack.config import REPO_ROOT
from tools.devstack.stack import CitywatchProcess

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 5, 1, 0, tzinfo=SHANGHAI)
ADMIN_TOKEN = "worker-admin-token-of-the-test"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def hours(site: str, first: datetime, values: list[float]) -> list[dict[str, Any]]:
    return [
        {"station": site, "observed_at": (first + timedelta(hours=i)).isoformat(), "pm25": v}
        for i, v in enumerate(values)
    ]


def statuses(records: list[dict[str, Any]], rule: str, site: str) -> list[str]:
    return [r["status"] for r in records if r["rule_id"] == rule and r["site"] == site]


def start_with_own_rules(
    isolation: Isolation, tmp_path: Path, **worker_env: str
) -> tuple[Topics, Path, CitywatchProcess, CitywatchProcess]:
    """The test's topics, a copy of the shipped rule files the test may change, and a worker reading them (its
    admin token ADMIN_TOKEN, and `worker_env`) beside a gateway: (topics, rules directory, worker, gateway)."""
    topics = isolation.ensure_topics()
    rules_dir = tmp_path / "rules"
    shutil.copytree(REPO_ROOT / "rules", rules_dir)
    worker = isolation.start(
        "worker",
        "CITYWATCH_WORKER_WEB_PORT",
        CITYWATCH_RULES_DIR=str(rules_dir),
        CITYWATCH_WORKER_ADMIN_TOKEN=ADMIN_TOKEN,
        **worker_env,
    )
    ingest = isolation.start("ingest", "CITYWATCH_INGEST_PORT", health_path="/healthz")
    return topics, rules_dir, worker, ingest


def test_silent_station_fires_on_the_accelerated_clock_and_clears_when_data_arrives(
    isolation: Isolation, tmp_path: Path
) -> None:
    # One simulated hour per real second: the 4 h staleness rule fires after about 4 s of silence.
    topics, rules_dir, worker, ingest = start_with_own_rules(
        isolation,
        tmp_path,
        CITYWATCH_CLOCK_START=START.isoformat(),
        CITYWATCH_CLOCK_SPEED="3600",
        CITYWATCH_WORKER_STALENESS_INTERVAL_S="1",
    )
    isolation.start("alerts", "CITYWATCH_ALERTS_PORT", health_path="/healthz")
    rule = "air-station-silent"
    records = read_until(
        isolation.stack.kafka_bootstrap,
        topics.alerts,
        lambda rs: statuses(rs, rule, "wj-lili") == ["firing"],
        timeout_s=90,
    )
    firing = next(r for r in records if r["rule_id"] == rule and r["site"] == "wj-lili")
    assert firing["value"] >= 4 * 3600 and "GB 3095" in firing["source"]

    auth = {"Authorization": f"Bearer {isolation.api_key('environment')}"}
    now = datetime.now(SHANGHAI).replace(minute=0, second=0, microsecond=0)
    response = httpx.post(
        f"http://127.0.0.1:{ingest.metrics_port}/v1/feeds/air/readings/batch",
        json=hours("wj-lili", now - timedelta(hours=2), [30.0, 31.0]),
        headers=auth,
        timeout=30,
    )
    assert response.status_code == 202, response.text
    records = read_until(
        isolation.stack.kafka_bootstrap,
        topics.alerts,
        lambda rs: statuses(rs, rule, "wj-lili") == ["firing", "resolved"],
        timeout_s=60,
    )

    # Taking the rule out of the files ends the alerts it still has firing (the other, silent stations).
    still_firing = {r["site"] for r in records if r["rule_id"] == rule} - {"wj-lili"}
    assert still_firing, records
    air = rules_dir / "air.yaml"
    text = air.read_text(encoding="utf-8")
    start = text.index("  - id: air-station-silent")
    end = text.find("\n  - id:", start + 1)
    air.write_text(text[:start] + (text[end + 1 :] if end != -1 else ""), encoding="utf-8")
    reloaded = httpx.post(f"http://127.0.0.1:{worker.metrics_port}/rules/reload", headers=ADMIN, timeout=30).json()
    assert reloaded["removed"] == [rule], reloaded
    records = read_until(
        isolation.stack.kafka_bootstrap,
        topics.alerts,
        lambda rs: all(statuses(rs, rule, site)[-1:] == ["resolved"] for site in still_firing),
        timeout_s=60,
    )
    for site in still_firing:
        assert statuses(records, rule, site) == ["firing", "resolved"], site


def test_windowed_rule_evaluates_from_history_and_rules_reload_without_restart(
    isolation: Isolation, tmp_path: Path
) -> None:
    topics, rules_dir, worker, ingest = start_with_own_rules(isolation, tmp_path)
    auth = {"Authorization": f"Bearer {isolation.api_key('environment')}"}
    gateway = f"http://127.0.0.1:{ingest.metrics_port}/v1/feeds/air/readings/batch"

    def post(batch: list[dict[str, Any]]) -> None:
        response = httpx.post(gateway, json=batch, headers=auth, timeout=30)
        assert response.status_code == 202, response.text

    # Three hours of AQI over 100 make the 3 h windowed rule breach; fewer give no evaluation at all.
    rule = "air-aqi-realtime-over-100-3h"
    post(hours("wj-tongli", START, [160.0, 170.0, 180.0]))

    def windowed(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in records if r["rule_id"] == rule and r["site"] == "wj-tongli"]

    evaluations = read_until(
        isolation.stack.kafka_bootstrap, topics.rule_evaluations, lambda rs: len(windowed(rs)) >= 1
    )
    first = windowed(evaluations)
    assert [e["outcome"] for e in first] == ["breach"], first
    assert first[0]["observed_at"].startswith("2026-05-01T02:00")

    # A broken rule file is refused with its position; the running rules stay.
    base = f"http://127.0.0.1:{worker.metrics_port}"
    air = rules_dir / "air.yaml"
    original = air.read_text(encoding="utf-8")
    air.write_text(original.replace("op: '>'", "op: 'bigger'", 1).replace('op: ">"', 'op: "bigger"', 1))
    # The worker's port: /metrics and /healthz for anyone; reload only with the admin token; no faust pages.
    assert httpx.get(f"{base}/healthz", timeout=10).json() == {"status": "ok"}
    assert httpx.post(f"{base}/rules/reload", timeout=30).status_code == 401
    wrong = {"Authorization": "Bearer guess"}
    assert httpx.post(f"{base}/rules/reload", headers=wrong, timeout=30).status_code == 401
    for page in ("/table/state/wj-songling/", "/table/state/", "/router/", "/graph/", "/stats/"):
        assert httpx.get(f"{base}{page}", timeout=10).status_code == 404, page
    refused = httpx.post(f"{base}/rules/reload", headers=ADMIN, timeout=30)
    assert refused.status_code == 422, refused.text
    assert any("air.yaml:" in p for p in refused.json()["problems"]), refused.json()

    # A valid change is applied at once and reported as a diff.
    air.write_text(original.replace("air-station-silent", "air-station-quiet", 1))
    applied = httpx.post(f"{base}/rules/reload", headers=ADMIN, timeout=30).json()
    assert applied["outcome"] == "applied", applied
    assert applied["added"] == ["air-station-quiet"] and applied["removed"] == ["air-station-silent"]

    # The windowed rule kept its history through the reload: the next hours are judged on a full window at once.
    # At 03:00 the window (AQI 220, 230, 29) still breaches, which is no news and not sent; at 04:00 (230, 29, 29)
    # its mean 96 lies between the clear level (90) and the threshold: hold. Had the reload lost the history,
    # neither hour would have the 3 samples the rule needs.
    post(hours("wj-tongli", START + timedelta(hours=3), [20.0, 20.0]))
    evaluations = read_until(
        isolation.stack.kafka_bootstrap, topics.rule_evaluations, lambda rs: len(windowed(rs)) >= 2
    )
    second = windowed(evaluations)[1]
    assert (second["outcome"], second["observed_at"][:16]) == ("hold", "2026-05-01T04:00"), second
