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


def by_feed(rule: r.RecordingRule, legend: str, *, ref: str = "A", **labels: str) -> Any:
    """The query of a recording rule's series of the chosen feeds."""
    return c.query(c.selector(rule.record, feed=c.var(c.FEED), **labels), legend, ref=ref)


def build(ctx: c.Context) -> Any:
    problems = "|".join(o for o in m.WORKER_OUTCOMES if o not in ("new", "correction"))
    simulator_posts = c.selector(m.SIMULATOR_READINGS, feed=c.var(c.FEED))
    layout = c.Layout()

    # Every panel is a half-width time series from zero.
    layout.row("Throughput 吞吐")
    for panel in (
        c.from_zero_timeseries(
            "Records accepted at the gateway 网关接收",
            "Records per second by feed and outcome at the ingest gateway",
            [by_feed(r.INGEST_RECORDS_RATE, "{{feed}} {{outcome}}")],
            unit="reqps",
        ),
        c.from_zero_timeseries(
            "Readings processed by the worker 处理量",
            "Readings per second by feed and outcome at the stream worker",
            [by_feed(r.WORKER_READINGS_RATE, "{{feed}} {{outcome}}")],
            unit="reqps",
            stacked=True,
        ),
        c.from_zero_timeseries(
            "Consumer lag 消费延迟",
            "Messages between each topic's end offset and the worker's committed offset (faust sensor)",
            [c.query(r.CONSUMER_LAG.record, "{{topic}}")],
            unit="short",
        ),
        c.from_zero_timeseries(
            "Processing latency 处理时延",
            "Receipt of a reading (its Kafka timestamp) to its indicators published (worker), and gateway request "
            "time. High while the worker catches up on a backlog.",
            [
                by_feed(r.WORKER_LATENCY_P50, "worker p50 {{feed}}"),
                by_feed(r.WORKER_LATENCY_P95, "worker p95 {{feed}}", ref="B"),
                by_feed(r.INGEST_LATENCY_P95, "gateway p95 {{feed}}", ref="C"),
            ],
            unit="s",
        ),
        c.from_zero_timeseries(
            "Event-time lag 数据时效",
            "Observation time of a reading to its indicators published: how old data is when it counts. Daily "
            "records (bus mode share, waste by day) start at local midnight, so they lag a day by design; "
            "backfilled history shows as days to weeks.",
            [
                by_feed(r.EVENT_TIME_LAG_P50, "p50 {{feed}}"),
                by_feed(r.EVENT_TIME_LAG_P95, "p95 {{feed}}", ref="B"),
            ],
            unit="s",
        ),
    ):
        layout.add(panel, width=12)

    layout.row("Data quality 数据质量")
    for panel in (
        c.from_zero_timeseries(
            "Invalid, late, duplicate, corrected 异常数据",
            "Worker readings that were not simply new: corrections (higher revisions), duplicates, stale revisions, "
            "too late for their window, invalid (dead-lettered), not hourly",
            [by_feed(r.WORKER_READINGS_RATE, "{{feed}} {{outcome}}", outcome=f"correction|{problems}")],
            unit="reqps",
        ),
        c.from_zero_timeseries(
            "Dead-letter rate 死信率",
            "Records sent to the dead-letter topic: rejected or forbidden at the gateway, invalid at the worker",
            [by_feed(r.DEAD_LETTERS_RATE, "{{feed}}")],
            unit="reqps",
        ),
        c.from_zero_timeseries(
            "Rule evaluations 规则评估",
            "Rule evaluations published by the worker, per rule and outcome",
            [c.query(c.counter_sum("rate", m.WORKER_EVALUATIONS, "rule, outcome"), "{{rule}} {{outcome}}")],
            unit="reqps",
        ),
        c.from_zero_timeseries(
            "Simulator posts 模拟器",
            "Readings the simulator posted, by feed and gateway response",
            [c.query(c.counter_sum("rate", simulator_posts, "feed, status"), "{{feed}} {{status}}")],
            unit="reqps",
        ),
    ):
        layout.add(panel, width=12)
    return c.dashboard(
        UID,
        "citywatch · Pipeline health 数据管道",
        "Gateway and worker throughput, consumer lag, latency, reading outcomes and the dead-letter rate.",
        [feed_variable()],
        layout,
    )
