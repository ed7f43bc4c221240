"""Waste: tonnes per plant against its design capacity, district incineration, hazardous waste year to date."""

from __future__ import annotations

from typing import Any

from citywatch.indicators.catalogue import (
    DISTRICT_HAZARDOUS_YTD,
    DISTRICT_SORTED_TREATMENT_YTD,
    DISTRICT_TONNES_DAY,
    WASTE_HAZARDOUS_YTD,
    WASTE_SORTED_TREATMENT_DAY,
    WASTE_TONNES_DAY,
    WASTE_UTILISATION_DAY,
)
from citywatch.standards import plan_target
from tools.dashboard_builder import common as c
from tools.dashboard_builder import in_force

UID = "waste"
FEEDS = ("waste",)


def _plants_with_capacity(ctx: c.Context) -> list[Any]:
    """Each plant by its registry names, with a dashed line at its design capacity (registry capacity_t_per_day)."""
    return [
        c.name_override(
            p.id,
            {
                "displayName": c.display_name(p),
                "thresholds": c.steps("green", (p.capacity_t_per_day, "red")).build(),
                "custom.thresholdsStyle": {"mode": "dashed"},
            },
        )
        for p in ctx.registry.plants
    ]


def utilisation_panel(title: str, description: str, overrides: c.Overrides) -> Any:
    """Each plant's tonnage against its design capacity (1 = full), red above it."""
    return c.bargauge_panel(
        title,
        description,
        [c.indicator_query(WASTE_UTILISATION_DAY, c.var(c.SITE))],
        unit=c.grafana_unit(WASTE_UTILISATION_DAY),
        thresholds=c.utilisation_thresholds(),
        overrides=overrides,
        max_value=c.UTILISATION_AXIS_MAX,
    )


def build(ctx: c.Context) -> Any:
    names = c.site_name_overrides(ctx.sites(*FEEDS))
    site = c.var(c.SITE)
    capacity = plan_target("incineration_capacity")
    hazardous = plan_target("hazardous_incineration_capacity")
    sorted_rate = plan_target("sorted_waste_treatment_rate")
    layout = c.Layout()

    layout.row("Plants 处理厂")
    layout.add(
        c.indicator_timeseries(
            "Tonnes per plant vs capacity 日处理量/设计能力",
            WASTE_TONNES_DAY,
            description=f"{WASTE_TONNES_DAY.description}. Dashed line per plant: its design capacity (registry).",
            overrides=_plants_with_capacity(ctx),
            min_value=0,
        ),
        width=16,
        height=10,
    )
    layout.add(
        utilisation_panel("Capacity utilisation 负荷率", WASTE_UTILISATION_DAY.description, names), width=8, height=10
    )
    layout.add(
        c.with_threshold_line(
            "Sorted-waste treatment rate 分类垃圾集中处理率",
            f"Per plant by day, district year to date; dashed line: {sorted_rate.quote} ({sorted_rate.source.clause}).",
            [
                c.indicator_query(WASTE_SORTED_TREATMENT_DAY, site),
                c.indicator_query(DISTRICT_SORTED_TREATMENT_YTD, ctx.districts, "{{site}} ytd", ref="B"),
            ],
            in_force.target_line(sorted_rate, DISTRICT_SORTED_TREATMENT_YTD),
            "plan target",
            unit=c.grafana_unit(WASTE_SORTED_TREATMENT_DAY),
            overrides=names,
            min_value=None,
        ),
        width=24,
    )

    layout.row("District 全区")
    layout.add(
        c.with_threshold_line(
            "Household waste incinerated 生活垃圾焚烧量",
            f"{DISTRICT_TONNES_DAY.description}; dashed line: the design capacity the plan sets, {capacity.quote} "
            f"({capacity.source.clause}) -- tonnage below it is spare capacity, not a target missed.",
            [c.indicator_query(DISTRICT_TONNES_DAY, ctx.districts)],
            in_force.target_line(capacity, DISTRICT_TONNES_DAY),
            "capacity",
            unit=c.grafana_unit(DISTRICT_TONNES_DAY),
            overrides=names,
            line_colour="blue",
        ),
        width=12,
    )
    layout.add(
        c.bargauge_panel(
            "Hazardous waste this year 危废年度累计",
            f"{DISTRICT_HAZARDOUS_YTD.description}, and per plant; scale: {hazardous.quote} ({hazardous.source.clause}).",
            [
                c.indicator_query(DISTRICT_HAZARDOUS_YTD, ctx.districts),
                c.indicator_query(WASTE_HAZARDOUS_YTD, site, ref="B"),
            ],
            unit=c.grafana_unit(WASTE_HAZARDOUS_YTD),
            thresholds=c.target_thresholds(hazardous, WASTE_HAZARDOUS_YTD),
            overrides=[*names, *c.site_name_overrides(ctx.registry.areas)],
            max_value=c.target_value(hazardous, WASTE_HAZARDOUS_YTD),
        ),
        width=12,
    )
    return c.site_dashboard(
        UID,
        "citywatch · Waste 垃圾处理",
        "Tonnes per plant against design capacity, district incineration and hazardous waste against the plan.",
        FEEDS,
        layout,
    )
