"""Alertmanager's v2 API: alerts in, silences for acknowledgements and maintenance."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

log = logging.getLogger("citywatch.alerts")


def to_alertmanager(alert: dict[str, Any], status: str, since: float, ends_in: timedelta) -> dict[str, Any]:
    """One Alertmanager alert. Firing alerts end a few resend intervals ahead; resolved ones end now."""
    now = datetime.now(UTC)
    labels = alert_labels(alert)
    annotations = {**alert.get("annotations", {}), "source": alert["source"], "fingerprint": alert["fingerprint"]}
    # A daily or year-to-date value's event time is the end of its day, possibly hours ahead of now; Alertmanager
    # refuses (400) an alert that starts after it ends.
    starts = min(datetime.fromtimestamp(since, UTC), now)
    return {
        "labels": labels,
        "annotations": annotations,
        "startsAt": starts.isoformat(),
        "endsAt": (now + ends_in if status == "firing" else now).isoformat(),
    }


def alert_labels(alert: dict[str, Any]) -> dict[str, str]:
    """The labels an alert carries in Alertmanager: its identity there, so a silence on exactly these labels
    silences exactly this alert."""
    return {
        "alertname": alert["rule_id"],
        "severity": alert["severity"],
        "department": alert["department"],
        **alert.get("labels", {}),
    }


def alert_name(alert: dict[str, Any]) -> str:
    labels = alert.get("labels", {})
    return f"{labels.get('alertname')} at {labels.get('site')}"


class AlertmanagerClient:
    def __init__(self, base_url: str, timeout_s: float = 5.0, extra_labels: dict[str, str] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.extra_labels = extra_labels or {}  # e.g. the deployment's name, on every alert and silence
        self._client = httpx.AsyncClient(timeout=timeout_s)

    async def post(self, alerts: list[dict[str, Any]]) -> None:
        if not alerts:
            return
        alerts = [{**a, "labels": {**a["labels"], **self.extra_labels}} for a in alerts]
        response = await self._client.post(f"{self.base_url}/api/v2/alerts", json=alerts)
        if response.status_code == 400 and len(alerts) > 1:
            # One alert Alertmanager refuses must not hold back the others: send them one by one.
            for alert in alerts:
                await self.post([alert])
            return
        if response.status_code == 400:
            log.error(
                "Alertmanager refused alert %s: %s",
                alert_name(alerts[0]),
                response.text.strip()[:500],
            )
            return  # re-sending the same alert cannot succeed; the alerts topic still has it
        response.raise_for_status()

    async def silence(
        self, matchers: dict[str, str], starts: datetime, ends: datetime, created_by: str, comment: str
    ) -> str:
        """Create a silence matching these labels exactly; returns its id."""
        matchers = {**matchers, **self.extra_labels}
        body = {
            "matchers": [{"name": k, "value": v, "isRegex": False, "isEqual": True} for k, v in matchers.items()],
            "startsAt": starts.isoformat(),
            "endsAt": ends.isoformat(),
            "createdBy": created_by,
            "comment": comment or "(no comment)",
        }
        response = await self._client.post(f"{self.base_url}/api/v2/silences", json=body)
        response.raise_for_status()
        return str(response.json()["silenceID"])

    async def silenced(self, labels: dict[str, str]) -> bool:
        """Whether a silence covers the alert with exactly these labels (not counting citywatch's own ack and
        maintenance silences, which citywatch already knows about)."""
        labels = {**labels, **self.extra_labels}
        params = httpx.QueryParams([("filter", f'{k}="{v}"') for k, v in labels.items()])
        response = await self._client.get(f"{self.base_url}/api/v2/alerts", params=params)
        response.raise_for_status()
        return any(a["status"]["silencedBy"] and a["labels"] == labels for a in response.json())

    async def expire_silence(self, silence_id: str) -> None:
        response = await self._client.delete(f"{self.base_url}/api/v2/silence/{silence_id}")
        if response.status_code != 404:  # already expired or garbage-collected: nothing left to do
            response.raise_for_status()

    async def close(self) -> None:
        await self._client.aclose()
