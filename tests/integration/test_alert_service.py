"""The alert service against real Kafka, Redis and Alertmanager, and a real HTTP webhook receiver.

Rule evaluations are produced straight onto the test's rule-evaluations topic, so each test controls outcomes and
event times exactly; the worker's side is covered by the end-to-end and restart tests.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from kafka import KafkaProducer

from citywatch.rule_engine.evaluation import fingerprint
from tests.conftest import Isolation
from tests.integration.cli_runs import run_citywatch
from tests.integration.conftest import rule_evaluation, start_alerts
from tests.integration.kafka_reads import read_until
from tests.integration.webhook_receiver import WebhookReceiver

RULE = "test-pm25-hourly"


class Evaluations:
    """Produces rule evaluations of one rule for the test's sites."""

    def __init__(self, isolation: Isolation, rule: str = RULE, **fields: Any) -> None:
        self.isolation = isolation
        self.topic = isolation.ensure_topics().rule_evaluations
        self.rule = rule
        self.fields = fields
        self.producer = KafkaProducer(bootstrap_servers=isolation.stack.kafka_bootstrap, acks="all")

    def send(self, site: str, outcome: str, at: datetime, value: float, revision: int = 0, **fields: Any) -> None:
        evaluation = rule_evaluation(
            self.rule,
            site,
            outcome,
            value,
            at,
            test_id=self.isolation.id,
            **{"revision": revision, "source": "test rule, standards.md GB 3095-2012", **self.fields, **fields},
        )
        self.producer.send(self.topic, key=site.encode(), value=json.dumps(evaluation).encode())
        self.producer.flush()

    def close(self) -> None:
        self.producer.close()


@pytest.fixture
def evaluations(isolation: Isolation) -> Iterator[Evaluations]:
    producer = Evaluations(isolation)
    yield producer
    producer.close()


@pytest.fixture
def alerts_url(isolation: Isolation, webhook: WebhookReceiver, evaluations: Evaluations) -> str:
    """The test's alert service, started once its topics exist, notifying the webhook receiver: its base URL."""
    return start_alerts(isolation, CITYWATCH_WEBHOOK_URLS=webhook.url)


def wait_for(check: Callable[[], Any], what: str, timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.3)
    raise AssertionError(f"{what}: not within {timeout_s} s")


def alertmanager_alert(isolation: Isolation, site: str) -> dict[str, Any] | None:
    found = httpx.get(
        f"{isolation.stack.alertmanager_url}/api/v2/alerts",
        params=[("filter", f"test={isolation.id}"), ("filter", f"site={site}")],
        timeout=5,
    ).json()
    return found[0] if found else None


def transitions(records: list[dict[str, Any]], fp: str) -> list[str]:
    return [r["status"] for r in records if r["fingerprint"] == fp]


T0 = datetime(2026, 5, 1, 8, tzinfo=UTC)


def test_for_duration_pending_firing_resolved_reach_topic_alertmanager_and_webhook(
    isolation: Isolation, webhook: WebhookReceiver
) -> None:
    evaluations = Evaluations(isolation, for_s=7200.0)
    base = start_alerts(isolation, CITYWATCH_WEBHOOK_URLS=webhook.url)
    site = "wj-songling"
    fp = fingerprint(RULE, site)
    topic = isolation.ensure_topics().alerts

    # Breaching for less than `for` stays pending: recorded, nobody told.
    evaluations.send(site, "breach", T0, 90.0)
    evaluations.send(site, "breach", T0 + timedelta(hours=1), 91.0)
    read_until(isolation.stack.kafka_bootstrap, topic, lambda rs: transitions(rs, fp) == ["pending"])
    assert webhook.calls == []
    key = isolation.api_key("environment", "oncall")
    auth = {"Authorization": f"Bearer {key}"}
    response = httpx.get(f"{base}/v1/alerts", headers=auth)
    assert response.status_code == 200, response.text
    active = response.json()
    assert [(a["fingerprint"], a["status"]) for a in active] == [(fp, "pending")]

    # Two hours after it started, it fires: once on the topic, once at the webhook, and in Alertmanager.
    evaluations.send(site, "breach", T0 + timedelta(hours=2), 92.0)
    evaluations.send(site, "breach", T0 + timedelta(hours=3), 93.0)
    read_until(isolation.stack.kafka_bootstrap, topic, lambda rs: transitions(rs, fp) == ["pending", "firing"])
    wait_for(lambda: webhook.statuses(fp) == ["firing"], "the firing webhook call")
    am = wait_for(lambda: alertmanager_alert(isolation, site), "the alert in Alertmanager")
    assert am["labels"]["alertname"] == RULE and am["annotations"]["source"].startswith("test rule")
    assert webhook.calls[0]["key"] == f"{fp}:2"

    # It resolves on a clear outcome; Alertmanager gets an explicit end.
    evaluations.send(site, "clear", T0 + timedelta(hours=4), 20.0)
    records = read_until(isolation.stack.kafka_bootstrap, topic, lambda rs: "resolved" in transitions(rs, fp))
    assert transitions(records, fp) == ["pending", "firing", "resolved"]
    wait_for(lambda: webhook.statuses(fp) == ["firing", "resolved"], "the resolved webhook call")
    # Alertmanager lists an alert only until its end, which the resolve set to now.
    wait_for(lambda: alertmanager_alert(isolation, site) is None, "Alertmanager to end the resolved alert")

    history = httpx.get(f"{base}/v1/history", params={"rule": RULE}, headers=auth).json()
    assert [h["status"] for h in history] == ["resolved", "firing", "pending"]
    evaluations.close()


