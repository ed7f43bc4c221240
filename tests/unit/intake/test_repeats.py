"""A repeated event id: duplicate, correction, conflict (naming the differing fields) or stale revision."""

from __future__ import annotations

from citywatch.intake.repeats import Published, judge


def test_verdicts() -> None:
    before = Published(1, {"station": "s", "pm25": 10.0})
    assert judge("e", 0, {"pm25": 10.0}, None).verdict == "new"
    assert judge("e", 2, {"station": "s", "pm25": 99.0}, before).verdict == "correction"
    assert judge("e", 1, {"station": "s", "pm25": 10.0}, before).verdict == "duplicate"
    stale = judge("e", 0, {"station": "s", "pm25": 10.0}, before)
    assert stale.verdict == "stale-revision" and stale.error is not None
    assert "already at revision 1; revision 0 is older" in stale.error.reason


def test_a_conflict_names_what_differs_and_how_to_correct_it() -> None:
    before = Published(0, {"station": "s", "pm25": 10.0, "pm10": None})
    conflict = judge("e", 0, {"station": "s", "pm25": 999.0, "pm10": 5.0}, before)
    assert conflict.verdict == "conflict" and conflict.error is not None
    assert conflict.error.field == "pm10"
    assert "pm25: published 10.0, now 999.0" in conflict.error.reason
    assert "pm10: published absent, now 5.0" in conflict.error.reason
    assert "send revision 1" in conflict.error.reason
