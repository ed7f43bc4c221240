"""The alert service's HTTP API through FastAPI's test client, without servers: the on-call page, what every route
answers without a key, and what a keyed request answers while Redis is down (closed ports here). Acting on alerts
is the integration tests' (tests/integration/test_alert_service.py, test_oncall_page.py)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from citywatch.settings import AlertSettings
from services.alerts.app import create_app
from tests.unit import without_servers as offline

NOWHERE = AlertSettings(**offline.CLOSED_PORTS, timezone="Asia/Shanghai")
ONCALL = [
    ("get", "/v1/alerts"),
    ("get", "/v1/alerts/0123456789abcdef"),
    ("post", "/v1/alerts/0123456789abcdef/ack"),
    ("delete", "/v1/alerts/0123456789abcdef/ack"),
    ("get", "/v1/maintenance"),
    ("post", "/v1/maintenance"),
    ("delete", "/v1/maintenance/w1"),
    ("get", "/v1/history?site=wj-songling"),
]


@pytest.fixture(scope="module")
def client() -> TestClient:
    return offline.client_without_lifespan(create_app(NOWHERE, offline.sample_registry()))


def test_the_oncall_page_is_served_in_the_deployments_zone(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "Asia/Shanghai" in page.text and "{{ZONE}}" not in page.text
    assert client.get("/healthz").json() == {"status": "ok"}


@pytest.mark.parametrize(("method", "path"), ONCALL)
def test_without_a_key_every_route_answers_401(client: TestClient, method: str, path: str) -> None:
    offline.assert_asks_for_a_key(client.request(method, path))


@pytest.mark.parametrize(("method", "path"), ONCALL)
def test_while_redis_is_down_a_keyed_request_answers_503_with_retry_after(
    client: TestClient, method: str, path: str
) -> None:
    offline.assert_redis_is_down(client.request(method, path, headers=offline.SOME_KEY), "alert state, API keys")


def test_the_openapi_document_lists_every_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    documented = {(method, path) for path, item in paths.items() for method in item}
    assert documented == {
        (m, p.split("?")[0].replace("0123456789abcdef", "{fingerprint}").replace("w1", "{window_id}"))
        for m, p in ONCALL
    }
