"""What every dashboard shares: the datasource, template variables, units, thresholds and panel helpers.

Units come from the indicator catalogue, colours and limits from the standards tables, targets from the plan table,
site names from the registry: nothing here types a number of a standard or a plan.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypedDict, TypeVar, Unpack

from grafana_foundation_sdk.builders import bargauge, prometheus, stat, table, timeseries
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import prometheus as pm

from citywatch.indicators.catalogue import Indicator
from citywatch.site_registry import AnySite, Registry
from citywatch.standards.gb3838 import WaterClass
from citywatch.standards.tables.gb3095 import GB3095_TABLES
from citywatch.standards.tables.hj633 import CATEGORIES, HJ633_TABLES, BreakpointTable
from citywatch.standards.targets import Target
from citywatch.standards.versions import select_version
from tools.dashboard_builder import metrics as m

DATASOURCE = dm.DataSourceRef(type_val="prometheus", uid="prometheus")
"""The provisioned Prometheus (deploy/compose/grafana/provisioning/datasources/prometheus.yml)."""

TAGS = ["citywatch"]
UID_PREFIX = "citywatch-"

# Template variables every site-level dashboard has.
DEPARTMENT = "department"
SITE = "site"
FEED = "feed"

# Grafana unit ids for the catalogue's units.
_UNITS = {
    "µg/m³": "conμgm3",
    "mg/m³": "conmgm3",
    "ratio": "percentunit",
    "count": "short",
    "t": "masst",
    "AQI": "none",
    "class": "none",
    "days": "d",
}


def grafana_unit(indicator: Indicator) -> str:
    try:
        return _UNITS[indicator.unit]
    except KeyError:
        raise KeyError(f"no Grafana unit for {indicator.unit!r} ({indicator.id}); add it to _UNITS") from None


# --- build context --------------------------------------------------------------------------------------------------
def standards_date(today: dt.date) -> dt.date:
    """The first day of the standards versions in force on `today`.

    Dashboards embed limits and colours of one table version; building "as of" the start of that version keeps the
    generated JSON the same every day until a new version takes effect (then `build --check` asks for a rebuild).
    """
    starts = [select_version(tables, today, what="standards").source.effective_from for tables in _VERSIONED]
    return max(starts)


_VERSIONED = (GB3095_TABLES, HJ633_TABLES)


@dataclass(frozen=True)
class Context:
    registry: Registry
    standards_on: dt.date

    @property
    def hj633(self) -> BreakpointTable:
        return select_version(HJ633_TABLES, self.standards_on, what="HJ 633 breakpoints")

    def sites(self, *feeds: str) -> list[AnySite]:
        return [s for s in self.registry.all_sites() if s.feed in feeds]

    @property
    def districts(self) -> str:
        """Regex of the district ids second-stage indicators carry as `site` (the registry's areas)."""
        return "|".join(a.id for a in self.registry.areas)


# --- thresholds and mappings from the standards ---------------------------------------------------------------------
UTILISATION_FULL = 1.0  # utilisation 1 = the plant's design capacity
UTILISATION_AXIS_MAX = 1.2  # room on the bar to see an overload


def utilisation_thresholds() -> db.ThresholdsConfig:
    return steps("green", (UTILISATION_FULL, "red"))


def steps(base_colour: str, *points: tuple[float, str]) -> db.ThresholdsConfig:
    return (
        db.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=None, color=base_colour), *(dm.Threshold(value=v, color=c) for v, c in points)])
    )


def aqi_thresholds() -> db.ThresholdsConfig:
    """HJ 633 AQI categories and colours. AQI is an integer (rounded up), so a band starts one above the last max."""
    points = [
        (float(prev.max_aqi + 1), cat.colour)
        for prev, cat in itertools.pairwise(CATEGORIES)
        if prev.max_aqi is not None
    ]
    return steps(CATEGORIES[0].colour, *points)


