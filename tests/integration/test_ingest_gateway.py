"""The gateway's contract with departments, against real Kafka and Redis: who may publish what, dedup,
rate and size limits, and the rejections API."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Isolation
from tests.integration.kafka_reads import read_feed_until

AIR = {"station": "wj-songling", "observed_at": "2025-01-01T08:00:00+08:00", "pm25": 12}
BUS = {
    "route": "wj-bus-701",
    "interval_start": "2025-01-01T08:00:00+08:00",
    "interval_end": "2025-01-01T08:15:00+08:00",
    "boardings": 40,
    "vehicle": "wj-v-701-01",
    "energy_type": "electric",
}


@pytest.fixture
def gateway(isolation: Isolation) -> str:
    isolation.ensure_topics(partitions=1)
    proc = isolation.start(
        "ingest",
        "CITYWATCH_INGEST_PORT",
        health_path="/healthz",
        CITYWATCH_RATE_LIMIT_RECORDS="20",
        CITYWATCH_MAX_BODY_BYTES="20000",
    )
    return f"http://127.0.0.1:{proc.metrics_port}"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_who_may_publish_what(isolation: Isolation, gateway: str) -> None:
    env = bearer(isolation.api_key("environment"))
    transport = bearer(isolation.api_key("transport"))
    oncall = bearer(isolation.api_key("environment", role="oncall"))

    assert httpx.post(f"{gateway}/v1/feeds/air/readings", json=AIR).status_code == 401
    assert httpx.post(f"{gateway}/v1/feeds/air/readings", json=AIR, headers=bearer("cw_nope_x")).status_code == 401
    assert httpx.post(f"{gateway}/v1/feeds/air/readings", json=AIR, headers=oncall).status_code == 403
    # transport does not publish the air feed at all
    refused = httpx.post(f"{gateway}/v1/feeds/air/readings", json=AIR, headers=transport)
    assert refused.status_code == 403 and "does not publish the air feed" in refused.json()["detail"]
    # environment publishes waste, but this plant belongs to urban management
    waste = {
        "plant": "wj-wte-phase2",
        "period": "day",
        "date": "2025-01-01",
        "waste_kind": "household",
        "received_tonnes": 2500,
    }
    foreign = httpx.post(f"{gateway}/v1/feeds/waste/readings", json=waste, headers=env)
    if foreign.status_code == 422:  # the sample registry's plant ids or fields differ: show what the API said
        pytest.fail(f"sample waste record no longer valid: {foreign.json()}")
    assert foreign.status_code == 403, foreign.text
    assert foreign.json()["errors"][0]["field"] == "plant"

    assert httpx.post(f"{gateway}/v1/feeds/air/readings", json=AIR, headers=env).status_code == 202
    assert httpx.post(f"{gateway}/v1/feeds/bus/readings", json=BUS, headers=transport).status_code == 202
    unknown = httpx.post(f"{gateway}/v1/feeds/air/readings", json={**AIR, "station": "nowhere"}, headers=env)
    assert unknown.status_code == 422 and "not in the site registry" in unknown.json()["errors"][0]["reason"]


def test_a_replayed_batch_is_not_counted_twice(isolation: Isolation, gateway: str) -> None:
    env = bearer(isolation.api_key("environment"))
    batch = [{**AIR, "observed_at": f"2025-01-01T{h:02d}:00:00+08:00"} for h in range(8, 12)]
    first = httpx.post(f"{gateway}/v1/feeds/air/readings/batch", json=batch, headers=env).json()
    again = httpx.post(f"{gateway}/v1/feeds/air/readings/batch", json=batch, headers=env).json()
    assert (first["accepted"], first["duplicates"]) == (4, 0)
    assert (again["accepted"], again["duplicates"]) == (0, 4)
    correction = httpx.post(
        f"{gateway}/v1/feeds/air/readings", json={**batch[0], "pm25": 99, "revision": 1}, headers=env
    ).json()
    assert correction["accepted"] == 1, "a higher revision is new data"
    topic = isolation.ensure_topics().feed("air", "environment")
    records = read_feed_until(isolation.stack.kafka_bootstrap, topic, lambda rs: len(rs) >= 5, timeout_s=10)
    assert len(records) == 5


def test_rate_and_size_limits(isolation: Isolation, gateway: str) -> None:
    env = bearer(isolation.api_key("environment"))
    batch = [{**AIR, "observed_at": f"2025-02-01T{h:02d}:00:00+08:00"} for h in range(15)]
    assert httpx.post(f"{gateway}/v1/feeds/air/readings/batch", json=batch, headers=env).status_code == 202
    limited = httpx.post(f"{gateway}/v1/feeds/air/readings/batch", json=batch[:10], headers=env)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    other_key = bearer(isolation.api_key("environment"))  # the limit is per key
    assert httpx.post(f"{gateway}/v1/feeds/air/readings", json=AIR, headers=other_key).status_code == 202

    huge = [{**AIR, "observed_at": f"2025-03-01T{h % 24:02d}:00:00+08:00", "event_id": f"e{h}"} for h in range(400)]
    too_big = httpx.post(f"{gateway}/v1/feeds/air/readings/batch", json=huge, headers=other_key)
    assert too_big.status_code == 413


def test_a_department_lists_its_own_rejections(isolation: Isolation, gateway: str) -> None:
    env = bearer(isolation.api_key("environment"))
    transport = bearer(isolation.api_key("transport"))
    bad = [{**AIR, "pm25": -1}, {**AIR, "observed_at": "yesterday"}]
    assert httpx.post(f"{gateway}/v1/feeds/air/readings/batch", json=bad, headers=env).status_code == 422
    mine = httpx.get(f"{gateway}/v1/rejections", headers=env).json()
    assert [r["index"] for r in mine] == [1, 0]  # newest first
    assert mine[1]["errors"][0]["field"] == "pm25"
    assert httpx.get(f"{gateway}/v1/rejections", headers=transport).json() == []
    assert httpx.get(f"{gateway}/v1/rejections").status_code == 401


def test_schemas_are_served(gateway: str) -> None:
    feeds = httpx.get(f"{gateway}/v1/feeds").json()
    assert feeds["air"] == ["environment"] and "transport" in feeds["bus"]
    schema = httpx.get(f"{gateway}/v1/feeds/air/schema").json()
    assert "station" in schema["required"] and {"required": ["observed_at"]} in schema["anyOf"]
    assert httpx.get(f"{gateway}/v1/feeds/nope/schema").status_code == 404


def test_auth_matrix_over_every_department_and_feed(isolation: Isolation, gateway: str) -> None:
    """Every department × feed: 202 for its own site of a feed it publishes, 403 for anyone else's."""
    from citywatch.feeds import FEEDS, SITE_FIELDS
    from citywatch.site_registry import load_registry
    from tests.feed_examples import VALID

    registry = load_registry("registry/wujiang-sample.yaml")
    outcomes = {}
    for department in registry.departments:
        key = bearer(isolation.api_key(department.id))
        for feed in FEEDS:
            sites = registry.sites_for_feed(feed)
            own = [s for s in sites if s.department == department.id]
            site = (own or sites)[0]
            record = {**VALID[feed], SITE_FIELDS[feed]: site.id}
            if feed == "waste" and "hazardous" in getattr(site, "accepts", []):
                record["waste_kind"] = "hazardous"
            response = httpx.post(f"{gateway}/v1/feeds/{feed}/readings", json=record, headers=key)
            expected = 202 if feed in department.feeds and own else 403
            outcomes[(department.id, feed)] = (response.status_code, expected, response.text[:200])
    wrong = {k: v for k, v in outcomes.items() if v[0] != v[1]}
    assert not wrong, wrong
    assert sum(1 for v in outcomes.values() if v[1] == 202) >= 5
