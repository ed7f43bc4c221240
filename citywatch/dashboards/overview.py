"""City overview: the plan's indicators against their targets at a glance, and the alerts firing now."""

from __future__ import annotations

from typing import Any

from citywatch.dashboards import alerts
from citywatch.dashboards import common as c
from citywatch.indicators.catalogue import (
    BUS_CLEAN_ENERGY_SHARE_FLEET,
    CITY_GOOD_DAY_SHARE_YTD,
    DISTRICT_SORTED_TREATMENT_YTD,
    PM25_ANNUAL_MEAN_YTD,
    PM25_ATTAINMENT,
    PUBLIC_TRANSPORT_SHARE_YTD,
    WASTE_UTILISATION_DAY,
    WATER_GOOD_III_SHARE_MONTH,
)
from citywatch.schemas.feeds import FEED_NAMES
from citywatch.standards import plan_target, pm25_annual_target

UID = "overview"
FEEDS = FEED_NAMES


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
    layout.add(
        c.stat_panel(
            "PM2.5 annual mean to date 年均浓度",
            f"{PM25_ANNUAL_MEAN_YTD.description}. Red at or above the target: {pm25.quote}.",
            [c.query(c.indicator_selector(PM25_ANNUAL_MEAN_YTD, site=site), "{{site}}")],
            unit=c.grafana_unit(PM25_ANNUAL_MEAN_YTD),
            thresholds=c.target_thresholds(pm25, PM25_ANNUAL_MEAN_YTD),
            overrides=stations,
            decimals=1,
        ),
        width=9,
    )
    layout.add(
        c.stat_panel(
            "PM2.5 projected annual mean 年均浓度预测",
            f"{PM25_ATTAINMENT.description}. Red at or above the target: {pm25.quote}.",
            [c.query(c.indicator_selector(PM25_ATTAINMENT, site=site), "{{site}}")],
            unit=c.grafana_unit(PM25_ATTAINMENT),
            thresholds=c.target_thresholds(pm25, PM25_ATTAINMENT),
            overrides=stations,
            decimals=1,
        ),
        width=9,
    )
    layout.add(
        c.stat_panel(
            "Good-day share 优良天数比例",
            CITY_GOOD_DAY_SHARE_YTD.description,
            [c.query(c.indicator_selector(CITY_GOOD_DAY_SHARE_YTD, site=ctx.districts), "{{site}}")],
            unit=c.grafana_unit(CITY_GOOD_DAY_SHARE_YTD),
            overrides=districts,
            decimals=1,
        ),
        width=6,
    )
    layout.add(
        c.timeseries_panel(
            "PM2.5 annual mean and projection 年均浓度与预测",
            f"Year-to-date mean and projection per station; dashed line: {pm25.quote}.",
            [
                c.query(c.indicator_selector(PM25_ANNUAL_MEAN_YTD, site=site), "{{site}}"),
                c.query(c.indicator_selector(PM25_ATTAINMENT, site=site), "{{site}} projection", ref="B"),
            ],
            unit=c.grafana_unit(PM25_ANNUAL_MEAN_YTD),
            thresholds=c.target_thresholds(pm25, PM25_ANNUAL_MEAN_YTD),
            threshold_lines=True,
            overrides=stations,
            min_value=0,
        ),
        width=24,
    )

    layout.row("Water · transport · waste 水 · 交通 · 垃圾")
    layout.add(
        c.stat_panel(
            "优Ⅲ share 优Ⅲ比例",
            WATER_GOOD_III_SHARE_MONTH.description,
            [c.query(c.indicator_selector(WATER_GOOD_III_SHARE_MONTH, site=ctx.districts), "{{site}}")],
            unit=c.grafana_unit(WATER_GOOD_III_SHARE_MONTH),
            overrides=districts,
            decimals=1,
        ),
        width=6,
    )
    layout.add(
        c.stat_panel(
            "Public-transport share 公共交通出行率",
            f"{PUBLIC_TRANSPORT_SHARE_YTD.description}. Target: {transit.quote}.",
            [c.query(c.indicator_selector(PUBLIC_TRANSPORT_SHARE_YTD, site=site), "{{site}}")],
            unit=c.grafana_unit(PUBLIC_TRANSPORT_SHARE_YTD),
            thresholds=c.target_thresholds(transit, PUBLIC_TRANSPORT_SHARE_YTD),
            overrides=districts,
            decimals=1,
        ),
        width=6,
    )
    layout.add(
        c.stat_panel(
            "Clean-energy buses 清洁能源公交车",
            f"{BUS_CLEAN_ENERGY_SHARE_FLEET.description}. Target: {clean.quote}.",
            [c.query(c.indicator_selector(BUS_CLEAN_ENERGY_SHARE_FLEET, site=ctx.districts), "{{site}}")],
            unit=c.grafana_unit(BUS_CLEAN_ENERGY_SHARE_FLEET),
            thresholds=c.target_thresholds(clean, BUS_CLEAN_ENERGY_SHARE_FLEET),
            overrides=districts,
            decimals=1,
        ),
        width=6,
    )
    layout.add(
        c.stat_panel(
            "Sorted-waste treatment rate 分类垃圾集中处理率",
            f"{DISTRICT_SORTED_TREATMENT_YTD.description}. Target: {treatment.quote}.",
            [c.query(c.indicator_selector(DISTRICT_SORTED_TREATMENT_YTD, site=ctx.districts), "{{site}}")],
            unit=c.grafana_unit(DISTRICT_SORTED_TREATMENT_YTD),
            thresholds=c.target_thresholds(treatment, DISTRICT_SORTED_TREATMENT_YTD),
            overrides=districts,
            decimals=2,
        ),
        width=6,
    )
    layout.add(
        c.bargauge_panel(
            "Waste capacity utilisation 垃圾处理负荷率",
            f"{WASTE_UTILISATION_DAY.description}. Red above the design capacity.",
            [c.query(c.indicator_selector(WASTE_UTILISATION_DAY, site=site), "{{site}}")],
            unit=c.grafana_unit(WASTE_UTILISATION_DAY),
            thresholds=c.utilisation_thresholds(),
            overrides=plants,
            max_value=c.UTILISATION_AXIS_MAX,
        ),
        width=24,
        height=6,
    )

    layout.row("Alerts 告警")
    layout.add(alerts.firing_now_panel(), width=6)
    layout.add(alerts.firing_table_panel(ctx.registry), width=18)
    return c.dashboard(
        UID,
        "citywatch · City overview 城市总览",
        "The plan's indicators against their targets (Wujiang 14th FYP, GB 3095), and the alerts firing now.",
        [c.department_variable(), c.site_variable(FEEDS)],
        layout,
    )