def concentration_thresholds(table: BreakpointTable, column: str) -> db.ThresholdsConfig:
    """A concentration coloured by the HJ 633 category its IAQI falls in (the column's breakpoints at each category's
    upper AQI). Grafana colours a value from a step upwards, so a value exactly on a breakpoint shows the next band."""
    by_iaqi = {bp.iaqi: bp.concentration for bp in table.columns[column].breakpoints}
    points = [
        (float(by_iaqi[prev.max_aqi]), cat.colour)
        for prev, cat in itertools.pairwise(CATEGORIES)
        if prev.max_aqi is not None and prev.max_aqi in by_iaqi
    ]
    return steps(CATEGORIES[0].colour, *points)


def aqi_category_mappings() -> list[dm.ValueMapping]:
    """AQI ranges -> "优 一级" … with the category colour (HJ 633)."""
    mappings: list[dm.ValueMapping] = []
    low = 0
    for index, cat in enumerate(CATEGORIES):
        mappings.append(
            dm.RangeMap(
                options=dm.DashboardRangeMapOptions(
                    from_val=float(low),
                    to=None if cat.max_aqi is None else float(cat.max_aqi),
                    result=dm.ValueMappingResult(text=f"{cat.category} {cat.level}", color=cat.colour, index=index),
                )
            )
        )
        if cat.max_aqi is not None:
            low = cat.max_aqi + 1
    return mappings


def water_class_thresholds() -> db.ThresholdsConfig:
    """GB 3838 class value 1–6 coloured by its rating (环办[2011]22号)."""
    classes = list(WaterClass)
    return steps(classes[0].colour, *((float(c.value), c.colour) for c in classes[1:]))


def water_class_mappings() -> list[dm.ValueMapping]:
    return [
        dm.ValueMap(
            options={
                str(c.value): dm.ValueMappingResult(text=f"{c.label} {c.rating}", color=c.colour, index=i)
                for i, c in enumerate(WaterClass)
            }
        )
    ]


def target_value(target: Target, indicator: Indicator) -> float:
    """The target in the indicator's unit: plan shares are written in %, the indicators are ratios (0–1)."""
    if target.unit == "%" and indicator.unit == "ratio":
        return float(target.value / Decimal(100))
    return float(target.value)


def target_thresholds(target: Target, indicator: Indicator) -> db.ThresholdsConfig:
    """Red on the wrong side of the target, green on the right one; blue for an "about" target (no tolerance given)."""
    value = target_value(target, indicator)
    if target.direction == "at_least":
        return steps("red", (value, "green"))
    if target.direction == "at_most":
        return steps("green", (value, "red"))
    return steps("blue", (value, "blue"))


def needs_history(days: int) -> str:
    """The text a panel shows while it has too little history (instead of an empty graph)."""
    return f"needs {days} days of data: see the history panel beside it for how many so far"


THRESHOLD_REF = "LIMIT"
"""refId of a panel's limit or target series (`threshold_line`): the override that dashes it matches this."""


def threshold_line(expr: str, legend: str) -> Any:
    """The query of a panel's dashed limit or target line: a series by the date in force (`in_force`), so a panel
    across a change of standard shows each value where it applies."""
    return query(expr, legend, ref=THRESHOLD_REF)


def field_override(
    matcher: str, options: Any, properties: Mapping[str, Any]
) -> cogbuilder.Builder[dm.DashboardFieldConfigSourceOverrides]:
    """An override setting `properties` (Grafana property id -> value) on the fields the matcher picks."""
    return (
        db.DashboardFieldConfigSourceOverrides()
        .matcher(dm.MatcherConfig(id_val=matcher, options=options))
        .properties([dm.DynamicConfigValue(id_val=key, value=value) for key, value in properties.items()])
    )


def name_override(
    name: str, properties: Mapping[str, Any]
) -> cogbuilder.Builder[dm.DashboardFieldConfigSourceOverrides]:
    """An override of the field or series called `name` (a site id, or a table column)."""
    return field_override("byName", name, properties)


def display_name(site: AnySite) -> str:
    """A site as dashboards show it: the registry's Chinese and English names."""
    return m.site_display_name(site.name_zh, site.name_en)


