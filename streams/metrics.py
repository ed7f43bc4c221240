"""The worker's Prometheus metrics. Names follow docs/architecture.md: citywatch_<feed>_<quantity>_<unit>."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from citywatch.indicators.catalogue import CATALOGUE, PM25_MEAN_24H
from citywatch.schemas.indicator import IndicatorRecord
from citywatch.standards import gb3095_limit

READINGS = Counter(
    "citywatch_worker_readings_total",
    "Readings processed by the worker, by feed and outcome (new, correction, duplicate, too-late, invalid)",
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
PM25 = Gauge(
    PM25_MEAN_24H.metric,
    "Latest PM2.5 per station and window (1h value, 24h rolling mean), µg/m³",
    ["site", "window", "standard"],
)


def observe_indicator(record: IndicatorRecord) -> None:
    indicator = CATALOGUE[record.indicator]
    if indicator.metric == PM25_MEAN_24H.metric:
        standard = gb3095_limit(pollutant="pm25", period="24h", grade="II", on=record.local_date).label
        PM25.labels(site=record.site, window=record.window, standard=standard).set(record.value)
