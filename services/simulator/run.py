"""Run the simulator: post each simulated hour's batches to the ingest gateway with each department's API key.

Transient failures (gateway unreachable, 429 and 503 with Retry-After, other 5xx) are retried until the batch is
accepted: no batch is dropped. A 4xx other than 429 cannot succeed by retrying, so it is logged and counted, and
the simulator moves on (the scripted malformed batch is expected to get a 422 and be dead-lettered).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import start_http_server

from citywatch.schemas.receipt import RECEIPT_HEADER
from citywatch.settings import SimulatorSettings
from citywatch.site_registry import load_registry
from services.simulator.clock import SimClock
from services.simulator.incidents import DEFAULT_INCIDENTS
from services.simulator.metrics import POSTED, SIM_TIME
from services.simulator.scenario import Batch, Scenario

log = logging.getLogger("citywatch.simulator")


MAX_BATCH = 500
MAX_RETRY_DELAY_S = 30.0


@dataclass
class Outcome:
    """The gateway's final answer to one batch (after retrying transient failures)."""

    status: int
    accepted: int = 0
    duplicates: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    detail: str = ""


class Poster:
    """Posts batches to the gateway, retrying what may succeed later and returning what will not."""

    def __init__(self, client: httpx.Client, sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self.sleep = sleep

    def post(
        self, feed: str, key: str, records: list[dict[str, Any]], receipt: str | None = None, history: bool = False
    ) -> Outcome:
        """Post a batch (to the history endpoint for a backfill), under `receipt` when given."""
        delay = 1.0
        headers = {"Authorization": f"Bearer {key}"}
        if receipt is not None:
            headers[RECEIPT_HEADER] = receipt
        path = f"/v1/feeds/{feed}/history" if history else f"/v1/feeds/{feed}/readings/batch"
        while True:
            try:
                response = self.client.post(path, json=records, headers=headers)
            except httpx.HTTPError as exc:
                POSTED.labels(feed=feed, status="unreachable").inc(len(records))
                log.warning("gateway unreachable (%s); retrying in %.0f s", exc, delay)
                wait = delay
            else:
                status = response.status_code
                POSTED.labels(feed=feed, status=str(status)).inc(len(records))
                if status == 202:
                    body = response.json()
                    return Outcome(status, body.get("accepted", 0), body.get("duplicates", 0))
                if status in (429, 503) or status >= 500:
                    wait = _retry_after(response, delay)
                    level = logging.INFO if status == 429 else logging.WARNING
                    log.log(
                        level,
                        "gateway answered %s for %d %s records; retrying in %.1f s",
                        status,
                        len(records),
                        feed,
                        wait,
                    )
                else:
                    return _refused(response)
            self.sleep(wait)
            delay = min(delay * 2, MAX_RETRY_DELAY_S)


def _retry_after(response: httpx.Response, default: float) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", default)))
    except ValueError:
        return default


def _refused(response: httpx.Response) -> Outcome:
    try:
        body = response.json()
    except ValueError:
        body = {"detail": response.text}
    if not isinstance(body, dict):
        body = {"detail": str(body)}
    errors = body.get("errors")
    if not isinstance(errors, list):
        errors = []
    return Outcome(response.status_code, errors=errors, detail=str(body.get("detail", "")))


def load_keys(path: str | Path) -> dict[str, str]:
    """The simulator keys file: a JSON object department id → API key."""
    data = json.loads(Path(path).read_text())
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise ValueError(f"{path}: expected a JSON object of department id -> API key")
    return data


def default_start(days_back: float, now: datetime | None = None) -> datetime:
    """The top of the current hour, `days_back` days ago (UTC)."""
    now = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    return now - timedelta(days=days_back)


def send(poster: Poster, keys: dict[str, str], batch: Batch) -> None:
    """Post one batch (in chunks of MAX_BATCH) with its department's key; log what the gateway refused."""
    key = keys.get(batch.department)
    if key is None:
        POSTED.labels(feed=batch.feed, status="no_key").inc(len(batch.records))
        log.error(
            "no API key for department %r in the keys file: %d %s records not sent",
            batch.department,
            len(batch.records),
            batch.feed,
        )
        return
    for offset in range(0, len(batch.records), MAX_BATCH):
        chunk = batch.records[offset : offset + MAX_BATCH]
        outcome = poster.post(batch.feed, key, chunk)
        if outcome.status == 202:
            continue
        if batch.malformed and outcome.status == 422:
            log.info(
                "scripted malformed %s batch refused by the gateway as expected (dead-lettered): %s",
                batch.feed,
                outcome.errors,
            )
        else:
            log.error(
                "gateway refused %d %s records of %s (%s): %s %s",
                len(chunk),
                batch.feed,
                batch.department,
                outcome.status,
                outcome.detail,
                outcome.errors[:5],
            )


def run(
    settings: SimulatorSettings,
    seed: int,
    days_back: float,
    speed: float | None,
    hours: int | None,
    start: datetime | None = None,
    incidents: bool = True,
) -> int:
    """Simulate from `start` (default: `days_back` days ago) for `hours` hours (default: forever); return the
    number of hours simulated. `speed=None` runs as fast as the gateway accepts (never past the wall clock)."""
    start_http_server(settings.simulator_metrics_port, addr=settings.simulator_metrics_host)
    registry = load_registry(settings.registry_file)
    keys = load_keys(settings.simulator_keys_file)
    start = (start or default_start(days_back)).replace(minute=0, second=0, microsecond=0)
    scenario = Scenario(registry, seed, start, settings.zone, DEFAULT_INCIDENTS if incidents else ())
    for reason in scenario.skipped:
        log.warning("left out: %s", reason)
    missing = sorted({d.id for d in registry.departments} - set(keys))
    if missing:
        log.error("the keys file %s has no key for %s: their feeds are not sent", settings.simulator_keys_file, missing)
    log.info(
        "simulating from %s, seed %d, %s, %d incidents",
        start.isoformat(),
        seed,
        "as fast as possible" if speed is None else f"{speed:g}x",
        len(scenario.incidents),
    )
    clock = SimClock(start, speed)
    with httpx.Client(base_url=settings.ingest_url, timeout=30) as client:
        poster = Poster(client)
        for step in count():
            if hours is not None and step >= hours:
                return step
            end = scenario.step_end(step)
            clock.wait_until(end)
            for batch in scenario.emissions(step):
                send(poster, keys, batch)
            SIM_TIME.set(end.timestamp())
    raise AssertionError("unreachable")  # pragma: no cover
