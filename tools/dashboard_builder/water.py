"""Water: each section's GB 3838 class in the rating colours, compliance with its target class, and trends."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.models import dashboard as dm

from citywatch.indicators.catalogue import (
    WATER_CLASS_MONTH,
    WATER_CLASS_QUARTER,
    WATER_CLASS_SAMPLE,
    WATER_GOOD_III_SHARE_MONTH,
    WATER_GOOD_III_SHARE_QUARTER,
    WATER_TARGET_MET_MONTH,
)
from citywatch.site_registry import WaterSection
from tools.dashboard_builder import common as c

UID = "water"
FEEDS = ("water",)


def _section_names(ctx: c.Context) -> list[Any]:
    """Each section by its registry names and target class (水质目标)."""
    return [
        c.name_override(s.id, {"displayName": f"{c.display_name(s)} (目标 target {s.target_class})"})
        for s in ctx.registry.sections
        if isinstance(s, WaterSection)
    ]


def _met_mappings() -> list[dm.ValueMapping]:
    return [
        dm.ValueMap(
            options={
                "1": dm.ValueMappingResult(text="达标 met", color="green", index=0),
                "0": dm.ValueMappingResult(text="未达标 not met", color="red", index=1),
            }
        )
    ]


def build(ctx: c.Context) -> Any:
    names = _section_names(ctx)
    site = c.var(c.SITE)
    layout = c.Layout()

    layout.row("Sections now 断面现状")
    layout.add(
        c.indicator_stat(
            "Class this month 本月水质类别",
            WATER_CLASS_MONTH,
            description=f"{WATER_CLASS_MONTH.description}. Colours: 环办[2011]22号 rating of the class.",
            thresholds=c.water_class_thresholds(),
            mappings=c.water_class_mappings(),
            overrides=names,
        ),
        width=24,
        height=10,
    )
    layout.add(
        c.indicator_stat(
            "Target met this month 本月达标",
            WATER_TARGET_MET_MONTH,
            unit="none",
            thresholds=c.steps("red", (1.0, "green")),
            mappings=_met_mappings(),
            overrides=names,
        ),
        width=16,
        height=10,
    )
    layout.add(
        c.stat_panel(
            "Sections meeting their target 达标断面比例",
            "Share of the selected sections whose monthly class meets their target class",
            [c.query(f"avg by (window) ({c.indicator_selector(WATER_TARGET_MET_MONTH, site=site)})", "target met")],
            unit="percentunit",
            thresholds=c.steps("red", (1.0, "green")),
            decimals=0,
        ),
        width=8,
        height=10,
    )

    layout.row("District 全区")
    layout.add(
        c.from_zero_timeseries(
            "优Ⅲ share 优Ⅲ比例",
            f"{WATER_GOOD_III_SHARE_MONTH.description}; and by quarter.",
            [
                c.indicator_query(WATER_GOOD_III_SHARE_MONTH, ctx.districts, "month {{site}}"),
                c.indicator_query(WATER_GOOD_III_SHARE_QUARTER, ctx.districts, "quarter {{site}}", ref="B"),
            ],
            unit=c.grafana_unit(WATER_GOOD_III_SHARE_MONTH),
        ),
        width=24,
    )

    layout.row("Trends 趋势")
    for indicator, title in (
        (WATER_CLASS_SAMPLE, "Class per sample 每次采样类别"),
        (WATER_CLASS_QUARTER, "Class per quarter 季度类别"),
    ):
        layout.add(
            c.indicator_timeseries(
                title,
                indicator,
                description=f"{indicator.description}. Background: the class rating colours.",
                thresholds=c.water_class_thresholds(),
                threshold_lines=True,
                overrides=names,
                min_value=1,
            ),
            width=12,
            height=10,
        )
    return c.site_dashboard(
        UID,
        "citywatch · Water 地表水",
        "National and provincial assessment sections: GB 3838 class, target compliance, 优Ⅲ share.",
        FEEDS,
        layout,
    )
