"""The gateway's Prometheus metrics (the dashboards read their names from here)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

RECORDS = Counter(
    "citywatch_ingest_records_total",
    "Records received by the gateway, by feed and outcome (accepted, duplicate, rejected, forbidden, conflict)",
    ["feed", "outcome"],
)
REQUEST_SECONDS = Histogram(
    "citywatch_ingest_request_duration_seconds",
    "Time to validate and have Kafka acknowledge an accepted request",
    ["feed"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)

OUTCOMES_READ = Counter(
    "citywatch_ingest_outcomes_total",
    "Worker outcomes brought back to publishers, by kind (receipt update, worker dead letter, unreadable)",
    ["kind"],
)