def threshold_line_override(colour: str = "red") -> cogbuilder.Builder[dm.DashboardFieldConfigSourceOverrides]:
    """Draws the `threshold_line` series dashed, thin, unfilled, in one colour."""
    return field_override(
        "byFrameRefID",
        THRESHOLD_REF,
        {
            "custom.lineStyle": {"fill": "dash", "dash": [10, 10]},
            "custom.lineWidth": 1,
            "custom.fillOpacity": 0,
            "color": {"mode": "fixed", "fixedColor": colour},
        },
    )


def site_name_overrides(sites: Iterable[AnySite]) -> list[cogbuilder.Builder[dm.DashboardFieldConfigSourceOverrides]]:
    """Series named by site id (legend `{{site}}`) shown with the registry's Chinese and English names."""
    return [name_override(s.id, {"displayName": display_name(s)}) for s in sites]


# --- queries --------------------------------------------------------------------------------------------------------
def selector(metric: str, **labels: str) -> str:
    """`metric{label=~"value", …}`; every matcher is a regex match so multi-value variables work."""
    inner = ", ".join(f'{k}=~"{v}"' for k, v in labels.items())
    return f"{metric}{{{inner}}}" if inner else metric


def indicator_selector(indicator: Indicator, **labels: str) -> str:
    """The indicator's series: its metric with its `window` label, filtered by regex `labels`."""
    matchers = [f'window="{indicator.window}"', *(f'{k}=~"{v}"' for k, v in labels.items())]
    return f"{indicator.metric}{{{', '.join(matchers)}}}"


def counter_sum(function: str, series: str, by: str, window: str = "$__rate_interval") -> str:
    """`sum by (by) (function(series[window]))`: a counter's `rate` or `increase`, summed per label set `by`."""
    return f"sum by ({by}) ({function}({series}[{window}]))"


def query(expr: str, legend: str = "", *, ref: str = "A", instant: bool = False, table: bool = False) -> Any:
    q = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(DATASOURCE)
    if legend:
        q = q.legend_format(legend)
    if instant:
        q = q.instant()
    if table:
        q = q.format(pm.PromQueryFormat.TABLE)
    return q


def var(name: str) -> str:
    return f"${name}"


def indicator_query(indicator: Indicator, site: str, legend: str = "{{site}}", *, ref: str = "A") -> Any:
    """The query of an indicator's series at the sites the regex `site` matches, by default named by site."""
    return query(indicator_selector(indicator, site=site), legend, ref=ref)


# --- template variables ---------------------------------------------------------------------------------------------
def multi_variable(name: str, label: str, variable_query: str) -> db.QueryVariable:
    """A Prometheus query variable taking several values or All, read when the dashboard loads, sorted A-Z."""
    return (
        db.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(variable_query)
        .multi(True)
        .include_all(True)
        .refresh(dm.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
    )


def department_variable() -> db.QueryVariable:
    return multi_variable(DEPARTMENT, "Department 部门", f"label_values({m.SITE_INFO}, department)")


SITE_VARIABLE_REGEX = '/name="(?<text>[^"]+)".*site="(?<value>[^"]+)"/'
"""Option text from the info metric's `name` label (Chinese and English), value from `site`."""


def site_variable(feeds: Sequence[str]) -> db.QueryVariable:
    """The sites of the chosen departments that publish one of `feeds`, shown by their registry names."""
    feed_match = "|".join(feeds)
    return multi_variable(
        SITE,
        "Site 站点",
        f'query_result({m.SITE_INFO}{{department=~"{var(DEPARTMENT)}", feed=~"{feed_match}"}})',
    ).regex(SITE_VARIABLE_REGEX)


# --- layout ---------------------------------------------------------------------------------------------------------
@dataclass
class Layout:
    """Hands out panel ids in order, so every panel of a dashboard has a distinct, stable id."""

    next_id: int = 1
    panels: list[Any] = field(default_factory=list)

    def add(self, panel: Any, *, width: int, height: int = 8) -> Any:
        panel = panel.id(self.next_id).span(width).height(height).datasource(DATASOURCE)
        self.next_id += 1
        self.panels.append(panel)
        return panel

    def row(self, title: str) -> db.Row:
        row = db.Row(title).id(self.next_id)
        self.next_id += 1
        self.panels.append(row)
        return row


def dashboard(uid: str, title: str, description: str, variables: Sequence[Any], layout: Layout) -> Any:
    board = (
        db.Dashboard(title)
        .uid(UID_PREFIX + uid)
        .description(description)
        .tags(TAGS)
        .timezone("browser")
        .time("now-7d", "now")
        .refresh("1m")
        .editable()
        .variables(list(variables))
    )
    for item in layout.panels:
        board = board.with_row(item) if isinstance(item, db.Row) else board.with_panel(item)
    return board.build()


def site_dashboard(uid: str, title: str, description: str, feeds: Sequence[str], layout: Layout) -> Any:
    """A dashboard of sites: chosen by department, then by the sites of those departments that publish `feeds`."""
    return dashboard(uid, title, description, [department_variable(), site_variable(feeds)], layout)


# --- panels ---------------------------------------------------------------------------------------------------------
def _last() -> cb.ReduceDataOptions:
    return cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False)