def test_ack_silences_in_alertmanager_until_resolved_and_roles_are_enforced(
    isolation: Isolation, webhook: WebhookReceiver, evaluations: Evaluations, alerts_url: str
) -> None:
    site = "wj-lili"
    fp = fingerprint(RULE, site)
    evaluations.send(site, "breach", T0, 120.0)
    wait_for(lambda: alertmanager_alert(isolation, site), "the alert in Alertmanager")

    body = {"comment": "sensor crew on the way"}
    assert httpx.post(f"{alerts_url}/v1/alerts/{fp}/ack", json=body).status_code == 401
    publisher = {"Authorization": f"Bearer {isolation.api_key('environment')}"}
    assert httpx.post(f"{alerts_url}/v1/alerts/{fp}/ack", json=body, headers=publisher).status_code == 403
    water = {"Authorization": f"Bearer {isolation.api_key('water', 'oncall')}"}
    refused = httpx.post(f"{alerts_url}/v1/alerts/{fp}/ack", json=body, headers=water)
    assert refused.status_code == 403 and "environment" in refused.json()["detail"]
    oncall = {"Authorization": f"Bearer {isolation.api_key('environment', 'oncall')}"}

    acked = httpx.post(f"{alerts_url}/v1/alerts/{fp}/ack", json=body, headers=oncall)
    assert acked.status_code == 200, acked.text
    silence_id = acked.json()["ack"]["silence_id"]
    held = wait_for(
        lambda: (a := alertmanager_alert(isolation, site)) and a["status"]["state"] == "suppressed" and a,
        "the acked alert to be suppressed in Alertmanager",
    )
    assert silence_id in held["status"]["silencedBy"]
    assert httpx.post(f"{alerts_url}/v1/alerts/{fp}/ack", json=body, headers=oncall).status_code == 409

    # Un-ack: notifications resume; ack again, then the resolve ends the silence.
    assert httpx.delete(f"{alerts_url}/v1/alerts/{fp}/ack", headers=oncall).status_code == 200
    wait_for(
        lambda: (a := alertmanager_alert(isolation, site)) and a["status"]["state"] == "active",
        "the un-acked alert to be active again",
    )
    silence_id = httpx.post(f"{alerts_url}/v1/alerts/{fp}/ack", json=body, headers=oncall).json()["ack"]["silence_id"]
    evaluations.send(site, "clear", T0 + timedelta(hours=1), 10.0)
    silence = wait_for(
        lambda: (
            (s := httpx.get(f"{isolation.stack.alertmanager_url}/api/v2/silence/{silence_id}").json())["status"][
                "state"
            ]
            == "expired"
            and s
        ),
        "the ack's silence to expire when the alert resolves",
    )
    assert silence["createdBy"].startswith("environment/")
    # the resolution reaches the webhook through the outbox (drained every second), after the silence expired
    wait_for(lambda: len(webhook.statuses(fp)) >= 2, "the resolution at the webhook")
    assert webhook.statuses(fp) == ["firing", "resolved"]  # an ack holds back repeats, not the resolution
    history = httpx.get(f"{alerts_url}/v1/history", params={"site": site}, headers=oncall).json()
    assert [h["status"] for h in history] == ["resolved", "acknowledged", "unacknowledged", "acknowledged", "firing"]


