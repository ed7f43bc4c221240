"""Thresholds, colours, mappings and target lines are the standards' and the plan's numbers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from citywatch.dashboards import walk
from citywatch.dashboards.common import Context, standards_date
from citywatch.standards import gb3095_limit, plan_target, pm25_annual_target
from citywatch.standards.gb3838 import WaterClass
from citywatch.standards.tables.hj633 import CATEGORIES, HJ633_2012, HJ633_2026
from citywatch.standards.tables.plan import PLAN_TARGETS


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


def test_pm25_trend_has_the_gb3095_24h_limit_line(committed: dict[str, dict[str, Any]], ctx: Context) -> None:
    panel = _panel(committed["citywatch-air"], "PM2.5 per station")
    limit = gb3095_limit(pollutant="pm25", period="24h", grade="II", on=ctx.standards_on)
    assert _steps(panel)[1][0] == float(limit.value)
    assert panel["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "dashed"


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
    for title in ("PM2.5 annual mean to date", "PM2.5 projected annual mean", "PM2.5 annual mean and projection"):
        assert _steps(_panel(committed["citywatch-overview"], title)) == [(None, "green"), (target, "red")], title


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
    assert _steps(district)[1][0] == float(PLAN_TARGETS["incineration_capacity"].value)
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