Overrides = Sequence[cogbuilder.Builder[dm.DashboardFieldConfigSourceOverrides]]
_Panel = TypeVar("_Panel", stat.Panel, timeseries.Panel, bargauge.Panel)


def _described(
    panel: _Panel, title: str, description: str, targets: Sequence[Any], unit: str, overrides: Overrides
) -> _Panel:
    """What every panel of a unit has: its title and description, its queries, the unit, and field overrides."""
    return panel.title(title).description(description).targets(list(targets)).unit(unit).overrides(list(overrides))


def stat_panel(
    title: str,
    description: str,
    targets: Sequence[Any],
    *,
    unit: str,
    thresholds: db.ThresholdsConfig | None = None,
    mappings: list[dm.ValueMapping] | None = None,
    overrides: Overrides = (),
    decimals: int | None = None,
    no_value: str | None = None,
) -> stat.Panel:
    panel = (
        _described(stat.Panel(), title, description, targets, unit, overrides)
        .reduce_options(_last())
        .color_mode(cm.BigValueColorMode.BACKGROUND)
        .graph_mode(cm.BigValueGraphMode.AREA)
    )
    # Without thresholds of its own Grafana would colour the background red from 80, whatever the unit.
    panel = panel.thresholds(thresholds if thresholds is not None else steps("blue"))
    if mappings:
        panel = panel.mappings(mappings)
    if decimals is not None:
        panel = panel.decimals(decimals)
    if no_value is not None:
        panel = panel.no_value(no_value)
    return panel


def timeseries_panel(
    title: str,
    description: str,
    targets: Sequence[Any],
    *,
    unit: str,
    thresholds: db.ThresholdsConfig | None = None,
    threshold_lines: bool = False,
    overrides: Overrides = (),
    min_value: float | None = None,
    stacked: bool = False,
    no_value: str | None = None,
) -> timeseries.Panel:
    """A time series; with `threshold_lines` the thresholds (limits, targets) are drawn as dashed lines."""
    panel = (
        _described(timeseries.Panel(), title, description, targets, unit, overrides)
        .line_width(2)
        .fill_opacity(10)
        .span_nulls(True)
        .legend(cb.VizLegendOptions().display_mode(cm.LegendDisplayMode.LIST).placement(cm.LegendPlacement.BOTTOM))
    )
    if thresholds is not None:
        panel = panel.thresholds(thresholds)
        if threshold_lines:
            panel = panel.thresholds_style(cb.GraphThresholdsStyleConfig().mode(cm.GraphThresholdsStyleMode.DASHED))
    if min_value is not None:
        panel = panel.min(min_value)
    if stacked:
        panel = panel.stacking(cb.StackingConfig().mode(cm.StackingMode.NORMAL))
    if no_value is not None:
        panel = panel.no_value(no_value)
    return panel


