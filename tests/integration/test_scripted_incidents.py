"""The simulator's scripted incidents, end to end: each raises its alert once — on the alerts topic, in
Alertmanager with its source cited, at a webhook receiver — and resolves when the incident ends.

The simulator runs five days back at 7,200× (two simulated hours a second), so even the one-day incident fires for
several real seconds and Alertmanager can be watched while it does. The worker's processing clock follows the events,
as in `make up`, with staleness judged every half second (one simulated hour).
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from citywatch.topics import Topics
from services.simulator.incidents import (
    DEFAULT_INCIDENTS,
    PlantOverCapacity,
    PollutionEpisode,
    SectionDegradation,
    SilentSensor,
)
from tests.conftest import Isolation
from tests.integration.conftest import start_simulator
from tests.integration.kafka_reads import read_until
from tests.integration.webhook_receiver import WebhookReceiver
from tools.devstack.config import StackConfig
from tools.devstack.services import DEMO_WORKER_CLOCK

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


class AlertmanagerWatch:
    """Polls Alertmanager twice a second during the run and remembers every alert of one isolation it saw."""

    def __init__(self, stack: StackConfig, test_id: str) -> None:
        self.url = f"{stack.alertmanager_url}/api/v2/alerts"
        self.test_id = test_id
        self.seen: dict[tuple[str, str], dict[str, Any]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(0.5):
            with contextlib.suppress(httpx.HTTPError):
                for alert in httpx.get(self.url, params={"filter": f"test={self.test_id}"}, timeout=5).json():
                    labels = alert["labels"]
                    self.seen.setdefault((labels["alertname"], labels.get("site", "")), alert)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class IncidentsRun:
    stack: StackConfig
    isolation: Isolation
    webhook: WebhookReceiver
    alertmanager: AlertmanagerWatch


@pytest.fixture(scope="module")
def incidents_run(stack: StackConfig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IncidentsRun]:
    iso = Isolation(stack, tmp_path_factory.mktemp("incidents"))
    webhook = WebhookReceiver()
    watch = AlertmanagerWatch(stack, iso.id)
    try:
        iso.ensure_topics(partitions=2)
        ingest = iso.start("ingest", "CITYWATCH_INGEST_PORT", health_path="/healthz")
        iso.start(
            "worker",
            "CITYWATCH_WORKER_WEB_PORT",
            **{**DEMO_WORKER_CLOCK, "CITYWATCH_WORKER_STALENESS_INTERVAL_S": "0.5"},
        )
        iso.start("alerts", "CITYWATCH_ALERTS_PORT", health_path="/healthz", CITYWATCH_WEBHOOK_URLS=webhook.url)
        start_simulator(iso, ingest, "--days-back", "5", "--speed", "7200", "--seed", "7")
        yield IncidentsRun(stack, iso, webhook, watch)
    finally:
        watch.stop()
        webhook.close()
        iso.close()


# The simulator's scripted incidents (services/simulator/incidents.py) and the alert each must raise and resolve.
INCIDENT_ALERTS = {
    PollutionEpisode: "air-pm25-24h-grade2",
    SectionDegradation: "water-national-section-worse-than-target",
    PlantOverCapacity: "waste-plant-over-capacity",
    # The worker's clock follows the simulator's events (as in `make up`), so the silenced station goes stale.
    SilentSensor: "air-station-silent",
}


def test_scripted_incidents_raise_their_alerts_once_and_resolve(incidents_run: IncidentsRun) -> None:
    expected = {
        (rule, i.site) for i in DEFAULT_INCIDENTS for kind, rule in INCIDENT_ALERTS.items() if isinstance(i, kind)
    }
    assert len(expected) == len(INCIDENT_ALERTS)
    topics = Topics(incidents_run.isolation.id)

    def statuses(records: list[dict[str, Any]], rule: str, site: str) -> list[str]:
        return [
            r["status"]
            for r in records
            if r["rule_id"] == rule and r["site"] == site and r["status"] in ("firing", "resolved")
        ]

    def all_resolved(records: list[dict[str, Any]]) -> bool:
        return all(statuses(records, rule, site)[-1:] == ["resolved"] for rule, site in expected)

    seen: list[dict[str, Any]] = []

    def done(records: list[dict[str, Any]]) -> bool:
        seen[:] = records
        return all_resolved(records)

    try:
        records = read_until(incidents_run.stack.kafka_bootstrap, topics.alerts, done, timeout_s=180)
    except AssertionError:
        found = {f"{rule} at {site}": statuses(seen, rule, site) for rule, site in sorted(expected)}
        raise AssertionError(f"each incident's alert should fire and resolve once; transitions seen: {found}") from None
    for rule, site in sorted(expected):
        history = [
            (r["status"], r.get("observed_at"), r.get("value"), r.get("threshold"))
            for r in records
            if r["rule_id"] == rule and r["site"] == site
        ]
        assert statuses(records, rule, site) == ["firing", "resolved"], (rule, site, history)
        firing = next(r for r in records if r["rule_id"] == rule and r["site"] == site and r["status"] == "firing")
        assert re.search(r"plan-indicators\.md|standards\.md|GB \d+", firing["source"]), firing["source"]
        # Alertmanager had it, with its source cited, while it fired.
        seen = incidents_run.alertmanager.seen.get((rule, site))
        assert seen is not None, (
            f"{rule} at {site} never reached Alertmanager; saw {sorted(incidents_run.alertmanager.seen)}"
        )
        assert seen["annotations"]["source"] == firing["source"]
        # And each webhook receiver call matches one transition: nobody paged twice.
        fp = firing["fingerprint"]
        deadline = time.monotonic() + 30
        while incidents_run.webhook.statuses(fp) != ["firing", "resolved"] and time.monotonic() < deadline:
            time.sleep(0.5)
        assert incidents_run.webhook.statuses(fp) == ["firing", "resolved"], (rule, site)
