"""The alert service's HTTP API through FastAPI's test client, without servers: the on-call page, what every route
answers without a key, and what a keyed request answers while Redis is down (closed ports here). Acting on alerts
is the integration tests' (tests/integration/test_alert_service.py, test_oncall_page.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from citywatch.settings import AlertSettings
from citywatch.site_registry import load_registry
from services.alerts.app import create_app
from tools.devstack.config import REPO_ROOT

NOWHERE = AlertSettings(redis_url="redis://127.0.0.1:1/0", kafka_bootstrap="127.0.0.1:1", timezone="Asia/Shanghai")
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
def client() -> Iterator[TestClient]:
    # Not entered as a context manager: the lifespan (the service's Kafka loops) does not run.
    yield TestClient(create_app(NOWHERE, load_registry(REPO_ROOT / "registry" / "wujiang-sample.yaml")))


def test_the_oncall_page_is_served_in_the_deployments_zone(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "Asia/Shanghai" in page.text and "{{ZONE}}" not in page.text
    assert client.get("/healthz").json() == {"status": "ok"}


@pytest.mark.parametrize(("method", "path"), ONCALL)
def test_without_a_key_every_route_answers_401(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path"), ONCALL)
def test_while_redis_is_down_a_keyed_request_answers_503_with_retry_after(
    client: TestClient, method: str, path: str
) -> None:
    response = client.request(method, path, headers={"Authorization": "Bearer some-key"})
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["detail"].startswith("Redis (alert state, API keys) is unavailable")


def test_the_openapi_document_lists_every_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    documented = {(method, path) for path, item in paths.items() for method in item}
    assert documented == {
        (m, p.split("?")[0].replace("0123456789abcdef", "{fingerprint}").replace("w1", "{window_id}"))
        for m, p in ONCALL
    }