def from_zero_timeseries(
    title: str, description: str, targets: Sequence[Any], *, unit: str, stacked: bool = False
) -> timeseries.Panel:
    """A time series of what is never negative (rates, counts, lags, durations): its axis starts at zero."""
    return timeseries_panel(title, description, targets, unit=unit, min_value=0, stacked=stacked)


def with_threshold_line(
    title: str,
    description: str,
    targets: Sequence[Any],
    line: str,
    line_legend: str,
    *,
    unit: str,
    overrides: Overrides = (),
    line_colour: str = "red",
    min_value: float | None = 0,
) -> timeseries.Panel:
    """A time series of `targets` with the dashed limit or target line `line` (PromQL of `in_force`) over them."""
    return timeseries_panel(
        title,
        description,
        [*targets, threshold_line(line, line_legend)],
        unit=unit,
        overrides=[*overrides, threshold_line_override(line_colour)],
        min_value=min_value,
    )


def bargauge_panel(
    title: str,
    description: str,
    targets: Sequence[Any],
    *,
    unit: str,
    thresholds: db.ThresholdsConfig,
    overrides: Overrides = (),
    max_value: float | None = None,
) -> bargauge.Panel:
    panel = (
        _described(bargauge.Panel(), title, description, targets, unit, overrides)
        .reduce_options(_last())
        .thresholds(thresholds)
        .min(0)
        .orientation(cm.VizOrientation.HORIZONTAL)
        .display_mode(cm.BarGaugeDisplayMode.GRADIENT)
    )
    if max_value is not None:
        panel = panel.max(max_value)
    return panel


class _PanelOptions(TypedDict, total=False):
    """The options `stat_panel` and `timeseries_panel` have in common."""

    thresholds: db.ThresholdsConfig | None
    overrides: Overrides
    no_value: str | None


class StatOptions(_PanelOptions, total=False):
    """What `indicator_stat` passes on to `stat_panel` as it is."""

    mappings: list[dm.ValueMapping] | None
    decimals: int | None


def indicator_stat(
    title: str,
    indicator: Indicator,
    site: str = var(SITE),
    *,
    description: str | None = None,
    unit: str | None = None,
    **options: Unpack[StatOptions],
) -> stat.Panel:
    """A stat of one indicator at the sites `site` matches; by default the catalogue's description and unit."""
    return stat_panel(
        title,
        indicator.description if description is None else description,
        [indicator_query(indicator, site)],
        unit=grafana_unit(indicator) if unit is None else unit,
        **options,
    )


class TimeseriesOptions(_PanelOptions, total=False):
    """What `indicator_timeseries` passes on to `timeseries_panel` as it is."""

    threshold_lines: bool
    min_value: float | None
    stacked: bool


def indicator_timeseries(
    title: str,
    indicator: Indicator,
    site: str = var(SITE),
    *,
    description: str | None = None,
    **options: Unpack[TimeseriesOptions],
) -> timeseries.Panel:
    """A time series of one indicator per site `site` matches; the catalogue's description unless told, its unit."""
    return timeseries_panel(
        title,
        indicator.description if description is None else description,
        [indicator_query(indicator, site)],
        unit=grafana_unit(indicator),
        **options,
    )


def table_panel(title: str, description: str, targets: Sequence[Any], *, overrides: Overrides = ()) -> table.Panel:
    return (
        table.Panel()
        .title(title)
        # Set explicitly: the SDK fills these in when it reads the JSON back, and the round trip must be exact.
        .align(cm.FieldTextAlignment.AUTO)
        .inspect(False)
        .description(description)
        .targets(list(targets))
        .overrides(list(overrides))
        .with_transformation(
            dm.DataTransformerConfig(
                id_val="organize",
                options={"excludeByName": {"Time": True, "__name__": True, "instance": True, "job": True}},
            )
        )
    )
