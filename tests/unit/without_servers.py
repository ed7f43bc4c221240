"""The services' HTTP apps through FastAPI's test client with no servers behind them: Redis and Kafka at closed
ports, and the app's lifespan (its Kafka loops) never run."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from citywatch.site_registry import Registry, load_registry
from tools.devstack.config import REPO_ROOT

# Closed ports: every call to Redis or Kafka fails at once.
CLOSED_PORTS = {"redis_url": "redis://127.0.0.1:1/0", "kafka_bootstrap": "127.0.0.1:1"}
# A key the app cannot check while Redis is down.
SOME_KEY = {"Authorization": "Bearer some-key"}


def sample_registry() -> Registry:
    return load_registry(REPO_ROOT / "registry" / "wujiang-sample.yaml")


def client_without_lifespan(app: FastAPI) -> TestClient:
    """The test client, not entered as a context manager: the app's lifespan does not run."""
    return TestClient(app)


def assert_asks_for_a_key(response: Response) -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def assert_redis_is_down(response: Response, held: str) -> None:
    """503 with a Retry-After, naming what Redis holds for the app (`held`)."""
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["detail"].startswith(f"Redis ({held}) is unavailable")
