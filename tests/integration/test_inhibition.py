"""The severity model in the real Alertmanager: inhibition never hides an exceedance (docs/rules.md, "Severity and
inhibition"; deploy/alertmanager/alertmanager.yml).

Evaluations come from the shipped rules (`evaluate`), go through the alert service, and reach the test stack's
Alertmanager, which runs the shipped configuration. On 1efedca a critical of any rule held back every warning of
its site: the PM2.5 episode at wj-songling was `suppressed` by the annual projection.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
import pytest
from kafka import KafkaProducer

from citywatch.rule_engine.evaluation import RuleEvaluation, evaluate
from citywatch.rule_engine.loader import default_registry, load_rules
from tests.conftest import Isolation
from tests.integration.test_alert_service import wait_for
from tests.integration.webhook_receiver import WebhookReceiver
from tests.unit.rules.test_evaluation import record
from tools.devstack.config import REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

ZONE = dt.timezone(dt.timedelta(hours=8))
RULES = {r.id: r for r in load_rules(REPO_ROOT / "rules", default_registry())}
AT = dt.datetime(2026, 6, 20, 12, tzinfo=ZONE)


def judged(rule_id: str, site: str, value: float, **extra: Any) -> RuleEvaluation:
    """The shipped rule's evaluation of a record at AT (June: past every warm-up); it must breach."""
    found = evaluate(RULES[rule_id], record(RULES[rule_id].indicator, site, value, AT, **extra))
    assert found is not None and found.outcome == "breach", (rule_id, found)
    return found


def alert_states(isolation: Isolation) -> dict[tuple[str, str], dict[str, Any]]:
    found = httpx.get(
        f"{isolation.stack.alertmanager_url}/api/v2/alerts", params={"filter": f"test={isolation.id}"}, timeout=5
    ).json()
    return {(a["labels"]["alertname"], a["labels"]["site"]): a["status"] for a in found}


def test_a_critical_holds_back_only_its_own_family_and_never_an_exceedance(
    isolation: Isolation, webhook: WebhookReceiver
) -> None:
    alerts = isolation.start(
        "alerts", "CITYWATCH_ALERTS_PORT", health_path="/healthz", CITYWATCH_WEBHOOK_URLS=webhook.url
    )
    base = f"http://127.0.0.1:{alerts.metrics_port}"
    section = "wj-ws-lanxitang-shengze"
    # The annual projection as 1efedca shipped it: critical. The lint now refuses a critical plan-tracking rule, but
    # Alertmanager must hold the line whatever a rule file says.
    off_track = judged("air-pm25-attainment-off-track", "wj-songling", 41.0, status="off-track")
    evaluations = [
        off_track.model_copy(update={"severity": "critical"}),
        judged("air-pm25-annual-ytd-above-limit", "wj-songling", 41.0),
        judged("air-pm25-24h-grade2", "wj-songling", 82.0),
        judged("water-section-class-v-or-worse-month", section, 5, labels={"target_class": "III"}),
        judged("water-section-worse-than-target-month", section, 5, labels={"target_class": "III"}),
    ]
    topic = isolation.ensure_topics().rule_evaluations
    producer = KafkaProducer(bootstrap_servers=isolation.stack.kafka_bootstrap, acks="all")
    for evaluation in evaluations:
        body = evaluation.model_dump(mode="json")
        body["labels"] = {**body["labels"], "test": isolation.id}
        producer.send(topic, key=evaluation.site.encode(), value=json.dumps(body).encode())
    producer.flush()
    producer.close()

    def settled() -> dict[tuple[str, str], dict[str, Any]] | None:
        states = alert_states(isolation)
        if len(states) < len(evaluations):
            return None
        held = states[("water-section-worse-than-target-month", section)]
        return states if held["state"] == "suppressed" else None

    states = wait_for(settled, "every alert in Alertmanager, the lower water grade held back", timeout_s=60)
    # The PM2.5 episode is active beside a critical plan-tracking alert and a warning plan-tracking one.
    assert states[("air-pm25-24h-grade2", "wj-songling")]["state"] == "active"
    assert states[("air-pm25-24h-grade2", "wj-songling")]["inhibitedBy"] == []
    assert states[("air-pm25-annual-ytd-above-limit", "wj-songling")]["state"] == "active"
    # Within the water section's class family, class V holds back "worse than target" (one condition, two grades).
    assert states[("water-section-class-v-or-worse-month", section)]["state"] == "active"
    assert states[("water-section-worse-than-target-month", section)]["inhibitedBy"]
    # Runbook links are absolute, under the configured base (the local stack's alert service by default, which
    # serves the repository's docs/): on-call can open them.
    episode = next(
        a
        for a in httpx.get(
            f"{isolation.stack.alertmanager_url}/api/v2/alerts", params={"filter": f"test={isolation.id}"}, timeout=5
        ).json()
        if a["labels"]["alertname"] == "air-pm25-24h-grade2"
    )
    runbook = episode["annotations"]["runbook_url"]
    assert runbook.startswith("http://") and runbook.endswith("/runbooks/runbooks/air-pm25-24h.md"), runbook
    page = httpx.get(f"{base}/runbooks/runbooks/air-pm25-24h.md", timeout=5)
    assert page.status_code == 200 and "PM2.5" in page.text
    # And on-call's webhook got the episode.
    wait_for(
        lambda: webhook.statuses(judged("air-pm25-24h-grade2", "wj-songling", 82.0).fingerprint) == ["firing"],
        "the PM2.5 episode at the webhook",
    )
