"""One admission for the gateway, the worker and `publish`: scope, what the registry says, the clocks."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from citywatch.feeds import parse_record
from citywatch.intake import ClockBounds, admission
from citywatch.site_registry import load_registry
from tests.feed_examples import VALID

REGISTRY = load_registry("registry/wujiang-sample.yaml")
BOUNDS = ClockBounds(dt.timedelta(minutes=5), dt.date(2013, 1, 1), ZoneInfo("Asia/Shanghai"))
NOW = dt.datetime(2026, 12, 5, 6, tzinfo=dt.UTC)


def refused(feed: str, department: str, **changes: object) -> dict[str, str] | None:
    record = parse_record(feed, {**VALID[feed], **changes})
    refusal = admission(REGISTRY, department, feed, record, BOUNDS, NOW)
    return None if refusal is None else {e.field: e.reason for e in refusal.errors}


def test_a_bus_count_names_a_vehicle_of_the_fleet_on_its_route_with_its_drive() -> None:
    assert refused("bus", "transport") is None
    assert "unknown vehicle 'wj-v-999'" in (refused("bus", "transport", vehicle="wj-v-999") or {})["vehicle"]
    other_route = refused("bus", "transport", vehicle="wj-v-702-01")
    assert other_route is not None and "runs route 'wj-bus-702'" in other_route["vehicle"]
    diesel = refused("bus", "transport", energy_type="diesel")
    assert diesel is not None and "is electric in the registry's fleet, not diesel" in diesel["energy_type"]


@pytest.mark.parametrize(
    ("plant", "kind", "department", "ok"),
    [
        ("wj-hazwaste", "hazardous", "environment", True),
        ("wj-hazwaste", "food", "environment", False),
        ("wj-food-waste", "food", "urban-management", True),
        ("wj-wte-phase2", "food", "urban-management", False),
    ],
)
def test_a_waste_record_is_of_a_kind_its_plant_accepts(plant: str, kind: str, department: str, ok: bool) -> None:
    problems = refused("waste", department, plant=plant, waste_kind=kind)
    assert (problems is None) is ok, problems
    if not ok:
        assert problems is not None and "does not take" in problems["waste_kind"]


def test_another_departments_site_is_forbidden_and_an_unknown_one_invalid() -> None:
    record = parse_record("air", VALID["air"])
    foreign = admission(REGISTRY, "transport", "air", record, BOUNDS, NOW)
    assert foreign is not None and foreign.forbidden
    unknown = parse_record("air", {**VALID["air"], "station": "nowhere"})
    refusal = admission(REGISTRY, "environment", "air", unknown, BOUNDS, NOW)
    assert refusal is not None and not refusal.forbidden
    assert "not in the site registry" in refusal.errors[0].reason


def test_the_clock_is_checked_last_and_with_every_other_problem() -> None:
    problems = refused("bus", "transport", energy_type="diesel", interval_start="2027-01-01T00:00:00+08:00",
                       interval_end="2027-01-01T01:00:00+08:00")  # fmt: skip
    assert problems is not None and set(problems) == {"energy_type", "interval_start", "interval_end"}
