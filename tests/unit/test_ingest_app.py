"""The gateway through FastAPI's test client, without servers: what it answers before it needs Redis or Kafka, and
what it answers while Redis is down (its Redis and Kafka addresses are closed ports here). The paths that need the
servers are the integration tests' (tests/integration/test_ingest_gateway.py, test_ingest_fuzz.py)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from citywatch.feeds import FEEDS
from citywatch.settings import IngestSettings
from services.ingest.app import create_app
from tests.unit import without_servers as offline

REGISTRY = offline.sample_registry()
NOWHERE = IngestSettings(**offline.CLOSED_PORTS)
PUBLISHING = [
    ("post", "/v1/feeds/air/readings"),
    ("post", "/v1/feeds/air/readings/batch"),
    ("post", "/v1/feeds/air/history"),
    ("get", "/v1/rejections"),
    ("get", "/v1/receipts/r1"),
]


@pytest.fixture(scope="module")
def client() -> TestClient:
    # The lifespan (following the worker's outcomes on Kafka) does not run.
    return offline.client_without_lifespan(create_app(NOWHERE, REGISTRY))


def test_health_answers_without_redis_or_kafka(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_the_feed_list_names_the_departments_that_publish_each_feed(client: TestClient) -> None:
    listed = client.get("/v1/feeds").json()
    assert sorted(listed) == sorted(FEEDS)
    publishes = REGISTRY.feeds_by_department()
    for feed, departments in listed.items():
        assert departments == sorted(d for d, feeds in publishes.items() if feed in feeds)
    assert listed["air"] == ["environment"]


def test_a_feed_schema_is_its_json_schema_and_an_unknown_feed_is_named_with_the_known_ones(client: TestClient) -> None:
    schema = client.get("/v1/feeds/air/schema").json()
    assert {"station", "observed_at", "pm25"} <= set(schema["properties"])
    assert "station" in schema["required"]
    unknown = client.get("/v1/feeds/smoke/schema")
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == f"unknown feed 'smoke'; known: {', '.join(FEEDS)}"


@pytest.mark.parametrize(("method", "path"), PUBLISHING)
def test_without_a_key_every_publisher_route_answers_401_and_says_how_to_get_one(
    client: TestClient, method: str, path: str
) -> None:
    response = client.request(method, path, json=[])
    offline.assert_asks_for_a_key(response)
    assert "citywatch keys create" in response.json()["detail"]


@pytest.mark.parametrize(("method", "path"), PUBLISHING)
def test_while_redis_is_down_a_keyed_request_answers_503_with_retry_after(
    client: TestClient, method: str, path: str
) -> None:
    offline.assert_redis_is_down(
        client.request(method, path, json=[], headers=offline.SOME_KEY), "API keys, rate limits, dedup"
    )


def test_the_openapi_document_gives_every_publishing_route_its_answers(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for route in ("/v1/feeds/{feed}/readings", "/v1/feeds/{feed}/readings/batch", "/v1/feeds/{feed}/history"):
        answers = set(paths[route]["post"]["responses"])
        assert {"202", "401", "403", "409", "413", "422", "429", "503"} <= answers, route
    assert "/healthz" not in paths
