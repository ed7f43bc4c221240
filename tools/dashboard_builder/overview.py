"""City overview: the plan's indicators against their targets at a glance, and the alerts firing now."""

from __future__ import annotations

from typing import Any

from citywatch.feeds import FEED_NAMES
from citywatch.indicators.catalogue import (
    BUS_CLEAN_ENERGY_SHARE_FLEET,
    CITY_GOOD_DAY_SHARE_YTD,
    DISTRICT_SORTED_TREATMENT_YTD,
    PM25_ANNUAL_MEAN_YTD,
    PM25_ATTAINMENT,
    PUBLIC_TRANSPORT_SHARE_YTD,
    WASTE_UTILISATION_DAY,
    WATER_GOOD_III_SHARE_MONTH,
    Indicator,
)
from citywatch.standards import plan_target, pm25_annual_target
from citywatch.standards.targets import Target
from tools.dashboard_builder import alerts, in_force, waste
from tools.dashboard_builder import common as c

UID = "overview"
FEEDS = FEED_NAMES


def target_stat(
    title: str,
    indicator: Indicator,
    site: str,
    overrides: c.Overrides,
    target: Target | None = None,
    decimals: int = 1,
    *,
    lead: str = "Target:",
) -> Any:
    """An indicator at a glance, coloured against its plan target when it has one (quoted after `lead`)."""
    return c.indicator_stat(
        title,
        indicator,
        site,
        description=None if target is None else f"{indicator.description}. {lead} {target.quote}.",
        thresholds=None if target is None else c.target_thresholds(target, indicator),
        overrides=overrides,
        decimals=decimals,
    )


def build(ctx: c.Context) -> Any:
    stations = c.site_name_overrides(ctx.sites("air"))
    districts = c.site_name_overrides(ctx.registry.areas)
    plants = c.site_name_overrides(ctx.sites("waste"))
    site = c.var(c.SITE)
    pm25 = pm25_annual_target(ctx.standards_on)
    transit = plan_target("public_transport_share")
    clean = plan_target("clean_energy_bus_share")
    treatment = plan_target("sorted_waste_treatment_rate")
    layout = c.Layout()

    layout.row("Air 空气")
    for title, indicator in (
        ("PM2.5 annual mean to date 年均浓度", PM25_ANNUAL_MEAN_YTD),
        ("PM2.5 projected annual mean 年均浓度预测", PM25_ATTAINMENT),
    ):
        layout.add(target_stat(title, indicator, site, stations, pm25, lead="Red at or above the target:"), width=9)
    layout.add(target_stat("Good-day share 优良天数比例", CITY_GOOD_DAY_SHARE_YTD, ctx.districts, districts), width=6)
    layout.add(
        c.with_threshold_line(
            "PM2.5 annual mean and projection 年均浓度与预测",
            "Year-to-date mean and projection per station; dashed line: the GB 3095 Grade II annual limit in force "
            f"on each date ({in_force.described(in_force.limit_steps('pm25', 'annual', 'II'), pm25.unit)}).",
            [
                c.indicator_query(PM25_ANNUAL_MEAN_YTD, site),
                c.indicator_query(PM25_ATTAINMENT, site, "{{site}} projection", ref="B"),
            ],
            in_force.limit_line("pm25", "annual", "II"),
            "{{standard}} annual limit",
            unit=c.grafana_unit(PM25_ANNUAL_MEAN_YTD),
            overrides=stations,
        ),
        width=24,
    )

    layout.row("Water · transport · waste 水 · 交通 · 垃圾")
    layout.add(target_stat("优Ⅲ share 优Ⅲ比例", WATER_GOOD_III_SHARE_MONTH, ctx.districts, districts), width=6)
    layout.add(
        target_stat("Public-transport share 公共交通出行率", PUBLIC_TRANSPORT_SHARE_YTD, site, districts, transit),
        width=6,
    )
    layout.add(
        target_stat("Clean-energy buses 清洁能源公交车", BUS_CLEAN_ENERGY_SHARE_FLEET, ctx.districts, districts, clean),
        width=6,
    )
    layout.add(
        target_stat(
            "Sorted-waste treatment rate 分类垃圾集中处理率",
            DISTRICT_SORTED_TREATMENT_YTD,
            ctx.districts,
            districts,
            treatment,
            decimals=2,
        ),
        width=6,
    )
    layout.add(
        waste.utilisation_panel(
            "Waste capacity utilisation 垃圾处理负荷率",
            f"{WASTE_UTILISATION_DAY.description}. Red above the design capacity.",
            plants,
        ),
        width=24,
        height=6,
    )

    layout.row("Alerts 告警")
    layout.add(alerts.firing_now_panel(), width=6)
    layout.add(alerts.firing_table_panel(ctx.registry), width=18)
    return c.site_dashboard(
        UID,
        "citywatch · City overview 城市总览",
        "The plan's indicators against their targets (Wujiang 14th FYP, GB 3095), and the alerts firing now.",
        FEEDS,
        layout,
    )
