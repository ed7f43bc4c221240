"""Air: PM2.5 and AQI per station in the HJ 633 category colours, GB 3095 limit lines, and a station map."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import geomap
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import geomap as gm

from citywatch.indicators.catalogue import (
    AQI_DAILY,
    AQI_REALTIME,
    GOOD_DAY_SHARE_YTD,
    PM25_1H,
    PM25_EXCEEDANCE_DAYS_YTD,
    PM25_MEAN_24H,
)
from citywatch.standards import gb3095_limit
from tools.dashboard_builder import common as c
from tools.dashboard_builder import in_force
from tools.dashboard_builder import metrics as m

UID = "air"
FEEDS = ("air",)
SITE = f'site=~"{c.var(c.SITE)}"'


def station_map(ctx: c.Context) -> geomap.Panel:
    """Stations at their registry coordinates (from `citywatch_site_info`), coloured by the real-time AQI."""
    expr = (
        f"{c.indicator_selector(AQI_REALTIME, site=c.var(c.SITE))}"
        # max by: one right-hand series per site even while two workers (a rolling restart) export the registry
        f' * on (site) group_left (name, lat, lon) max by (site, name, lat, lon) ({m.SITE_INFO}{{feed="air"}})'
    )
    bounds = ctx.registry.bounds
    layer = (
        cb.MapLayerOptions()
        .type("markers")
        .name("Stations 站点")
        .location(cb.FrameGeometrySource().mode(cm.FrameGeometrySourceMode.COORDS).latitude("lat").longitude("lon"))
        .tooltip(True)
        .config(
            {
                "showLegend": True,
                "style": {
                    "color": {"field": "Value", "fixed": "dark-green"},
                    "size": {"fixed": 12},
                    "symbol": {"fixed": "img/icons/marker/circle.svg", "mode": "fixed"},
                    "text": {"field": "name", "fixed": "", "mode": "field"},
                    "textConfig": {"fontSize": 12, "offsetY": -16, "textAlign": "center", "textBaseline": "bottom"},
                },
            }
        )
    )
    return (
        geomap.Panel()
        .title("Station map 站点地图 (real-time AQI)")
        .description("Air stations at their registry coordinates, coloured by the HJ 633 category of the real-time AQI")
        .with_target(c.query(expr, ref="A", instant=True, table=True))
        .with_transformation(
            dm.DataTransformerConfig(
                id_val="convertFieldType",
                options={
                    "conversions": [
                        {"targetField": "lat", "destinationType": "number"},
                        {"targetField": "lon", "destinationType": "number"},
                    ]
                },
            )
        )
        .unit(c.grafana_unit(AQI_REALTIME))
        .thresholds(c.aqi_thresholds())
        .basemap(cb.MapLayerOptions().type("default").name("Basemap"))
        .layers([layer])
        .view(
            geomap.MapViewConfig()
            .id("coords")
            # The SDK types these as int; Grafana takes any number, and the district needs decimals.
            .lat((bounds.south + bounds.north) / 2)  # type: ignore[arg-type]
            .lon((bounds.west + bounds.east) / 2)  # type: ignore[arg-type]
            .zoom(10)
        )
        .controls(geomap.ControlsOptions().show_zoom(True).mouse_wheel_zoom(True).show_scale(True))
        .tooltip(geomap.TooltipOptions().mode(gm.TooltipMode.DETAILS))
    )


def build(ctx: c.Context) -> Any:
    stations = ctx.sites(*FEEDS)
    names = c.site_name_overrides(stations)
    pm25_24h_limit = gb3095_limit(pollutant="pm25", period="24h", grade="II", on=ctx.standards_on)
    pm25_column = c.concentration_thresholds(ctx.hj633, "pm25_24h")
    layout = c.Layout()

    layout.row("Now 实时")
    layout.add(
        c.indicator_stat(
            "AQI (real-time) 实时AQI",
            AQI_REALTIME,
            description=f"{AQI_REALTIME.description}. Colours: HJ 633 categories.",
            thresholds=c.aqi_thresholds(),
            overrides=names,
        ),
        width=12,
    )
    layout.add(
        c.indicator_stat(
            "Daily AQI category 日AQI类别",
            AQI_DAILY,
            description=f"{AQI_DAILY.description}. Text and colour: HJ 633 categories.",
            thresholds=c.aqi_thresholds(),
            mappings=c.aqi_category_mappings(),
            overrides=names,
        ),
        width=12,
    )
    layout.add(
        c.indicator_stat(
            "PM2.5 24 h mean 24小时均值",
            PM25_MEAN_24H,
            description=f"{PM25_MEAN_24H.description}. Colours: the HJ 633 category of this concentration "
            f"({ctx.hj633.source.label} PM2.5 24 h column).",
            thresholds=pm25_column,
            overrides=names,
            decimals=1,
        ),
        width=12,
    )
    layout.add(station_map(ctx), width=12, height=12)

    layout.row("Trends 趋势")
    layout.add(
        c.with_threshold_line(
            "PM2.5 per station 各站PM2.5",
            "Hourly values and 24 h means; dashed line: the GB 3095 Grade II 24 h limit in force on each date "
            f"({in_force.described(in_force.limit_steps('pm25', '24h', 'II'), pm25_24h_limit.unit)}).",
            [
                c.indicator_query(PM25_MEAN_24H, c.var(c.SITE)),
                c.indicator_query(PM25_1H, c.var(c.SITE), "{{site}} 1h", ref="B"),
            ],
            in_force.limit_line("pm25", "24h", "II"),
            "{{standard}} 24 h limit",
            unit=c.grafana_unit(PM25_MEAN_24H),
            overrides=names,
        ),
        width=24,
        height=10,
    )
    layout.add(
        c.indicator_timeseries(
            "AQI per station 各站AQI",
            AQI_REALTIME,
            description="Real-time AQI; dashed lines: HJ 633 category boundaries.",
            thresholds=c.aqi_thresholds(),
            threshold_lines=True,
            overrides=names,
            min_value=0,
        ),
        width=24,
        height=10,
    )

    layout.row("Year to date 年度累计")
    layout.add(
        c.indicator_stat("Good-day share 优良天数比例", GOOD_DAY_SHARE_YTD, overrides=names, decimals=1),
        width=12,
    )
    layout.add(
        c.indicator_stat("PM2.5 exceedance days 超标天数", PM25_EXCEEDANCE_DAYS_YTD, overrides=names),
        width=12,
    )
    return c.site_dashboard(
        UID,
        "citywatch · Air 空气质量",
        "PM2.5 and AQI per station (HJ 633 categories, GB 3095 limits), station map from the site registry.",
        FEEDS,
        layout,
    )
