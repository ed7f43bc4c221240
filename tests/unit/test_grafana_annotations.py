"""The alert service's Grafana annotations: what it sends Grafana's HTTP API (`POST /api/annotations` when an alert
fires, `PATCH /api/annotations/{id}` when it resolves), read at a stand-in transport (no Grafana runs here)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from services.alerts.notifiers import GrafanaAnnotations

RECORD: dict[str, Any] = {
    "rule_id": "air-pm25-24h-grade2",
    "site": "wj-songling",
    "severity": "warning",
    "department": "environment",
    "value": 81.0,
    "unit": "µg/m³",
    "threshold": 60.0,
    "source": "GB 3095-2026 Table 1",
    "annotations": {"summary": "PM2.5 24-hour mean 81 µg/m³ at wj-songling is above the limit"},
}


class Grafana:
    """Answers as Grafana does, and keeps every request."""

    def __init__(self, status: int = 200) -> None:
        self.requests: list[httpx.Request] = []
        self.status = status

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.status != 200:
            return httpx.Response(self.status, json={"message": "Unauthorized"})
        if request.method == "POST":
            return httpx.Response(200, json={"id": 17, "message": "Annotation added"})
        return httpx.Response(200, json={"message": "Annotation patched"})


def test_an_alert_opens_a_region_and_closes_it_when_it_resolves() -> None:
    grafana = Grafana()
    annotations = GrafanaAnnotations("http://grafana:3000/", "glsa_token", transport=httpx.MockTransport(grafana))

    async def run() -> str:
        opened = await annotations.opened(RECORD, since=1_780_000_000.0)
        await annotations.closed(opened, RECORD, since=1_780_000_000.0, at=1_780_003_600.0)
        await annotations.close()
        return opened

    assert asyncio.run(run()) == "17"
    post, patch = grafana.requests
    assert (post.method, str(post.url)) == ("POST", "http://grafana:3000/api/annotations")
    assert post.headers["Authorization"] == "Bearer glsa_token"
    body = json.loads(post.content)
    assert body["time"] == 1_780_000_000_000
    assert body["tags"] == ["citywatch", "air-pm25-24h-grade2", "wj-songling", "warning", "environment"]
    assert body["text"].startswith("PM2.5 24-hour mean 81 µg/m³ at wj-songling is above the limit<br/>81.0 µg/m³")
    assert (patch.method, str(patch.url)) == ("PATCH", "http://grafana:3000/api/annotations/17")
    assert json.loads(patch.content) == {"time": 1_780_000_000_000, "timeEnd": 1_780_003_600_000}


def test_a_refusal_is_an_error_the_service_can_count() -> None:
    annotations = GrafanaAnnotations("http://grafana:3000", "", transport=httpx.MockTransport(Grafana(status=401)))
    with pytest.raises(httpx.HTTPStatusError, match="401"):
        asyncio.run(annotations.opened(RECORD, since=1_780_000_000.0))
