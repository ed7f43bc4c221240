"""Delivery to Alertmanager's v2 API."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

log = logging.getLogger("citywatch.alerts")


def to_alertmanager(alert: dict[str, Any], status: str, since: float, ends_in: timedelta) -> dict[str, Any]:
    """One Alertmanager alert. Firing alerts end a few resend intervals ahead; resolved ones end now."""
    now = datetime.now(UTC)
    labels = {
        "alertname": alert["rule_id"],
        "severity": alert["severity"],
        "department": alert["department"],
        **alert.get("labels", {}),
    }
    annotations = {**alert.get("annotations", {}), "source": alert["source"], "fingerprint": alert["fingerprint"]}
    return {
        "labels": labels,
        "annotations": annotations,
        "startsAt": datetime.fromtimestamp(since, UTC).isoformat(),
        "endsAt": (now + ends_in if status == "firing" else now).isoformat(),
    }


class AlertmanagerClient:
    def __init__(self, base_url: str, timeout_s: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(timeout=timeout_s)

    async def post(self, alerts: list[dict[str, Any]]) -> None:
        if not alerts:
            return
        response = await self._client.post(f"{self.base_url}/api/v2/alerts", json=alerts)
        response.raise_for_status()

    async def close(self) -> None:
        await self._client.aclose()
