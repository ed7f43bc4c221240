"""Thresholds, colours, mappings and target lines are the standards' and the plan's numbers."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from citywatch.standards import plan_target, pm25_annual_target
from citywatch.standards.gb3838 import WaterClass
from citywatch.standards.tables.hj633 import CATEGORIES, HJ633_2012, HJ633_2026
from citywatch.standards.tables.plan import PLAN_TARGETS
from tools.dashboard_builder import in_force, recording, walk
from tools.dashboard_builder.common import THRESHOLD_REF, Context, standards_date


def _panel(board: dict[str, Any], title_start: str) -> dict[str, Any]:
    matches = [p for p in walk.panels(board) if p["title"].startswith(title_start)]
    assert len(matches) == 1, f"{board['uid']}: {len(matches)} panels titled {title_start!r}…"
    return dict(matches[0])


def _steps(panel: dict[str, Any]) -> list[tuple[float | None, str]]:
    return [(s["value"], s["color"]) for s in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]]


def test_standards_date_is_the_start_of_the_versions_in_force() -> None:
    assert standards_date(dt.date(2025, 6, 1)) == dt.date.min
    assert standards_date(dt.date(2026, 11, 28)) == HJ633_2026.source.effective_from
    assert standards_date(dt.date(2031, 6, 1)) == dt.date(2031, 1, 1)


def test_aqi_colours_are_hj633_categories(committed: dict[str, dict[str, Any]]) -> None:
    steps = _steps(_panel(committed["citywatch-air"], "AQI (real-time)"))
    assert [c for _, c in steps] == [cat.colour for cat in CATEGORIES]
    assert [v for v, _ in steps] == [None, *(cat.max_aqi + 1 for cat in CATEGORIES if cat.max_aqi is not None)]


def test_daily_aqi_shows_the_category_names(committed: dict[str, dict[str, Any]]) -> None:
    mappings = _panel(committed["citywatch-air"], "Daily AQI category")["fieldConfig"]["defaults"]["mappings"]
    results = [m["options"]["result"] for m in mappings]
    assert [r["color"] for r in results] == [cat.colour for cat in CATEGORIES]
    assert all(cat.category in r["text"] for r, cat in zip(results, CATEGORIES, strict=True))


def test_pm25_colours_follow_the_hj633_column_in_force(committed: dict[str, dict[str, Any]], ctx: Context) -> None:
    steps = _steps(_panel(committed["citywatch-air"], "PM2.5 24 h mean"))
    table = HJ633_2026 if ctx.standards_on >= HJ633_2026.source.effective_from else HJ633_2012
    by_iaqi = {bp.iaqi: float(bp.concentration) for bp in table.columns["pm25_24h"].breakpoints}
    expected = [by_iaqi[cat.max_aqi] for cat in CATEGORIES if cat.max_aqi is not None]
    assert [v for v, _ in steps[1:]] == expected
    assert [c for _, c in steps] == [cat.colour for cat in CATEGORIES]


def _line(panel: dict[str, Any]) -> str:
    """The expression of a panel's dashed limit or target line, checking that the override dashes it."""
    (line,) = [t["expr"] for t in panel["targets"] if t["refId"] == THRESHOLD_REF]
    (override,) = [o for o in panel["fieldConfig"]["overrides"] if o["matcher"]["options"] == THRESHOLD_REF]
    assert override["matcher"]["id"] == "byFrameRefID"
    assert {"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}} in override["properties"]
    return str(line)


def test_pm25_trend_has_the_gb3095_24h_limit_line_by_date(committed: dict[str, dict[str, Any]]) -> None:
    panel = _panel(committed["citywatch-air"], "PM2.5 per station")
    assert "thresholds" not in panel["fieldConfig"]["defaults"]  # no fixed line: it would be wrong across 2026-03-01
    assert _line(panel) == in_force.limit_line("pm25", "24h", "II", in_force.DEPLOYMENT_ZONE)
    assert "75 µg/m³ until 2026-02-28, 60 from 2026-03-01, 50 from 2031-01-01" in panel["description"]


def test_limit_steps_follow_the_gb3095_versions() -> None:
    assert in_force.limit_steps("pm25", "24h", "II") == [
        in_force.Step(None, dt.date(2026, 3, 1), 75.0, {"standard": "GB 3095-2012"}),
        in_force.Step(
            dt.date(2026, 3, 1), dt.date(2031, 1, 1), 60.0, {"standard": "GB 3095-2026 (transition 2026–2030)"}
        ),
        in_force.Step(dt.date(2031, 1, 1), None, 50.0, {"standard": "GB 3095-2026 (full limits from 2031)"}),
    ]
    # the change is at local midnight: 2026-03-01T00:00+08:00 is 2026-02-28T16:00Z
    shanghai = in_force.in_force(in_force.limit_steps("pm10", "24h", "II"), ZoneInfo("Asia/Shanghai"))
    assert "< 1772294400" in shanghai and ">= 1772294400 < 1924963200" in shanghai
    assert "vector(150)" in shanghai and "vector(120)" in shanghai and "vector(100)" in shanghai


def test_every_limit_and_target_is_a_recorded_series() -> None:
    rules = {(r.record, r.expr, tuple(sorted(r.labels.items()))) for group in recording.GROUPS.values() for r in group}
    zone = in_force.DEPLOYMENT_ZONE
    for key in in_force.every_limit():
        labels = tuple(sorted(in_force.limit_labels(*key).items()))
        assert (in_force.LIMIT_METRIC, in_force.limit_line(*key, zone), labels) in rules
    assert len(in_force.every_limit()) == 28
    for target in PLAN_TARGETS.values():
        labels = tuple(sorted(in_force.target_labels(target).items()))
        assert (in_force.TARGET_METRIC, in_force.target_series(target, zone), labels) in rules


def test_water_classes_use_the_rating_colours(committed: dict[str, dict[str, Any]]) -> None:
    panel = _panel(committed["citywatch-water"], "Class this month")
    assert _steps(panel) == [(None, WaterClass.I.colour), *((float(c.value), c.colour) for c in list(WaterClass)[1:])]
    options = panel["fieldConfig"]["defaults"]["mappings"][0]["options"]
    assert {k: (v["text"], v["color"]) for k, v in options.items()} == {
        str(c.value): (f"{c.label} {c.rating}", c.colour) for c in WaterClass
    }


def test_section_names_carry_the_registry_target_class(committed: dict[str, dict[str, Any]], ctx: Context) -> None:
    panel = _panel(committed["citywatch-water"], "Class this month")
    names = {o["matcher"]["options"]: o["properties"][0]["value"] for o in panel["fieldConfig"]["overrides"]}
    for section in ctx.registry.sections:
        assert section.name_zh in names[section.id] and section.name_en in names[section.id]
        assert names[section.id].endswith(f"target {section.target_class})")


def test_pm25_annual_target_is_the_gb3095_annual_limit(committed: dict[str, dict[str, Any]], ctx: Context) -> None:
    target = float(pm25_annual_target(ctx.standards_on).value)
    for title in ("PM2.5 annual mean to date", "PM2.5 projected annual mean"):
        assert _steps(_panel(committed["citywatch-overview"], title)) == [(None, "green"), (target, "red")], title
    trend = _panel(committed["citywatch-overview"], "PM2.5 annual mean and projection")
    assert _line(trend) == in_force.limit_line("pm25", "annual", "II", in_force.DEPLOYMENT_ZONE)


def test_plan_targets_are_the_plan_table(committed: dict[str, dict[str, Any]]) -> None:
    overview = committed["citywatch-overview"]
    for title, target_id in (
        ("Public-transport share", "public_transport_share"),
        ("Clean-energy buses", "clean_energy_bus_share"),
        ("Sorted-waste treatment rate", "sorted_waste_treatment_rate"),
    ):
        target = plan_target(target_id)
        assert target.unit == "%"
        assert _steps(_panel(overview, title)) == [(None, "red"), (float(target.value) / 100, "green")], title
    district = _panel(committed["citywatch-waste"], "Household waste incinerated")
    assert "vector(3000)" in _line(district) and "not a target missed" in district["description"]
    share = _panel(committed["citywatch-bus"], "Public-transport share")
    assert "vector(0.35)" in _line(share)
    hazardous = _panel(committed["citywatch-waste"], "Hazardous waste this year")
    assert hazardous["fieldConfig"]["defaults"]["max"] == float(PLAN_TARGETS["hazardous_incineration_capacity"].value)


def test_plant_capacity_lines_come_from_the_registry(committed: dict[str, dict[str, Any]], ctx: Context) -> None:
    panel = _panel(committed["citywatch-waste"], "Tonnes per plant vs capacity")
    by_plant = {o["matcher"]["options"]: o["properties"] for o in panel["fieldConfig"]["overrides"]}
    for plant in ctx.registry.plants:
        thresholds = next(p["value"] for p in by_plant[plant.id] if p["id"] == "thresholds")
        assert thresholds["steps"][1]["value"] == plant.capacity_t_per_day


def test_units_come_from_the_catalogue(committed: dict[str, dict[str, Any]]) -> None:
    air = committed["citywatch-air"]
    assert _panel(air, "PM2.5 24 h mean")["fieldConfig"]["defaults"]["unit"] == "conμgm3"
    assert _panel(committed["citywatch-overview"], "优Ⅲ share")["fieldConfig"]["defaults"]["unit"] == "percentunit"


def test_the_baseline_panel_says_how_much_history_it_needs(committed: dict[str, dict[str, Any]]) -> None:
    # issue 17: on a new system "Boardings vs baseline" was silently empty
    board = committed["citywatch-bus"]
    trend = _panel(board, "Boardings vs baseline")
    assert trend["fieldConfig"]["defaults"]["noValue"].startswith("needs 28 days of data")
    history = _panel(board, "Baseline history")
    assert "needs 28 days" in history["title"]
    (expr,) = [t["expr"] for t in history["targets"]]
    assert expr.startswith("citywatch_bus_baseline_history_days{")  # what the worker holds, not what Prometheus saw
    assert history["fieldConfig"]["defaults"]["noValue"] == "needs 28 days of data: none yet"
    assert _steps(history) == [(None, "orange"), (28.0, "green")]