def test_maintenance_holds_back_notifications_but_records_transitions(
    isolation: Isolation, webhook: WebhookReceiver, evaluations: Evaluations, alerts_url: str
) -> None:
    site = "wj-shengze"
    fp = fingerprint(RULE, site)
    admin = {"Authorization": f"Bearer {isolation.api_key('water', 'admin')}"}
    now = datetime.now(UTC)
    window = httpx.post(
        f"{alerts_url}/v1/maintenance",
        json={
            "site": site,
            "starts_at": (now - timedelta(minutes=1)).isoformat(),
            "ends_at": (now + timedelta(minutes=30)).isoformat(),
            "comment": "analyser calibration",
        },
        headers=admin,
    )
    assert window.status_code == 201, window.text
    unknown = httpx.post(
        f"{alerts_url}/v1/maintenance",
        json={"site": "nowhere", "starts_at": now.isoformat(), "ends_at": now.isoformat(), "comment": "x"},
        headers=admin,
    )
    assert unknown.status_code == 422 and "unknown site 'nowhere'" in unknown.text
    # Capped: a week at most (a 200-year silence, or one ending in year 9999, was taken or answered 502 before),
    # starting at most 90 days ahead.
    for ends in (now + timedelta(days=8), "2226-12-05T21:10:00+08:00", "9999-12-31T23:59:59+00:00"):
        too_long = httpx.post(
            f"{alerts_url}/v1/maintenance",
            json={"site": site, "starts_at": now.isoformat(), "ends_at": str(ends), "comment": "x"},
            headers=admin,
        )
        assert too_long.status_code == 422 and "at most 7 days" in too_long.json()["detail"], too_long.text
    far = httpx.post(
        f"{alerts_url}/v1/maintenance",
        json={
            "site": site,
            "starts_at": (now + timedelta(days=200)).isoformat(),
            "ends_at": (now + timedelta(days=200, hours=2)).isoformat(),
            "comment": "x",
        },
        headers=admin,
    )
    assert far.status_code == 422 and "90 days ahead" in far.json()["detail"], far.text
    try:
        evaluations.send(site, "breach", T0, 150.0)
        records = read_until(
            isolation.stack.kafka_bootstrap,
            isolation.ensure_topics().alerts,
            lambda rs: transitions(rs, fp) == ["firing"],
        )
        assert [r["suppressed"] for r in records if r["fingerprint"] == fp] == [["maintenance"]]
        held = wait_for(
            lambda: (a := alertmanager_alert(isolation, site)) and a["status"]["state"] == "suppressed" and a,
            "the alert of a site in maintenance to be suppressed",
        )
        assert held["status"]["silencedBy"] == [window.json()["silence_id"]]
        time.sleep(2)  # the webhook queue drains every second: give a wrong delivery its chance
        assert webhook.calls == []
    finally:
        httpx.delete(f"{alerts_url}/v1/maintenance/{window.json()['id']}", headers=admin)


def test_a_silence_set_in_alertmanager_holds_back_the_webhook_for_firing_and_resolve(
    isolation: Isolation, webhook: WebhookReceiver, evaluations: Evaluations
) -> None:
    start_alerts(isolation, CITYWATCH_WEBHOOK_URLS=webhook.url)
    site = "wj-songling"
    fp = fingerprint(RULE, site)
    now = datetime.now(UTC)
    silence = httpx.post(
        f"{isolation.stack.alertmanager_url}/api/v2/silences",
        json={
            "matchers": [
                {"name": "test", "value": isolation.id, "isRegex": False, "isEqual": True},
                {"name": "site", "value": site, "isRegex": False, "isEqual": True},
            ],
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(minutes=30)).isoformat(),
            "createdBy": "operator",
            "comment": "known issue",
        },
        timeout=10,
    )
    assert silence.status_code == 200, silence.text
    try:
        evaluations.send(site, "breach", T0, 140.0)
        evaluations.send(site, "clear", T0 + timedelta(hours=1), 10.0)
        records = read_until(
            isolation.stack.kafka_bootstrap,
            isolation.ensure_topics().alerts,
            lambda rs: transitions(rs, fp) == ["firing", "resolved"],
        )
        assert [r.get("suppressed") for r in records if r["fingerprint"] == fp] == [["silenced"], ["held"]]
        time.sleep(2)  # the webhook queue drains every second: give a wrong delivery its chance
        assert webhook.calls == []
    finally:
        httpx.delete(f"{isolation.stack.alertmanager_url}/api/v2/silence/{silence.json()['silenceID']}", timeout=10)


