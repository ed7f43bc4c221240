"""The auth matrix over every registry department, feed and endpoint, HTTP and Kafka.

- Ingest (single and batch endpoint): a department's own site of a feed it publishes → 202; a feed it does not
  publish, or another department's site → 403; no key → 401; a revoked key → 401.
- Alert service (/v1/alerts, ack, maintenance, /v1/history): a publisher key → 403; on-call of the owning
  department → allowed; on-call of another department → 403 on ack, maintenance and the site's history, and the
  alert is not in its list; admin → allowed; no key → 401.
- Kafka (SCRAM, DEPARTMENTS listener): each department's user writes its own feed topics and is refused every other.

One gateway, one alert service and one set of broker users serve the whole module; cases are cheap requests.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from kafka import KafkaProducer
from kafka.errors import TopicAuthorizationFailedError
from redis.asyncio import Redis

from citywatch.feeds import FEEDS, SITE_FIELDS
from citywatch.rule_engine.evaluation import fingerprint
from citywatch.site_registry import load_registry
from citywatch.topics import Topics
from services.auth.keys import KeyStore
from services.kafka_security import department_client_kwargs, ensure_department_access, revoke_department
from tests.conftest import Isolation
from tests.feed_examples import VALID
from tests.integration.conftest import rule_evaluation
from tests.integration.worker_runs import wait_for
from tools.devstack.config import REPO_ROOT, StackConfig

pytestmark = pytest.mark.faults

REGISTRY = load_registry(REPO_ROOT / "registry/wujiang-sample.yaml")
DEPARTMENTS = [d.id for d in REGISTRY.departments]
GRANTS = {d.id: sorted(d.feeds) for d in REGISTRY.departments}
ENDPOINTS = ["readings", "readings/batch"]
RULE = "auth-matrix"
FAST = {"request_timeout_ms": 3000, "max_block_ms": 3000, "bootstrap_timeout_ms": 2000}


@dataclass
class Services:
    isolation: Isolation
    topics: Topics
    gateway: str
    alerts: str
    keys: dict[tuple[str, str], str]  # (department, role) → key
    revoked: dict[str, str]  # department → a revoked publisher key
    passwords: dict[str, str]

    def auth(self, department: str, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[(department, role)]}"}


def _keys(redis_url: str, prefix: str) -> tuple[dict[tuple[str, str], str], dict[str, str]]:
    async def create() -> tuple[dict[tuple[str, str], str], dict[str, str]]:
        redis = Redis.from_url(redis_url)
        store = KeyStore(redis, prefix)
        try:
            keys = {
                (d, r): (await store.create(d, r))[0] for d in DEPARTMENTS for r in ("publisher", "oncall", "admin")
            }  # type: ignore[arg-type]
            revoked = {}
            for d in DEPARTMENTS:
                key, record = await store.create(d, "publisher")
                await store.revoke(record.key_id)
                revoked[d] = key
            return keys, revoked
        finally:
            await redis.aclose()

    return asyncio.run(create())


def _own_site(department: str, feed: str | None = None) -> str:
    return (
        next(s.id for s in REGISTRY.sites_for_feed(feed) if s.department == department)
        if feed
        else next(s.id for f in FEEDS for s in REGISTRY.sites_for_feed(f) if s.department == department)
    )


def _record(feed: str, site: str) -> dict[str, Any]:
    record = {**VALID[feed], SITE_FIELDS[feed]: site}
    if feed == "waste" and "hazardous" in getattr(REGISTRY.site(site), "accepts", []):
        record["waste_kind"] = "hazardous"
    return record


def _evaluation(isolation: Isolation, department: str) -> bytes:
    evaluation = rule_evaluation(
        RULE,
        _own_site(department),
        test_id=isolation.id,
        department=department,
        source="auth matrix test",
        annotations={"summary": "auth matrix"},
    )
    return json.dumps(evaluation).encode()


@pytest.fixture(scope="module")
def services(stack: StackConfig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    iso = Isolation(stack, tmp_path_factory.mktemp("auth-matrix"))
    try:
        topics = iso.ensure_topics(partitions=1)
        gateway = iso.start(
            "ingest", "CITYWATCH_INGEST_PORT", health_path="/healthz", CITYWATCH_RATE_LIMIT_RECORDS="1000000"
        )
        alerts = iso.start("alerts", "CITYWATCH_ALERTS_PORT", health_path="/healthz", CITYWATCH_ALERTMANAGER_URL="")
        keys, revoked = _keys(stack.redis_url, iso.id)
        passwords = {d: secrets.token_urlsafe(18) for d in DEPARTMENTS}
        ensure_department_access(
            stack.kafka_bootstrap, topics, GRANTS, passwords, user_prefix=f"{iso.id}-", partitions=1
        )
        producer = KafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all")
        for department in DEPARTMENTS:  # one firing alert per department, on one of its sites
            producer.send(topics.rule_evaluations, value=_evaluation(iso, department))
        producer.flush()
        producer.close()
        result = Services(
            iso,
            topics,
            f"http://127.0.0.1:{gateway.metrics_port}",
            f"http://127.0.0.1:{alerts.metrics_port}",
            keys,
            revoked,
            passwords,
        )
        admin = result.auth(DEPARTMENTS[0], "admin")
        wait_for(
            lambda: len(httpx.get(f"{result.alerts}/v1/alerts", headers=admin, timeout=10).json()) == len(DEPARTMENTS),
            30,
            "one firing alert per department",
        )
        yield result
    finally:
        for department in DEPARTMENTS:
            revoke_department(stack.kafka_bootstrap, Topics(iso.id), department, user_prefix=f"{iso.id}-")
        iso.close()


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("feed", list(FEEDS))
@pytest.mark.parametrize("department", DEPARTMENTS)
def test_ingest(services: Services, department: str, feed: str, endpoint: str) -> None:
    url = f"{services.gateway}/v1/feeds/{feed}/{endpoint}"
    batch = endpoint.endswith("batch")

    def post(site: str, headers: dict[str, str]) -> httpx.Response:
        record = _record(feed, site)
        return httpx.post(url, json=[record] if batch else record, headers=headers, timeout=30)

    key = services.auth(department, "publisher")
    own = [s.id for s in REGISTRY.sites_for_feed(feed) if s.department == department]
    others = [s.id for s in REGISTRY.sites_for_feed(feed) if s.department != department]
    if feed in GRANTS[department]:
        assert own, f"{department} publishes {feed} but owns no {feed} site"
        response = post(own[0], key)
        assert response.status_code == 202, response.text
    else:
        response = post(others[0], key)
        assert response.status_code == 403, response.text
        assert response.json()["errors"][0]["field"] == "(feed)"
    if others:  # another department's site of this feed
        response = post(others[0], key)
        assert response.status_code == 403, response.text
    site = (own or others)[0]
    assert post(site, {}).status_code == 401
    revoked = post(site, {"Authorization": f"Bearer {services.revoked[department]}"})
    assert revoked.status_code == 401 and "revoked" in revoked.json()["detail"]


@pytest.mark.parametrize("department", DEPARTMENTS)
def test_alert_service(services: Services, department: str) -> None:
    """The alert owned by `department`, acted on by each role of it, of another department, and without a key."""
    base = services.alerts
    site = _own_site(department)
    fp = fingerprint(RULE, site)
    other = next(d for d in DEPARTMENTS if d != department)
    now = datetime.now(UTC)
    window = {
        "site": site,
        "starts_at": (now + timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=1, hours=1)).isoformat(),
        "comment": "auth matrix",
    }
    ack = {"comment": "auth matrix"}

    def calls(headers: dict[str, str]) -> dict[str, int]:
        out = {
            "alerts": httpx.get(f"{base}/v1/alerts", headers=headers).status_code,
            "history": httpx.get(f"{base}/v1/history", params={"site": site}, headers=headers).status_code,
        }
        out["ack"] = httpx.post(f"{base}/v1/alerts/{fp}/ack", json=ack, headers=headers).status_code
        if out["ack"] == 200:
            assert httpx.delete(f"{base}/v1/alerts/{fp}/ack", headers=headers).status_code == 200
        maintenance = httpx.post(f"{base}/v1/maintenance", json=window, headers=headers)
        out["maintenance"] = maintenance.status_code
        if maintenance.status_code == 201:
            ended = httpx.delete(f"{base}/v1/maintenance/{maintenance.json()['id']}", headers=headers)
            assert ended.status_code == 200
        return out

    assert calls({}) == dict.fromkeys(("alerts", "history", "ack", "maintenance"), 401)
    assert calls(services.auth(department, "publisher")) == dict.fromkeys(
        ("alerts", "history", "ack", "maintenance"), 403
    )
    assert calls(services.auth(department, "oncall")) == {"alerts": 200, "history": 200, "ack": 200, "maintenance": 201}
    assert calls(services.auth(other, "oncall")) == {"alerts": 200, "history": 403, "ack": 403, "maintenance": 403}

    def listed(headers: dict[str, str]) -> list[str]:
        return [a["fingerprint"] for a in httpx.get(f"{base}/v1/alerts", headers=headers).json()]

    # On-call sees its own department's alerts only; the admin every department's.
    assert fp in listed(services.auth(department, "oncall"))
    assert fp not in listed(services.auth(other, "oncall"))
    assert fp in listed(services.auth(other, "admin"))
    assert httpx.get(f"{base}/v1/alerts/{fp}", headers=services.auth(other, "oncall")).status_code == 403
    assert calls(services.auth(other, "admin")) == {"alerts": 200, "history": 200, "ack": 200, "maintenance": 201}


@pytest.mark.parametrize("department", DEPARTMENTS)
def test_kafka_department_user(services: Services, department: str) -> None:
    """The department's SCRAM user writes each of its feed topics and is refused every other department's."""
    config = {
        "bootstrap_servers": services.isolation.stack.departments_bootstrap,
        **department_client_kwargs(department, services.passwords[department], user_prefix=f"{services.isolation.id}-"),
        **FAST,
    }
    own = [services.topics.feed(f, department) for f in GRANTS[department]]
    others = [services.topics.feed(f, d) for d in DEPARTMENTS for f in GRANTS[d] if d != department]
    producer = KafkaProducer(**config)
    try:
        for topic in own:
            assert producer.send(topic, value=b"mine").get(timeout=10).topic == topic
    finally:
        producer.close()
    refused = []
    for topic in others:
        producer = KafkaProducer(**config)  # a refusal may leave the idempotent producer fatal: one per topic
        try:
            producer.send(topic, value=b"not mine").get(timeout=10)
        except TopicAuthorizationFailedError:
            refused.append(topic)
        finally:
            producer.close()
    assert refused == others
