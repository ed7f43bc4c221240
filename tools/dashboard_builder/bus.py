"""Bus: ridership per route against its baseline, public-transport share and clean-energy buses against the plan."""

from __future__ import annotations

from typing import Any

from citywatch.indicators.bus import BASELINE_HISTORY_DAYS, BASELINE_WEEKS
from citywatch.indicators.catalogue import (
    BUS_BASELINE_HISTORY_DAYS,
    BUS_BOARDINGS_DAY,
    BUS_BOARDINGS_INTERVAL,
    BUS_BOARDINGS_VS_BASELINE,
    BUS_CLEAN_ENERGY_SHARE_DAY,
    BUS_CLEAN_ENERGY_SHARE_FLEET,
    PUBLIC_TRANSPORT_SHARE_DAY,
    PUBLIC_TRANSPORT_SHARE_YTD,
)
from citywatch.standards import plan_target
from tools.dashboard_builder import common as c
from tools.dashboard_builder import in_force

UID = "bus"
FEEDS = ("bus", "mode_share")
BASELINE = 1.0  # a ratio to the baseline: 1 is the baseline itself


def build(ctx: c.Context) -> Any:
    names = c.site_name_overrides(ctx.sites(*FEEDS))
    site = c.var(c.SITE)
    share = plan_target("public_transport_share")
    clean = plan_target("clean_energy_bus_share")
    layout = c.Layout()

    layout.row("Ridership 客流")
    layout.add(
        c.indicator_timeseries(
            "Boardings vs baseline 客流/基线",
            BUS_BOARDINGS_VS_BASELINE,
            description=f"{BUS_BOARDINGS_VS_BASELINE.description}. Dashed line: the baseline.",
            thresholds=c.steps("orange", (BASELINE, "green")),
            threshold_lines=True,
            overrides=names,
            min_value=0,
            no_value=c.needs_history(BASELINE_HISTORY_DAYS),
        ),
        width=18,
        height=10,
    )
    layout.add(
        c.indicator_stat(
            f"Baseline history 基线历史 (needs {BASELINE_HISTORY_DAYS} days)",
            BUS_BASELINE_HISTORY_DAYS,
            description=f"{BUS_BASELINE_HISTORY_DAYS.description}; the full baseline needs {BASELINE_HISTORY_DAYS} "
            f"({BASELINE_WEEKS} weeks of the same weekday), the first comes after 7 days.",
            thresholds=c.steps("orange", (float(BASELINE_HISTORY_DAYS), "green")),
            overrides=names,
            decimals=0,
            no_value=f"needs {BASELINE_HISTORY_DAYS} days of data: none yet",
        ),
        width=6,
        height=10,
    )
    layout.add(
        c.indicator_timeseries("Boardings per day 日客流", BUS_BOARDINGS_DAY, overrides=names, min_value=0),
        width=12,
    )
    layout.add(
        c.indicator_timeseries(
            "Boardings per interval 时段客流", BUS_BOARDINGS_INTERVAL, overrides=names, min_value=0, stacked=True
        ),
        width=12,
    )

    layout.row("Plan targets 规划目标")
    layout.add(
        c.with_threshold_line(
            "Public-transport share 公共交通出行率",
            f"Daily and year-to-date share; dashed line: {share.quote} ({share.source.clause}).",
            [
                c.indicator_query(PUBLIC_TRANSPORT_SHARE_DAY, site, "day {{site}}"),
                c.indicator_query(PUBLIC_TRANSPORT_SHARE_YTD, site, "ytd {{site}}", ref="B"),
            ],
            in_force.target_line(share, PUBLIC_TRANSPORT_SHARE_YTD),
            "plan target",
            unit=c.grafana_unit(PUBLIC_TRANSPORT_SHARE_YTD),
        ),
        width=12,
    )
    layout.add(
        c.with_threshold_line(
            "Clean-energy buses 清洁能源公交车比例",
            f"Vehicles seen in service that day, and the registry fleet; dashed line: {clean.quote} "
            f"({clean.source.clause}).",
            [
                c.indicator_query(BUS_CLEAN_ENERGY_SHARE_DAY, ctx.districts, "in service"),
                c.indicator_query(BUS_CLEAN_ENERGY_SHARE_FLEET, ctx.districts, "fleet", ref="B"),
            ],
            in_force.target_line(clean, BUS_CLEAN_ENERGY_SHARE_DAY),
            "plan target",
            unit=c.grafana_unit(BUS_CLEAN_ENERGY_SHARE_DAY),
        ),
        width=12,
    )
    return c.site_dashboard(
        UID,
        "citywatch · Bus 公共交通",
        "Ridership per route against its baseline; public-transport share and clean-energy buses against the plan.",
        FEEDS,
        layout,
    )