def test_revised_indicator_amends_the_alert_and_webhook_outage_loses_nothing(
    isolation: Isolation, webhook: WebhookReceiver, evaluations: Evaluations
) -> None:
    webhook.failing = True
    start_alerts(isolation, CITYWATCH_WEBHOOK_URLS=webhook.url)
    site = "wj-pingwang"
    fp = fingerprint(RULE, site)
    topic = isolation.ensure_topics().alerts

    evaluations.send(site, "breach", T0, 80.0)
    # The provider revises that hour to 60: the outcome changes, so the alert resolves and an audit record says why.
    evaluations.send(site, "clear", T0, 60.0, revision=1)
    # A repeat of the revision, and an older event, change nothing.
    evaluations.send(site, "clear", T0, 60.0, revision=1)
    evaluations.send(site, "breach", T0 - timedelta(hours=1), 99.0)
    records = read_until(isolation.stack.kafka_bootstrap, topic, lambda rs: "resolved" in transitions(rs, fp))
    time.sleep(1.5)
    records = read_until(isolation.stack.kafka_bootstrap, topic, lambda rs: len(transitions(rs, fp)) >= 3)
    assert transitions(records, fp) == ["firing", "amended", "resolved"]
    amended = next(r for r in records if r["status"] == "amended")
    assert amended["amendment"] == {
        "revision": 1,
        "previous_revision": 0,
        "previous_outcome": "breach",
        "outcome": "clear",
        "value": 60.0,
    }

    # The receiver was down (503) meanwhile; once it is back it gets both transitions, in order, once.
    time.sleep(2)
    assert webhook.calls == []
    webhook.failing = False
    wait_for(lambda: webhook.statuses(fp) == ["firing", "resolved"], "the webhook calls after the outage", 60)
    time.sleep(2)
    assert webhook.statuses(fp) == ["firing", "resolved"]


