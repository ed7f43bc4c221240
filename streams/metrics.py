"""The worker's Prometheus metrics. Names follow docs/architecture.md: citywatch_<feed>_<quantity>_<unit>,
one gauge per catalogue metric with labels `site`, `window` and `standard`."""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from citywatch.indicators.catalogue import CATALOGUE
from citywatch.schemas.indicator import IndicatorRecord

READINGS = Counter(
    "citywatch_worker_readings_total",
    "Readings processed by the worker, by feed and outcome (new, correction, duplicate, stale-revision, too-late, invalid)",
    ["feed", "outcome"],
)
EVALUATIONS = Counter(
    "citywatch_worker_rule_evaluations_total", "Rule evaluations published, by rule and outcome", ["rule", "outcome"]
)
LATENCY = Histogram(
    "citywatch_worker_processing_latency_seconds",
    "From the reading's Kafka timestamp to its indicators being published",
    ["feed"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

CONSUMER_LAG = Gauge(
    "citywatch_worker_consumer_lag_records",
    "Records in each assigned partition not yet read by this worker (high watermark minus next offset to read)",
    ["topic", "partition"],
)


def observe_lag(consumer: Any) -> None:
    """Refresh the lag gauge from faust's consumer: its assignment, high watermarks and read offsets."""
    CONSUMER_LAG.clear()
    for tp in consumer.assignment():
        highwater = consumer.highwater(tp)
        if highwater is None:
            continue
        # faust's private offsets: the last one handed to a stream, else the last committed (both inclusive)
        last = consumer._read_offset.get(tp)
        if last is None:
            last = consumer._committed_offset.get(tp)
        if last is None:
            continue
        position = last + 1
        CONSUMER_LAG.labels(topic=tp.topic, partition=str(tp.partition)).set(max(0, highwater - position))


def _gauges() -> dict[str, Gauge]:
    gauges: dict[str, Gauge] = {}
    for indicator in sorted(CATALOGUE.values(), key=lambda i: i.id):
        if indicator.metric not in gauges:
            help_text = f"Latest {indicator.metric.split('_', 2)[-1]} per site and window ({indicator.unit}); e.g. {indicator.description}"
            gauges[indicator.metric] = Gauge(indicator.metric, help_text, ["site", "window", "standard"])
    return gauges


INDICATOR_GAUGES = _gauges()


def observe_indicator(record: IndicatorRecord) -> None:
    indicator = CATALOGUE[record.indicator]
    INDICATOR_GAUGES[indicator.metric].labels(
        site=record.site, window=record.window, standard=record.standard or ""
    ).set(record.value)
