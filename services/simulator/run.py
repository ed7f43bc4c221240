"""Run the simulator: an accelerated clock that catches up with the wall clock, then runs in real time."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from prometheus_client import Counter, Gauge, start_http_server

from citywatch.settings import SimulatorSettings
from services.simulator.air import hourly_readings

log = logging.getLogger("citywatch.simulator")

POSTED = Counter("citywatch_simulator_readings_total", "Readings the simulator posted, by response", ["feed", "status"])
SIM_TIME = Gauge("citywatch_simulator_clock_seconds", "The simulator's clock (event time), epoch seconds")


def run(settings: SimulatorSettings, seed: int, days_back: float, speed: float, hours: int | None) -> int:
    """Post hourly readings from `days_back` days ago; return the number of hours simulated."""
    start_http_server(settings.simulator_metrics_port, addr=settings.simulator_metrics_host)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = now - timedelta(days=days_back)
    keys = json.loads(Path(settings.simulator_keys_file).read_text())
    real_start = time.monotonic()
    hour = 0
    headers = {"Authorization": f"Bearer {keys['environment']}"}
    with httpx.Client(base_url=settings.ingest_url, timeout=10, headers=headers) as client:
        while hours is None or hour < hours:
            sim_end = start + timedelta(hours=hour + 1)
            # Accelerated until the simulated clock reaches the wall clock; never ahead of it.
            due_real = (hour + 1) * 3600 / speed
            wait = max(due_real - (time.monotonic() - real_start), (sim_end - datetime.now(UTC)).total_seconds())
            if wait > 0:
                time.sleep(wait)
            batch = hourly_readings(seed, start, hour, settings.zone)
            post_until_accepted(client, batch)
            SIM_TIME.set(sim_end.timestamp())
            hour += 1
    return hour


def post_until_accepted(client: httpx.Client, batch: list[dict[str, object]]) -> None:
    delay = 1.0
    while True:
        try:
            response = client.post("/v1/feeds/air/readings/batch", json=batch)
        except httpx.HTTPError as exc:
            log.warning("gateway unreachable (%s); retrying in %.0f s", exc, delay)
        else:
            POSTED.labels(feed="air", status=str(response.status_code)).inc(len(batch))
            if response.status_code in (429, 503):
                delay = float(response.headers.get("Retry-After", delay))
            elif response.status_code == 202:
                return
            else:
                log.error("gateway rejected a batch (%s): %s", response.status_code, response.text)
                return
        time.sleep(delay)
        delay = min(delay * 2, 30.0)
