"""The alert service's pure pieces: transition records and their round trip through the outbox, amendments,
Alertmanager labels and the settings that shape them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from citywatch.rule_engine.evaluation import RuleEvaluation
from citywatch.settings import AlertSettings
from services.alerts.alertmanager import alert_labels
from services.alerts.store import Transition, _amendment, _from_entry

DATA = {
    "rule_id": "air-pm25-24h-grade2",
    "site": "wj-songling",
    "severity": "warning",
    "department": "environment",
    "labels": {"site": "wj-songling", "feed": "air"},
    "value": 80.0,
}


def evaluation(outcome: str, revision: int, value: float = 80.0) -> RuleEvaluation:
    return RuleEvaluation(
        rule_id="r",
        fingerprint="fp",
        site="s",
        indicator="air.pm25.mean_24h",
        value=value,
        unit="µg/m³",
        outcome=outcome,  # type: ignore[arg-type]
        threshold=75.0,
        threshold_source="rule value",
        unverified=False,
        observed_at=datetime(2026, 5, 1, tzinfo=UTC),
        revision=revision,
        severity="warning",
        department="environment",
        source="test",
        labels={},
        annotations={},
    )


def test_transition_record_round_trips_through_the_outbox() -> None:
    t = Transition("", "fp1", 3, "resolved", 1.5e9, DATA, "firing", suppressed=["acknowledged"], ack={"by": "x"})
    back = _from_entry("1-0", {b"entry": json.dumps(t.record()).encode()})
    assert back == Transition("1-0", "fp1", 3, "resolved", 1.5e9, DATA, "firing", None, ["acknowledged"], {"by": "x"})
    assert back.transition_id == "fp1:3" and back.notifies


def test_pending_and_amended_records_do_not_notify_and_amendments_have_their_own_id() -> None:
    assert not Transition("", "fp", 1, "pending", 1.0, DATA).notifies
    amended = Transition("", "fp", 1, "amended", 1.0, DATA, amendment={"revision": 2})
    assert not amended.notifies
    assert amended.transition_id == "fp:amend:2:1000"
    # Two amendments of one revision at event times a minute apart: distinct ids (the old `:g` format gave both
    # "1.79623e+09").
    day = datetime(2026, 12, 1, tzinfo=UTC).timestamp()
    ids = {
        Transition("", "fp", 1, "amended", at, DATA, amendment={"revision": 5}).transition_id for at in (day, day + 60)
    }
    assert len(ids) == 2


def test_amendment_only_when_a_higher_revision_of_the_same_event_time_changes_the_outcome() -> None:
    at = datetime(2026, 5, 1, tzinfo=UTC).timestamp()
    before = {"last_at": repr(at), "last_revision": "0", "last_outcome": "breach"}
    found = _amendment(before, evaluation("clear", 1, 60.0), at)
    assert found == {
        "revision": 1,
        "previous_revision": 0,
        "previous_outcome": "breach",
        "outcome": "clear",
        "value": 60.0,
    }
    assert _amendment(before, evaluation("breach", 1), at) is None  # same outcome
    assert _amendment(before, evaluation("clear", 0), at) is None  # not a revision
    assert _amendment(before, evaluation("clear", 1), at + 3600) is None  # a later bucket, not a revision
    assert _amendment({}, evaluation("clear", 1), at) is None  # nothing applied before


def test_alertmanager_labels_are_the_alerts_identity() -> None:
    assert alert_labels(DATA) == {
        "alertname": "air-pm25-24h-grade2",
        "severity": "warning",
        "department": "environment",
        "site": "wj-songling",
        "feed": "air",
    }


def test_alert_settings_parse_webhooks_and_extra_labels() -> None:
    settings = AlertSettings(webhook_urls=" http://a/x , http://b/y ", alertmanager_extra_labels="env=prod, cluster=sz")
    assert settings.webhook_url_list == ["http://a/x", "http://b/y"]
    assert settings.alertmanager_label_map == {"env": "prod", "cluster": "sz"}
    with pytest.raises(ValidationError, match="has no '='"):
        AlertSettings(alertmanager_extra_labels="prod")
