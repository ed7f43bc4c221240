import time
from datetime import datetime, timedelta

from services.alerts.alertmanager import to_alertmanager

ALERT = {
    "rule_id": "waste-district-sorted-treatment-ytd-below-target",
    "severity": "warning",
    "department": "urban-management",
    "labels": {"site": "wj-district"},
    "annotations": {"summary": "s"},
    "source": "plan",
    "fingerprint": "abc",
}


def test_an_alert_whose_event_time_is_ahead_of_now_starts_now_not_after_it_ends() -> None:
    # A daily value's event time is the end of its local day: up to a day ahead of the processing clock.
    tomorrow = time.time() + 20 * 3600
    payload = to_alertmanager(ALERT, "firing", tomorrow, timedelta(minutes=3))
    starts = datetime.fromisoformat(payload["startsAt"])
    ends = datetime.fromisoformat(payload["endsAt"])
    assert starts < ends


def test_a_past_event_time_is_kept_as_the_start() -> None:
    payload = to_alertmanager(ALERT, "resolved", 1_750_000_000.0, timedelta(minutes=3))
    assert datetime.fromisoformat(payload["startsAt"]).timestamp() == 1_750_000_000.0
