"""Where transitions go besides the alerts topic and Alertmanager: webhook receivers and Grafana annotations."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

log = logging.getLogger("citywatch.alerts")


class WebhookError(Exception):
    def __init__(self, url: str, reason: str, retry: bool) -> None:
        super().__init__(f"webhook {url}: {reason}")
        self.url = url
        self.retry = retry


@dataclass(frozen=True)
class Receiver:
    """One webhook receiver: its URL and its Standard Webhooks secret (`whsec_…`; empty: unsigned)."""

    url: str
    secret: str = ""

    @property
    def id(self) -> str:
        """A stable name for the receiver's own delivery queue (its URL's hash: the URL may hold a token)."""
        return hashlib.sha256(self.url.encode()).hexdigest()[:12]


class Webhooks:
    """POSTs each transition record as JSON to a receiver, signed by the Standard Webhooks convention
    (https://www.standardwebhooks.com: `webhook-id` = the transition id, `webhook-timestamp`, `webhook-signature`
    = HMAC-SHA256 of id.timestamp.body with the receiver's secret), so the receiver can tell citywatch from anyone
    else and drop a repeat. `Idempotency-Key` carries the transition id too, for receivers that read that."""

    def __init__(self, receivers: list[Receiver], timeout_s: float = 5.0) -> None:
        self.receivers = receivers
        self._signers = {r.id: Webhook(r.secret) for r in receivers if r.secret}
        self._client = httpx.AsyncClient(timeout=timeout_s)

    def headers(self, receiver: Receiver, transition_id: str, body: bytes) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": transition_id,
            "User-Agent": "citywatch-alerts",
        }
        signer = self._signers.get(receiver.id)
        if signer is not None:
            now = datetime.now(UTC)
            headers["webhook-id"] = transition_id
            headers["webhook-timestamp"] = str(int(now.timestamp()))
            headers["webhook-signature"] = signer.sign(transition_id, now, body)
        return headers

    async def send(self, receiver: Receiver, record: dict[str, Any]) -> None:
        body = json.dumps(record, ensure_ascii=False).encode()
        url = receiver.url
        try:
            response = await self._client.post(
                url, content=body, headers=self.headers(receiver, str(record["transition_id"]), body)
            )
        except httpx.HTTPError as exc:
            raise WebhookError(url, f"unreachable ({exc!r})", retry=True) from exc
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise WebhookError(url, f"answered {response.status_code}", retry=True)
        if response.status_code >= 400:
            raise WebhookError(url, f"refused with {response.status_code}: {response.text[:300]}", retry=False)

    async def close(self) -> None:
        await self._client.aclose()


def annotation_text(record: dict[str, Any]) -> str:
    summary = record.get("annotations", {}).get("summary") or f"{record['rule_id']} at {record['site']}"
    return f"{summary}<br/>{record['value']} {record['unit']} (threshold {record['threshold']}); {record['source']}"


def annotation_tags(record: dict[str, Any]) -> list[str]:
    return ["citywatch", record["rule_id"], record["site"], record["severity"], record["department"]]


class GrafanaAnnotations:
    """One region annotation per alert: opened when it fires, closed when it resolves (Grafana's HTTP API,
    `POST /api/annotations` and `PATCH /api/annotations/{id}`, over the service's one HTTP client, httpx)."""

    def __init__(
        self, url: str, token: str, timeout_s: float = 5.0, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.AsyncClient(
            base_url=url.rstrip("/"), headers=headers, timeout=timeout_s, transport=transport
        )

    async def opened(self, record: dict[str, Any], since: float) -> str:
        body = {"time": _ms(since), "tags": annotation_tags(record), "text": annotation_text(record)}
        answer = await self._client.post("/api/annotations", json=body)
        answer.raise_for_status()
        return str(answer.json()["id"])

    async def closed(self, annotation_id: str, record: dict[str, Any], since: float, at: float) -> None:
        body = {"time": _ms(since), "timeEnd": _ms(max(at, since))}
        answer = await self._client.patch(f"/api/annotations/{annotation_id}", json=body)
        answer.raise_for_status()

    async def close(self) -> None:
        await self._client.aclose()


def _ms(epoch_s: float) -> int:
    return int(min(epoch_s, datetime.now(UTC).timestamp()) * 1000)
