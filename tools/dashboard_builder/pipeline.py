"""Pipeline health: throughput, consumer lag, latency, reading outcomes and the dead-letter rate."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import dashboard as db

from tools.dashboard_builder import common as c
from tools.dashboard_builder import metrics as m
from tools.dashboard_builder import recording as r

UID = "pipeline"


def feed_variable() -> db.QueryVariable:
    return c.multi_variable(c.FEED, "Feed 数据源", f"label_values({m.INGEST_RECORDS}, feed)").all_value(".+")


def build(ctx: c.Context) -> Any:
    feed = c.var(c.FEED)
    problems = "|".join(o for o in m.WORKER_OUTCOMES if o not in ("new", "correction"))
    layout = c.Layout()

    layout.row("Throughput 吞吐")
    layout.add(
        c.timeseries_panel(
            "Records accepted at the gateway 网关接收",
            "Records per second by feed and outcome at the ingest gateway",
            [c.query(c.selector(r.INGEST_RECORDS_RATE.record, feed=feed), "{{feed}} {{outcome}}")],
            unit="reqps",
            min_value=0,
        ),
        width=12,
    )
    layout.add(
        c.timeseries_panel(
            "Readings processed by the worker 处理量",
            "Readings per second by feed and outcome at the stream worker",
            [c.query(c.selector(r.WORKER_READINGS_RATE.record, feed=feed), "{{feed}} {{outcome}}")],
            unit="reqps",
            min_value=0,
            stacked=True,
        ),
        width=12,
    )
    layout.add(
        c.timeseries_panel(
            "Consumer lag 消费延迟",
            "Messages between each topic's end offset and the worker's committed offset (faust sensor)",
            [c.query(r.CONSUMER_LAG.record, "{{topic}}")],
            unit="short",
            min_value=0,
        ),
        width=12,
    )
    layout.add(
        c.timeseries_panel(
            "Processing latency 处理时延",
            "Receipt of a reading (its Kafka timestamp) to its indicators published (worker), and gateway request "
            "time. High while the worker catches up on a backlog.",
            [
                c.query(c.selector(r.WORKER_LATENCY_P50.record, feed=feed), "worker p50 {{feed}}"),
                c.query(c.selector(r.WORKER_LATENCY_P95.record, feed=feed), "worker p95 {{feed}}", ref="B"),
                c.query(c.selector(r.INGEST_LATENCY_P95.record, feed=feed), "gateway p95 {{feed}}", ref="C"),
            ],
            unit="s",
            min_value=0,
        ),
        width=12,
    )

    layout.add(
        c.timeseries_panel(
            "Event-time lag 数据时效",
            "Observation time of a reading to its indicators published: how old data is when it counts. Daily "
            "records (bus mode share, waste by day) start at local midnight, so they lag a day by design; "
            "backfilled history shows as days to weeks.",
            [
                c.query(c.selector(r.EVENT_TIME_LAG_P50.record, feed=feed), "p50 {{feed}}"),
                c.query(c.selector(r.EVENT_TIME_LAG_P95.record, feed=feed), "p95 {{feed}}", ref="B"),
            ],
            unit="s",
            min_value=0,
        ),
        width=12,
    )

    layout.row("Data quality 数据质量")
    layout.add(
        c.timeseries_panel(
            "Invalid, late, duplicate, corrected 异常数据",
            "Worker readings that were not simply new: corrections (higher revisions), duplicates, stale revisions, "
            "too late for their window, invalid (dead-lettered), not hourly",
            [
                c.query(
                    c.selector(r.WORKER_READINGS_RATE.record, feed=feed, outcome=f"correction|{problems}"),
                    "{{feed}} {{outcome}}",
                )
            ],
            unit="reqps",
            min_value=0,
        ),
        width=12,
    )
    layout.add(
        c.timeseries_panel(
            "Dead-letter rate 死信率",
            "Records sent to the dead-letter topic: rejected or forbidden at the gateway, invalid at the worker",
            [c.query(c.selector(r.DEAD_LETTERS_RATE.record, feed=feed), "{{feed}}")],
            unit="reqps",
            min_value=0,
        ),
        width=12,
    )
    layout.add(
        c.timeseries_panel(
            "Rule evaluations 规则评估",
            "Rule evaluations published by the worker, per rule and outcome",
            [
                c.query(
                    f"sum by (rule, outcome) (rate({m.WORKER_EVALUATIONS}[$__rate_interval]))", "{{rule}} {{outcome}}"
                )
            ],
            unit="reqps",
            min_value=0,
        ),
        width=12,
    )
    layout.add(
        c.timeseries_panel(
            "Simulator posts 模拟器",
            "Readings the simulator posted, by feed and gateway response",
            [
                c.query(
                    f'sum by (feed, status) (rate({m.SIMULATOR_READINGS}{{feed=~"{feed}"}}[$__rate_interval]))',
                    "{{feed}} {{status}}",
                )
            ],
            unit="reqps",
            min_value=0,
        ),
        width=12,
    )
    return c.dashboard(
        UID,
        "citywatch · Pipeline health 数据管道",
        "Gateway and worker throughput, consumer lag, latency, reading outcomes and the dead-letter rate.",
        [feed_variable()],
        layout,
    )