def test_oncall_cli_lists_acks_and_shows_history(isolation: Isolation, evaluations: Evaluations) -> None:
    base = start_alerts(isolation)
    site = "wj-tongli"
    fp = fingerprint(RULE, site)
    evaluations.send(site, "breach", T0, 130.0)
    env = {
        **os.environ,
        "CITYWATCH_ALERTS_URL": base,
        "CITYWATCH_API_KEY": isolation.api_key("environment", "oncall"),
        "COLUMNS": "80",
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return run_citywatch(["oncall", *args], env, timeout=60)

    listed = wait_for(lambda: json.loads(cli("alerts", "--json").stdout or "[]"), "the alert in `oncall alerts`")
    assert [a["fingerprint"] for a in listed] == [fp]
    # A period's event time can lie ahead (a month's value is stamped at the month's end): "since" never does.
    month = "wj-songling"
    evaluations.send(month, "breach", datetime.now(UTC) + timedelta(days=20), 140.0)
    ahead = wait_for(
        lambda: [a for a in json.loads(cli("alerts", "--json").stdout or "[]") if a["site"] == month],
        "the alert stamped at its period's end",
    )
    assert ahead[0]["since"] <= time.time()
    acked = cli("ack", fp, "-m", "checking the analyser")
    assert acked.returncode == 0 and f"acknowledged {RULE} at {site}" in acked.stdout, acked.stderr
    again = cli("ack", fp, "-m", "twice")
    assert again.returncode == 1 and "already acknowledged" in again.stderr
    history = json.loads(cli("history", "--site", site, "--json").stdout)
    assert [h["status"] for h in history] == ["acknowledged", "firing"]
    assert history[0]["comment"] == "checking the analyser"
    assert cli("unack", fp[:6]).returncode == 0  # a unique start of the fingerprint does
    # At 80 columns the table wraps; the fingerprint stays whole on one line, to be copied.
    table = cli("alerts").stdout
    assert any(fp in line for line in table.splitlines()), table

    # Naive times are the deployment's local time (Asia/Shanghai), whatever the terminal's zone (TZ below).
    local = datetime.now(ZoneInfo("Asia/Shanghai")).replace(second=0, microsecond=0, tzinfo=None) + timedelta(hours=3)
    env["TZ"] = "America/New_York"
    made = cli("maintenance", "--site", site, "--to", local.isoformat(sep=" ", timespec="minutes"), "-m", "pump")
    assert made.returncode == 0, made.stderr
    assert "+08:00" in made.stdout  # shown in the deployment's zone, with its offset
    (window,) = json.loads(cli("maintenance", "--json").stdout)
    assert window["ends_at"] == local.replace(tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
    ended = cli("maintenance", "--end", window["id"][:5])
    assert ended.returncode == 0 and window["id"] in ended.stdout, ended.stderr


def test_a_historical_incident_is_recorded_and_published_but_pages_nobody_and_leaves_the_live_alert(
    isolation: Isolation, webhook: WebhookReceiver, evaluations: Evaluations, alerts_url: str
) -> None:
    """Backfilled history (issue 15): an episode of 2021 goes through the same lifecycle, apart from the live
    alert of the same rule and site: recorded in the history, published marked historical, never notified."""
    site = "wj-songling"
    fp = fingerprint(RULE, site)
    topic = isolation.ensure_topics().alerts
    evaluations.send(site, "breach", T0, 90.0)  # live: fires now
    read_until(isolation.stack.kafka_bootstrap, topic, lambda rs: transitions(rs, fp) == ["firing"])
    wait_for(lambda: webhook.statuses(fp) == ["firing"], "the live firing webhook call")
    past = datetime(2021, 1, 5, 8, tzinfo=UTC)
    evaluations.send(site, "breach", past, 120.0, historical=True)
    evaluations.send(site, "clear", past + timedelta(hours=6), 20.0, historical=True)
    records = read_until(isolation.stack.kafka_bootstrap, topic, lambda rs: len(transitions(rs, fp)) >= 3)
    historical = [r for r in records if r.get("historical")]
    assert [(r["status"], r["transition_id"]) for r in historical] == [
        ("firing", f"{fp}:past:1"),
        ("resolved", f"{fp}:past:2"),
    ]
    time.sleep(3)  # the outbox drains every second
    assert webhook.statuses(fp) == ["firing"]  # the live one only
    auth = {"Authorization": f"Bearer {isolation.api_key('environment', 'oncall')}"}
    active = httpx.get(f"{alerts_url}/v1/alerts", headers=auth).json()
    assert [(a["fingerprint"], a["status"], a["value"]) for a in active] == [(fp, "firing", 90.0)]
    history = httpx.get(f"{alerts_url}/v1/history", params={"site": site}, headers=auth).json()
    assert [(h["status"], bool(h.get("historical"))) for h in history] == [
        ("resolved", True), ("firing", True), ("firing", False),
    ]  # fmt: skip
    assert alertmanager_alert(isolation, site)["annotations"]["summary"] == "PM2.5 90.0 at wj-songling"  # type: ignore[index]


def test_each_webhook_receiver_gets_each_transition_once_signed_with_its_own_secret(
    isolation: Isolation, evaluations: Evaluations
) -> None:
    """Two receivers, one down for a while and then refusing: the healthy one gets every transition once and at
    once; the failing one, once it is back, gets each exactly once too (on 1efedca they shared one cursor: a retry
    re-sent to the healthy receiver, and a 4xx skipped every receiver after the refusing one)."""
    secrets = ("whsec_" + base64.b64encode(b"a" * 24).decode(), "whsec_" + base64.b64encode(b"b" * 24).decode())
    flaky, steady = WebhookReceiver(secrets[0]), WebhookReceiver(secrets[1])
    flaky.failing = True
    try:
        start_alerts(
            isolation, CITYWATCH_WEBHOOK_URLS=f"{flaky.url},{steady.url}", CITYWATCH_WEBHOOK_SECRETS=",".join(secrets)
        )
        site = "wj-zhenze"
        fp = fingerprint(RULE, site)
        evaluations.send(site, "breach", T0, 120.0)
        wait_for(lambda: steady.statuses(fp) == ["firing"], "the firing at the healthy receiver")
        wait_for(lambda: flaky.attempts >= 3, "the failing receiver to be retried")
        assert steady.statuses(fp) == ["firing"]  # the other receiver's retries re-send nothing here
        flaky.failing = False
        wait_for(lambda: flaky.statuses(fp) == ["firing"], "the firing at the receiver once it is back", 60)

        # A receiver that refuses (4xx) is not retried, and skips nobody else.
        flaky.refuse_with = 400
        evaluations.send(site, "clear", T0 + timedelta(hours=1), 10.0)
        wait_for(lambda: steady.statuses(fp) == ["firing", "resolved"], "the resolution at the healthy receiver")
        time.sleep(2)
        assert flaky.statuses(fp) == ["firing"] and steady.statuses(fp) == ["firing", "resolved"]
        # Signed per receiver: each verifies with its own secret, and the other's secret does not verify it.
        assert all(c["verified"] for c in flaky.calls + steady.calls)
        assert not flaky.verifies(*steady.raw[0]) and steady.verifies(*steady.raw[0])
    finally:
        flaky.close()
        steady.close()
