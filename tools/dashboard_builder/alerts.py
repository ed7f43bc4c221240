"""Alerts: what citywatch's alert service says is firing now (`citywatch_alert_state`), and how alerts move."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.models import dashboard as dm

from citywatch.feeds import FEED_NAMES
from citywatch.site_registry import Registry
from tools.dashboard_builder import common as c
from tools.dashboard_builder import metrics as m
from tools.dashboard_builder import recording as r

UID = "alerts"
FEEDS = FEED_NAMES


def firing_selector() -> str:
    return c.selector(m.ALERT_STATE, alertstate="firing", department=c.var(c.DEPARTMENT), site=c.var(c.SITE))


def site_column_names(registry: Registry) -> Any:
    """Table cells holding a site id show the registry's Chinese and English names (a value mapping)."""
    options = {s.id: dm.ValueMappingResult(text=c.display_name(s), index=i) for i, s in enumerate(registry.all_sites())}
    return c.name_override("site", {"mappings": [dm.ValueMap(options=options)]})


def firing_now_panel() -> Any:
    return c.stat_panel(
        "Alerts firing now 当前告警",
        "Alerts the alert service holds as firing, for the chosen departments and sites",
        [c.query(f"sum by (alertstate) ({firing_selector()})", "firing")],
        unit="short",
        thresholds=c.steps("green", (1.0, "red")),
        no_value="0",
    )


def firing_table_panel(registry: Registry) -> Any:
    return c.table_panel(
        "Firing alerts 告警列表",
        "One row per firing alert: rule, site, severity, owning department",
        [c.query(firing_selector(), instant=True, table=True)],
        overrides=[site_column_names(registry)],
    )


def build(ctx: c.Context) -> Any:
    layout = c.Layout()
    layout.row("Now 当前")
    layout.add(firing_now_panel(), width=6)
    layout.add(firing_table_panel(ctx.registry), width=18, height=10)

    layout.row("History 历史")
    layout.add(
        c.from_zero_timeseries(
            "Firing by department and severity 按部门和级别",
            "Firing alerts over time (recording rule)",
            [
                c.query(
                    c.selector(r.ALERTS_FIRING.record, department=c.var(c.DEPARTMENT)), "{{department}} {{severity}}"
                )
            ],
            unit="short",
            stacked=True,
        ),
        width=12,
    )
    layout.add(
        c.from_zero_timeseries(
            "Transitions 状态变化",
            "Alert transitions published on the alerts topic, per rule and status",
            [c.query(c.counter_sum("increase", m.ALERT_TRANSITIONS, "rule, status"), "{{rule}} {{status}}")],
            unit="short",
        ),
        width=12,
    )
    layout.add(
        c.from_zero_timeseries(
            "Delivery errors 投递失败",
            "Failed deliveries to Alertmanager (firing alerts are re-sent, so errors heal)",
            [c.query(c.counter_sum("increase", m.ALERT_DELIVERY_ERRORS, "target"), "{{target}}")],
            unit="short",
        ),
        width=24,
    )
    return c.site_dashboard(
        UID,
        "citywatch · Alerts 告警",
        "Alerts from citywatch's rules: firing now, by department and severity, transitions and delivery.",
        FEEDS,
        layout,
    )
