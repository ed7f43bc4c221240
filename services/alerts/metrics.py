"""The alert service's Prometheus metrics (the dashboards read their names from here)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

TRANSITIONS = Counter(
    "citywatch_alert_transitions_total", "Alert transitions published on the alerts topic", ["rule", "status"]
)
EVALUATIONS = Counter("citywatch_alert_evaluations_total", "Rule evaluations consumed, by effect", ["effect"])
WEBHOOK_CALLS = Counter("citywatch_alert_webhook_deliveries_total", "Transitions delivered to every webhook receiver")
DELIVERY_ERRORS = Counter("citywatch_alert_delivery_errors_total", "Failed deliveries, by target", ["target"])
REDIS_ERRORS = Counter(
    "citywatch_alert_redis_errors_total", "Redis calls that failed (Redis down) and are retried, by loop", ["loop"]
)
LOOP_RESTARTS = Counter("citywatch_alert_loop_restarts_total", "Loops restarted after an unexpected error", ["loop"])
ALERT_STATE = Gauge(
    "citywatch_alert_state",
    "1 for each alert pending or firing now (like Prometheus's ALERTS)",
    ["alertname", "site", "severity", "department", "alertstate"],
)
